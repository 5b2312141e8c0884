"""The dispatcher: one task that sleeps on a single clock timer armed for the earliest deadline
(inserting an earlier deadline re-arms it) and, when woken, fires everything due in one pass, in
deadline then insertion order, at most ``_BATCH`` fires per pass.

Each fire is put to the admission rules (``_rules``); a fire they admit starts a run
(``_runner``), claimed first in a shared store. Hand-driven jobs (``Scheduler.run_pending``) are
taken here too, by the same rules, for a caller that runs them in its own thread.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque

from .._events import FireMisfired
from .._model import JobStatus
from ..triggers.once import OnceTrigger
from ._base import EngineBase
from ._rules import Decision, Entry, decide, dependencies, lateness
from ._runner import gated
from ._state import _NO_EXTRAS, _RUNNING, JobState, Run, _dt

__all__ = ["Dispatcher"]

logger = logging.getLogger("asyncron")

_BATCH = 64  # most fires started in one synchronous pass (see _dispatch_loop)

# module globals: read once per fire on the hot path
_TIMER = Entry.TIMER
_CALLER = Entry.CALLER
_RUN = Decision.RUN
_REPLACE = Decision.REPLACE
_BUFFER = Decision.BUFFER
_HOLD = Decision.HOLD
_BLOCKED = Decision.BLOCKED
_WAIT = Decision.WAIT
_MISFIRE = Decision.MISFIRE
_EXHAUSTED = Decision.EXHAUSTED
_SKIP_REASONS = {
    Decision.SKIP: "overlap",
    Decision.BUFFER_FULL: "buffer_full",
    Decision.COALESCE: "dependency",
}


class Dispatcher(EngineBase):
    """Wakes for due fires and starts them."""

    def _arm(self, when: float) -> None:
        if self._timer is not None:
            self._timer.cancel()
        self._timer_when = when
        self._timer = self._clock.call_at(when, self._on_timer)

    def _on_timer(self) -> None:
        self._timer = None
        self._timer_when = float("inf")
        self._poke()

    def _poke(self) -> None:
        wake = self._wake
        if wake is not None and not wake.done():
            wake.set_result(None)

    async def _dispatch_loop(self) -> None:
        loop = asyncio.get_running_loop()
        clock_now = self._now
        heap = self._heap
        while not self._stopping:
            now = clock_now()
            due = heap.pop_due(now, _BATCH)
            self._fire_due(due, now)
            if self._stopping:
                break
            if len(due) == _BATCH:
                # More is due: let the loop run other callbacks first, the runs just started
                # among them. A burst of fires is started a few dozen at a time so that each
                # batch's tasks, coroutines and run records have taken their first step (and,
                # for short jobs, ended) before the next batch is made: few of them are alive
                # when the garbage collector runs, so few are promoted to its older generations,
                # whose collections would walk every pending job too. (In batches of 5,000, a
                # burst of 100,000 fires paid for full collections: a third of its time.)
                self._calm.clear()
                await asyncio.sleep(0)
                continue
            nxt = heap.next_deadline()
            if nxt is not None and (self._timer is None or nxt != self._timer_when):
                self._arm(nxt)
            self._calm.set()
            self._wake = loop.create_future()
            await self._wake
            self._wake = None

    def _fire_due(self, due: list[tuple[float, int, JobState]], now: float) -> None:
        """Fire every job of ``due`` (popped from the heap, in order).

        Every fire is put to the admission rules. Most are of a plain job the rules admit at
        their first test, on an engine with no subscriber and no claims to make (a journal is
        only told of the run): such a run is started right here, with what :meth:`_start_run`
        would do for it and nothing else; every other fire goes through :meth:`_fire`. A
        dispatch pass may start 5,000 runs in a row, so the calls saved per fire are a good
        part of the engine's cost per run.
        """
        loop = self._loop
        assert loop is not None
        create_task = loop.create_task
        inflight_add = self._inflight.add
        drive = self._drive
        events = self._events
        plain_engine = not self._claims  # a journal without claims only hears of the run
        journal = self._journal
        fired = 0
        try:
            for _, _, job in due:
                job.heap_seq = None
                fire_ts = job.next_ts
                if fire_ts is None:  # not reachable: a job without a next fire is not queued
                    continue
                try:
                    decision = decide(self, job, fire_ts, now, _TIMER)
                    if not (
                        decision is _RUN
                        and plain_engine
                        and job.x is _NO_EXTRAS
                        and job.is_async
                        and not job.running
                        and job.opts.timeout is None
                        and not events.subscriptions
                    ):
                        self._fire(job, fire_ts, now, decision)
                        continue
                except Exception:  # a bug in a trigger must not kill the dispatcher
                    logger.exception("job %r (%s): could not fire", job.name, job.id)
                    continue
                fired += 1
                job.started += 1
                job.running = 1
                job.status = _RUNNING
                job.last_run = now
                run = job.run = Run(self, job, fire_ts, now, 1, None)
                gate = None if journal is None else journal.run_started(job, fire_ts)
                task = create_task(
                    drive(run, job.call)
                    if gate is None
                    else drive(run, gated, gate, run, job.call),
                    context=job.context.copy(),
                )
                run.fut = task
                inflight_add(task)
                if job.trigger.__class__ is OnceTrigger and job.running:
                    job.next_ts = job.next_dt = None  # _advance's answer for a one-shot
                    continue
                try:
                    self._advance(job, fire_ts, now)
                except Exception:  # a bug in a trigger must not kill the dispatcher
                    logger.exception("job %r (%s): could not fire", job.name, job.id)
        finally:
            self._fires += fired

    def _fire(self, job: JobState, fire_ts: float, now: float, decision: Decision) -> None:
        """Carry out the admission rules' ``decision`` on a timer fire of ``job``."""
        if decision is _REPLACE:
            for run in list(job.runs):
                self._stop_run(run, superseded=True)
            decision = dependencies(self, job, _TIMER)
        if decision is _RUN:
            self._start_fire(job, fire_ts, now)
        elif decision is _EXHAUSTED:
            job.next_ts = job.next_dt = None
            if not job.running:
                self._finalize(job, self._end_status(job))
            return
        elif decision is _HOLD or decision is _BLOCKED:
            job.held = fire_ts
            self._advance(job, fire_ts, now)
            if decision is _BLOCKED:
                blocker = self._dead_dependency(job)
                assert blocker is not None
                self._skip_dependents_of(None, [(job, blocker)])
            return
        elif decision is _BUFFER:
            if job.buffer is None:
                job.buffer = deque()
            job.buffer.append(fire_ts)
        else:
            self._drop(job, fire_ts, now, decision)
        self._advance(job, fire_ts, now)

    def _drop(self, job: JobState, fire_ts: float, now: float, decision: Decision) -> None:
        """Record a fire the rules dropped: a misfire, or a skip with its reason."""
        if decision is _MISFIRE:
            self._record_misfire(job, fire_ts, now)
        else:
            self._count_skip(job, fire_ts, _SKIP_REASONS[decision])
            if decision is Decision.SKIP and self._claims:
                assert self._journal is not None
                self._journal.fire_skipped(job, fire_ts)  # (a shared store records it)

    def _record_misfire(self, job: JobState, fire_ts: float, now: float) -> None:
        """Record, log and publish a fire later than the job's ``misfire_grace_time``."""
        late = lateness(job, fire_ts, now)
        self._misfires += 1
        job.skipped_because = (
            f"fire of {_dt(fire_ts).isoformat()} misfired: {late:.3f} s late "
            f"(misfire_grace_time {job.opts.misfire_grace_time} s)"
        )
        logger.warning(
            "job %r (%s): %s",
            job.name,
            job.id,
            job.skipped_because,
            extra={"job_id": job.id, "job_name": job.name},
        )
        if self._events.subscriptions:
            self._emit(FireMisfired, job, scheduled_at=_dt(fire_ts), lateness=late)

    def _start_fire(self, job: JobState, fire_ts: float, now: float) -> None:
        """Start a fire of ``job``: due now, buffered behind a run, or held for dependencies
        that have all succeeded. With a shared store the fire is claimed first: it runs here
        only if this node wins it (another node may have run it already)."""
        self._fires += 1
        job.started += 1
        if self._claims:
            self._claim_then_start(job, fire_ts)
        else:
            self._start_run(job, now, fire_ts, None, counted=True)

    def _start_held(self, job: JobState, now: float | None = None) -> None:
        """Start the fire ``job`` held for its dependencies (they are all satisfied now)."""
        fire_ts = job.held
        assert fire_ts is not None
        job.skipped_because = None
        # with a shared store a lost claim lets the held fire go (another node ran it)
        self._start_fire(job, fire_ts, self._clock.time() if now is None else now)

    def _claim_then_start(self, job: JobState, fire_ts: float) -> None:
        """Ask the journal to claim the fire (job id + scheduled instant) before running it.

        The job's run slot is reserved while the claim is in flight, so the overlap policy
        still holds; a fire claimed by another node is not a skip on this one.
        """
        assert self._loop is not None and self._journal is not None
        job.running += 1
        task = self._loop.create_task(self._claim(job, fire_ts))
        self._inflight.add(task)
        task.add_done_callback(self._inflight.discard)

    async def _claim(self, job: JobState, fire_ts: float) -> None:
        assert self._journal is not None
        try:
            ok = bool(await self._journal.claim(job, fire_ts))
        except Exception:
            logger.exception(
                "job %r (%s): claiming the fire at %s failed", job.name, job.id, _dt(fire_ts)
            )
            ok = False
        if not ok or job.status is JobStatus.CANCELLED or self._stopping:
            job.running -= 1
            if not ok:
                job.started -= 1  # another node ran it; it does not count against max_runs here
                self._fires -= 1
                if job.held == fire_ts:
                    job.held = None  # a held fire another node ran: nothing to wait for now
            if job.running == 0 and job.status is JobStatus.RUNNING:
                job.status = job.idle_status()
            if (
                job.running == 0
                and job.next_fire is None
                and not job.status.is_final
                and not job.paused
            ):
                self._finalize(job, JobStatus.FAILED if job.error else JobStatus.COMPLETED)
            return
        job.running -= 1  # _start_run takes the slot again
        self._start_run(job, self._clock.time(), fire_ts, None, counted=True)

    def _take_due_for_caller(self, include_scheduled: bool) -> list[tuple[JobState, float, float]]:
        """Claim every due hand-driven job (and, if ``include_scheduled``, every due timed job)
        for a caller that runs them in its own thread. Each is marked running and its next fire
        computed; report each outcome with :meth:`finish_for_caller`."""
        now = self._clock.time()
        due: list[tuple[JobState, float, float | None]] = []
        if include_scheduled:
            for entry_deadline, _, job in self._heap.pop_due(now):
                job.heap_seq = None
                if job.next_ts is not None:
                    due.append((job, job.next_ts, entry_deadline))
        for job in self._jobs.values():
            ts = job.next_ts
            if (
                job.manual
                and not job.paused
                and not job.status.is_final
                and ts is not None
                and ts <= now
            ):
                due.append((job, ts, None))
        claimed: list[tuple[JobState, float, float]] = []
        for job, fire_ts, deadline in due:
            decision = decide(self, job, fire_ts, now, _CALLER)
            if decision is _RUN:
                job.held = None
                job.running += 1
                job.started += 1
                job.status = JobStatus.RUNNING
                self._fires += 1
                if job.depends_on:
                    self._graph.reset(job.id, self._dep_done_for_good)
                self._advance(job, fire_ts, now)
                claimed.append((job, now, fire_ts))
            elif decision is _EXHAUSTED:
                job.next_fire = None
                if not job.running:
                    self._finalize(job, self._end_status(job))
            elif decision is _BLOCKED:
                job.held = fire_ts
                self._advance(job, fire_ts, now)
                blocker = self._dead_dependency(job)
                assert blocker is not None
                self._skip_dependents_of(None, [(job, blocker)])
            elif decision is _WAIT:
                if deadline is not None:  # still due: a later run_pending runs it
                    job.heap_seq = self._heap.push(deadline, job)
            else:  # MISFIRE, SKIP
                self._drop(job, fire_ts, now, decision)
                self._advance(job, fire_ts, now)
        return claimed
