"""AsyncScheduler: the one engine every facade drives: its public API and lifecycle.

Data flow (one way): trigger -> deadline heap -> dispatcher -> executor -> result -> job state.
The work is done by the core (``asyncron._core``, see docs/architecture.md); this module holds
what users call, with its argument checks and documentation.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import os
from collections.abc import AsyncIterator, Callable, Iterable
from datetime import datetime, timedelta, tzinfo
from pathlib import Path
from typing import Any, TypeVar

from ._core._engine import Engine
from ._core._hooks import make_journal
from ._core._outcomes import history_records
from ._core._state import (
    _CURRENT,
    RunInfo,
    _dt,
    current_run,
    schedule_request,
    set_progress,
)
from ._dispatch import DispatchPool
from ._events import (
    Event,
    SchedulerStarted,
    Subscription,
)
from ._listing import coerce_statuses, order_jobs
from ._model import (
    Job,
    JobDescription,
    JobOptions,
    JobStatus,
    RunRecord,
    SchedulerStatistics,
    check_seconds,
)
from ._tz import local_zone, resolve_zone
from .abc import Clock, Journal, Store, Trigger
from .errors import (
    DeadlockError,
    InvalidJobError,
    JobStateError,
    SchedulerStateError,
)
from .triggers.cron import CronTrigger
from .triggers.interval import IntervalTrigger

__all__ = ["AsyncScheduler", "RunInfo", "current_run", "set_progress"]

logger = logging.getLogger("asyncron")

_F = TypeVar("_F", bound=Callable[..., Any])


class AsyncScheduler(Engine):
    """The asyncio scheduling engine.

    Use it as an async context manager::

        async with AsyncScheduler() as scheduler:
            job_id = await scheduler.schedule(send_report, trigger=CronTrigger.from_expression("0 9 * * 1-5"))
            ...

    Args:
        clock: the time source (default: the system clock; tests pass a ``VirtualClock``).
        max_workers: size of the thread pool that runs sync callables (default
            ``min(32, cpu_count + 4)``).
        stop_timeout: how long :meth:`stop` waits for running jobs before cancelling them.
        store: where jobs are persisted (a Store or a URL such as ``sqlite:///jobs.db``);
            default: memory only.
        store_options: options for the store's journal (``registry``, ``keyring``,
            ``misfire``, ... see docs/persistence.md).
        job_defaults: default :class:`~asyncron.JobOptions` (or a dict of its fields) for every
            job; ``schedule()`` keyword options override them per job.
        leader_lock: a lock file path shared by the processes of one app on one host (web
            workers): only the process holding it fires jobs (and opens the store); the others
            stand by, retrying every ``leader_retry`` seconds, and one of them takes over when
            the holder stops or dies (the OS releases its lock). See docs/web.md.
        leader_retry: seconds between a standby's attempts to take the lock (default 1).
        timezone: the zone of cron strings and naive datetimes given to ``schedule()``, and of
            triggers built without one (``CronTrigger(hour=9)``); default: the local zone.
        executor: a ``concurrent.futures.Executor`` that runs sync callables instead of the
            scheduler's own thread pool (``max_workers`` then does not apply); the scheduler
            never shuts it down.

    Every method must be called from the loop the scheduler runs on; from other threads use the
    :class:`~asyncron.Scheduler` facade.
    """

    def __init__(
        self,
        *,
        clock: Clock | None = None,
        max_workers: int | None = None,
        stop_timeout: float = 10.0,
        store: Store | str | Journal | None = None,
        job_defaults: dict[str, Any] | JobOptions | None = None,
        store_options: dict[str, Any] | None = None,
        leader_lock: str | os.PathLike[str] | None = None,
        leader_retry: float = 1.0,
        timezone: str | tzinfo | None = None,
        executor: concurrent.futures.Executor | None = None,
    ) -> None:
        zone = None if timezone is None else resolve_zone(timezone)
        pool = None if executor is None else DispatchPool(executor)
        if leader_lock is not None and not isinstance(leader_lock, str | os.PathLike):
            raise InvalidJobError(f"leader_lock: expected a file path, got {leader_lock!r}")
        if (
            isinstance(leader_retry, bool)
            or not isinstance(leader_retry, int | float)
            or not leader_retry > 0
        ):
            raise InvalidJobError(f"leader_retry: expected seconds > 0, got {leader_retry!r}")
        self._leader_path = None if leader_lock is None else Path(leader_lock)
        self._leader_retry = float(leader_retry)
        self._leader_lock = None
        self._leader_task = None
        if max_workers is not None and (
            isinstance(max_workers, bool) or not isinstance(max_workers, int) or max_workers < 1
        ):
            raise InvalidJobError(f"max_workers: expected a positive int, got {max_workers!r}")
        check_seconds("stop_timeout", stop_timeout, allow_none=False)
        super().__init__(
            clock=clock,
            max_workers=max_workers or min(32, (os.cpu_count() or 1) + 4),
            stop_timeout=float(stop_timeout),
            job_defaults=job_defaults,
            pool=pool,
        )
        self._zone = zone
        if store is not None:
            self.use_store(store, **(store_options or {}))

    def use_store(self, store: Store | str | Journal, **store_options: Any) -> None:
        """Persist this scheduler's jobs in ``store`` (a :class:`~asyncron.abc.Store` or a URL
        such as ``sqlite:///jobs.db`` or ``postgresql://...``), chosen after construction; the
        same as passing ``store=`` and ``store_options=`` to the constructor. Jobs already
        scheduled are checked and saved as if they had been scheduled after this call.

        For code that gets a scheduler built elsewhere (``asyncron run app:scheduler --store
        URL``). What depends on the store (whether fires are claimed in a shared store) is
        decided when the scheduler starts.

        Raises:
            SchedulerStateError: the scheduler is running, or already has a store.
            InvalidJobError: ``store`` is not a store or a known URL, or a job already scheduled
                cannot be stored (the message names it); the scheduler keeps no store then.
        """
        if self._running:
            raise SchedulerStateError(
                "use_store: the scheduler is running; choose its store before start()"
            )
        if self._journal is not None:
            raise SchedulerStateError(
                "use_store: this scheduler already has a store; a scheduler's store is chosen once"
            )
        journal = make_journal(store, **store_options)
        for job in self._jobs.values():
            try:
                journal.validate(job)
            except InvalidJobError as exc:
                raise InvalidJobError(f"use_store: job {job.id!r} ({job.name}): {exc}") from exc
        self._journal = journal
        for job in self._jobs.values():
            journal.job_added(job)

    # -- lifecycle ----------------------------------------------------------------------------

    async def __aenter__(self) -> AsyncScheduler:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    @property
    def running(self) -> bool:
        """True between :meth:`start` and :meth:`stop`."""
        return self._running

    @property
    def running_runs(self) -> int:
        """How many runs are in flight right now (cheap: for gauges)."""
        return len(self._inflight)

    @property
    def clock(self) -> Clock:
        return self._clock

    @property
    def timezone(self) -> tzinfo:
        """The scheduler's default zone (``timezone=``, else the local zone)."""
        return local_zone() if self._zone is None else self._zone

    async def start(self) -> None:
        """Start firing jobs. Idempotent; a stopped scheduler may be started again."""
        if self._running:
            return
        loop = asyncio.get_running_loop()
        if self._loop is not None and self._loop is not loop and self._inflight:
            raise SchedulerStateError("start: the scheduler still has runs on another event loop")
        self._loop = loop
        self._claims = self._claims_fires()
        self._running = True
        self._stopping = False
        self._stopped_event = asyncio.Event()
        self._calm = asyncio.Event()
        if self._leader_path is not None and not self._take_leadership():
            # another process of the app leads: stand by until it lets go
            logger.info(
                "another process holds %s: standing by (no fires here) until it stops",
                self._leader_path,
            )
            self._leader_task = loop.create_task(self._stand_by(), name="asyncron-standby")
        else:
            await self._begin_firing(loop)
        if self._events.subscriptions:
            self._events.emit(SchedulerStarted(timestamp=_dt(self._clock.time())))

    @property
    def is_leader(self) -> bool:
        """True while this scheduler fires jobs: it runs, and holds ``leader_lock`` if one was
        given (a standby process returns False). A standby that takes over becomes the leader
        once the store is open and its jobs are loaded, not when it wins the lock."""
        return (
            self._running
            and self._dispatcher is not None
            and (self._leader_path is None or self._leader_lock is not None)
        )

    async def stop(self, timeout: float | None = None) -> None:
        """Stop firing, wait up to ``timeout`` (default ``stop_timeout``) for running jobs, then
        cancel the async ones that are still going (sync ones cannot be killed: they are left to
        finish in their thread and their outcome is still recorded).

        Idempotent. Called from inside a job, it does not wait for that job.

        Raises:
            InvalidJobError: ``timeout`` is not None or a finite number of seconds >= 0.
        """
        check_seconds("timeout", timeout)
        await self._stop(timeout)

    async def wait_stopped(self) -> None:
        """Return once :meth:`stop` has completed (at once if the scheduler is not running)."""
        if self._running and self._stopped_event is not None:
            await self._stopped_event.wait()

    async def run_until_stopped(self) -> None:
        """Start (if needed) and wait until :meth:`stop` is called; for a process whose main job is
        scheduling. Cancelling this call stops the scheduler gracefully."""
        await self.start()
        assert self._stopped_event is not None
        try:
            await self._stopped_event.wait()
        finally:
            await asyncio.shield(self.stop())

    # -- scheduling API -----------------------------------------------------------------------

    async def schedule(
        self,
        func: Callable[..., Any],
        name: str | None = None,
        trigger: Trigger | str | timedelta | float | datetime | None = None,
        args: Iterable[Any] = (),
        kwargs: dict[str, Any] | None = None,
        max_runs: int | None = None,
        *,
        job_id: str | None = None,
        function_name: str | None = None,
        depends_on: Iterable[str] | None = None,
        replace: bool = False,
        **options: Any,
    ) -> str:
        """Add a job and return its id.

        ``trigger`` defaults to "once, now". Besides a :class:`~asyncron.abc.Trigger` it accepts a
        cron string, a ``timedelta`` or number of seconds (interval) and a ``datetime`` (once).
        ``max_runs`` ends the job after that many runs. ``depends_on`` lists job ids that must
        each complete a run successfully before this job's fire may run (see docs/dependencies.md).
        ``options`` are :class:`~asyncron.JobOptions` fields overriding the scheduler's defaults:
        ``overlap``, ``max_instances``, ``buffer_limit``, ``retries``, ``retry_delay``,
        ``max_retry_delay``, ``retry_on``, ``timeout``, ``jitter``, ``misfire_grace_time``,
        ``history`` (see docs/controlling-jobs.md). ``replace=True`` replaces the job that has
        this ``job_id``, if any (APScheduler's ``replace_existing``): as ``remove()`` then
        ``schedule()``, in one step.

        Raises:
            InvalidJobError: ``func`` is not callable, or another argument has the wrong type or
                value (the message names it), or ``job_id`` is already in use (without
                ``replace=True``).
            JobStateError: ``replace=True`` and jobs that can still run depend on the old job.
            InvalidTriggerError: the trigger shorthand could not be turned into a trigger.
        """
        return self.schedule_nowait(
            func,
            name,
            trigger,
            args,
            kwargs,
            max_runs,
            job_id=job_id,
            function_name=function_name,
            depends_on=depends_on,
            replace=replace,
            **options,
        )

    def schedule_nowait(
        self,
        func: Callable[..., Any],
        name: str | None = None,
        trigger: Trigger | str | timedelta | float | datetime | None = None,
        args: Iterable[Any] = (),
        kwargs: dict[str, Any] | None = None,
        max_runs: int | None = None,
        *,
        job_id: str | None = None,
        function_name: str | None = None,
        depends_on: Iterable[str] | None = None,
        manual: bool = False,
        replace: bool = False,
        **options: Any,
    ) -> str:
        """The body of :meth:`schedule`; never blocks. For code already on the loop that is not
        in a coroutine (callbacks)."""
        return self._schedule(
            schedule_request(
                func,
                name,
                trigger,
                args,
                kwargs,
                max_runs,
                job_id=job_id,
                function_name=function_name,
                depends_on=depends_on,
                manual=manual,
                replace=replace,
                **options,
            )
        )

    async def add_dependency(self, job_id: str, depends_on: Iterable[str]) -> None:
        """Make ``job_id`` wait for each job in ``depends_on`` (see :meth:`schedule`).

        Raises:
            JobLookupError: ``job_id`` or a dependency is unknown.
            DependencyCycleError: an edge would close a cycle (the message names it); nothing
                is changed.
        """
        self.add_dependency_nowait(job_id, depends_on)

    def add_dependency_nowait(self, job_id: str, depends_on: Iterable[str]) -> None:
        job = self._require(job_id)
        deps = self._check_deps(depends_on)
        self._graph.add(job_id, deps, self._dep_done_for_good)
        self._any_edges = True
        job.depends_on = self._graph.dependencies(job_id)

    async def cancel(self, job_id: str) -> bool:
        """Cancel a job: no further fires, and a running async run is cancelled (a running sync run
        finishes in its thread; its outcome is still recorded). Returns False when the job is
        unknown or already finished."""
        return self.cancel_nowait(job_id)

    def cancel_nowait(self, job_id: str) -> bool:
        return self._cancel(job_id)

    async def remove(self, job_id: str) -> bool:
        """Forget a job: it is cancelled first if it can still fire, then dropped from
        ``list_jobs()`` (and deleted from the store). False when there is no such job.

        Raises:
            JobStateError: other jobs that can still run depend on it (remove or cancel them
                first).
        """
        return self.remove_nowait(job_id)

    def remove_nowait(self, job_id: str) -> bool:
        return self._remove(job_id)

    async def purge(self) -> int:
        """Remove every finished job (completed, failed, cancelled, skipped) that no job still
        waiting depends on; returns how many were removed. For services that schedule many
        one-off jobs."""
        count = 0
        for job_id in [j.id for j in self._jobs.values() if j.status.is_final]:
            try:
                count += self.remove_nowait(job_id)
            except JobStateError:
                continue
        return count

    async def get_job(self, job_id: str) -> Job | None:
        """A snapshot of the job, or None when there is no such job."""
        return self.get_job_nowait(job_id)

    def get_job_nowait(self, job_id: str) -> Job | None:
        job = self._jobs.get(job_id)
        if job is not None:
            return job.snapshot()
        for unresolved in self._unresolved():
            if unresolved.id == job_id:
                return unresolved
        return None

    def register_function(self, name: str, func: Callable[..., Any]) -> int:
        """Register ``func`` under ``name`` for stored jobs (``schedule(..., function_name=name)``)
        and bring back unresolved stored jobs that now resolve; returns how many came back.

        Raises:
            SchedulerStateError: the scheduler has no store.
            InvalidJobError: ``name`` or ``func`` is not acceptable.
        """
        if self._journal is None:
            raise SchedulerStateError(
                "register_function: this scheduler has no store; pass store=... to AsyncScheduler"
            )
        return self._journal.register_function(name, func)

    async def list_jobs(
        self,
        status: JobStatus | str | Iterable[JobStatus | str] | None = None,
        *,
        active: bool = False,
        order: str = "added",
    ) -> list[Job]:
        """Snapshots of every job, optionally only those with ``status`` (one status or a
        collection). ``active=True`` keeps only the jobs that can still fire (pending, running
        or paused: APScheduler's ``get_jobs()``). ``order`` is ``"added"`` (the order they were
        added, the default) or ``"next_run"`` (soonest next fire first, jobs without one last).

        Raises:
            InvalidJobError: ``status`` is not a JobStatus or one of its values, or an unknown
                ``order``.
        """
        return self.list_jobs_nowait(status, active=active, order=order)

    def list_jobs_nowait(
        self,
        status: JobStatus | str | Iterable[JobStatus | str] | None = None,
        *,
        active: bool = False,
        order: str = "added",
    ) -> list[Job]:
        if status is None and not active:
            jobs = [job.snapshot() for job in self._jobs.values()] + self._unresolved()
        else:
            wanted = None if status is None else coerce_statuses(status)
            jobs = [
                job.snapshot()
                for job in self._jobs.values()
                if (wanted is None or job.status in wanted) and not (active and job.status.is_final)
            ]
            if not active and wanted is not None and JobStatus.UNRESOLVED in wanted:
                jobs += self._unresolved()
        return order_jobs(jobs, order)

    async def run_now(self, job_id: str) -> Any:
        """Run the job at once, outside its schedule, and return its result (re-raising its error).

        The run is recorded like any other (run count, last result or error). If the job is
        running, this waits for that run to end first, so a job still never overlaps itself.

        Raises:
            JobLookupError: no such job.
            JobStateError: the job was cancelled.
            Exception: whatever the job raised.
        """
        job = self._require(job_id)
        current = _CURRENT.get()
        if current is not None and current.job is job:
            raise DeadlockError(
                f"run_now({job_id!r}) was called from inside that job's own run; it would wait "
                "for itself forever"
            )
        outcome = await self._start_explicit(
            job, None, f"job {job_id!r} ({job.name}) was cancelled; it cannot be run"
        )
        return await asyncio.shield(outcome)

    async def wait_job(self, job_id: str, *, timeout: float | None = None) -> Job:
        """Wait until the job will never fire again (completed, failed, cancelled or skipped)
        and return its final snapshot.

        Raises:
            InvalidJobError: ``timeout`` is not None or a finite number of seconds >= 0.
            JobLookupError: no such job.
            TimeoutError: ``timeout`` seconds (real time) passed first.
            SchedulerStateError: the scheduler was stopped while this call was waiting, or
                is stopped (or stopping) and the job has fires left: nothing would end it.
        """
        check_seconds("timeout", timeout)
        job = self._require(job_id)
        if not job.status.is_final:
            if self._stopping:  # from stop() until the next start()
                raise SchedulerStateError(
                    f"wait_job({job_id!r}): the scheduler is stopped (or stopping), and job "
                    f"{job.name!r} is {job.status.value}: it fires again only after start()"
                )
            waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            job.final_waiters = [*(job.final_waiters or ()), waiter]
            try:
                if timeout is None:
                    await waiter
                else:
                    await asyncio.wait_for(waiter, timeout)
            finally:
                if job.final_waiters and waiter in job.final_waiters:
                    job.final_waiters.remove(waiter)
        return job.snapshot()

    def statistics(self) -> SchedulerStatistics:
        """An immutable snapshot of the scheduler's counters (see :class:`SchedulerStatistics`)."""
        return self._statistics()

    # -- run control --------------------------------------------------------------------------

    async def pause(self, job_id: str) -> bool:
        """Hold the job's fires until :meth:`resume`. A run in progress finishes. Returns False
        if the job is already paused or finished.

        Raises:
            JobLookupError: no such job.
        """
        return self.pause_nowait(job_id)

    def pause_nowait(self, job_id: str) -> bool:
        return self._pause(job_id)

    async def resume(self, job_id: str, *, catch_up: bool = True) -> bool:
        """Let a paused job fire again. Fires it missed while paused are coalesced into one run
        at once, unless they are older than its ``misfire_grace_time`` or ``catch_up`` is False
        (APScheduler's ``resume_job``): then they are skipped, counted as misfires, and the job
        waits for its next fire after now. Returns False if the job was not paused.

        Raises:
            JobLookupError: no such job.
        """
        return self.resume_nowait(job_id, catch_up=catch_up)

    def resume_nowait(self, job_id: str, *, catch_up: bool = True) -> bool:
        return self._resume(job_id, catch_up)

    async def pause_all(self) -> int:
        """Pause every job that can be paused; returns how many were."""
        return sum(self.pause_nowait(job_id) for job_id in list(self._jobs))

    async def resume_all(self, *, catch_up: bool = True) -> int:
        """Resume every paused job, also those paused one by one (it is "resume each paused
        job", see docs/migrating.md); returns how many were. ``catch_up`` is :meth:`resume`'s.

        Raises:
            InvalidJobError: ``catch_up`` is not a bool.
        """
        if not isinstance(catch_up, bool):
            raise InvalidJobError(f"catch_up: expected True or False, got {catch_up!r}")
        return sum(self.resume_nowait(job_id, catch_up=catch_up) for job_id in list(self._jobs))

    async def reschedule(
        self, job_id: str, trigger: Trigger | str | timedelta | float | datetime
    ) -> Job:
        """Give the job a new trigger; its next fire is computed from now. Atomic with respect to
        a fire due at the same moment (all of it happens in one step on the loop).

        Raises:
            JobLookupError: no such job.
            JobStateError: the job is cancelled.
            InvalidJobError: the trigger is not valid.
        """
        return await self._reschedule(job_id, trigger)

    async def modify(self, job_id: str, **changes: Any) -> Job:
        """Change a job in place: ``name``, ``func``, ``args``, ``kwargs``, ``max_runs`` and any
        :class:`JobOptions` field. A run in progress keeps what it started with; the next run
        uses the new values.

        Raises:
            JobLookupError: no such job.
            InvalidJobError: an unknown field or a bad value (the job is left unchanged).
        """
        return await self._modify(job_id, **changes)

    async def backfill(
        self, job_id: str, start: datetime, end: datetime, *, limit: int = 1000
    ) -> int:
        """Run, one after another, the fires the job's trigger would have produced in
        ``(start, end]`` (a past window), each recorded as a run with its nominal time. Waits for
        any run in progress first (the job still never overlaps itself). Returns how many ran.
        Naive datetimes are local time; the window ends at the current time at the latest (later
        fires are the schedule's own).

        Raises:
            JobLookupError: no such job.
            InvalidJobError: ``end`` before ``start``, or more than ``limit`` fires in the
                window.
        """
        return await self._backfill(job_id, start, end, limit=limit)

    async def get_run_history(self, job_id: str) -> list[RunRecord]:
        """The job's last runs (oldest first), as many as its ``history`` option keeps.

        Raises:
            JobLookupError: no such job.
        """
        return history_records(self._require(job_id))

    async def describe(self, job_id: str, *, fires: int = 10, runs: int = 10) -> JobDescription:
        """The job, its next ``fires`` fire times and its last ``runs`` runs (with the
        PostgreSQL store, its runs on every node of the cluster).

        Raises:
            JobLookupError: no such job.
        """
        return await self._describe(job_id, fires=fires, runs=runs)

    # -- decorators ---------------------------------------------------------------------------

    def cron(
        self,
        expression: str,
        *,
        timezone: str | tzinfo | None = None,
        name: str | None = None,
        **options: Any,
    ) -> Callable[[_F], _F]:
        """Decorator: schedule the function on a cron expression when it is defined.

        ``@scheduler.cron("0 9 * * 1-5", timezone="Europe/Berlin")``. The function is returned
        unchanged; ``options`` are ``schedule()``'s keyword options (``retries=``, ...).

        Raises:
            CronParseError: the expression is invalid (at decoration time).
        """

        trigger = CronTrigger.from_expression(expression, timezone=timezone or self._zone)

        def decorate(func: _F) -> _F:
            self.schedule_nowait(func, name, trigger, **options)
            return func

        return decorate

    def every(
        self,
        interval: timedelta | float | None = None,
        *,
        weeks: float = 0,
        days: float = 0,
        hours: float = 0,
        minutes: float = 0,
        seconds: float = 0,
        start: datetime | None = None,
        end: datetime | None = None,
        name: str | None = None,
        **options: Any,
    ) -> Callable[[_F], _F]:
        """Decorator: schedule the function every interval when it is defined.

        ``@scheduler.every(minutes=5)``. The function is returned unchanged.

        Raises:
            InvalidTriggerError: the interval is not positive.
        """
        trigger = IntervalTrigger(
            interval,
            weeks=weeks,
            days=days,
            hours=hours,
            minutes=minutes,
            seconds=seconds,
            start=start,
            end=end,
        )

        def decorate(func: _F) -> _F:
            self.schedule_nowait(func, name, trigger, **options)
            return func

        return decorate

    # -- events -------------------------------------------------------------------------------

    def subscribe(
        self,
        callback: Callable[[Event], Any],
        types: type[Event] | Iterable[type[Event]] | None = None,
        *,
        one_shot: bool = False,
        buffer: int = 1000,
    ) -> Subscription:
        """Call ``callback`` (sync or async) with every event of ``types`` (default: all).

        Delivery goes through the subscription's own bounded buffer and task, so a slow
        subscriber never delays dispatch; when the buffer is full, events are dropped and
        counted (``Subscription.dropped``, ``statistics().events_dropped``).
        """
        return self._events.subscribe(callback, types, one_shot, buffer)

    def events(
        self, types: type[Event] | Iterable[type[Event]] | None = None, *, buffer: int = 1000
    ) -> AsyncIterator[Event]:
        """``async for event in scheduler.events():`` every event from now on, until the
        scheduler stops (or the loop is left). On a scheduler that has been stopped (and not
        started again), the iteration ends at once."""
        stopped = self._stopped_event
        if not self._running and stopped is not None and stopped.is_set():
            return _no_events()
        return self._events.subscribe(None, types, False, buffer)._iterate()


async def _no_events() -> AsyncIterator[Event]:
    return
    yield  # an async generator that ends at once
