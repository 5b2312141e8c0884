"""Job control: the bodies of the operations users call on a job or on the whole engine
(schedule, cancel, remove, pause, resume, reschedule, modify, backfill, describe, statistics).
``AsyncScheduler`` documents them and checks their arguments; the work happens here.
"""

from __future__ import annotations

import asyncio
import logging
import math
from datetime import UTC, datetime, timedelta
from types import MappingProxyType
from typing import Any

from .._events import JobAdded, JobModified, JobPaused, JobRemoved, JobResumed
from .._model import Job, JobDescription, JobStatus, RunRecord, SchedulerStatistics
from .._shorthand import coerce_trigger
from .._tz import ensure_aware, local_zone
from ..abc import Trigger
from ..errors import InvalidJobError, JobStateError
from ..triggers.interval import IntervalTrigger
from ._base import EngineBase
from ._outcomes import history_records
from ._rules import Decision, Entry, decide, lateness
from ._state import JobState, ScheduleRequest, _dt

__all__ = ["Control"]

logger = logging.getLogger("asyncron")


#: 0001-01-02T00:00Z: the earliest instant an anchor may take (a day of margin for any zone).
_YEAR_1_TS = datetime(1, 1, 2, tzinfo=UTC).timestamp()


def _count(name: str, value: object, *, low: int = 0) -> None:
    """Refuse anything but a whole number >= ``low`` (NaN or 2.5 fires would misbehave)."""
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise InvalidJobError(f"{name}: expected a whole number >= {low}, got {value!r}")


class Control(EngineBase):
    """What users do to jobs."""

    def _schedule(self, req: ScheduleRequest) -> str:
        """Add the job ``req`` describes (see ``AsyncScheduler.schedule``) and return its id.
        Nothing is changed when it raises."""
        job = self._make_job(
            req.func,
            req.name,
            req.trigger,
            req.args,
            req.kwargs,
            req.max_runs,
            req.job_id,
            req.manual,
            req.options,
            req.replace,
        )
        if req.function_name is not None:
            job.ref = req.function_name
        deps = self._check_deps(req.depends_on)
        if self._journal is not None:
            self._journal.validate(job)
        # asked before anything changes: a trigger that cannot answer leaves no trace
        first = self._first_run(job.trigger)
        if req.replace:  # validated above: nothing fails after this
            self._remove(job.id)
        if deps:
            self._graph.add(job.id, deps, self._dep_done_for_good)
            self._any_edges = True
            job.depends_on = tuple(deps)
        self._jobs[job.id] = job
        self._set_next(job, first)
        if self._journal is not None:
            self._journal.job_added(job)
        if self._events.subscriptions:
            self._emit(JobAdded, job)
        return job.id

    async def _start_explicit(
        self, job: JobState, fire_ts: float | None, refused: str
    ) -> asyncio.Future[Any]:
        """Start a run the user asked for (``run_now``, ``backfill``, a catch-up fire) once no
        run of the job is in flight (it never overlaps itself), as the admission rules allow;
        ``fire_ts`` None: a fire of now. Returns the future of the run's outcome.

        Raises:
            JobStateError: ``refused``: the rules refuse it (the job was cancelled).
        """
        loop = asyncio.get_running_loop()
        self._loop = self._loop or loop
        await self._wait_idle(job)
        now = self._clock.time()
        fire = now if fire_ts is None else fire_ts
        if decide(self, job, fire, now, Entry.EXPLICIT) is not Decision.RUN:
            raise JobStateError(refused)
        outcome: asyncio.Future[Any] = loop.create_future()
        self._start_run(job, now, fire, outcome)
        return outcome

    def _cancel(self, job_id: str) -> bool:
        """The body of :meth:`AsyncScheduler.cancel_nowait`."""
        job = self._jobs.get(job_id)
        if job is None or job.status.is_final:
            return False
        self._unschedule(job)
        job.held = None
        if job.buffer:
            job.buffer.clear()
        self._finalize(job, JobStatus.CANCELLED)
        how = [self._stop_run(run) for run in list(job.runs or ())]
        logger.info(
            "job %r (%s) cancelled%s",
            job.name,
            job.id,
            f"; running run {', '.join(how)}" if how else "",
            extra={"job_id": job.id, "job_name": job.name},
        )
        if self._events.subscriptions:
            self._emit(JobRemoved, job)
        if self._graph.has_dependents(job.id):
            self._skip_dependents_of(job)
        return True

    def _remove(self, job_id: str) -> bool:
        """The body of :meth:`AsyncScheduler.remove_nowait`."""
        job = self._jobs.get(job_id)
        if job is None:  # a stored job that could not be loaded is removed from the store
            return self._journal is not None and self._journal.forget_unresolved(job_id)
        waiting = [
            d
            for d in self._graph.dependents(job_id)
            if d in self._jobs and not self._jobs[d].status.is_final
        ]
        if waiting:
            raise JobStateError(
                f"job {job_id!r} ({job.name}) cannot be removed: jobs {', '.join(sorted(waiting))} "
                "depend on it and can still run"
            )
        if not job.status.is_final:
            self._cancel(job_id)
        self._graph.remove(job_id)
        del self._jobs[job_id]
        if self._journal is not None:
            self._journal.job_removed(job)
        return True

    def _pause(self, job_id: str) -> bool:
        """The body of :meth:`AsyncScheduler.pause_nowait`."""
        job = self._require(job_id)
        if job.paused or job.status.is_final:
            return False
        job.paused = True
        if job.heap_seq is not None:
            self._heap.cancel(job.heap_seq)
            job.heap_seq = None
        if not job.running:
            job.status = JobStatus.PAUSED
        if self._journal is not None:
            self._journal.job_changed(job)
        if self._events.subscriptions:
            self._emit(JobPaused, job)
        return True

    def _resume(self, job_id: str, catch_up: bool = True) -> bool:
        """The body of :meth:`AsyncScheduler.resume_nowait`."""
        if not isinstance(catch_up, bool):
            raise InvalidJobError(f"catch_up: expected True or False, got {catch_up!r}")
        job = self._require(job_id)
        if not job.paused or job.status.is_final:
            return False
        job.paused = False
        if job.status is JobStatus.PAUSED:
            job.status = JobStatus.PENDING
        if self._events.subscriptions:
            self._emit(JobResumed, job)
        nxt = job.next_fire
        ts = job.next_ts
        if nxt is not None and ts is not None:
            now = self._clock.time()
            grace = job.opts.misfire_grace_time
            late = grace is not None and lateness(job, ts, now) > grace
            if ts <= now and (not catch_up or late):
                if late:
                    # A fire held while paused and now later than the grace time is a misfire
                    # like any other: counted, logged and published (FireMisfired), then skipped.
                    self._record_misfire(job, ts, now)
                else:
                    self._misfires += 1
                self._advance(job, ts, now)
            else:
                self._set_next(job, nxt)
        if (
            job.held is not None
            and self._graph.is_ready(job.id)
            and not job.running
            and self._running
            and not self._stopping
        ):
            self._start_held(job)
        elif nxt is None and not job.running and job.held is None and not job.buffer:
            self._finalize(job, self._end_status(job))
        if self._journal is not None:
            self._journal.job_changed(job)
        return True

    async def _reschedule(
        self, job_id: str, trigger: Trigger | str | timedelta | float | datetime
    ) -> Job:
        """The body of :meth:`AsyncScheduler.reschedule`."""
        job = self._require(job_id)
        if job.status is JobStatus.CANCELLED:
            raise JobStateError(
                f"job {job_id!r} ({job.name}) was cancelled; it cannot be rescheduled"
            )
        new = coerce_trigger(trigger, self._zone).for_job(job_id)
        first = self._first_run(new)  # before any change: a failure leaves the job as it was
        if job.heap_seq is not None:
            self._heap.cancel(job.heap_seq)
            job.heap_seq = None
        job.trigger = new
        job.next_fire = None
        if job.status.is_final:
            job.status = JobStatus.PENDING
        self._set_next(job, first)
        if self._events.subscriptions:
            self._emit(JobModified, job, changed=("trigger",))
        if self._journal is not None:
            self._journal.job_changed(job)
        return job.snapshot()

    async def _modify(self, job_id: str, **changes: Any) -> Job:
        """The body of :meth:`AsyncScheduler.modify`."""
        job = self._require(job_id)
        own = {"name", "func", "args", "kwargs", "max_runs"}
        opt_changes = {k: v for k, v in changes.items() if k not in own}
        # validate everything first, through the same code that validates schedule()
        probe = self._make_job(
            changes.get("func", job.func),
            changes.get("name", job.name),
            job.trigger,
            changes.get("args", job.args),
            changes.get("kwargs", job.kwargs),
            changes.get("max_runs", job.max_runs),
            None,
            job.manual,
            None,
        )
        opts = self._options(opt_changes, base=job.opts)
        if self._journal is not None and (
            "func" in changes or "args" in changes or "kwargs" in changes
        ):
            probe.ref = job.ref if "func" not in changes else None
            self._journal.validate(probe)
        job.name, job.max_runs = probe.name, probe.max_runs
        job.set_callable(probe.func, probe.args, probe.kwargs)
        history = job.past_runs()
        if history is not None:
            job.history = history[-opts.history :] if opts.history else None
        job.opts = opts
        if job.next_fire is not None and not job.fires_left():
            self._unschedule(job)
            if not job.running:
                self._finalize(job, JobStatus.FAILED if job.error else JobStatus.COMPLETED)
        if self._events.subscriptions:
            self._emit(JobModified, job, changed=tuple(sorted(changes)))
        if self._journal is not None:
            self._journal.job_changed(job)
        return job.snapshot()

    async def _backfill(
        self, job_id: str, start: datetime, end: datetime, *, limit: int = 1000
    ) -> int:
        """The body of :meth:`AsyncScheduler.backfill`."""
        job = self._require(job_id)
        _count("backfill: limit", limit, low=1)
        if not isinstance(start, datetime) or not isinstance(end, datetime):
            raise InvalidJobError("backfill: start and end must be datetimes")
        # naive datetimes are local time, as everywhere else in the library
        start = ensure_aware(start, local_zone(), field="backfill: start")
        end = ensure_aware(end, local_zone(), field="backfill: end")
        if end < start:
            raise InvalidJobError(
                f"backfill: end {end.isoformat()} is before start {start.isoformat()}"
            )
        # a past window: fires after now are the schedule's own (they would run twice)
        end = min(end, self._clock.now())
        fires: list[float] = []
        trigger = job.trigger
        if (
            isinstance(trigger, IntervalTrigger)
            and trigger.start is None
            and job.next_ts is not None
        ):
            # an interval counted from when the job was scheduled: the job's own grid (its
            # next fire, whole intervals back), not one counted from the window's start
            step = trigger.interval.total_seconds()
            back = math.ceil((job.next_ts - start.timestamp()) / step) + 1
            # no fire before year 1: the anchor stays representable for a window from the start
            back = min(back, int((job.next_ts - _YEAR_1_TS) // step))
            anchor = _dt(job.next_ts) - back * trigger.interval
            trigger = IntervalTrigger(trigger.interval, start=anchor, end=trigger.end)
        t = trigger.get_next_run(start)
        while t is not None and t <= end:
            fires.append(t.timestamp())
            if len(fires) > limit:
                raise InvalidJobError(
                    f"backfill: more than {limit} fires between {start.isoformat()} and "
                    f"{end.isoformat()}; narrow the window or raise limit"
                )
            t = trigger.get_next_run(t)
        for fire_ts in fires:
            outcome = await self._start_explicit(
                job, fire_ts, f"backfill: job {job_id!r} ({job.name}) was cancelled"
            )
            await asyncio.gather(outcome, return_exceptions=True)
        return len(fires)

    async def _describe(self, job_id: str, *, fires: int = 10, runs: int = 10) -> JobDescription:
        """The body of :meth:`AsyncScheduler.describe`."""
        _count("describe: fires", fires)
        _count("describe: runs", runs)
        job = self._require(job_id)
        upcoming: list[datetime] = []
        t = job.next_fire
        while t is not None and len(upcoming) < fires:
            upcoming.append(t)
            if job.max_runs is not None and job.started + len(upcoming) >= job.max_runs:
                break
            t = job.trigger.get_next_run(t)
        last: list[RunRecord] = list(history_records(job)[-runs:]) if runs else []
        if runs and self._journal is not None:
            # a shared store: the job's runs on every node (this node's keep their results)
            try:
                shared = await self._journal.past_runs(job_id, runs)
            except Exception as exc:
                logger.warning(
                    "describe(%r): the cluster's runs could not be read: %s", job_id, exc
                )
                shared = None
            if shared is not None:

                def key(r: RunRecord) -> tuple[int, int]:
                    return round(r.scheduled_at.timestamp() * 1_000_000), r.attempt

                merged = {key(r): r for r in shared} | {key(r): r for r in last}
                last = sorted(merged.values(), key=lambda r: (r.scheduled_at, r.attempt))[-runs:]
        return JobDescription(job=job.snapshot(), next_fires=tuple(upcoming), last_runs=tuple(last))

    def _statistics(self) -> SchedulerStatistics:
        """The body of :meth:`AsyncScheduler.statistics`."""
        by_status: dict[str, int] = {s.value: 0 for s in JobStatus}
        for job in self._jobs.values():
            by_status[job.status.value] += 1
        unresolved = len(
            self._unresolved()
        )  # stored jobs kept but not loaded (list_jobs shows them)
        by_status[JobStatus.UNRESOLVED.value] += unresolved
        late = sorted(self._lateness)
        return SchedulerStatistics(
            jobs=len(self._jobs) + unresolved,
            jobs_by_status=MappingProxyType(by_status),
            running=len(self._inflight),
            fires=self._fires,
            failures=self._failures,
            skipped_fires=self._skips,
            misfires=self._misfires,
            retries=self._retries,
            pending_deadlines=len(self._heap),
            events_dropped=self._events.dropped,
            lateness_p50=late[len(late) // 2] if late else None,
            lateness_p99=late[min(len(late) - 1, int(len(late) * 0.99))] if late else None,
            lateness_max=late[-1] if late else None,
        )
