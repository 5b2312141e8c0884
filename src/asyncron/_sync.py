"""Threaded facades: the classic blocking API over one AsyncScheduler on a loop thread.

Every facade method is a single call into the engine through an anyio ``BlockingPortal`` (the
anyio model: a loop thread started once, each sync call handed to it). Nothing here schedules,
fires or records anything itself.
"""

from __future__ import annotations

import atexit
import concurrent.futures
import concurrent.futures.thread  # registers its exit hook before ours (see _at_exit)
import functools
import inspect
import logging
import os
import queue
import threading
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime, timedelta, tzinfo
from typing import Any, TypeVar

from ._core._executors import await_it as _await
from ._core._executors import worker_owner
from ._core._hooks import hooks_of, schedule_request
from ._core._state import run_context
from ._dispatch import as_executor
from ._events import Event, SchedulerStopped, Subscription
from ._loop_thread import _LoopThread, _uvloop_available
from ._model import Job, JobDescription, JobOptions, JobStatus, RunRecord, SchedulerStatistics
from ._scheduler import AsyncScheduler, current_run
from .abc import Clock, Store, Trigger
from .errors import DeadlockError, DependencyCycleError, InvalidJobError, SchedulerStateError
from .testing import VirtualClock
from .triggers.cron import CronTrigger

__all__ = ["DependencyScheduler", "EventStream", "Scheduler"]

T = TypeVar("T")
_F = TypeVar("_F", bound=Callable[..., Any])

# Facades whose loop thread runs: stopped at interpreter exit. The hook is registered with
# threading's exit hooks, which run before concurrent.futures shuts every thread pool down (its
# own hook was registered first, and they run last-in first-out); an ``atexit`` hook runs after
# that, too late for a store that writes through a thread pool ("cannot schedule new futures
# after shutdown"). APScheduler's facade and anyio's portal face the same ordering.
# Held strongly: a started facade that its program dropped (``Scheduler().start()``) still runs
# its loop thread, and must still be stopped, and save, at exit.
_live: set[Scheduler] = set()
_hook_lock = threading.Lock()
_hooked = False


def _classic(method: _F) -> _F:
    """Show ``method``'s classic signature to ``inspect.signature()``: its positional parameters.

    The specification fixes the facade's signatures exactly (DESIGN.md); the engine's keyword
    options come after them (keyword-only, listed in the docstring and docs/sync.md), so tools
    that check the classic signature still see it, and calls may add the options.
    """
    sig = inspect.signature(method)
    kept = [
        p
        for p in sig.parameters.values()
        if p.kind in (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    ]
    method.__signature__ = sig.replace(parameters=kept)  # type: ignore[attr-defined]
    return method


def _stop_live_facades() -> None:
    for facade in list(_live):
        try:
            facade.stop()
        except Exception as exc:  # one facade's failure must not keep the others from saving
            logging.getLogger("asyncron").error("stop at interpreter exit failed: %r", exc)


def _hook_exit() -> None:
    global _hooked
    with _hook_lock:
        if _hooked:
            return
        _hooked = True
    register = getattr(threading, "_register_atexit", None)
    try:
        if register is None:
            raise RuntimeError("no threading exit hooks")
        register(_stop_live_facades)
    except RuntimeError:  # interpreter already exiting, or another Python
        atexit.register(_stop_live_facades)


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
        job_defaults: default job options (:class:`~asyncron.JobOptions` or a dict of its
            fields), overridden per job by ``schedule()``'s keyword options.
        timezone: the default zone of cron strings, naive datetimes and triggers built without
            a zone (default: the local zone).

    Every engine operation is here under the same name, as one call into the engine; the
    options of :meth:`AsyncScheduler.schedule` are ``schedule()``'s keyword arguments.
    If :meth:`stop` is never called, it runs when the interpreter exits (normal or error
    exit), before Python shuts thread pools down, so a store's last writes are made.
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
        job_defaults: dict[str, Any] | JobOptions | None = None,
        timezone: str | tzinfo | None = None,
    ) -> None:
        options: dict[str, Any] = {}
        if leader_lock is not None:
            options["leader_lock"] = leader_lock
        if job_defaults is not None:
            options["job_defaults"] = job_defaults
        if timezone is not None:
            options["timezone"] = timezone
        self._dispatch: concurrent.futures.Executor | None = None
        if dispatcher is not None:
            self._dispatch = options["executor"] = as_executor(dispatcher)
        self._test_mode = False
        self._engine = self._make_engine(
            clock=clock, max_workers=max_workers, stop_timeout=stop_timeout, **options
        )
        self._use_uvloop = _uvloop_available() if use_uvloop is None else use_uvloop
        self._thread: _LoopThread | None = None
        # the loop thread of a stop() in progress: calls made meanwhile (a sync subscriber's,
        # another thread's) go to its loop while it runs, never to a new one (see stop())
        self._stopping: _LoopThread | None = None
        self._stop_timeout = stop_timeout
        self._lock = threading.RLock()
        self._stopped_once = False

    def _make_engine(self, **options: Any) -> AsyncScheduler:
        return AsyncScheduler(**options)

    @property
    def engine(self) -> AsyncScheduler:
        """The async engine behind this facade (await its methods from async jobs)."""
        return self._engine

    @property
    def test_mode(self) -> bool:
        """False (the default) is production mode; True is for tests, as the original
        specification's examples set it. On a :class:`~asyncron.PersistentScheduler` with a
        keyring, production mode encrypts each saved job's function reference and arguments and
        seals the whole record (AES-GCM), and refuses a saved job whose seal does not match;
        test mode saves jobs in plain form. A scheduler without a store keeps nothing at rest,
        so there the flag changes nothing.
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
        thread = self._thread or self._stopping
        if thread is not None:
            return thread
        with self._lock:
            if self._stopping is not None:
                return self._stopping
            if self._thread is None:
                thread = _LoopThread(self._use_uvloop)
                thread.start()
                self._thread = thread
                _hook_exit()
                _live.add(self)
            return self._thread

    def _on_loop_thread(self) -> bool:
        thread = self._thread or self._stopping
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

    @_classic
    def schedule(
        self,
        func: Callable[..., Any],
        name: str | None = None,
        trigger: Trigger | str | timedelta | float | datetime | None = None,
        args: Iterable[Any] = (),
        kwargs: dict[str, Any] | None = None,
        max_runs: int | None = None,
        *,
        job_id: str | None = None,
        replace: bool = False,
        depends_on: Iterable[str] | None = None,
        **options: Any,
    ) -> str:
        """Add a job; no trigger means "run once, now". Returns the job id.

        The keyword arguments are :meth:`AsyncScheduler.schedule`'s: ``job_id=`` (a fixed id),
        ``replace=True`` (replace the job with that id), ``depends_on=``, and every
        :class:`~asyncron.JobOptions` field (``overlap``, ``retries``, ``timeout``, ``jitter``,
        ``misfire_grace_time``, ...).

        Raises:
            InvalidJobError, InvalidTriggerError: a bad argument (the message names it), or a
                ``job_id`` in use without ``replace=True``.
        """
        request = schedule_request(  # bad input is reported here, before the hop to the loop
            func,
            name,
            trigger,
            args,
            kwargs,
            max_runs,
            job_id=job_id,
            replace=replace,
            depends_on=depends_on,
            **options,
        )
        return self._call_nowait(hooks_of(self._engine).schedule, request)

    def cancel(self, job_id: str) -> bool:
        """Cancel a job; False when it is unknown or already finished."""
        return self._call_nowait(self._engine.cancel_nowait, job_id)

    def get_job(self, job_id: str) -> Job | None:
        """A snapshot of the job, or None."""
        return self._call_nowait(self._engine.get_job_nowait, job_id)

    @_classic
    def list_jobs(
        self,
        status: JobStatus | str | Iterable[JobStatus | str] | None = None,
        *,
        active: bool = False,
        order: str = "added",
    ) -> list[Job]:
        """Snapshots of all jobs, optionally only those with ``status`` (one or a collection);
        ``active=True`` keeps the jobs that can still fire, ``order="next_run"`` sorts them by
        next fire (``list_jobs(active=True, order="next_run")`` is APScheduler's ``get_jobs()``).
        """
        return self._call_nowait(
            functools.partial(self._engine.list_jobs_nowait, status, active=active, order=order)
        )

    def start(self) -> None:
        """Start firing jobs (idempotent; a stopped scheduler may be started again).

        Raises:
            SchedulerStateError: :meth:`stop` is in progress (in another thread).
        """
        if self._stopping is not None:
            raise SchedulerStateError(
                "start(): stop() is in progress; call start() again after it has returned"
            )
        self._call("start", self._engine.start)

    def stop(self) -> None:
        """Stop firing, wait for running jobs (up to ``stop_timeout``), stop the loop thread.

        Idempotent. Called from inside a job's callback it cannot wait for that very job: it then
        starts the shutdown and returns at once; the shutdown completes when the job returns.

        Every wait is bounded: running jobs get ``stop_timeout``, async ones still going are
        cancelled, event subscribers get ``stop_timeout`` to take the queued events (one still
        busy after that is left to finish in its thread). Calls other threads make meanwhile (a
        sync subscriber's ``get_job()``, say) are answered while the loop runs; once it has
        stopped they raise :class:`~asyncron.errors.SchedulerStateError`; none of them waits
        for the stop, or makes it wait.
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
            self._stopping = thread
            self._stopped_once = True
            _live.discard(self)
        if worker_owner() is self._engine or self._in_dispatched_run():
            thread.call_soon(self._stop_from_job, thread)
            return
        try:
            thread.call(self._engine.stop)
        finally:
            try:
                thread.shutdown(self._stop_timeout + 1.0)
            finally:
                self._stopped(thread)

    def _stopped(self, thread: _LoopThread) -> None:
        """A stop() ending ``thread``'s loop has completed: later calls start a new loop."""
        with self._lock:
            if self._stopping is thread:
                self._stopping = None
        thread.stopped.set()

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
            self._stopped(thread)
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
        request = schedule_request(callback, name, trigger, manual=True)
        return self._call_nowait(hooks_of(self._engine).schedule, request)

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

    def resume(self, job_id: str, *, catch_up: bool = True) -> bool:
        """Let a paused job fire again (see ``AsyncScheduler.resume``; ``catch_up=False``
        skips the fires missed while paused, as APScheduler's ``resume_job``)."""
        result: bool = self._call_nowait(
            functools.partial(self._engine.resume_nowait, job_id, catch_up=catch_up)
        )
        return result

    def pause_all(self) -> int:
        """Pause every job that can be paused; returns how many were."""
        result: int = self._call("pause_all", self._engine.pause_all)
        return result

    def resume_all(self, *, catch_up: bool = True) -> int:
        """Resume every paused job (also those paused one by one); returns how many were.
        ``catch_up=False`` skips the fires missed while paused (see :meth:`resume`)."""
        result: int = self._call(
            "resume_all", functools.partial(self._engine.resume_all, catch_up=catch_up)
        )
        return result

    def backfill(self, job_id: str, start: datetime, end: datetime, *, limit: int = 1000) -> int:
        """Run the fires the trigger would have produced in ``(start, end]`` (see
        ``AsyncScheduler.backfill``); returns how many ran."""
        count: int = self._call(
            "backfill", functools.partial(self._engine.backfill, job_id, start, end, limit=limit)
        )
        return count

    def add_dependency(self, job_id: str, depends_on: list[str]) -> None:
        """Make ``job_id`` wait for every job in ``depends_on`` (see docs/dependencies.md).

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

    def use_store(self, store: Store | str, **store_options: Any) -> None:
        """Persist this scheduler's jobs in ``store`` (a Store or a URL), chosen before
        :meth:`start` (see ``AsyncScheduler.use_store``).

        Raises:
            SchedulerStateError: the scheduler is running, or already has a store.
            InvalidJobError: not a store or a known URL, or a job that cannot be stored.
        """
        self._call_nowait(functools.partial(self._engine.use_store, store, **store_options))

    def register_function(self, name: str, func: Callable[..., Any]) -> int:
        """Register ``func`` for stored jobs (``function_name=``); see
        ``AsyncScheduler.register_function``."""
        count: int = self._call_nowait(self._engine.register_function, name, func)
        return count

    # -- decorators ---------------------------------------------------------------------------

    def cron(
        self,
        expression: str,
        *,
        timezone: str | tzinfo | None = None,
        name: str | None = None,
        **options: Any,
    ) -> Callable[[_F], _F]:
        """Decorator: ``@scheduler.cron("0 9 * * mon-fri")`` schedules the function (APScheduler's
        ``scheduled_job("cron", ...)``); ``options`` are ``schedule()``'s keyword options."""

        def decorate(func: _F) -> _F:
            engine_cron = functools.partial(
                self._engine.cron, expression, timezone=timezone, name=name, **options
            )
            self._call_nowait(lambda: engine_cron()(func))
            return func

        return decorate

    def every(
        self,
        interval: timedelta | float | None = None,
        *,
        name: str | None = None,
        **fields_and_options: Any,
    ) -> Callable[[_F], _F]:
        """Decorator: ``@scheduler.every(minutes=5)`` schedules the function every interval
        (``weeks``..``seconds``, ``start``, ``end`` and ``schedule()``'s keyword options)."""

        def decorate(func: _F) -> _F:
            engine_every = functools.partial(
                self._engine.every, interval, name=name, **fields_and_options
            )
            self._call_nowait(lambda: engine_every()(func))
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
        """Call ``callback`` with every event of ``types`` (APScheduler's ``add_listener``).

        A sync callback runs in a worker thread, never on the scheduler's loop, so a slow one
        delays no job; events reach it in order. :meth:`stop` waits for queued deliveries.
        See docs/events.md.
        """
        sub: Subscription = self._call_nowait(
            functools.partial(
                self._engine.subscribe, callback, types, one_shot=one_shot, buffer=buffer
            )
        )
        return sub

    def events(
        self, types: type[Event] | Iterable[type[Event]] | None = None, *, buffer: int = 1000
    ) -> EventStream:
        """A blocking iterator over every event from now on (``for event in
        scheduler.events(): ...``); it ends after the scheduler stops (``SchedulerStopped``
        is its last event) or when closed. On a stopped scheduler it ends at once."""
        return EventStream(self, types, buffer)

    # -- state --------------------------------------------------------------------------------

    @property
    def running(self) -> bool:
        """True between :meth:`start` and :meth:`stop`."""
        return self._engine.running

    @property
    def is_leader(self) -> bool:
        """True while this process fires jobs (see ``leader_lock``)."""
        return self._engine.is_leader

    @property
    def running_runs(self) -> int:
        """How many runs are in flight right now."""
        return self._engine.running_runs

    @property
    def clock(self) -> Clock:
        return self._engine.clock

    @property
    def timezone(self) -> tzinfo:
        """The default zone (``timezone=``, else the local zone)."""
        return self._engine.timezone

    def wait_stopped(self, timeout: float | None = None) -> bool:
        """Block until :meth:`stop` has completed (another thread, a job, or exit called it);
        True if it did within ``timeout`` seconds."""
        thread = self._thread or self._stopping
        if thread is None:
            return True
        return thread.stopped.wait(timeout)

    def run_until_stopped(self) -> None:
        """Start and block until :meth:`stop` is called (from a job, another thread or a signal
        handler); Ctrl-C stops the scheduler gracefully. APScheduler's ``BlockingScheduler``."""
        self.start()
        try:
            while not self.wait_stopped(0.5):
                pass
        except KeyboardInterrupt:
            self.stop()

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

    def schedule_with_deps(
        self, func: Callable[..., Any], depends_on: list[str], **kwargs: Any
    ) -> str:
        """Schedule ``func`` (``schedule()``'s keyword arguments) waiting for ``depends_on``.

        The job and its edges are added atomically, so even a "run once, now" job waits.
        """
        request = schedule_request(func, depends_on=depends_on, **kwargs)
        return self._call_nowait(hooks_of(self._engine).schedule, request)


class EventStream(Iterator[Event]):
    """The blocking iterator of :meth:`Scheduler.events`: ``next()`` waits for the next event.

    Events are buffered (at most ``buffer``; beyond that they are dropped and counted in
    :attr:`dropped`). ``close()`` (or leaving a ``with`` block) ends it from any thread.
    """

    _END: Any = object()

    def __init__(
        self,
        facade: Scheduler,
        types: type[Event] | Iterable[type[Event]] | None,
        buffer: int,
    ) -> None:
        if isinstance(buffer, bool) or not isinstance(buffer, int) or buffer < 1:
            raise InvalidJobError(f"buffer: expected a positive int, got {buffer!r}")
        wanted: tuple[type[Event], ...] = (
            () if types is None else (types,) if isinstance(types, type) else tuple(types)
        )
        self._wanted = wanted
        self._limit = buffer
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._closed = False
        self.dropped = 0
        self._sub: Subscription | None = None
        if facade._stopped_once and not facade.running:
            self._closed = True
            self._queue.put(self._END)
            return
        # SchedulerStopped is always watched: it ends the stream
        watch = None if not wanted else (*wanted, SchedulerStopped)
        self._sub = facade.subscribe(self._put, watch, buffer=buffer)

    def _put(self, event: Event) -> None:  # in the subscription's delivery thread
        if isinstance(event, SchedulerStopped):
            if not self._wanted or isinstance(event, self._wanted):
                self._queue.put(event)
            self.close()
            return
        if self._closed:
            return
        if self._queue.qsize() >= self._limit:
            self.dropped += 1
            return
        self._queue.put(event)

    def __next__(self) -> Event:
        return self.next()

    def next(self, timeout: float | None = None) -> Event:
        """The next event; ``StopIteration`` when the stream has ended, ``TimeoutError`` if
        none came within ``timeout`` seconds."""
        try:
            item = self._queue.get(timeout=timeout)
        except queue.Empty:
            raise TimeoutError(f"no event within {timeout} s") from None
        if item is self._END:
            self._queue.put(self._END)  # every later next() ends too
            raise StopIteration
        event: Event = item
        return event

    def close(self) -> None:
        """End the stream (idempotent; from any thread)."""
        if self._closed:
            return
        self._closed = True
        if self._sub is not None:
            self._sub.unsubscribe()
        self._queue.put(self._END)

    def __enter__(self) -> EventStream:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
