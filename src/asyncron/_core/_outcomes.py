"""Outcomes: what happens when a run (attempt) ends. A failure the job's ``retries`` cover is
retried with backoff; otherwise the run is recorded on the job (count, result or error, history),
the caller of ``run_now`` gets its result, a buffered fire starts, the job's status moves on, the
journal hears of the change, and dependents are released or skipped (``_deps``).
"""

from __future__ import annotations

import asyncio
import functools
import logging
import random
import traceback as tb_module
from typing import Any

from .._events import RunFailed, RunRetried, RunSucceeded
from .._model import _FINAL, JobStatus, RunRecord
from ..errors import JobStateError, RunTimeoutError
from ._base import EngineBase
from ._state import (
    _CANCELLED,
    _COMPLETED,
    _FAILED,
    _NO_EXTRAS,
    _PAUSED,
    _PENDING,
    _RUNNING,
    JobState,
    Run,
    _dt,
    _ts_to_dt,
)

__all__ = ["Outcomes", "history_records"]

logger = logging.getLogger("asyncron")


class Outcomes(EngineBase):
    """Records, retries and reports the end of runs."""

    def _task_ended(
        self, run: Run, result: Any, exc: BaseException | None, *, cancelled: bool = False
    ) -> None:
        fut = run.fut
        if fut is not None:
            # An async run's task holds its context, which holds the run (``current_run``):
            # dropping the run's reference to the task breaks that cycle, so the task, its
            # context and the run are freed as soon as the task ends, not by the collector.
            run.fut = None
            self._inflight.discard(fut)
        if run.timer is not None:
            run.timer.cancel()
            run.timer = None
        if run.abandoned:
            return
        if cancelled:
            self._record_cancel(run)
        else:
            self._finish(run, result, exc)

    def _record_cancel(self, run: Run) -> None:
        if run.timed_out:
            job = run.job
            self._finish(
                run,
                None,
                RunTimeoutError(
                    f"job {job.name!r} ({job.id}): run exceeded its timeout of "
                    f"{job.opts.timeout} s and was cancelled"
                ),
                outcome="timed_out",
            )
        else:
            self._finish(run, None, asyncio.CancelledError(), outcome="cancelled")

    def _finish(
        self, run: Run, result: Any, exc: BaseException | None, *, outcome: str | None = None
    ) -> None:
        """A run (attempt) ended: retry it, or record it."""
        job = run.job
        if job.run is run:
            job.run = None
        else:
            job.drop_run(run)
        now = self._now()
        if (
            exc is not None
            and outcome in (None, "timed_out")  # a timeout is retried like any failure
            and not run.superseded
            and run.attempt <= job.opts.retries
            and isinstance(exc, job.opts.retry_on)
            and job.status not in _FINAL
            and not self._stopping
        ):
            self._schedule_retry(run, exc, now)
            return
        if outcome is None:
            outcome = "succeeded" if exc is None else "failed"
        job.running -= 1
        self._record(job, run, result, exc, outcome, now)

    def _schedule_retry(self, run: Run, exc: BaseException, now: float) -> None:
        job = run.job
        opts = job.opts
        # Exponential backoff with full jitter (the AWS architecture blog's recommendation):
        # spreads retries of many failing jobs instead of synchronising them.
        cap = min(opts.max_retry_delay, opts.retry_delay * (2 ** (run.attempt - 1)))
        delay = random.uniform(cap / 2, cap)
        error = f"{type(exc).__name__}: {exc}"
        self._retries += 1
        self._remember(job, (run.fire_ts, run.started, now, run.attempt, "retried", None, error))
        logger.warning(
            "job %r (%s) attempt %d failed (%s); retrying in %.2f s",
            job.name,
            job.id,
            run.attempt,
            error,
            delay,
            extra={"job_id": job.id, "job_name": job.name},
        )
        if self._events.subscriptions:
            self._emit(
                RunRetried,
                job,
                scheduled_at=_dt(run.fire_ts),
                attempt=run.attempt,
                delay=delay,
                error=error,
                exception=exc,
            )
        retry = Run(self, job, run.fire_ts, now + delay, run.attempt + 1, run.outcome)
        job.add_run(retry)
        retry.timer = self._clock.call_at(now + delay, functools.partial(self._retry, retry))

    def _retry(self, retry: Run) -> None:
        retry.timer = None
        if self._clock.time() < retry.started:  # the clock called back early (capped sleep)
            retry.timer = self._clock.call_at(retry.started, functools.partial(self._retry, retry))
            return
        job = retry.job
        job.drop_run(retry)
        if job.status is JobStatus.CANCELLED or self._stopping:
            job.running -= 1
            self._record(
                job, retry, None, asyncio.CancelledError(), "cancelled", self._clock.time()
            )
            return
        self._start_run(
            job, self._clock.time(), retry.fire_ts, retry.outcome, attempt=retry.attempt
        )

    def _record(
        self,
        job: JobState,
        run: Run,
        result: Any,
        exc: BaseException | None,
        outcome: str,
        now: float,
    ) -> None:
        history = job.history
        if history.__class__ is tuple:
            job.past_runs()  # while job.result is still that run's result
        job.run_count += 1
        self._lateness.append(run.started - run.fire_ts)
        if exc is None:
            job.result = result
            if job.error is not None:
                job.error = None
                job.traceback = None
        else:
            self._failures += 1
            job.failure_count += 1
            job.result = None
            if isinstance(exc, asyncio.CancelledError):
                job.error = (
                    "CancelledError: replaced by a newer fire (overlap=cancel_other)"
                    if run.superseded
                    else f"CancelledError: the run was {'abandoned' if outcome == 'abandoned' else 'cancelled'}"
                )
                job.traceback = None
            else:
                job.error = f"{type(exc).__name__}: {exc}"
                job.traceback = "".join(tb_module.format_exception(exc))
                logger.error(
                    "job %r (%s) failed: %s",
                    job.name,
                    job.id,
                    job.error,
                    exc_info=exc,
                    extra={
                        "job_id": job.id,
                        "job_name": job.name,
                        "fire_time": _ts_to_dt(run.fire_ts),
                        "lateness": run.started - run.fire_ts,
                    },
                )
        if job.opts.history:
            if history is None and exc is None:
                # A job's first run, a success: its entry is kept as a tuple of numbers (which
                # the garbage collector does not track; 100,000 one-shot jobs keep one each)
                # and made into a full entry when it is read or a second run comes (past_runs).
                job.history = (run.fire_ts, run.started, now, run.attempt)
            else:
                self._remember(
                    job, (run.fire_ts, run.started, now, run.attempt, outcome, result, job.error)
                )
        if self._events.subscriptions:
            if exc is None:
                self._emit(
                    RunSucceeded,
                    job,
                    scheduled_at=_dt(run.fire_ts),
                    attempt=run.attempt,
                    duration=now - run.started,
                    result=result,
                )
            else:
                self._emit(
                    RunFailed,
                    job,
                    scheduled_at=_dt(run.fire_ts),
                    attempt=run.attempt,
                    duration=now - run.started,
                    error=job.error or "",
                    outcome=outcome,
                    exception=None if isinstance(exc, asyncio.CancelledError) else exc,
                    traceback=job.traceback,
                )
        fut = run.outcome
        if fut is not None and not fut.done():
            if exc is None:
                fut.set_result(result)
            elif isinstance(exc, asyncio.CancelledError):
                # the caller of run_now was not cancelled: the run was (cancel(), stop())
                fut.set_exception(
                    JobStateError(f"job {job.id!r} ({job.name}): {job.error or 'run cancelled'}")
                )
            else:
                fut.set_exception(exc)
        if job.running == 0 and job.x is _NO_EXTRAS and job.status is _RUNNING:
            # the common end: nothing paused, buffered, held or waited for (no side object)
            if job.next_ts is not None:
                job.status = _PENDING
            else:
                self._finalize(job, _FAILED if exc is not None or job.error else _COMPLETED)
        elif job.running == 0:
            x = job.x
            if x.idle_waiters:
                waiters, x.idle_waiters = x.idle_waiters, None
                for w in waiters:
                    if not w.done():
                        w.set_result(None)
            status = job.status
            if status is _RUNNING:
                buffer = x.buffer
                if buffer and x.max_runs is not None and job.started >= x.max_runs:
                    buffer.clear()  # run_now/backfill used up the runs meanwhile
                if buffer and self._running and not self._stopping:
                    # buffered fires (overlap=buffer_one/buffer_all) run right after; they
                    # arrived before any pause, so a pause does not hold them
                    self._start_fire(job, buffer.popleft(), now)
                elif job.next_ts is None and not buffer and x.held is None:
                    # the run just recorded makes run_count > 0: no SKIPPED here
                    self._finalize(job, _FAILED if exc is not None or job.error else _COMPLETED)
                else:
                    job.status = _PAUSED if x.paused else _PENDING
            elif status in _FINAL and status is not _CANCELLED:
                # re-run of a finished job through run_now: its outcome decides the status
                job.status = _FAILED if exc is not None else _COMPLETED
        # a run of a removed (or replaced: same id, new job) job is not written over its record
        if self._journal is not None and self._jobs.get(job.id) is job:
            self._journal.job_changed(job)
        if self._any_edges and self._graph.has_dependents(job.id):
            if exc is None:
                self._release_dependents(job)
            else:
                self._skip_dependents_of(job)

    @staticmethod
    def _remember(job: JobState, entry: tuple[Any, ...]) -> None:
        # A plain list trimmed in halves (amortised O(1)): a deque allocates a 64-slot block
        # per job, which 100,000 jobs would pay for one history entry each.
        keep = job.opts.history
        if not keep:
            return
        history = job.past_runs()
        if history is None:
            job.history = [entry]
            return
        history.append(entry)
        if len(history) > 2 * keep:
            del history[: len(history) - keep]

    def _finish_for_caller(
        self,
        job: JobState,
        started: float,
        fire_ts: float,
        result: Any,
        exc: BaseException | None,
    ) -> None:
        job.last_run = started
        job.running -= 1
        run = Run(self, job, fire_ts, started, 1, None)
        outcome = "succeeded" if exc is None else "failed"
        self._record(job, run, result, exc, outcome, self._clock.time())


def history_records(job: JobState) -> list[RunRecord]:
    """The job's kept history as :class:`RunRecord` values, oldest first."""
    history = job.past_runs()
    keep = job.opts.history
    return [
        RunRecord(
            scheduled_at=_dt(fire_ts),
            started_at=_dt(started),
            ended_at=_dt(ended),
            attempt=attempt,
            outcome=outcome,
            result=result,
            error=error,
        )
        for fire_ts, started, ended, attempt, outcome, result, error in (
            history[-keep:] if history and keep else ()
        )
    ]
