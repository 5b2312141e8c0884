"""Starting and stopping runs: a coroutine job's run is a task driving it (:meth:`Runner._drive`
records its outcome when it ends, no done-callback hop); a sync job's run is a call in the
engine's :class:`~asyncron._core._executors.WorkerPool` whose done-callback is the run itself.
Timeouts, cancellation (``cancel``, ``overlap="cancel_other"``, ``stop``) and abandoning a sync
run that cannot be interrupted live here too; what a run's end means is ``_outcomes``'s business.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Callable
from typing import Any

from .._events import RunStarted
from ..errors import RunTimeoutError, StoreError
from ._base import EngineBase
from ._executors import await_it, current_task
from ._state import _CURRENT, _RUNNING, JobState, Run, _dt

__all__ = ["Runner", "gated"]


class Runner(EngineBase):
    """Starts runs and stops them early."""

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
        loop = self._loop
        assert loop is not None
        recovering = attempt_base is not None
        if recovering:
            assert attempt_base is not None
            attempt = attempt_base
        first = attempt == 1 or recovering
        if first:
            x = job.x
            if x.held is not None:
                x.held = None  # a fire held for dependencies is the one starting now
            if not counted:
                job.started += 1
            if x.depends_on:
                self._graph.reset(job.id, self._dep_done_for_good)
            job.running += 1
        job.status = _RUNNING
        job.last_run = now
        run = Run(self, job, fire_ts, now, attempt, outcome)
        if recovering:
            run.recovering = True
        if job.run is None:
            job.run = run
        else:
            job.add_run(run)
        # a start gate: a job that must not run twice waits until its start is written
        gate = (
            self._journal.run_started(job, fire_ts) if self._journal is not None and first else None
        )
        if self._events.subscriptions:
            self._emit(
                RunStarted, job, scheduled_at=_dt(fire_ts), attempt=attempt, lateness=now - fire_ts
            )
        fut: asyncio.Future[Any]
        if job.is_async:
            # One task per run, recording its own outcome when the job's coroutine ends: no
            # done-callback hop through the loop (that would double the handles per run). The
            # job's coroutine is made inside the task, so that a task cancelled before its first
            # step leaves no coroutine never awaited (see _cancel_task).
            task = loop.create_task(
                self._drive(run, job.call)
                if gate is None
                else self._drive(run, gated, gate, run, job.call),
                context=job.context.copy(),
            )
            run.fut = task
            self._inflight.add(task)
        elif gate is not None:
            # Through the gate, then into a worker thread as any sync run. The run is a task
            # until then (a cancel, a timeout or stop() before the body started never calls it).
            task = loop.create_task(self._gated_sync(run, gate), context=job.context.copy())
            run.fut = task
            self._inflight.add(task)
            task.add_done_callback(self._inflight.discard)
        else:
            fut = self._pool.offload(loop, job.context.copy(), _call_in_thread, run)
            run.fut = fut
            fut.add_done_callback(run)
            self._inflight.add(fut)
        timeout = job.opts.timeout
        if timeout is not None:
            run.timer = loop.call_later(timeout, self._on_run_timeout, run)

    async def _gated_sync(self, run: Run, gate: asyncio.Future[None]) -> None:
        """A sync run behind its start gate: wait for the gate, then hand the job to a worker
        thread like an ungated sync run (its thread future is then ``run.fut``: a cancel or a
        timeout abandons it in its thread, and its done-callback records the outcome)."""
        try:
            await gated_wait(gate, run)
        except asyncio.CancelledError:
            self._task_ended(run, None, None, cancelled=True)
            raise
        except StoreError as exc:
            self._task_ended(run, None, exc)
            return
        loop = self._loop
        assert loop is not None
        fut = self._pool.offload(loop, run.job.context.copy(), _call_in_thread, run)
        run.fut = fut
        fut.add_done_callback(run)
        self._inflight.add(fut)
        # The run is the thread's future now (abandoned, it leaves _inflight as any sync run).
        # A stop() that saw this task before waits here for the body, never cancelling it.
        self._inflight.discard(current_task())
        await asyncio.wait((fut,))

    async def _drive(self, run: Run, call: Callable[..., Any], *args: Any) -> Any:
        _CURRENT.set(run)
        try:
            result = await call(*args)
        except asyncio.CancelledError:
            self._task_ended(run, None, None, cancelled=True)
            raise
        except BaseException as exc:
            self._task_ended(run, None, exc)
            if not isinstance(exc, Exception):
                raise
            return None
        self._task_ended(run, result, None)
        return result

    def _on_run_timeout(self, run: Run) -> None:
        run.timer = None
        fut = run.fut
        if fut is None or fut.done() or run.abandoned:  # an abandoned run is recorded already
            return
        run.timed_out = True
        if isinstance(fut, asyncio.Task):
            self._cancel_task(run, fut)  # recorded as a timeout when the task ends
        else:
            self._abandon(run, "timed_out")

    def _cancel_task(self, run: Run, task: asyncio.Task[Any]) -> None:
        """Cancel an async run's task. A task that has not taken its first step yet (cancelled
        in the same loop pass that started it: ``cancel_other`` over a burst of fires, a job
        cancelled right after it fired) never enters :meth:`_drive`, so its cancellation is
        recorded here, and an awaitable it was handed is closed."""
        coro = task.get_coro()
        if (
            task.cancel()
            and inspect.iscoroutine(coro)
            and inspect.getcoroutinestate(coro) == inspect.CORO_CREATED
        ):
            frame = coro.cr_frame
            for arg in () if frame is None else frame.f_locals.get("args", ()):
                if inspect.iscoroutine(arg):
                    arg.close()
            self._task_ended(run, None, None, cancelled=True)

    def _stop_run(self, run: Run, *, superseded: bool = False) -> str:
        """Cancel a run in flight: an async run's task is cancelled; a sync run cannot be
        interrupted, so it is abandoned (left to finish in its thread, its outcome ignored).
        Returns "cancelled" or "abandoned"."""
        fut = run.fut
        run.superseded = superseded
        if isinstance(fut, asyncio.Task):
            if fut is not current_task():
                self._cancel_task(run, fut)
            return "cancelled"
        if fut is not None and not fut.done():
            self._abandon(run, "abandoned")
        elif fut is None and run.timer is not None:  # waiting to retry
            run.timer.cancel()
            run.timer = None
            self._finish(run, None, asyncio.CancelledError(), outcome="cancelled")
            return "cancelled"
        return "abandoned"

    def _abandon(self, run: Run, outcome: str) -> None:
        run.abandoned = True
        if run.timer is not None:  # recorded now: its timeout must not record it again
            run.timer.cancel()
            run.timer = None
        if run.fut is not None:
            self._inflight.discard(run.fut)
        job = run.job
        if outcome == "timed_out":
            exc: BaseException = RunTimeoutError(
                f"job {job.name!r} ({job.id}): run exceeded its timeout of {job.opts.timeout} s; "
                "a sync callable cannot be interrupted, so it was abandoned in its thread"
            )
        else:
            exc = asyncio.CancelledError("sync run abandoned in its thread")
        self._finish(run, None, exc, outcome=outcome)

    def _on_run_done(self, run: Run, fut: asyncio.Future[Any]) -> None:
        """Done-callback of a sync run's thread future."""
        self._inflight.discard(fut)
        exc = None if run.abandoned or fut.cancelled() else fut.exception()
        result = None if run.abandoned or fut.cancelled() or exc is not None else fut.result()
        if exc is None and inspect.isawaitable(result):
            # A plain callable that returned an awaitable (``lambda: send(x)``): await it on the
            # loop, under the same timeout (the timer stays armed on the new task).
            assert self._loop is not None
            task = self._loop.create_task(
                self._drive(run, await_it, result), context=run.job.context.copy()
            )
            run.fut = task
            self._inflight.add(task)
            return
        if run.timer is not None:
            run.timer.cancel()
            run.timer = None
        if run.abandoned:
            return  # already recorded when it was abandoned
        if fut.cancelled():
            self._record_cancel(run)
            return
        self._finish(run, result, exc)


async def gated(gate: asyncio.Future[None], run: Run, call: Callable[[], Any]) -> Any:
    """An async job's call behind its start gate (run by :meth:`Runner._drive`)."""
    await gated_wait(gate, run)
    return await call()


async def gated_wait(gate: asyncio.Future[None], run: Run) -> None:
    """Wait until the journal has written the run's start.

    Raises:
        StoreError: the start could not be written; the job is not called (a crash could
            otherwise run it again: its start would not be on record).
    """
    try:
        await gate
    except StoreError as exc:
        job = run.job
        raise StoreError(
            f"job {job.name!r} ({job.id}): the run scheduled at {_dt(run.fire_ts).isoformat()} "
            f"was not started: its start could not be recorded "
            f"(on_crash='abandon' runs a fire only once its start is stored): {exc}"
        ) from exc


def _call_in_thread(run: Run) -> Any:
    """A sync run's body in its worker thread (inside a copy of the job's context)."""
    _CURRENT.set(run)
    return run.job.call()
