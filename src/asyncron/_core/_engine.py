"""The engine: the core's parts composed into one object, and the lifecycle steps that use
several of them (opening the store and starting the dispatcher; stopping the runs), plus what
journals ask of it through ``_hooks`` (restoring a stored job, re-running a recovered fire,
losing a lease, replaying a missed fire).
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from .._events import SchedulerStopped
from .._model import JobStatus
from ..errors import InvalidJobError, SchedulerStateError
from ._control import Control
from ._deps import Dependencies
from ._dispatch import Dispatcher
from ._leader import Leadership
from ._outcomes import Outcomes
from ._rules import Decision, Entry, decide
from ._runner import Runner
from ._state import _NO_EXTRAS, JobState, RestoredJob, _dt

__all__ = ["Engine"]

logger = logging.getLogger("asyncron")

# the least time stop() gives the engine's own tasks, and cancelled runs, to end
_TASK_GRACE = 5.0
_CANCEL_GRACE = 1.0


class Engine(Control, Dispatcher, Runner, Outcomes, Dependencies, Leadership):
    """Every part of the core in one object; ``AsyncScheduler`` adds the public API to it."""

    async def _begin_firing(self, loop: asyncio.AbstractEventLoop) -> None:
        """Open the store and start the dispatcher (at start, or when a standby takes over)."""
        if self._journal is not None:
            try:
                await self._journal.open(self)
            except BaseException:
                self._running = False
                self._release_leadership()
                raise
        self._dispatcher = loop.create_task(self._dispatch_loop(), name="asyncron-dispatcher")
        # fires left waiting while the scheduler was stopped: buffered ones, and dependents
        # whose dependencies succeeded meanwhile (e.g. through run_now)
        for job in list(self._jobs.values()):
            if job.x is _NO_EXTRAS:  # neither buffered nor held fires
                continue
            if job.running or job.paused or job.status is JobStatus.CANCELLED:
                continue
            if job.buffer:
                self._start_fire(job, job.buffer.popleft(), self._clock.time())
            elif job.held is not None and self._graph.is_ready(job.id):
                self._start_held(job)
        logger.debug("scheduler started")

    def _restore_job(self, stored: RestoredJob) -> JobState:
        """Re-create a stored job as it was (for journals loading a store). ``next_run`` is the
        fire to arm, already decided by the caller's misfire policy; None means no fire is left.

        Raises:
            InvalidJobError: ``job_id`` is already in use, or an argument is invalid.
        """
        job_id = stored.job_id
        if job_id in self._jobs:
            raise InvalidJobError(f"job_id: {job_id!r} is already in use")
        job = self._make_job(
            stored.func,
            stored.name,
            stored.trigger,
            stored.args,
            stored.kwargs,
            stored.max_runs,
            job_id,
            False,
        )
        job.ref = stored.ref
        job.run_count = job.started = stored.run_count
        job.last_run = None if stored.last_run is None else stored.last_run.timestamp()
        job.error = stored.error
        job.result = stored.result
        job.failure_count = stored.failure_count
        self._jobs[job_id] = job
        if stored.status.is_final:
            job.status = stored.status
        else:
            self._set_next(job, stored.next_run)
        return job

    def _run_recovered(
        self, job_id: str, fire_ts: float, attempt: int, *, recovering: bool = True
    ) -> bool:
        """Start a run of a fire recovered from a dead node (for distributed journals): the run
        sees ``current_run().recovering`` and its ``attempt``. False if the job is unknown or
        cancelled, if this very fire is running here, or if the job's overlap policy admits no
        further run now (``allow_all`` below ``max_instances`` does)."""
        job = self._jobs.get(job_id)
        if job is None or self._loop is None:
            return False
        now = self._clock.time()
        if decide(self, job, fire_ts, now, Entry.RECOVERED) is not Decision.RUN:
            return False
        self._start_run(job, now, fire_ts, None, attempt_base=attempt if recovering else None)
        return True

    def _lease_lost(self, job_id: str, fire_ts: float) -> None:
        """The journal lost this node's lease on a running fire (another node may now run it):
        stop the local run (cancel an async one, abandon a sync one) and say so once."""
        job = self._jobs.get(job_id)
        if job is None:
            return
        for run in list(job.runs or ()):
            if run.fire_ts == fire_ts:
                how = self._stop_run(run)
                logger.error(
                    "job %r (%s): lease lost on the fire at %s; local run %s",
                    job.name,
                    job.id,
                    _dt(fire_ts),
                    how,
                    extra={"job_id": job.id, "job_name": job.name},
                )

    async def _stop(self, timeout: float | None = None) -> None:
        """The body of :meth:`AsyncScheduler.stop`."""
        if not self._running:
            return
        self._running = False
        self._stopping = True
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
            self._timer_when = float("inf")
        self._poke()
        dispatcher, self._dispatcher = self._dispatcher, None
        current = asyncio.current_task()
        wait_for = self._stop_timeout if timeout is None else timeout
        # No wait in stop() is unbounded (a store call that hangs, a run that swallows its
        # cancellation): the engine's own tasks get `grace` to end, cancelled runs `wait_for`
        # again (at least a second), then they are left running, and the log says so.
        grace = max(self._stop_timeout, _TASK_GRACE)
        if dispatcher is not None and dispatcher is not current:
            await _finish(dispatcher, grace, "the dispatcher")  # it ends at its next step
        # runs waiting to be retried are not retried any more
        for job in self._jobs.values():
            for run in list(job.runs or ()):
                if run.fut is None and run.timer is not None:
                    self._stop_run(run)
        pending = {f for f in self._inflight if f is not current}
        if pending:
            _, still = await asyncio.wait(pending, timeout=wait_for)
            for fut in still:
                if isinstance(fut, asyncio.Task):
                    fut.cancel()
            cancelled = [f for f in still if isinstance(f, asyncio.Task)]
            if cancelled:
                logger.warning(
                    "stop: cancelled %d job run(s) still going after %.1f s",
                    len(cancelled),
                    wait_for,
                )
                cancel_grace = max(wait_for, _CANCEL_GRACE)
                _, deaf = await asyncio.wait(cancelled, timeout=cancel_grace)
                if deaf:
                    logger.error(
                        "stop: %d cancelled job run(s) ignored the cancellation for %.1f s; "
                        "left running",
                        len(deaf),
                        cancel_grace,
                    )
            abandoned = len(still) - len(cancelled)
            if abandoned:
                logger.warning(
                    "stop: %d sync job run(s) still going after %.1f s were left to finish in "
                    "their threads",
                    abandoned,
                    wait_for,
                )
        self._pool.shutdown()
        # callers of wait_job() on jobs that will not end now are told so, not left waiting
        for job in self._jobs.values():
            x = job.x
            if x.final_waiters:
                waiters, x.final_waiters = x.final_waiters, None
                for w in waiters:
                    if not w.done():
                        w.set_exception(
                            SchedulerStateError(
                                f"wait_job({job.id!r}): the scheduler was stopped while this "
                                f"call was waiting (job {job.name!r} is {job.status.value})"
                            )
                        )
        standby, self._leader_task = self._leader_task, None
        if standby is not None and standby is not current:
            standby.cancel()
            await _finish(standby, grace, "the standby loop", cancel_first=True)
        leading = self._leader_path is None or self._leader_lock is not None
        if self._journal is not None and leading:  # a standby never opened the store
            await self._journal.close()
        self._release_leadership()  # after the last write: the next leader reads it all
        if self._stopped_event is not None:
            self._stopped_event.set()
        logger.debug("scheduler stopped")
        if self._events.subscriptions:
            self._events.emit(SchedulerStopped(timestamp=_dt(self._clock.time())))
            self._events.close_all()
        # sync callbacks run in threads: let them see every event, SchedulerStopped last (a
        # one-shot subscription's callback too, though it has left the hub)
        if self._events.delivering and not await self._events.drain(self._stop_timeout):
            logger.warning("stop: event subscribers still busy after %.1f s", self._stop_timeout)


async def _finish(
    task: asyncio.Task[Any], timeout: float, what: str, *, cancel_first: bool = False
) -> None:
    """Wait up to ``timeout`` seconds for one of the engine's own tasks to end, cancelling it
    then (or at once, with ``cancel_first``) and waiting as long again; never longer. Its
    error, if any, was logged where it happened."""
    if not cancel_first:
        done, _ = await asyncio.wait({task}, timeout=timeout)
        if not done:
            logger.warning("stop: %s was still busy after %.1f s; cancelled", what, timeout)
    if not task.done():
        task.cancel()
        done, _ = await asyncio.wait({task}, timeout=timeout)
        if not done:
            logger.error(
                "stop: %s ignored its cancellation for %.1f s; left running", what, timeout
            )
            return
    if not task.cancelled():
        task.exception()  # retrieved, as gather(return_exceptions=True) did
