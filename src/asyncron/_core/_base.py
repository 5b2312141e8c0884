"""The engine's shared state and the small operations every part of the core uses: making job
records, deadlines (next fire, misfire coalescing), finalising a job, counting a skip, events.

The core's parts (``_dispatch``, ``_executors``, ``_outcomes``, ``_deps``, ``_leader``) are
mixins over :class:`EngineBase`, composed into ``_engine.Engine``. What one part provides to the
others is declared at the end of :class:`EngineBase`, so that each part type-checks on its own
and a reader sees in one place how the parts call each other.
"""

from __future__ import annotations

import asyncio
import contextvars
import dataclasses
import logging
import os
import random
import time
from collections import deque
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, tzinfo
from typing import Any

from .._apscheduler_hints import option_hints, positional_trigger_hint, trigger_name_hint
from .._clock import SystemClock
from .._events import EventHub, FireSkipped, JobEvent
from .._graph import DependencyGraph
from .._heap import DeadlineHeap
from .._model import _FINAL, Job, JobOptions, JobStatus
from .._shorthand import coerce_trigger
from .._tz import clip
from ..abc import Clock, Executor, Journal, TimerHandle, Trigger
from ..errors import AsyncronError, InvalidJobError, InvalidTriggerError, JobLookupError
from ..triggers.once import OnceTrigger
from ._executors import WorkerPool
from ._state import (
    _COMPLETED,
    _FAILED,
    _NO_KWARGS,
    _SKIPPED,
    JobState,
    Run,
    _dt,
    _short_name,
)

__all__ = ["EngineBase"]

logger = logging.getLogger("asyncron")


class EngineBase:
    """The state of one engine: its jobs, deadline heap, clock, journal, counters."""

    def __init__(
        self,
        *,
        clock: Clock | None,
        max_workers: int,
        stop_timeout: float,
        job_defaults: dict[str, Any] | JobOptions | None,
        pool: Executor | None = None,
    ) -> None:
        self._clock: Clock = clock if clock is not None else SystemClock()
        # the clock's time() as one call: the system clock's is time.time itself (read at the
        # end of every run, so the Python frame of SystemClock.time is worth saving)
        self._now: Callable[[], float] = (
            time.time if type(self._clock) is SystemClock else self._clock.time
        )
        self._max_workers = max_workers
        self._stop_timeout = stop_timeout
        self._jobs: dict[str, JobState] = {}
        self._heap: DeadlineHeap[JobState] = DeadlineHeap()
        self._pool: Executor = (
            pool
            if pool is not None
            else WorkerPool(max_workers, name="asyncron-worker", owner=self)
        )
        self._loop: asyncio.AbstractEventLoop | None = None
        self._running = False
        self._stopping = False
        self._dispatcher: asyncio.Task[None] | None = None
        self._wake: asyncio.Future[None] | None = None
        # set while the dispatcher waits for the next deadline; clear while it works through a
        # backlog of due fires, pass after pass (journals write behind it: _through_burst)
        self._calm = asyncio.Event()
        self._warned_deps = False
        self._timer: TimerHandle | None = None
        self._timer_when = float("inf")
        self._inflight: set[asyncio.Future[Any]] = set()
        self._stopped_event: asyncio.Event | None = None
        self._id_counter = 0
        self._graph = DependencyGraph()
        self._any_edges = False  # set once a dependency is added: the fast paths then step aside
        self._last_context: contextvars.Context | None = None
        # the zone of cron strings, naive datetimes and zone-less triggers (see _shorthand);
        # None: not given (the local zone)
        self._zone: tzinfo | None = None
        if isinstance(job_defaults, JobOptions):
            self._defaults = job_defaults
        else:
            self._defaults = JobOptions()
            self._defaults = self._options(job_defaults)
        self._events = EventHub()
        self._lateness: deque[float] = deque(maxlen=1000)
        self._retries = 0
        self._journal: Journal | None = None
        # derived from the journal when the scheduler starts (the store may be chosen late:
        # use_store), and read on the fast paths as one attribute
        self._claims = False
        self._clock.bind(self._is_busy)
        # counters for statistics()
        self._fires = 0
        self._failures = 0
        self._skips = 0
        self._misfires = 0

    def _claims_fires(self) -> bool:
        """True when the journal claims each fire in a shared store before it runs."""
        return self._journal is not None and self._journal.claims

    # -- job records ----------------------------------------------------------------------------

    def _make_job(
        self,
        func: Callable[..., Any],
        name: str | None,
        trigger: object,
        args: Iterable[Any],
        kwargs: dict[str, Any] | None,
        max_runs: int | None,
        job_id: str | None,
        manual: bool,
        options: dict[str, Any] | None = None,
        replace: bool = False,
    ) -> JobState:
        if options:  # add_job(f, "interval", minutes=5): APScheduler's trigger names, said first
            hint = (
                trigger_name_hint(trigger, options) if isinstance(trigger, str) else None
            ) or positional_trigger_hint(name, options)
            if hint is not None:
                raise InvalidTriggerError(hint)
        opts = self._options(options)
        if not callable(func):
            raise InvalidJobError(f"func: expected a callable, got {type(func).__name__} {func!r}")
        if name is not None and not isinstance(name, str):
            raise InvalidJobError(
                f"name: expected a str or None, got {type(name).__name__} {name!r}"
            )
        if isinstance(args, str | bytes | dict) or not isinstance(args, Iterable):
            raise InvalidJobError(
                f"args: expected a tuple or list of positional arguments, got "
                f"{type(args).__name__} {args!r}"
            )
        args_t = tuple(args)
        if kwargs is None:
            kwargs = {}
        elif not isinstance(kwargs, dict) or not all(isinstance(k, str) for k in kwargs):
            raise InvalidJobError(
                f"kwargs: expected a dict with str keys or None, got {type(kwargs).__name__} {kwargs!r}"
            )
        if max_runs is not None and (
            isinstance(max_runs, bool) or not isinstance(max_runs, int) or max_runs < 1
        ):
            raise InvalidJobError(f"max_runs: expected a positive int or None, got {max_runs!r}")
        if job_id is None:
            self._id_counter += 1
            job_id = f"{os.urandom(6).hex()}-{self._id_counter}"
        elif not isinstance(job_id, str) or not job_id:
            raise InvalidJobError(f"job_id: expected a non-empty str, got {job_id!r}")
        elif not replace and (job_id in self._jobs or self._unresolved_reason(job_id)):
            old = self._jobs.get(job_id)
            held_by = (
                f"job {old.name!r}, {old.status.value}"
                if old is not None
                else f"a stored job that could not be loaded: {self._unresolved_reason(job_id)}"
            )
            raise InvalidJobError(
                f"job_id: {job_id!r} is already in use ({held_by}); pass replace=True to "
                f"replace it, or remove({job_id!r}) first (cancel() stops a job but keeps it "
                "listed, and its id taken)"
            )
        trig = (
            OnceTrigger(self._clock.now())
            if trigger is None
            else coerce_trigger(trigger, self._zone)
        ).for_job(job_id)
        job = JobState(
            job_id,
            name if name is not None else _short_name(func),
            func,
            args_t,
            dict(kwargs) if kwargs else _NO_KWARGS,
            trig,
            max_runs,
            manual,
            opts,
            self._capture_context(),
        )
        return job

    def _first_run(self, trigger: Trigger) -> datetime | None:
        """``trigger``'s first fire for a job created now, asked before the job is added.

        Raises:
            InvalidTriggerError: the trigger raised something other than an asyncron error
                (an ``OverflowError`` from a custom trigger, say); the cause is chained.
        """
        try:
            return trigger.get_first_run(self._clock.now())
        except AsyncronError:
            raise
        except Exception as exc:
            raise InvalidTriggerError(
                f"trigger: {clip(trigger)} cannot give its first fire time "
                f"({type(exc).__name__}: {clip(str(exc), 120)}); nothing was scheduled"
            ) from exc

    def _unresolved_reason(self, job_id: str) -> str | None:
        return None if self._journal is None else self._journal.unresolved_reason(job_id)

    def _capture_context(self) -> contextvars.Context:
        """The caller's context, shared with the previous job when equal: runs only ever use
        copies of it, and 100,000 jobs scheduled from one place then keep one Context."""
        ctx = contextvars.copy_context()
        last = self._last_context
        if last is not None and ctx == last:
            return last
        self._last_context = ctx
        return ctx

    def _options(
        self, options: dict[str, Any] | None, base: JobOptions | None = None
    ) -> JobOptions:
        base = base or self._defaults
        if not options:
            return base
        unknown = sorted(set(options) - set(JobOptions.__dataclass_fields__))
        if unknown:
            allowed = ", ".join(JobOptions.__dataclass_fields__)
            hint = (
                "; a job's trigger is changed with reschedule(job_id, trigger)"
                if "trigger" in unknown
                else ""
            )
            apscheduler = option_hints(unknown)
            if apscheduler:
                hint += f"; from APScheduler? {apscheduler}"
            raise InvalidJobError(
                f"unknown job option(s) {', '.join(unknown)}; allowed: {allowed} (and, for "
                f"modify(), name, func, args, kwargs, max_runs){hint}"
            )
        return dataclasses.replace(base, **options)

    def _require(self, job_id: str) -> JobState:
        job = self._jobs.get(job_id)
        if job is None:
            raise JobLookupError(job_id)
        return job

    # -- deadlines ------------------------------------------------------------------------------

    def _set_next(self, job: JobState, when: datetime | None) -> None:
        """Make ``when`` the job's next fire (None: no fire left)."""
        x = job.x
        if when is None or (x.max_runs is not None and not job.fires_left()):
            job.next_ts = job.next_dt = None
            if not job.running and x.held is None and not x.paused and not x.buffer:
                self._finalize(job, self._end_status(job))
            return
        ts = job.next_ts = when.timestamp()
        # the datetime is kept only when one made from the float would differ (see next_fire)
        job.next_dt = (
            None if when.tzinfo is UTC and type(when) is datetime and -4e9 < ts < 4e9 else when
        )
        if x.manual or x.paused:
            return
        jitter = job.opts.jitter
        if jitter:
            offset = job.extras().jitter_offset = random.uniform(0.0, jitter)
            ts += offset
        elif x.jitter_offset:
            x.jitter_offset = 0.0
        job.heap_seq = self._heap.push(ts, job)
        if ts < self._timer_when and self._running:
            self._arm(ts)

    @staticmethod
    def _end_status(job: JobState) -> JobStatus:
        """The final status of a job with no fire left: FAILED if its last run failed, SKIPPED
        if it never ran because its fires misfired, else COMPLETED."""
        if job.error:
            return _FAILED
        if job.run_count == 0 and job.x.skipped_because is not None:
            return _SKIPPED
        return _COMPLETED

    def _unschedule(self, job: JobState) -> None:
        if job.heap_seq is not None:
            self._heap.cancel(job.heap_seq)
            job.heap_seq = None
        job.next_ts = job.next_dt = None

    def _advance(self, job: JobState, fire_ts: float, now: float) -> None:
        """Compute the fire after the one at ``fire_ts``; fires already missed by ``now`` are
        coalesced into the run that is starting (counted as misfires)."""
        if job.status in _FINAL or (job.x.max_runs is not None and not job.fires_left()):
            job.next_ts = job.next_dt = None
            return
        trigger = job.trigger
        if trigger.__class__ is OnceTrigger:  # fast path: nothing fires after a one-shot
            job.next_ts = job.next_dt = None
            if not job.running:
                self._set_next(job, None)
            return
        fire_dt = job.next_dt
        if fire_dt is None:
            fire_dt = datetime.fromtimestamp(fire_ts if job.next_ts is None else job.next_ts, UTC)
        try:
            nxt = trigger.get_next_run(fire_dt)
            if nxt is not None and nxt.timestamp() <= now:
                # Missed fires: skip them, staying on the trigger's own grid for a short stall
                # and jumping straight past ``now`` after a long one.
                self._misfires += 1
                for _ in range(64):
                    nxt = trigger.get_next_run(nxt)
                    if nxt is None or nxt.timestamp() > now:
                        break
                else:
                    nxt = trigger.get_next_run(datetime.fromtimestamp(now, UTC))
        except Exception as exc:
            # A trigger that cannot say its next fire (a custom one's bug) ends the job, said
            # once: left armed on a past fire it would stay pending forever.
            logger.error(
                "job %r (%s): its trigger %s failed (%s: %s); the job has no further fire",
                job.name,
                job.id,
                clip(trigger),
                type(exc).__name__,
                exc,
                extra={"job_id": job.id, "job_name": job.name},
            )
            nxt = None
        job.next_ts = job.next_dt = None
        self._set_next(job, nxt)

    # -- small shared steps ---------------------------------------------------------------------

    def _count_skip(self, job: JobState, fire_ts: float, reason: str) -> None:
        job.skipped += 1
        self._skips += 1
        logger.debug(
            "job %r (%s): fire skipped (%s)",
            job.name,
            job.id,
            reason,
            extra={"job_id": job.id, "job_name": job.name},
        )
        if self._events.subscriptions:
            self._emit(FireSkipped, job, scheduled_at=_dt(fire_ts), reason=reason)

    def _finalize(self, job: JobState, status: JobStatus) -> None:
        job.status = status
        if self._journal is not None:
            self._journal.job_changed(job)
        x = job.x
        if x.final_waiters:
            waiters, x.final_waiters = x.final_waiters, None
            for w in waiters:
                if not w.done():
                    w.set_result(None)

    def _emit(self, kind: type[JobEvent], job: JobState, **fields: Any) -> None:
        self._events.emit(
            kind(timestamp=_dt(self._clock.time()), job_id=job.id, job_name=job.name, **fields)
        )

    def _is_busy(self) -> bool:
        return bool(self._inflight)

    async def _through_burst(self, timeout: float) -> None:
        """Return once the dispatcher has dispatched every fire that was due (at once if it
        has), or after ``timeout`` seconds: a journal's writer waits here so as not to take
        loop time from a burst of fires (see ``StoreJournal.max_write_lag``)."""
        if self._calm.is_set() or not self._running:
            return
        try:
            await asyncio.wait_for(self._calm.wait(), timeout)
        except TimeoutError:
            pass

    async def _wait_idle(self, job: JobState) -> None:
        """Wait until no run of ``job`` is in flight (its waiter is removed if we are cancelled)."""
        loop = asyncio.get_running_loop()
        while job.running:
            waiter: asyncio.Future[None] = loop.create_future()
            job.idle_waiters = [*(job.idle_waiters or ()), waiter]
            try:
                await waiter
            finally:
                if job.idle_waiters and waiter in job.idle_waiters:
                    job.idle_waiters.remove(waiter)

    def _unresolved(self) -> list[Job]:
        """Stored jobs the journal could not load, as snapshots with status UNRESOLVED."""
        items = self._journal.unresolved if self._journal is not None else ()
        if not items:
            return []
        return [
            Job(
                id=u.id,
                name=u.name,
                status=JobStatus.UNRESOLVED,
                trigger=None,
                next_run=u.next_run,
                last_run=None,
                run_count=0,
                max_runs=None,
                error=u.reason,
                result=None,
                func_name=u.func_ref,
            )
            for u in items
        ]

    # -- provided by the other parts of the core ------------------------------------------------

    def _arm(self, when: float) -> None:
        raise NotImplementedError  # _dispatch

    def _start_fire(self, job: JobState, fire_ts: float, now: float) -> None:
        raise NotImplementedError  # _dispatch

    def _record_misfire(self, job: JobState, fire_ts: float, now: float) -> None:
        raise NotImplementedError  # _dispatch

    def _start_held(self, job: JobState, now: float | None = None) -> None:
        raise NotImplementedError  # _dispatch

    def _start_run(
        self,
        job: JobState,
        now: float,
        fire_ts: float,
        outcome: asyncio.Future[Any] | None,
        *,
        counted: bool = False,
        attempt: int = 1,
        attempt_base: int | None = None,
    ) -> None:
        raise NotImplementedError  # _executors

    def _stop_run(self, run: Run, *, superseded: bool = False) -> str:
        raise NotImplementedError  # _executors

    async def _drive(self, run: Run, call: Callable[..., Any], *args: Any) -> Any:
        raise NotImplementedError  # _runner

    def _on_run_done(self, run: Run, fut: asyncio.Future[Any]) -> None:
        raise NotImplementedError  # _executors

    def _task_ended(
        self, run: Run, result: Any, exc: BaseException | None, *, cancelled: bool = False
    ) -> None:
        raise NotImplementedError  # _outcomes

    def _finish(
        self, run: Run, result: Any, exc: BaseException | None, *, outcome: str | None = None
    ) -> None:
        raise NotImplementedError  # _outcomes

    def _record(
        self,
        job: JobState,
        run: Run,
        result: Any,
        exc: BaseException | None,
        outcome: str,
        now: float,
    ) -> None:
        raise NotImplementedError  # _outcomes

    def _record_cancel(self, run: Run) -> None:
        raise NotImplementedError  # _outcomes

    def _release_dependents(self, job: JobState) -> None:
        raise NotImplementedError  # _deps

    def _skip_dependents_of(
        self, upstream: JobState | None, seeds: list[tuple[JobState, str]] | None = None
    ) -> None:
        raise NotImplementedError  # _deps

    def _dead_dependency(self, job: JobState) -> str | None:
        raise NotImplementedError  # _deps

    def _check_deps(self, depends_on: Iterable[str] | None) -> list[str]:
        raise NotImplementedError  # _deps

    def _dep_done_for_good(self, dep_id: str) -> bool:
        raise NotImplementedError  # _deps
