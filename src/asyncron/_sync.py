"""Threaded facades: the classic blocking API over one AsyncScheduler on a loop thread.

Every facade method is a single call into the engine through an anyio ``BlockingPortal`` (the
anyio model: a loop thread started once, each sync call handed to it). Nothing here schedules,
fires or records anything itself.
"""

from __future__ import annotations

import atexit
import concurrent.futures
import importlib.util
import inspect
import os
import threading
import weakref
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta
from typing import Any, TypeVar

import anyio
from anyio.from_thread import BlockingPortal

from ._core._executors import await_it as _await
from ._core._executors import worker_owner
from ._core._hooks import hooks_of
from ._core._state import run_context
from ._dispatch import as_executor
from ._model import Job, JobDescription, JobStatus, RunRecord, SchedulerStatistics
from ._scheduler import AsyncScheduler, current_run
from .abc import Clock, Trigger
from .errors import DeadlockError, DependencyCycleError, InvalidJobError, SchedulerStateError
from .testing import VirtualClock
from .triggers.cron import CronTrigger

__all__ = ["DependencyScheduler", "Scheduler"]

T = TypeVar("T")


def _uvloop_available() -> bool:
    return importlib.util.find_spec("uvloop") is not None


class _LoopThread:
    """A daemon thread running an event loop and a blocking portal into it."""

    def __init__(self, use_uvloop: bool) -> None:
        self._use_uvloop = use_uvloop
        self._ready = threading.Event()
        self._portal: BlockingPortal | None = None
        self._exit: anyio.Event | None = None
        self._error: BaseException | None = None
        self._closing = False
        self.ident: int | None = None
        self.thread = threading.Thread(target=self._main, name="asyncron-loop", daemon=True)

    def start(self) -> None:
        self.thread.start()
        self._ready.wait()
        if self._error is not None:
            raise SchedulerStateError(
                f"the scheduler's loop thread failed to start: {self._error!r}"
            )

    def _main(self) -> None:
        try:
            anyio.run(
                self._amain, backend="asyncio", backend_options={"use_uvloop": self._use_uvloop}
            )
        except BaseException as exc:  # reported to the thread that called start()
            self._error = exc
            self._ready.set()

    async def _amain(self) -> None:
        self.ident = threading.get_ident()
        self._exit = anyio.Event()
        async with BlockingPortal() as portal:
            self._portal = portal
            self._ready.set()
            await self._exit.wait()
            # A call still waiting in the loop (another thread's wait_job() for a job that will
            # never end, say) would keep the portal, and so stop(), waiting forever: cancel it;
            # its caller gets a SchedulerStateError (see call()).
            self._closing = True
            await portal.stop(cancel_remaining=True)

    def call(self, func: Callable[..., Any], *args: Any) -> Any:
        """Run ``func(*args)`` on the loop and return its result.

        Raises:
            SchedulerStateError: the scheduler stopped while the call was waiting.
        """
        assert self._portal is not None
        portal_call: Callable[..., Any] = self._portal.call
        try:
            return portal_call(func, *args)
        except concurrent.futures.CancelledError:
            if not self._closing:
                raise
            name = getattr(func, "__name__", "call")
            raise SchedulerStateError(
                f"{name.lstrip('_')}(): the scheduler was stopped while this call was waiting"
            ) from None

    def call_soon(self, func: Callable[..., Any], *args: Any) -> None:
        assert self._portal is not None
        self._portal.start_task_soon(func, *args)

    def request_exit(self) -> None:
        """Let the loop end (call on the loop thread)."""
        assert self._exit is not None
        self._exit.set()

    def shutdown(self) -> None:
        if self.thread.is_alive():
            try:
                self.call(self.request_exit)
            except RuntimeError:  # the portal is already closing
                pass
            self.thread.join()


class Scheduler:
    """The classic threaded scheduler, for sync code.

    Each method is one blocking call into an :class:`AsyncScheduler` that runs on a background
    loop thread (started on first use, uvloop when installed). Calls from any number of threads at
    once are safe; job callbacks may call back into the scheduler (schedule, cancel, even
    ``stop()``). A blocking call made from the loop thread itself (an async job calling
    ``run_now`` through the facade) is refused with :class:`~asyncron.errors.DeadlockError`.

    Args:
        dispatcher: what runs due sync callbacks, for :meth:`run_pending` and the background
            loop alike: a ``concurrent.futures.Executor``, an object with ``submit(fn, *args)``
            or ``dispatch(fn)``, or a function ``dispatcher(fn)``. It must call ``fn`` once, in
            any thread; the scheduler learns the outcome when ``fn`` returns. None: the
            scheduler's own thread pool (and the calling thread for ``run_pending``). Async
            callbacks always run on the scheduler's loop.
        max_workers: size of the thread pool that runs sync jobs (without a dispatcher).
        stop_timeout: how long :meth:`stop` waits for running jobs.
        clock: the time source (tests).
        use_uvloop: run the loop thread on uvloop (default: when installed).
        leader_lock: a lock file shared by the processes of one app: only the holder fires,
            the others stand by and take over (see :class:`~asyncron.AsyncScheduler`).
    """

    def __init__(
        self,
        dispatcher: object | None = None,
        *,
        max_workers: int | None = None,
        stop_timeout: float = 10.0,
        clock: Clock | None = None,
        use_uvloop: bool | None = None,
        leader_lock: str | os.PathLike[str] | None = None,
    ) -> None:
        options: dict[str, Any] = {}
        if leader_lock is not None:
            options["leader_lock"] = leader_lock
        self._dispatch: concurrent.futures.Executor | None = None
        if dispatcher is not None:
            self._dispatch = options["executor"] = as_executor(dispatcher)
        self._test_mode = False
        self._engine = self._make_engine(
            clock=clock, max_workers=max_workers, stop_timeout=stop_timeout, **options
        )
        self._use_uvloop = _uvloop_available() if use_uvloop is None else use_uvloop
        self._thread: _LoopThread | None = None
        self._lock = threading.RLock()
        self._atexit: Callable[[], None] | None = None

    def _make_engine(self, **options: Any) -> AsyncScheduler:
        return AsyncScheduler(**options)

    @property
    def engine(self) -> AsyncScheduler:
        """The async engine behind this facade (await its methods from async jobs)."""
        return self._engine

    @property
    def test_mode(self) -> bool:
        """False (the default) is production mode: a scheduler with a durable store keeps the
        callbacks it stores (function reference and arguments) encrypted and authenticated, and
        reports a record that fails to decrypt or verify (it is kept aside, never run) without
        stopping. True bypasses that, for tests: plain records, no keyring needed.
        """
        return self._test_mode

    @test_mode.setter
    def test_mode(self, value: bool) -> None:
        if not isinstance(value, bool):
            raise InvalidJobError(f"test_mode: expected True or False, got {value!r}")
        self._set_test_mode(value)

    def _set_test_mode(self, value: bool) -> None:
        self._test_mode = value

    @property
    def loop_thread(self) -> threading.Thread | None:
        """The thread running the engine's event loop, or None before the first call and after
        :meth:`stop`."""
        thread = self._thread
        return None if thread is None else thread.thread

    # -- plumbing ---------------------------------------------------------------------------

    def _loop_thread(self) -> _LoopThread:
        thread = self._thread
        if thread is not None:
            return thread
        with self._lock:
            if self._thread is None:
                thread = _LoopThread(self._use_uvloop)
                thread.start()
                self._thread = thread
                ref = weakref.ref(self)

                def _at_exit() -> None:
                    me = ref()
                    if me is not None:
                        me.stop()

                self._atexit = _at_exit
                atexit.register(_at_exit)
            return self._thread

    def _on_loop_thread(self) -> bool:
        thread = self._thread
        return thread is not None and thread.ident == threading.get_ident()

    def _call(self, method: str, func: Callable[..., Any], *args: Any) -> Any:
        """A blocking call into the engine; refused on the loop thread (it would deadlock)."""
        if self._on_loop_thread():
            raise DeadlockError(
                f"Scheduler.{method}() was called on the scheduler's own event-loop thread (from "
                f"an async job?); waiting there would deadlock. In async code use "
                f"`await scheduler.engine.{method}(...)` instead."
            )
        return self._loop_thread().call(func, *args)

    def _call_nowait(self, func: Callable[..., T], *args: Any) -> T:
        """A call into a never-blocking engine method: direct on the loop thread, else through
        the portal."""
        if self._on_loop_thread():
            return func(*args)
        result: T = self._loop_thread().call(func, *args)
        return result

    # -- the classic API ----------------------------------------------------------------------

    def schedule(
        self,
        func: Callable[..., Any],
        name: str | None = None,
        trigger: Trigger | str | timedelta | float | datetime | None = None,
        args: Iterable[Any] = (),
        kwargs: dict[str, Any] | None = None,
        max_runs: int | None = None,
    ) -> str:
        """Add a job; no trigger means "run once, now". Returns the job id.

        Raises:
            InvalidJobError, InvalidTriggerError: a bad argument (the message names it).
        """
        return self._call_nowait(
            self._engine.schedule_nowait, func, name, trigger, args, kwargs, max_runs
        )

    def cancel(self, job_id: str) -> bool:
        """Cancel a job; False when it is unknown or already finished."""
        return self._call_nowait(self._engine.cancel_nowait, job_id)

    def get_job(self, job_id: str) -> Job | None:
        """A snapshot of the job, or None."""
        return self._call_nowait(self._engine.get_job_nowait, job_id)

    def list_jobs(self, status: JobStatus | str | None = None) -> list[Job]:
        """Snapshots of all jobs, optionally only those with ``status``."""
        return self._call_nowait(self._engine.list_jobs_nowait, status)

    def start(self) -> None:
        """Start firing jobs (idempotent)."""
        self._call("start", self._engine.start)

    def stop(self) -> None:
        """Stop firing, wait for running jobs (up to ``stop_timeout``), stop the loop thread.

        Idempotent. Called from inside a job's callback it cannot wait for that very job: it then
        starts the shutdown and returns at once; the shutdown completes when the job returns.
        """
        with self._lock:
            thread = self._thread
            if thread is None:
                return
            if self._on_loop_thread():
                raise DeadlockError(
                    "Scheduler.stop() was called on the scheduler's own event-loop thread (from "
                    "an async job?); use `await scheduler.engine.stop()` instead."
                )
            self._thread = None
            if self._atexit is not None:
                atexit.unregister(self._atexit)
                self._atexit = None
        if worker_owner() is self._engine or self._in_dispatched_run():
            thread.call_soon(self._stop_from_job, thread)
            return
        try:
            thread.call(self._engine.stop)
        finally:
            thread.shutdown()

    def _in_dispatched_run(self) -> bool:
        """True in a callback this scheduler handed to its dispatcher (whose threads are not
        the scheduler's own workers)."""
        if self._dispatch is None:
            return False
        info = current_run()
        return info is not None and self._engine.get_job_nowait(info.job_id) is not None

    async def _stop_from_job(self, thread: _LoopThread) -> None:
        try:
            await self._engine.stop()
        finally:
            thread.request_exit()

    def run_now(self, job_id: str) -> Any:
        """Run the job now and return its result; its error is re-raised here."""
        return self._call("run_now", self._engine.run_now, job_id)

    def wait_job(self, job_id: str, timeout: float | None = None) -> Job:
        """Block until the job will never fire again; return its final snapshot.

        Raises:
            JobLookupError: no such job.
            TimeoutError: ``timeout`` seconds passed first (the message says the job's state).
            SchedulerStateError: the scheduler was stopped while waiting.
        """
        job: Job = self._call("wait_job", self._wait_job, job_id, timeout)
        return job

    async def _wait_job(self, job_id: str, timeout: float | None) -> Job:
        try:
            return await self._engine.wait_job(job_id, timeout=timeout)
        except TimeoutError as exc:
            if str(exc):
                raise
            job = self._engine.get_job_nowait(job_id)
            state = f" (still {job.status.value}, {job.run_count} run(s) so far)" if job else ""
            raise TimeoutError(
                f"wait_job({job_id!r}): the job did not finish within {timeout} s{state}"
            ) from None

    def advance(self, seconds: float | timedelta) -> None:
        """Move the scheduler's :class:`~asyncron.testing.VirtualClock` forward (for tests of
        sync code): every fire due on the way runs, in order, before this returns; hand-driven
        tasks (:meth:`register_task`) become due for :meth:`run_pending`.

        Raises:
            SchedulerStateError: the scheduler's clock is not a ``VirtualClock``.
        """
        clock = self._engine.clock
        if not isinstance(clock, VirtualClock):
            raise SchedulerStateError(
                f"advance() moves a VirtualClock; this scheduler's clock is "
                f"{type(clock).__name__} (pass clock=VirtualClock() to Scheduler)"
            )
        self._call("advance", clock.advance, seconds)

    def register_task(self, name: str, cron_expr: str, callback: Callable[..., Any]) -> str:
        """Register a callback run by :meth:`run_pending` on the cron schedule ``cron_expr``.

        Such tasks are driven by hand: the background loop never runs them.

        Raises:
            CronParseError: ``cron_expr`` is invalid (a ``ValueError``).
        """
        trigger = CronTrigger.from_expression(cron_expr)
        return self._call_nowait(self._schedule_manual, callback, name, trigger)

    def _schedule_manual(self, callback: Callable[..., Any], name: str, trigger: Trigger) -> str:
        return self._engine.schedule_nowait(callback, name, trigger, manual=True)

    def run_pending(self) -> int:
        """Run every due job once, in the calling thread (with a dispatcher: handed to it, and
        waited for), and return how many ran.

        Due means: tasks added with :meth:`register_task`, and, while the scheduler is not
        started, any scheduled job whose time has come. A failing callback is recorded on its
        job (and logged); it does not stop the others.
        """
        claimed = self._call(
            "run_pending", hooks_of(self._engine).take_due_for_caller, not self._engine.running
        )
        thread = self._loop_thread()
        dispatch = self._dispatch
        # With a dispatcher every due sync callback is handed over first, then awaited: they
        # run side by side there (each task still only once at a time: a claimed job is
        # marked running until it is finished below).
        handed: dict[int, concurrent.futures.Future[Any]] = {}
        if dispatch is not None:
            for i, (job, _, fire_ts) in enumerate(claimed):
                if not job.is_async:
                    handed[i] = dispatch.submit(run_context(job, fire_ts).run, job.call)
        interrupt: BaseException | None = None
        for i, (job, started, fire_ts) in enumerate(claimed):
            result: Any = None
            error: BaseException | None = None
            try:
                if i in handed:
                    result = handed[i].result()
                elif job.is_async:
                    result = thread.call(job.call)
                else:
                    result = run_context(job, fire_ts).run(job.call)
                if not job.is_async and inspect.isawaitable(result):
                    result = thread.call(_await, result)
            except Exception as exc:
                error = exc
            except BaseException as exc:  # KeyboardInterrupt: record it, then let it through
                error = interrupt = exc
            thread.call(
                hooks_of(self._engine).finish_for_caller, job, started, fire_ts, result, error
            )
            if interrupt is not None:
                raise interrupt
        return len(claimed)

    # -- run control (one call each into the engine) -------------------------------------------

    def remove(self, job_id: str) -> bool:
        """Forget a job (cancelled first if it can still fire); False if unknown."""
        result: bool = self._call_nowait(self._engine.remove_nowait, job_id)
        return result

    def purge(self) -> int:
        """Remove every finished job; returns how many."""
        result: int = self._call("purge", self._engine.purge)
        return result

    def pause(self, job_id: str) -> bool:
        """Hold the job's fires (see ``AsyncScheduler.pause``)."""
        result: bool = self._call_nowait(self._engine.pause_nowait, job_id)
        return result

    def resume(self, job_id: str) -> bool:
        """Let a paused job fire again (see ``AsyncScheduler.resume``)."""
        result: bool = self._call_nowait(self._engine.resume_nowait, job_id)
        return result

    def pause_all(self) -> int:
        result: int = self._call("pause_all", self._engine.pause_all)
        return result

    def resume_all(self) -> int:
        result: int = self._call("resume_all", self._engine.resume_all)
        return result

    def reschedule(self, job_id: str, trigger: Trigger | str | timedelta | float | datetime) -> Job:
        """Give the job a new trigger (see ``AsyncScheduler.reschedule``)."""
        job: Job = self._call("reschedule", self._engine.reschedule, job_id, trigger)
        return job

    def modify(self, job_id: str, **changes: Any) -> Job:
        """Change a job in place (see ``AsyncScheduler.modify``)."""
        job: Job = self._call("modify", self._modify, job_id, changes)
        return job

    async def _modify(self, job_id: str, changes: dict[str, Any]) -> Job:
        return await self._engine.modify(job_id, **changes)

    def describe(self, job_id: str) -> JobDescription:
        """The job, its next 10 fires and its last 10 runs."""
        desc: JobDescription = self._call("describe", self._engine.describe, job_id)
        return desc

    def get_run_history(self, job_id: str) -> list[RunRecord]:
        history: list[RunRecord] = self._call(
            "get_run_history", self._engine.get_run_history, job_id
        )
        return history

    def statistics(self) -> SchedulerStatistics:
        """An immutable snapshot of the scheduler's counters."""
        stats: SchedulerStatistics = self._call_nowait(self._engine.statistics)
        return stats

    # -- context manager ----------------------------------------------------------------------

    def __enter__(self) -> Scheduler:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


class DependencyScheduler(Scheduler):
    """The classic scheduler with job dependencies.

    A job scheduled with dependencies waits, at each fire, until every dependency has completed a
    run successfully since the job's own previous run; it starts the moment the last one does.
    If a dependency fails or is cancelled, the waiting fire is skipped and a job with no fire
    left ends ``SKIPPED``, naming the dependency (transitively). See docs/dependencies.md.
    """

    def add_dependency(self, job_id: str, depends_on: list[str]) -> None:
        """Make ``job_id`` wait for every job in ``depends_on``.

        Raises:
            JobLookupError: an id is unknown.
            DependencyCycleError: an edge would close a cycle; nothing is changed.
        """
        self._call_nowait(self._add_dependency, job_id, depends_on)

    def _add_dependency(self, job_id: str, depends_on: list[str]) -> None:
        try:
            self._engine.add_dependency_nowait(job_id, depends_on)
        except DependencyCycleError as exc:
            if exc.names is not None:
                raise
            names = []
            for cycle_id in exc.cycle:
                job = self._engine.get_job_nowait(cycle_id)
                names.append(job.name if job is not None else cycle_id)
            raise DependencyCycleError(exc.cycle, names) from None

    def schedule_with_deps(
        self, func: Callable[..., Any], depends_on: list[str], **kwargs: Any
    ) -> str:
        """Schedule ``func`` (``schedule()``'s keyword arguments) waiting for ``depends_on``.

        The job and its edges are added atomically, so even a "run once, now" job waits.
        """
        return self._call_nowait(self._schedule_with_deps, func, depends_on, kwargs)

    def _schedule_with_deps(
        self, func: Callable[..., Any], depends_on: list[str], kwargs: dict[str, Any]
    ) -> str:
        return self._engine.schedule_nowait(func, depends_on=depends_on, **kwargs)
