"""The narrow API through which journals, facades, the CLI, integrations and the dashboard talk
to an engine, instead of reading or setting its private attributes.

``hooks_of(scheduler)`` returns the :class:`EngineHooks` of a scheduler; each method states what
it promises. Everything else about the engine is private to ``asyncron._core``.

The journal layer sits above the engine, so the engine cannot import it: the layer installs the
function that makes a journal for a store or URL (:func:`install_journal_factory`, done when
``asyncron`` is imported), and the engine calls it through :func:`make_journal`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any

from .._events import Event
from ..abc import Journal
from ..errors import SchedulerStateError
from ._engine import Engine
from ._state import JobState, RestoredJob, ScheduleRequest, schedule_request

__all__ = [
    "EngineHooks",
    "RestoredJob",
    "ScheduleRequest",
    "hooks_of",
    "install_journal_factory",
    "make_journal",
    "schedule_request",
]

JournalFactory = Callable[..., Journal]
_factory: list[JournalFactory] = []


def install_journal_factory(factory: JournalFactory) -> None:
    """Make ``factory(store, **options) -> Journal`` the way engines turn a store (or URL) into
    their journal. Called once by the journal layer when it is imported."""
    _factory[:] = [factory]


def make_journal(store: object, **options: Any) -> Journal:
    """The journal for ``store`` (a Store, a store URL or a ready Journal).

    Raises:
        InvalidJobError: from the factory: an unknown URL scheme, or a value that is not a store.
        SchedulerStateError: no journal layer is installed (``asyncron`` was not imported).
    """
    if isinstance(store, Journal):
        return store
    if not _factory:
        raise SchedulerStateError("store=: the journal layer is not installed (import asyncron)")
    return _factory[0](store, **options)


class EngineHooks:
    """What a journal or a facade may ask of, or tell, one engine. Call on the engine's loop
    thread unless a method says otherwise."""

    __slots__ = ("_engine",)

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    # -- what the outer layers read --------------------------------------------------------------

    @property
    def journal(self) -> Journal | None:
        """The engine's journal (its store's bridge), or None without a store."""
        return self._engine._journal

    @property
    def claims_fires(self) -> bool:
        """True when each fire is claimed in a shared store before it runs (known from the
        journal before the engine starts)."""
        return self._engine._claims_fires()

    @property
    def has_leader_lock(self) -> bool:
        """True when the engine was given a ``leader_lock`` (one process of an app fires)."""
        return self._engine._leader_path is not None

    def job(self, job_id: str) -> JobState | None:
        """The live record of the job (read it, never change it), or None."""
        return self._engine._jobs.get(job_id)

    def jobs(self) -> Iterator[tuple[str, JobState]]:
        """Every job id with its live record, in the order they were added (do not add or
        remove jobs while iterating)."""
        return iter(self._engine._jobs.items())

    # -- what facades ask ------------------------------------------------------------------------

    def schedule(self, request: ScheduleRequest) -> str:
        """Add the job of ``request`` (made by :func:`schedule_request` in the caller's thread)
        and return its id: ``AsyncScheduler.schedule_nowait``'s body.

        Raises:
            InvalidJobError, InvalidTriggerError, JobStateError: as ``AsyncScheduler.schedule``.
        """
        return self._engine._schedule(request)

    # -- what journals tell the engine ------------------------------------------------------------

    def restore_job(self, stored: RestoredJob) -> JobState:
        """Re-create a stored job as it was and return its live record (see
        :class:`~asyncron._core._state.RestoredJob` for what each field means).

        Raises:
            InvalidJobError: ``stored.job_id`` is already in use, or a field is invalid.
        """
        return self._engine._restore_job(stored)

    def emit(self, event: Event) -> None:
        """Publish ``event`` to the engine's subscribers (a journal's own events)."""
        self._engine._events.emit(event)

    @property
    def stopping(self) -> bool:
        """True from the moment ``stop()`` begins: a journal hands back what it wins now."""
        return self._engine._stopping

    def run_recovered(
        self, job_id: str, fire_ts: float, attempt: int, *, recovering: bool = True
    ) -> bool:
        """Start a run of a fire recovered from a dead node: the run sees
        ``current_run().recovering`` and its ``attempt``. False when the admission rules refuse
        it (the job is unknown or cancelled, this very fire is running here, or the job's
        overlap policy admits no further run now). With ``recovering=False`` (a fire another
        node handed back before starting it) it runs as a plain first attempt."""
        return self._engine._run_recovered(job_id, fire_ts, attempt, recovering=recovering)

    def lease_lost(self, job_id: str, fire_ts: float) -> None:
        """This node lost its lease on a running fire (another node may run it now): stop the
        local run (cancel an async one, abandon a sync one) and log it."""
        self._engine._lease_lost(job_id, fire_ts)

    def count_skip(self, job: JobState, fire_ts: float, reason: str) -> None:
        """Count a fire of ``job`` skipped elsewhere on this node's behalf (``reason`` is shown
        in logs and ``FireSkipped`` events)."""
        self._engine._count_skip(job, fire_ts, reason)

    async def replay_fire(self, job_id: str, fire: datetime) -> None:
        """Run one missed (or interrupted) fire now, as a run of its *nominal* time, the way
        ``backfill`` does: the job sees that time in ``current_run().scheduled_at`` and its
        history records it. Waits for a run in progress first: the job never overlaps itself.

        Raises:
            JobLookupError: the job is gone. JobStateError: it was cancelled meanwhile.
            Exception: whatever the run raised (also recorded on the job).
        """
        job = self._engine._require(job_id)
        refused = f"job {job_id!r} ({job.name}) was cancelled; its catch-up is dropped"
        await (await self._engine._start_explicit(job, fire.timestamp(), refused))

    async def wait_through_burst(self, timeout: float) -> None:
        """Return once the dispatcher has dispatched every fire that was due (at once if it has),
        or after ``timeout`` seconds: a journal's writer waits here so as not to take loop time
        from a burst of fires."""
        await self._engine._through_burst(timeout)

    # -- what the threaded facade's run_pending() uses --------------------------------------------

    def take_due_for_caller(self, include_scheduled: bool) -> list[tuple[JobState, float, float]]:
        """Take every due hand-driven job (and, if ``include_scheduled``, every due timed job)
        for a caller that runs them in its own thread, as ``(job, started, fire_ts)``; each is
        marked running. Report each outcome with :meth:`finish_for_caller`."""
        return self._engine._take_due_for_caller(include_scheduled)

    def finish_for_caller(
        self, job: JobState, started: float, fire_ts: float, result: Any, exc: BaseException | None
    ) -> None:
        """Record the outcome of a run taken with :meth:`take_due_for_caller`."""
        self._engine._finish_for_caller(job, started, fire_ts, result, exc)


def hooks_of(engine: Engine) -> EngineHooks:
    """The hooks of ``engine`` (an ``AsyncScheduler``)."""
    return EngineHooks(engine)
