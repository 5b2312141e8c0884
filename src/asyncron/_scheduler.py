"""AsyncScheduler: the one engine every facade drives.

Data flow (one way): trigger -> deadline heap -> dispatcher -> executor -> result -> job state.

The dispatcher is one task that sleeps on a single clock timer armed for the earliest deadline;
inserting an earlier deadline re-arms that timer. When it wakes it fires everything due in one
pass, in deadline then insertion order. Coroutine jobs run as tasks, sync jobs in a bounded thread
pool; both report back through a done-callback, so a fire costs one task (or one thread hand-off)
and a few attribute writes, nothing more.
"""

from __future__ import annotations

import asyncio
import contextvars
import dataclasses
import functools
import inspect
import logging
import math
import os
import random
import threading
import traceback as tb_module
from collections import deque
from collections.abc import AsyncIterator, Callable, Iterable
from concurrent.futures import Executor, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo
from pathlib import Path
from types import MappingProxyType
from typing import Any, Generic, Protocol, TypeVar, overload

from ._clock import SystemClock
from ._events import (
    Event,
    EventHub,
    FireMisfired,
    FireSkipped,
    JobAdded,
    JobEvent,
    JobModified,
    JobPaused,
    JobRemoved,
    JobResumed,
    RunFailed,
    RunRetried,
    RunStarted,
    RunSucceeded,
    SchedulerStarted,
    SchedulerStopped,
    Subscription,
)
from ._graph import DependencyGraph
from ._heap import DeadlineHeap
from ._model import (
    _FINAL,
    Job,
    JobDescription,
    JobOptions,
    JobStatus,
    RunRecord,
    SchedulerStatistics,
)
from ._tz import ensure_aware, local_zone
from .abc import Clock, Store, TimerHandle, Trigger
from .errors import (
    DeadlockError,
    InvalidJobError,
    JobLookupError,
    JobStateError,
    RunTimeoutError,
    SchedulerStateError,
)
from .triggers.interval import IntervalTrigger
from .triggers.once import OnceTrigger

__all__ = ["AsyncScheduler", "RunInfo", "current_run", "set_progress"]

logger = logging.getLogger("asyncron")

_F = TypeVar("_F", bound=Callable[..., Any])
_V = TypeVar("_V")
_BATCH = 5000  # most fires started in one synchronous dispatch pass
_NO_KWARGS: dict[str, Any] = {}  # shared by every job without keyword arguments; never mutated

# Enum members as module globals: ``JobStatus.RUNNING`` is a class attribute look-up through the
# enum's metaclass, several times slower than a global, and the fire path reads a few per run.
_PENDING = JobStatus.PENDING
_RUNNING = JobStatus.RUNNING
_PAUSED = JobStatus.PAUSED
_COMPLETED = JobStatus.COMPLETED
_FAILED = JobStatus.FAILED
_CANCELLED = JobStatus.CANCELLED
_SKIPPED = JobStatus.SKIPPED

# The run the current code belongs to: (job state, scheduled fire time). Set in each run's own
# context copy, so it is visible to the job's code, its sub-tasks and its thread.
_CURRENT: contextvars.ContextVar[_Run | None] = contextvars.ContextVar(
    "asyncron_current_run", default=None
)


@dataclass(frozen=True, slots=True)
class RunInfo:
    """What a running job can learn about its own run (:func:`current_run`).

    ``scheduled_at`` is the fire's nominal instant: together with ``job_id`` it identifies the
    fire, a natural idempotency key for the job's own side effects.
    """

    job_id: str
    job_name: str
    scheduled_at: datetime
    attempt: int = 1
    recovering: bool = False

    @property
    def fire_id(self) -> str:
        """``"<job id>@<scheduled instant, UTC ISO 8601>"``: unique per fire, stable across
        retries and crash recoveries (use it as an idempotency key)."""
        return f"{self.job_id}@{self.scheduled_at.isoformat()}"


def current_run() -> RunInfo | None:
    """The run the calling code belongs to, or None outside a job."""
    run = _CURRENT.get()
    if run is None:
        return None
    return RunInfo(
        run.job.id,
        run.job.name,
        datetime.fromtimestamp(run.fire_ts, UTC),
        run.attempt,
        run.recovering,
    )


def set_progress(text: str | None) -> None:
    """Publish a short progress text on the current job (shown as ``Job.progress``).

    Does nothing outside a job. Safe from the job's thread: it is a single attribute write.
    """
    run = _CURRENT.get()
    if run is not None:
        run.job.progress = text


_worker_local = threading.local()


class Journal(Protocol):
    """The engine's one seam to persistence (implemented in ``_persistence``).

    Every method except :meth:`open` and :meth:`close` is called on the loop thread, must never
    block, and receives the engine's live job record; a journal reads what it needs at once (or
    queues the job for a batched write behind the engine).
    """

    def validate(self, job: _JobState) -> None:
        """Raise ``InvalidJobError`` if the job cannot be stored; called before it is added."""

    def job_added(self, job: _JobState) -> None: ...

    def job_changed(self, job: _JobState) -> None: ...

    def run_started(self, job: _JobState, fire_ts: float) -> None: ...

    async def open(self, engine: AsyncScheduler) -> None:
        """Load stored jobs into ``engine`` (through :meth:`AsyncScheduler.restore_job`)."""

    async def close(self) -> None:
        """Flush pending writes and release the store."""


def _mark_worker(owner: object) -> None:
    _worker_local.owner = owner


def worker_owner() -> object | None:
    """The engine whose thread pool the calling thread belongs to, or None."""
    return getattr(_worker_local, "owner", None)


def _is_async_callable(func: Callable[..., Any]) -> bool:
    func = _unwrap(func)
    if inspect.iscoroutinefunction(func):
        return True
    call = getattr(type(func), "__call__", None)  # noqa: B004 - callable objects
    return not inspect.isroutine(func) and inspect.iscoroutinefunction(call)


def _unwrap(func: Callable[..., Any]) -> Callable[..., Any]:
    while isinstance(func, functools.partial):
        func = func.func
    return func


def _callable_name(func: Callable[..., Any]) -> str:
    func = _unwrap(func)
    name = getattr(func, "__qualname__", None) or getattr(func, "__name__", None)
    if name is None:
        name = type(func).__qualname__
    module = getattr(func, "__module__", None)
    return f"{module}:{name}" if module else str(name)


def _short_name(func: Callable[..., Any]) -> str:
    func = _unwrap(func)
    name = getattr(func, "__name__", None)
    return name if isinstance(name, str) else type(func).__name__


def _coerce_trigger(trigger: object) -> Trigger:
    """Accept a Trigger, or the obvious shorthands: a cron string, a timedelta or number of
    seconds (interval), a datetime (once)."""
    if isinstance(trigger, Trigger):
        return trigger
    if isinstance(trigger, str):
        from .triggers.cron import CronTrigger

        return CronTrigger.from_expression(trigger)
    if isinstance(trigger, timedelta) or (
        isinstance(trigger, int | float) and not isinstance(trigger, bool)
    ):
        return IntervalTrigger(trigger)
    if isinstance(trigger, datetime):
        return OnceTrigger(trigger)
    raise InvalidJobError(
        f"trigger: expected a Trigger (OnceTrigger, IntervalTrigger, CronTrigger), a cron string, "
        f"a timedelta or a datetime, got {type(trigger).__name__} {trigger!r}"
    )


def _ts_to_dt(ts: float | None) -> datetime | None:
    return None if ts is None else datetime.fromtimestamp(ts, UTC)


def _dt(ts: float) -> datetime:
    return datetime.fromtimestamp(ts, UTC)


class _JobExtras:
    """The rarely used part of a job's record.

    A scheduler with 100,000 pending jobs keeps 100,000 records, and most jobs never use
    arguments, dependencies, buffers, waiters, progress texts or failure details. Those fields
    live here, in an object created on the first write of a non-default value
    (:meth:`_JobState.extras`); until then every job shares :data:`_NO_EXTRAS`, whose fields are
    the defaults, so a read never has to test for a missing object.
    """

    __slots__ = (
        "args",
        "buffer",
        "depends_on",
        "failure_count",
        "final_waiters",
        "func",
        "held",
        "idle_waiters",
        "jitter_offset",
        "kwargs",
        "manual",
        "max_runs",
        "more_runs",
        "paused",
        "progress",
        "skipped",
        "skipped_because",
        "traceback",
    )

    args: tuple[Any, ...]
    buffer: deque[float] | None  # fires waiting for the running run to end
    depends_on: tuple[str, ...]
    failure_count: int
    final_waiters: list[asyncio.Future[None]] | None
    func: Callable[..., Any] | None  # set when the job's call is a partial over it
    held: float | None  # a fire waiting for its dependencies
    idle_waiters: list[asyncio.Future[None]] | None
    jitter_offset: float
    kwargs: dict[str, Any]
    manual: bool
    max_runs: int | None
    more_runs: set[_Run] | None  # runs in flight besides _JobState.run (overlap allowed)
    paused: bool
    progress: str | None
    skipped: int
    skipped_because: str | None
    traceback: str | None

    def __init__(self) -> None:
        set_field = object.__setattr__  # _SharedExtras refuses ordinary writes
        for name, value in _EXTRA_DEFAULTS:
            set_field(self, name, value)


_EXTRA_DEFAULTS: tuple[tuple[str, Any], ...] = (
    ("args", ()),
    ("buffer", None),
    ("depends_on", ()),
    ("failure_count", 0),
    ("final_waiters", None),
    ("func", None),
    ("held", None),
    ("idle_waiters", None),
    ("jitter_offset", 0.0),
    ("kwargs", _NO_KWARGS),
    ("manual", False),
    ("max_runs", None),
    ("more_runs", None),
    ("paused", False),
    ("progress", None),
    ("skipped", 0),
    ("skipped_because", None),
    ("traceback", None),
)


class _SharedExtras(_JobExtras):
    """The one :class:`_JobExtras` shared by every job that has none of its own: read-only."""

    __slots__ = ()

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"_NO_EXTRAS is shared by every plain job; {name} is read-only")


_NO_EXTRAS: _JobExtras = _SharedExtras()
_EXTRAS_LOCK = threading.Lock()  # set_progress() may create a job's extras from a worker thread


class _Rare(Generic[_V]):
    """A :class:`_JobState` attribute kept in the job's :class:`_JobExtras`: reading it costs
    nothing extra for a plain job, and writing the default value to a plain job allocates
    nothing. The engine's hot paths read ``job.x`` directly."""

    __slots__ = ("name",)

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    @overload
    def __get__(self, job: None, owner: type | None = None) -> _Rare[_V]: ...

    @overload
    def __get__(self, job: _JobState, owner: type | None = None) -> _V: ...

    def __get__(self, job: _JobState | None, owner: type | None = None) -> _V | _Rare[_V]:
        if job is None:
            return self
        value: _V = getattr(job.x, self.name)
        return value

    def __set__(self, job: _JobState, value: _V) -> None:
        x = job.x
        if x is _NO_EXTRAS:
            if value is getattr(x, self.name):
                return
            x = job.extras()
        setattr(x, self.name, value)


class _JobState:
    """The engine's mutable record of one job. Never leaves the engine; :class:`Job` does.

    Kept small because a scheduler may hold 100,000s of them: the fields every fire touches are
    slots (21 of them: 200 bytes a job), the rest are :class:`_Rare` attributes stored in a side
    object created on first use, and the next fire is kept as one float (its datetime is made
    when asked for, see :attr:`next_fire`).
    """

    __slots__ = (
        "call",
        "context",
        "error",
        "heap_seq",
        "history",
        "id",
        "is_async",
        "last_run",
        "name",
        "next_dt",
        "next_ts",
        "opts",
        "ref",
        "result",
        "run",
        "run_count",
        "running",
        "started",
        "status",
        "trigger",
        "x",
    )

    args: _Rare[tuple[Any, ...]] = _Rare()
    buffer: _Rare[deque[float] | None] = _Rare()
    depends_on: _Rare[tuple[str, ...]] = _Rare()
    failure_count: _Rare[int] = _Rare()
    final_waiters: _Rare[list[asyncio.Future[None]] | None] = _Rare()
    held: _Rare[float | None] = _Rare()
    idle_waiters: _Rare[list[asyncio.Future[None]] | None] = _Rare()
    jitter_offset: _Rare[float] = _Rare()
    kwargs: _Rare[dict[str, Any]] = _Rare()
    manual: _Rare[bool] = _Rare()
    max_runs: _Rare[int | None] = _Rare()
    paused: _Rare[bool] = _Rare()
    progress: _Rare[str | None] = _Rare()
    skipped: _Rare[int] = _Rare()
    skipped_because: _Rare[str | None] = _Rare()
    traceback: _Rare[str | None] = _Rare()

    def __init__(
        self,
        job_id: str,
        name: str,
        func: Callable[..., Any],
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        trigger: Trigger,
        max_runs: int | None,
        manual: bool,
        opts: JobOptions,
        context: contextvars.Context,
        ref: str | None = None,
    ) -> None:
        self.x = _NO_EXTRAS
        self.id = job_id
        self.name = name
        self.set_callable(func, args, kwargs)
        self.trigger = trigger
        self.opts = opts
        self.context = context
        self.status = JobStatus.PENDING
        # The next fire's nominal instant (the heap deadline may add jitter), None when no fire
        # is left; next_dt is that fire as the trigger gave it, kept only when a UTC datetime
        # made from next_ts would not be equal to it in every respect (another time zone).
        self.next_ts: float | None = None
        self.next_dt: datetime | None = None
        self.heap_seq: int | None = None
        self.last_run: float | None = None
        self.run_count = 0
        self.started = 0
        self.running = 0
        self.error: str | None = None
        self.result: Any = None
        self.run: _Run | None = None  # a run in flight (more_runs holds any others)
        # Past runs, oldest first: a plain list of entry tuples trimmed in halves (a deque would
        # allocate a 64-slot block per job). A job's first run, when it succeeds on the fast
        # path, is kept as its ended _Run instead; past_runs() makes the list from it when
        # history is read or a second run ends (a one-shot job never pays for the list).
        self.history: list[tuple[Any, ...]] | _Run | None = None
        if max_runs is not None:
            self.max_runs = max_runs
        if manual:
            self.manual = manual
        # a slot, not a rare field: every job of a durable store has one, and it must not cost
        # such a job the dispatcher's fast path (which needs the shared side object)
        self.ref: str | None = ref

    def past_runs(self) -> list[tuple[Any, ...]] | None:
        """The history list, ``(fire_ts, started, ended, attempt, outcome, result, error)``
        each; a deferred entry is made into one first. Call it before ``result`` changes: the
        deferred entry's result is the job's current one."""
        history = self.history
        if history.__class__ is _Run:
            assert isinstance(history, _Run)
            entry = (history.fire_ts, history.started, history.ended, history.attempt)
            history = self.history = [(*entry, "succeeded", self.result, None)]
        assert not isinstance(history, _Run)
        return history

    def extras(self) -> _JobExtras:
        """The job's own :class:`_JobExtras`, created on first use."""
        x = self.x
        if x is _NO_EXTRAS:
            with _EXTRAS_LOCK:
                x = self.x
                if x is _NO_EXTRAS:
                    x = self.x = _JobExtras()
        return x

    def set_callable(
        self, func: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> None:
        if args or kwargs:
            self.call: Callable[..., Any] = functools.partial(func, *args, **kwargs)
            x = self.extras()
            x.func, x.args, x.kwargs = func, args, kwargs
        else:
            self.call = func
            if self.x is not _NO_EXTRAS:
                x = self.x
                x.func, x.args, x.kwargs = None, (), _NO_KWARGS
        self.is_async = _is_async_callable(func)

    @property
    def func(self) -> Callable[..., Any]:
        func = self.x.func
        return self.call if func is None else func

    @property
    def next_fire(self) -> datetime | None:
        """The next fire (None: no fire left), as an aware datetime."""
        dt = self.next_dt
        if dt is not None:
            return dt
        ts = self.next_ts
        return None if ts is None else datetime.fromtimestamp(ts, UTC)

    @next_fire.setter
    def next_fire(self, when: datetime | None) -> None:
        if when is None:
            self.next_ts = self.next_dt = None
            return
        ts = self.next_ts = when.timestamp()
        # A UTC datetime within a few centuries of 1970 survives the trip through a float
        # exactly (the float's resolution is finer than a microsecond there).
        self.next_dt = (
            None if when.tzinfo is UTC and type(when) is datetime and -4e9 < ts < 4e9 else when
        )

    @property
    def runs(self) -> tuple[_Run, ...]:
        """Every run of the job in flight."""
        run, more = self.run, self.x.more_runs
        if not more:
            return () if run is None else (run,)
        return tuple(more) if run is None else (run, *more)

    def add_run(self, run: _Run) -> None:
        if self.run is None:
            self.run = run
        else:
            x = self.extras()
            if x.more_runs is None:
                x.more_runs = set()
            x.more_runs.add(run)

    def drop_run(self, run: _Run) -> None:
        if self.run is run:
            self.run = None
        else:
            more = self.x.more_runs
            if more:
                more.discard(run)

    def snapshot(self) -> Job:
        x = self.x
        return Job(
            id=self.id,
            name=self.name,
            status=self.status,
            trigger=self.trigger,
            next_run=self.next_fire,
            last_run=_ts_to_dt(self.last_run),
            run_count=self.run_count,
            max_runs=x.max_runs,
            error=self.error,
            result=self.result,
            traceback=x.traceback,
            failure_count=x.failure_count,
            skipped_fires=x.skipped,
            func_name=_callable_name(self.func),
            args=x.args,
            kwargs=dict(x.kwargs),
            depends_on=x.depends_on,
            skipped_because=x.skipped_because,
            progress=x.progress,
            options=self.opts,
            buffered_fires=len(x.buffer) if x.buffer else 0,
        )

    def fires_left(self) -> bool:
        """True while another fire may be started without exceeding ``max_runs`` (fires already
        buffered or held for dependencies count as taken)."""
        x = self.x
        if x.max_runs is None:
            return True
        pending = (len(x.buffer) if x.buffer else 0) + (x.held is not None)
        return self.started + pending < x.max_runs

    def idle_status(self) -> JobStatus:
        return _PAUSED if self.x.paused else _PENDING


class _Run:
    """One run (one attempt) of a job in flight. Its own done-callback: ``fut.add_done_callback(run)``."""

    __slots__ = (
        "abandoned",
        "attempt",
        "ended",
        "engine",
        "fire_ts",
        "fut",
        "job",
        "outcome",
        "recovering",
        "started",
        "superseded",
        "timed_out",
        "timer",
    )

    def __init__(
        self,
        engine: AsyncScheduler | None,
        job: _JobState,
        fire_ts: float,
        started: float,
        attempt: int,
        outcome: asyncio.Future[Any] | None,
    ) -> None:
        self.engine = engine
        self.job = job
        self.fire_ts = fire_ts
        self.started = started
        self.attempt = attempt
        self.outcome = outcome
        self.fut: asyncio.Future[Any] | None = None
        self.ended = 0.0  # set when kept as a deferred history entry (_JobState.history)
        self.timer: Any = None
        self.timed_out = False
        self.abandoned = False
        self.superseded = False
        self.recovering = False

    def __call__(self, fut: asyncio.Future[Any]) -> None:
        assert self.engine is not None
        self.engine._on_run_done(self, fut)


class AsyncScheduler:
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
        executor: Executor | None = None,
    ) -> None:
        if executor is not None and not isinstance(executor, Executor):
            raise InvalidJobError(
                f"executor: expected a concurrent.futures.Executor, got {type(executor).__name__}"
            )
        self._own_executor = executor is None
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
        self._leader_lock: Any = None  # a stores._files.FileLock while this process leads
        self._leader_task: asyncio.Task[None] | None = None
        if max_workers is not None and (
            isinstance(max_workers, bool) or not isinstance(max_workers, int) or max_workers < 1
        ):
            raise InvalidJobError(f"max_workers: expected a positive int, got {max_workers!r}")
        if (
            isinstance(stop_timeout, bool)
            or not isinstance(stop_timeout, int | float)
            or stop_timeout < 0
        ):
            raise InvalidJobError(
                f"stop_timeout: expected a number of seconds >= 0, got {stop_timeout!r}"
            )
        self._clock: Clock = clock if clock is not None else SystemClock()
        self._max_workers = max_workers or min(32, (os.cpu_count() or 1) + 4)
        self._stop_timeout = float(stop_timeout)
        self._jobs: dict[str, _JobState] = {}
        self._heap: DeadlineHeap[_JobState] = DeadlineHeap()
        self._executor: Executor | None = executor
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
        if store is not None:
            self.use_store(store, **(store_options or {}))
        self._clock.bind(self._is_busy)
        # counters for statistics()
        self._fires = 0
        self._failures = 0
        self._skips = 0
        self._misfires = 0

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
        from ._persistence import make_journal

        journal = make_journal(store, **store_options)
        for job in self._jobs.values():
            try:
                journal.validate(job)
            except InvalidJobError as exc:
                raise InvalidJobError(f"use_store: job {job.id!r} ({job.name}): {exc}") from exc
        self._journal = journal
        for job in self._jobs.values():
            journal.job_added(job)

    def _claims_fires(self) -> bool:
        """True when the journal claims each fire in a shared store before it runs."""
        return bool(getattr(self._journal, "claims", False))

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
        given (a standby process returns False)."""
        return self._running and (self._leader_path is None or self._leader_lock is not None)

    def _take_leadership(self) -> bool:
        from ._serialize import StoreLockedError
        from .stores._files import FileLock

        assert self._leader_path is not None
        lock = FileLock(self._leader_path.with_name(self._leader_path.name.removesuffix(".lock")))
        try:
            lock.acquire(f"leader lock {self._leader_path}")
        except StoreLockedError:
            return False
        self._leader_lock = lock
        return True

    async def _stand_by(self) -> None:
        loop = asyncio.get_running_loop()
        while self._running and not self._stopping:
            await asyncio.sleep(self._leader_retry)
            if self._running and not self._stopping and self._take_leadership():
                logger.warning("took over %s: this process fires the jobs now", self._leader_path)
                await self._begin_firing(loop)  # releases the lock if the store cannot open
                return

    def _release_leadership(self) -> None:
        lock, self._leader_lock = self._leader_lock, None
        if lock is not None:
            lock.release()

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

    async def stop(self, timeout: float | None = None) -> None:
        """Stop firing, wait up to ``timeout`` (default ``stop_timeout``) for running jobs, then
        cancel the async ones that are still going (sync ones cannot be killed: they are left to
        finish in their thread and their outcome is still recorded).

        Idempotent. Called from inside a job, it does not wait for that job.
        """
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
        if dispatcher is not None and dispatcher is not current:
            await asyncio.gather(dispatcher, return_exceptions=True)
        # runs waiting to be retried are not retried any more
        for job in self._jobs.values():
            for run in list(job.runs or ()):
                if run.fut is None and run.timer is not None:
                    self._stop_run(run)
        pending = {f for f in self._inflight if f is not current}
        if pending:
            wait_for = self._stop_timeout if timeout is None else timeout
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
                await asyncio.gather(*cancelled, return_exceptions=True)
            abandoned = len(still) - len(cancelled)
            if abandoned:
                logger.warning(
                    "stop: %d sync job run(s) still going after %.1f s were left to finish in "
                    "their threads",
                    abandoned,
                    wait_for,
                )
        if self._executor is not None and self._own_executor:
            self._executor.shutdown(wait=False, cancel_futures=True)
            self._executor = None
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
            await asyncio.gather(standby, return_exceptions=True)
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
        ``history`` (see docs/controlling-jobs.md).

        Raises:
            InvalidJobError: ``func`` is not callable, or another argument has the wrong type or
                value (the message names it), or ``job_id`` is already in use.
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
        **options: Any,
    ) -> str:
        """The body of :meth:`schedule`; never blocks. For code already on the loop that is not
        in a coroutine (callbacks)."""
        job = self._make_job(func, name, trigger, args, kwargs, max_runs, job_id, manual, options)
        if function_name is not None:
            if not isinstance(function_name, str) or not function_name:
                raise InvalidJobError(
                    f"function_name: expected a non-empty str, got {function_name!r}"
                )
            job.ref = function_name
        deps = self._check_deps(depends_on)
        if self._journal is not None:
            self._journal.validate(job)
        if deps:
            self._graph.add(job.id, deps, self._dep_done_for_good)
            self._any_edges = True
            job.depends_on = tuple(deps)
        self._jobs[job.id] = job
        first = job.trigger.get_first_run(self._clock.now())
        self._set_next(job, first)
        if self._journal is not None:
            self._journal.job_added(job)
        if self._events.subscriptions:
            self._emit(JobAdded, job)
        return job.id

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

    def _check_deps(self, depends_on: Iterable[str] | None) -> list[str]:
        if depends_on is None:
            return []
        if isinstance(depends_on, str) or not isinstance(depends_on, Iterable):
            raise InvalidJobError(
                f"depends_on: expected a list of job ids, got {type(depends_on).__name__} "
                f"{depends_on!r}"
            )
        deps = list(depends_on)
        for dep in deps:
            if not isinstance(dep, str):
                raise InvalidJobError(f"depends_on: job ids are str, got {dep!r}")
            if dep not in self._jobs:
                raise JobLookupError(dep)
        if deps and self._claims_fires() and not self._warned_deps:
            self._warned_deps = True
            logger.warning(
                "dependencies are tracked per node: with a shared store, a dependent job waits "
                "for its dependencies' runs on its own node, so with several nodes it may be held "
                "or run out of step; for dependent steps in a cluster, schedule one JobPipeline "
                "job (claimed once, its stages run on the node that claims it)"
            )
        return deps

    def _dep_done_for_good(self, dep_id: str) -> bool:
        """A dependency that completed and will never run again stays satisfied."""
        dep = self._jobs.get(dep_id)
        return dep is not None and dep.status is JobStatus.COMPLETED and dep.run_count > 0

    def restore_job(
        self,
        *,
        job_id: str,
        name: str,
        func: Callable[..., Any],
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        trigger: Trigger,
        max_runs: int | None,
        run_count: int,
        status: JobStatus,
        next_run: datetime | None,
        last_run: datetime | None,
        error: str | None,
        result: Any,
        failure_count: int,
        ref: str | None,
    ) -> None:
        """Re-create a stored job as it was (for journals loading a store). ``next_run`` is the
        fire to arm, already decided by the caller's misfire policy; None means no fire is left.

        Raises:
            InvalidJobError: ``job_id`` is already in use, or an argument is invalid.
        """
        if job_id in self._jobs:
            raise InvalidJobError(f"job_id: {job_id!r} is already in use")
        job = self._make_job(func, name, trigger, args, kwargs, max_runs, job_id, False)
        job.ref = ref
        job.run_count = job.started = run_count
        job.last_run = None if last_run is None else last_run.timestamp()
        job.error = error
        job.result = result
        job.failure_count = failure_count
        self._jobs[job_id] = job
        if status.is_final:
            job.status = status
            return
        self._set_next(job, next_run)

    async def cancel(self, job_id: str) -> bool:
        """Cancel a job: no further fires, and a running async run is cancelled (a running sync run
        finishes in its thread; its outcome is still recorded). Returns False when the job is
        unknown or already finished."""
        return self.cancel_nowait(job_id)

    def cancel_nowait(self, job_id: str) -> bool:
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

    async def remove(self, job_id: str) -> bool:
        """Forget a job: it is cancelled first if it can still fire, then dropped from
        ``list_jobs()`` (and deleted from the store). False when there is no such job.

        Raises:
            JobStateError: other jobs that can still run depend on it (remove or cancel them
                first).
        """
        return self.remove_nowait(job_id)

    def remove_nowait(self, job_id: str) -> bool:
        job = self._jobs.get(job_id)
        if job is None:
            return False
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
            self.cancel_nowait(job_id)
        self._graph.remove(job_id)
        del self._jobs[job_id]
        removed = getattr(self._journal, "job_removed", None)
        if removed is not None:
            removed(job)
        return True

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

    def _unresolved(self) -> list[Job]:
        """Stored jobs the journal could not load, as snapshots with status UNRESOLVED."""
        items = getattr(self._journal, "unresolved", None) if self._journal is not None else None
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

    def register_function(self, name: str, func: Callable[..., Any]) -> int:
        """Register ``func`` under ``name`` for stored jobs (``schedule(..., function_name=name)``)
        and bring back unresolved stored jobs that now resolve; returns how many came back.

        Raises:
            SchedulerStateError: the scheduler has no store.
            InvalidJobError: ``name`` or ``func`` is not acceptable.
        """
        register = getattr(self._journal, "register_function", None)
        if register is None:
            raise SchedulerStateError(
                "register_function: this scheduler has no store; pass store=... to AsyncScheduler"
            )
        count: int = register(name, func)
        return count

    async def list_jobs(self, status: JobStatus | str | None = None) -> list[Job]:
        """Snapshots of every job (in the order they were added), optionally only those with
        ``status``.

        Raises:
            InvalidJobError: ``status`` is not a JobStatus or one of its values.
        """
        return self.list_jobs_nowait(status)

    def list_jobs_nowait(self, status: JobStatus | str | None = None) -> list[Job]:
        if status is None:
            return [job.snapshot() for job in self._jobs.values()] + self._unresolved()
        wanted = self._coerce_status(status)
        if wanted is JobStatus.UNRESOLVED:
            return self._unresolved()
        return [job.snapshot() for job in self._jobs.values() if job.status is wanted]

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
        loop = asyncio.get_running_loop()
        self._loop = self._loop or loop
        await self._wait_idle(job)
        if job.status is JobStatus.CANCELLED:
            raise JobStateError(f"job {job_id!r} ({job.name}) was cancelled; it cannot be run")
        outcome: asyncio.Future[Any] = loop.create_future()
        now = self._clock.time()
        self._start_run(job, now, now, outcome)
        return await asyncio.shield(outcome)

    async def _wait_idle(self, job: _JobState) -> None:
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

    async def wait_job(self, job_id: str, *, timeout: float | None = None) -> Job:
        """Wait until the job will never fire again (completed, failed, cancelled or skipped)
        and return its final snapshot.

        Raises:
            JobLookupError: no such job.
            TimeoutError: ``timeout`` seconds (real time) passed first.
            SchedulerStateError: the scheduler was stopped while this call was waiting.
        """
        job = self._require(job_id)
        if not job.status.is_final:
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
        by_status: dict[str, int] = {s.value: 0 for s in JobStatus}
        for job in self._jobs.values():
            by_status[job.status.value] += 1
        unresolved = len(self._unresolved())  # stored jobs kept but not loaded (list_jobs shows them)
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

    # -- run control --------------------------------------------------------------------------

    async def pause(self, job_id: str) -> bool:
        """Hold the job's fires until :meth:`resume`. A run in progress finishes. Returns False
        if the job is already paused or finished.

        Raises:
            JobLookupError: no such job.
        """
        return self.pause_nowait(job_id)

    def pause_nowait(self, job_id: str) -> bool:
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

    async def resume(self, job_id: str) -> bool:
        """Let a paused job fire again. Fires it missed while paused are coalesced into one run
        at once, unless they are older than its ``misfire_grace_time`` (then skipped and
        counted). Returns False if the job was not paused.

        Raises:
            JobLookupError: no such job.
        """
        return self.resume_nowait(job_id)

    def resume_nowait(self, job_id: str) -> bool:
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
            if ts <= now and grace is not None and now - ts > grace:
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

    def _start_held(self, job: _JobState, now: float | None = None) -> None:
        """Start the fire ``job`` held for its dependencies (they are all satisfied now)."""
        fire_ts = job.held
        assert fire_ts is not None
        job.skipped_because = None
        # with a shared store a lost claim lets the held fire go (another node ran it)
        self._start_fire(job, fire_ts, self._clock.time() if now is None else now)

    async def pause_all(self) -> int:
        """Pause every job that can be paused; returns how many were."""
        return sum(self.pause_nowait(job_id) for job_id in list(self._jobs))

    async def resume_all(self) -> int:
        """Resume every paused job; returns how many were."""
        return sum(self.resume_nowait(job_id) for job_id in list(self._jobs))

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
        job = self._require(job_id)
        if job.status is JobStatus.CANCELLED:
            raise JobStateError(
                f"job {job_id!r} ({job.name}) was cancelled; it cannot be rescheduled"
            )
        new = _coerce_trigger(trigger).for_job(job_id)
        if job.heap_seq is not None:
            self._heap.cancel(job.heap_seq)
            job.heap_seq = None
        job.trigger = new
        job.next_fire = None
        if job.status.is_final:
            job.status = JobStatus.PENDING
        self._set_next(job, new.get_first_run(self._clock.now()))
        if self._events.subscriptions:
            self._emit(JobModified, job, changed=("trigger",))
        if self._journal is not None:
            self._journal.job_changed(job)
        return job.snapshot()

    async def modify(self, job_id: str, **changes: Any) -> Job:
        """Change a job in place: ``name``, ``func``, ``args``, ``kwargs``, ``max_runs`` and any
        :class:`JobOptions` field. A run in progress keeps what it started with; the next run
        uses the new values.

        Raises:
            JobLookupError: no such job.
            InvalidJobError: an unknown field or a bad value (the job is left unchanged).
        """
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
        job = self._require(job_id)
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
        loop = asyncio.get_running_loop()
        self._loop = self._loop or loop
        for fire_ts in fires:
            await self._wait_idle(job)
            if job.status is JobStatus.CANCELLED:
                raise JobStateError(f"backfill: job {job_id!r} ({job.name}) was cancelled")
            outcome: asyncio.Future[Any] = loop.create_future()
            self._start_run(job, self._clock.time(), fire_ts, outcome)
            await asyncio.gather(outcome, return_exceptions=True)
        return len(fires)

    async def get_run_history(self, job_id: str) -> list[RunRecord]:
        """The job's last runs (oldest first), as many as its ``history`` option keeps.

        Raises:
            JobLookupError: no such job.
        """
        return self._history(self._require(job_id))

    @staticmethod
    def _history(job: _JobState) -> list[RunRecord]:
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

    async def describe(self, job_id: str, *, fires: int = 10, runs: int = 10) -> JobDescription:
        """The job, its next ``fires`` fire times and its last ``runs`` runs (with the
        PostgreSQL store, its runs on every node of the cluster).

        Raises:
            JobLookupError: no such job.
        """
        job = self._require(job_id)
        upcoming: list[datetime] = []
        t = job.next_fire
        while t is not None and len(upcoming) < fires:
            upcoming.append(t)
            if job.max_runs is not None and job.started + len(upcoming) >= job.max_runs:
                break
            t = job.trigger.get_next_run(t)
        last: list[RunRecord] = list(self._history(job)[-runs:]) if runs else []
        cluster = getattr(self._journal, "past_runs", None)
        if runs and cluster is not None:
            # a shared store: the job's runs on every node (this node's keep their results)
            try:
                shared = await cluster(job_id, runs)
            except Exception as exc:
                logger.warning("describe(%r): the cluster's runs could not be read: %s", job_id, exc)
            else:
                def key(r: RunRecord) -> tuple[int, int]:
                    return round(r.scheduled_at.timestamp() * 1_000_000), r.attempt

                merged = {key(r): r for r in shared} | {key(r): r for r in last}
                last = sorted(merged.values(), key=lambda r: (r.scheduled_at, r.attempt))[-runs:]
        return JobDescription(job=job.snapshot(), next_fires=tuple(upcoming), last_runs=tuple(last))

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
        from .triggers.cron import CronTrigger

        trigger = CronTrigger.from_expression(expression, timezone=timezone)

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

    # -- hand-driven jobs (Scheduler.register_task / run_pending) ------------------------------

    def take_due_for_caller(self, include_scheduled: bool) -> list[tuple[_JobState, float, float]]:
        """Claim every due hand-driven job (and, if ``include_scheduled``, every due timed job)
        for a caller that runs them in its own thread. Each is marked running and its next fire
        computed; report each outcome with :meth:`finish_for_caller`."""
        now = self._clock.time()
        due: list[tuple[_JobState, float, float | None]] = []
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
        claimed: list[tuple[_JobState, float, float]] = []
        # The same rules as the dispatcher's _fire, for a caller that runs the fires itself.
        for job, fire_ts, deadline in due:
            if not job.fires_left() and job.held is None:
                job.next_fire = None
                if not job.running:
                    self._finalize(job, self._end_status(job))
                continue
            if job.depends_on and not self._graph.is_ready(job.id):
                blocker = self._dead_dependency(job)
                if blocker is not None:
                    job.held = fire_ts
                    self._advance(job, fire_ts, now)
                    self._skip_dependents_of(None, [(job, blocker)])
                elif deadline is not None:  # still due: a later run_pending runs it
                    job.heap_seq = self._heap.push(deadline, job)
                continue
            if self._misfired(job, fire_ts, now):
                self._advance(job, fire_ts, now)
                continue
            if job.running:
                self._count_skip(job, fire_ts, "overlap")
                self._advance(job, fire_ts, now)
                continue
            job.held = None
            job.running += 1
            job.started += 1
            job.status = JobStatus.RUNNING
            self._fires += 1
            if job.depends_on:
                self._graph.reset(job.id, self._dep_done_for_good)
            self._advance(job, fire_ts, now)
            claimed.append((job, now, fire_ts))
        return claimed

    def finish_for_caller(
        self,
        job: _JobState,
        started: float,
        fire_ts: float,
        result: Any,
        exc: BaseException | None,
    ) -> None:
        job.last_run = started
        job.running -= 1
        run = _Run(self, job, fire_ts, started, 1, None)
        outcome = "succeeded" if exc is None else "failed"
        self._record(job, run, result, exc, outcome, self._clock.time())

    # -- internals: job creation --------------------------------------------------------------

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
    ) -> _JobState:
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
        elif job_id in self._jobs:
            raise InvalidJobError(f"job_id: {job_id!r} is already in use")
        trig = (
            OnceTrigger(self._clock.now()) if trigger is None else _coerce_trigger(trigger)
        ).for_job(job_id)
        job = _JobState(
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
            raise InvalidJobError(
                f"unknown job option(s) {', '.join(unknown)}; allowed: {allowed} (and, for "
                f"modify(), name, func, args, kwargs, max_runs){hint}"
            )
        return dataclasses.replace(base, **options)

    def _require(self, job_id: str) -> _JobState:
        job = self._jobs.get(job_id)
        if job is None:
            raise JobLookupError(job_id)
        return job

    @staticmethod
    def _coerce_status(status: JobStatus | str) -> JobStatus:
        if isinstance(status, JobStatus):
            return status
        if isinstance(status, str):
            try:
                return JobStatus(status.lower())
            except ValueError:
                pass
        allowed = ", ".join(s.value for s in JobStatus)
        raise InvalidJobError(f"status: expected a JobStatus or one of {allowed}; got {status!r}")

    # -- internals: deadlines -----------------------------------------------------------------

    def _set_next(self, job: _JobState, when: datetime | None) -> None:
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
    def _end_status(job: _JobState) -> JobStatus:
        """The final status of a job with no fire left: FAILED if its last run failed, SKIPPED
        if it never ran because its fires misfired, else COMPLETED."""
        if job.error:
            return _FAILED
        if job.run_count == 0 and job.x.skipped_because is not None:
            return _SKIPPED
        return _COMPLETED

    def _unschedule(self, job: _JobState) -> None:
        if job.heap_seq is not None:
            self._heap.cancel(job.heap_seq)
            job.heap_seq = None
        job.next_ts = job.next_dt = None

    def _advance(self, job: _JobState, fire_ts: float, now: float) -> None:
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
        nxt = trigger.get_next_run(fire_dt)
        if nxt is not None and nxt.timestamp() <= now:
            # Missed fires: skip them, staying on the trigger's own grid for a short stall and
            # jumping straight past ``now`` after a long one.
            self._misfires += 1
            for _ in range(64):
                nxt = trigger.get_next_run(nxt)
                if nxt is None or nxt.timestamp() > now:
                    break
            else:
                nxt = trigger.get_next_run(datetime.fromtimestamp(now, UTC))
        job.next_ts = job.next_dt = None
        self._set_next(job, nxt)

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
        clock = self._clock
        heap = self._heap
        while not self._stopping:
            now = clock.time()
            due = heap.pop_due(now, _BATCH)
            self._fire_due(due, now)
            if self._stopping:
                break
            if len(due) == _BATCH:
                # more is due: let the loop run other callbacks (the runs just started) first
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

    # -- internals: firing --------------------------------------------------------------------

    def _fire_due(self, due: list[tuple[float, int, _JobState]], now: float) -> None:
        """Fire every job of ``due`` (popped from the heap, in order).

        Most fires are of a plain job: idle, async, with nothing in its side object (no
        max_runs, dependencies, buffer, pause), no timeout or misfire limit, on an engine with
        no subscriber and no claims to make (a journal is told of the run, as _start_run does). Such a fire is started right here, with what
        :meth:`_fire` and :meth:`_start_run` would do for it and nothing else; every other fire
        goes through :meth:`_fire`. A dispatch pass may start 5,000 runs in a row, so the
        calls saved per fire are a good part of the engine's cost per run.
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
                opts = job.opts
                if not (
                    plain_engine
                    and job.x is _NO_EXTRAS
                    and job.is_async
                    and not job.running
                    and opts.timeout is None
                    and opts.misfire_grace_time is None
                    and not events.subscriptions
                ):
                    try:
                        self._fire(job, fire_ts, now)
                    except Exception:  # a bug in a trigger must not kill the dispatcher
                        logger.exception("job %r (%s): could not fire", job.name, job.id)
                    continue
                fired += 1
                job.started += 1
                job.running = 1
                job.status = _RUNNING
                job.last_run = now
                run = job.run = _Run(self, job, fire_ts, now, 1, None)
                if journal is not None:
                    journal.run_started(job, fire_ts)
                task = create_task(drive(run, job.call), context=job.context.copy())
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

    def _fire(self, job: _JobState, fire_ts: float, now: float) -> None:
        x = job.x
        if x.max_runs is not None and not job.fires_left() and x.held is None:
            # max_runs was reached meanwhile (run_now, backfill): this fire is not run
            job.next_ts = job.next_dt = None
            if not job.running:
                self._finalize(job, self._end_status(job))
            return
        if job.opts.misfire_grace_time is not None and self._misfired(job, fire_ts, now):
            self._advance(job, fire_ts, now)
            return
        if job.running and not self._overlap_admits(job, fire_ts):
            self._advance(job, fire_ts, now)
            return
        if x.depends_on and not self._graph.is_ready(job.id):
            # Held until every dependency has succeeded since this job's previous run; later
            # fires while it waits are coalesced into the held one.
            if job.held is None:
                job.held = fire_ts
                self._advance(job, fire_ts, now)
                blocker = self._dead_dependency(job)
                if blocker is not None:
                    self._skip_dependents_of(None, [(job, blocker)])
            else:
                self._count_skip(job, fire_ts, "dependency")
                self._advance(job, fire_ts, now)
            return
        self._start_fire(job, fire_ts, now)
        self._advance(job, fire_ts, now)

    def _start_fire(self, job: _JobState, fire_ts: float, now: float) -> None:
        """Start a fire of ``job``: due now, buffered behind a run, or held for dependencies
        that have all succeeded. With a shared store the fire is claimed first: it runs here
        only if this node wins it (another node may have run it already)."""
        self._fires += 1
        job.started += 1
        if self._claims:
            self._claim_then_start(job, fire_ts)
        else:
            self._start_run(job, now, fire_ts, None, counted=True)

    # -- distributed stores: claims, leases, recovery -------------------------------------------

    def _claim_then_start(self, job: _JobState, fire_ts: float) -> None:
        """Ask the journal to claim the fire (job id + scheduled instant) before running it.

        The job's run slot is reserved while the claim is in flight, so the overlap policy
        still holds; a fire claimed by another node is not a skip on this one.
        """
        assert self._loop is not None and self._journal is not None
        job.running += 1
        task = self._loop.create_task(self._claim(job, fire_ts))
        self._inflight.add(task)
        task.add_done_callback(self._inflight.discard)

    async def _claim(self, job: _JobState, fire_ts: float) -> None:
        assert self._journal is not None
        claim = getattr(self._journal, "claim", None)
        try:
            ok = bool(await claim(job, fire_ts)) if claim is not None else True
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

    def run_recovered(self, job_id: str, fire_ts: float, attempt: int) -> bool:
        """Start a run of a fire recovered from a dead node (for distributed journals): the run
        sees ``current_run().recovering`` and its ``attempt``. False if the job is unknown or
        cancelled, if this very fire is running here, or if the job's overlap policy admits no
        further run now (``allow_all`` below ``max_instances`` does)."""
        job = self._jobs.get(job_id)
        if job is None or job.status is JobStatus.CANCELLED or self._loop is None:
            return False
        if job.running:
            if any(run.fire_ts == fire_ts for run in job.runs or ()):
                return False
            opts = job.opts
            if opts.overlap != "allow_all" or (
                opts.max_instances is not None and job.running >= opts.max_instances
            ):
                return False
        self._start_run(job, self._clock.time(), fire_ts, None, attempt_base=attempt)
        return True

    def lease_lost(self, job_id: str, fire_ts: float) -> None:
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

    def _misfired(self, job: _JobState, fire_ts: float, now: float) -> bool:
        """True (and the misfire recorded, logged and published) when the fire at ``fire_ts``
        is later than the job's ``misfire_grace_time``."""
        grace = job.opts.misfire_grace_time
        if grace is None:
            return False
        late = now - fire_ts - job.jitter_offset  # jitter is a chosen delay, not lateness
        if late <= grace:
            return False
        self._misfires += 1
        job.skipped_because = (
            f"fire of {_dt(fire_ts).isoformat()} misfired: {late:.3f} s late "
            f"(misfire_grace_time {grace} s)"
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
        return True

    def _overlap_admits(self, job: _JobState, fire_ts: float) -> bool:
        """A fire arrives while the job is running: apply its overlap policy. True means start
        a run now."""
        opts = job.opts
        policy = opts.overlap
        if policy == "allow_all":
            if opts.max_instances is None or job.running < opts.max_instances:
                return True
            self._count_skip(job, fire_ts, "overlap")
            return False
        if policy == "cancel_other":
            for run in list(job.runs or ()):
                self._stop_run(run, superseded=True)
            return True
        if policy in ("buffer_one", "buffer_all"):
            limit = 1 if policy == "buffer_one" else opts.buffer_limit
            if job.buffer is None:
                job.buffer = deque()
            if len(job.buffer) < limit:
                job.buffer.append(fire_ts)
                return False
            self._count_skip(job, fire_ts, "buffer_full")
            return False
        # skip: the classic guarantee, a job never overlaps itself
        self._count_skip(job, fire_ts, "overlap")
        return False

    def _count_skip(self, job: _JobState, fire_ts: float, reason: str) -> None:
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

    def _dead_dependency(self, job: _JobState) -> str | None:
        """Why ``job`` can never become ready (a dependency failed, was cancelled or skipped for
        good), or None."""
        for dep_id in job.depends_on:
            dep = self._jobs.get(dep_id)
            if dep is None:  # removed
                continue
            if dep.status is JobStatus.COMPLETED and dep.run_count == 0:
                return f"upstream job {dep.name!r} ({dep.id}) completed without ever running"
            if dep.status in (JobStatus.FAILED, JobStatus.CANCELLED, JobStatus.SKIPPED):
                return f"upstream job {dep.name!r} ({dep.id}) is {dep.status.value}" + (
                    f": {dep.error}" if dep.error and dep.status is JobStatus.FAILED else ""
                )
        return None

    def _release_dependents(self, job: _JobState) -> None:
        """``job`` succeeded: start each held dependent that is now ready (no polling: this
        runs in the completion callback, so the dependent starts in the same loop pass)."""
        now = self._clock.time()
        for dep_id in self._graph.succeeded(job.id):
            dependent = self._jobs[dep_id]
            fire_ts = dependent.held
            if fire_ts is None or dependent.running or dependent.status is JobStatus.CANCELLED:
                continue
            if dependent.paused or not self._running or self._stopping:
                continue  # released on resume() / start()
            self._start_held(dependent, now)

    def _skip_dependents_of(
        self, upstream: _JobState | None, seeds: list[tuple[_JobState, str]] | None = None
    ) -> None:
        """``upstream`` failed or was cancelled: every held dependent, transitively, has its
        held fire skipped with the reason. A dependent with no fire left ends SKIPPED (and
        keeps its held fire, so that a later success upstream, e.g. ``run_now``, releases it)."""
        queue: list[tuple[_JobState, str]] = list(seeds or [])
        if upstream is not None:
            cancelled = upstream.status is JobStatus.CANCELLED or (upstream.error or "").startswith(
                "CancelledError"
            )
            why = f"upstream job {upstream.name!r} ({upstream.id}) " + (
                "was cancelled" if cancelled else f"failed: {upstream.error}"
            )
            queue.extend((self._jobs[d], why) for d in self._graph.dependents(upstream.id))
        while queue:
            dependent, why = queue.pop()
            if dependent.held is None or dependent.status in (
                JobStatus.CANCELLED,
                JobStatus.SKIPPED,
            ):
                continue
            dependent.skipped_because = why
            self._count_skip(dependent, dependent.held, "dependency")
            logger.warning(
                "job %r (%s) skipped: %s",
                dependent.name,
                dependent.id,
                why,
                extra={"job_id": dependent.id, "job_name": dependent.name},
            )
            if dependent.next_fire is None and not dependent.running:
                self._finalize(dependent, JobStatus.SKIPPED)
            else:
                dependent.held = None
            onward = f"upstream job {dependent.name!r} ({dependent.id}) was skipped: {why}"
            queue.extend((self._jobs[d], onward) for d in self._graph.dependents(dependent.id))

    # -- internals: running -------------------------------------------------------------------

    def _start_run(
        self,
        job: _JobState,
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
        run = _Run(self, job, fire_ts, now, attempt, outcome)
        if recovering:
            run.recovering = True
        if job.run is None:
            job.run = run
        else:
            job.add_run(run)
        if self._journal is not None and first:
            self._journal.run_started(job, fire_ts)
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
            task = loop.create_task(self._drive(run, job.call), context=job.context.copy())
            run.fut = task
            self._inflight.add(task)
        else:
            if self._executor is None:
                self._executor = ThreadPoolExecutor(
                    self._max_workers,
                    thread_name_prefix="asyncron-worker",
                    initializer=_mark_worker,
                    initargs=(self,),
                )
            fut = loop.run_in_executor(self._executor, job.context.copy().run, _call_in_thread, run)
            run.fut = fut
            fut.add_done_callback(run)
            self._inflight.add(fut)
        timeout = job.opts.timeout
        if timeout is not None:
            run.timer = loop.call_later(timeout, self._on_run_timeout, run)

    async def _drive(self, run: _Run, call: Callable[..., Any], *args: Any) -> Any:
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
        self._succeeded(run, result)
        return result

    def _succeeded(self, run: _Run, result: Any) -> None:
        """An async run returned ``result``: :meth:`_task_ended` for the common case, in one
        call. The case: no timer, no caller waiting for the outcome, no other run of the job,
        nothing in the job's side object (no waiters, buffer, held fire, dependencies, failure
        details), no subscriber, claiming journal or dependency edge in the engine (a journal is told
        of the change, as _record does). Everything else goes
        the general way (``_task_ended`` -> ``_finish`` -> ``_record``), with the same outcome."""
        job = run.job
        if (
            job.x is not _NO_EXTRAS
            or job.run is not run
            or run.timer is not None
            or run.outcome is not None
            or run.abandoned
            or self._events.subscriptions
            or self._claims
            or self._any_edges
        ):
            self._task_ended(run, result, None)
            return
        self._inflight.discard(run.fut)
        job.run = None
        job.running -= 1
        job.run_count += 1
        started = run.started
        self._lateness.append(started - run.fire_ts)
        if job.opts.history:
            if job.history is None:
                # the entry is made from the run when it is needed (past_runs)
                run.ended = self._clock.time()
                run.fut = None  # let the task go
                job.history = run
            else:  # before job.result changes: a deferred entry reads it
                entry = (run.fire_ts, started, self._clock.time(), run.attempt, "succeeded")
                self._remember(job, (*entry, result, None))
        job.result = result
        job.error = None
        if job.running == 0:
            status = job.status
            if status is _RUNNING:
                # no side object: not paused, nothing buffered or held, nobody waiting
                job.status = _PENDING if job.next_ts is not None else _COMPLETED
            elif status in _FINAL and status is not _CANCELLED:
                job.status = _COMPLETED  # a finished job run again through run_now
        if self._journal is not None:
            self._journal.job_changed(job)

    def _task_ended(
        self, run: _Run, result: Any, exc: BaseException | None, *, cancelled: bool = False
    ) -> None:
        if run.fut is not None:
            self._inflight.discard(run.fut)
        if run.timer is not None:
            run.timer.cancel()
            run.timer = None
        if run.abandoned:
            return
        if cancelled:
            self._record_cancel(run)
        else:
            self._finish(run, result, exc)

    def _record_cancel(self, run: _Run) -> None:
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

    def _on_run_timeout(self, run: _Run) -> None:
        run.timer = None
        fut = run.fut
        if fut is None or fut.done():
            return
        run.timed_out = True
        if isinstance(fut, asyncio.Task):
            self._cancel_task(run, fut)  # recorded as a timeout when the task ends
        else:
            self._abandon(run, "timed_out")

    def _cancel_task(self, run: _Run, task: asyncio.Task[Any]) -> None:
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

    def _stop_run(self, run: _Run, *, superseded: bool = False) -> str:
        """Cancel a run in flight: an async run's task is cancelled; a sync run cannot be
        interrupted, so it is abandoned (left to finish in its thread, its outcome ignored).
        Returns "cancelled" or "abandoned"."""
        fut = run.fut
        run.superseded = superseded
        if isinstance(fut, asyncio.Task):
            if fut is not _current_task():
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

    def _abandon(self, run: _Run, outcome: str) -> None:
        run.abandoned = True
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

    def _on_run_done(self, run: _Run, fut: asyncio.Future[Any]) -> None:
        """Done-callback of a sync run's thread future."""
        self._inflight.discard(fut)
        exc = None if run.abandoned or fut.cancelled() else fut.exception()
        result = None if run.abandoned or fut.cancelled() or exc is not None else fut.result()
        if exc is None and inspect.isawaitable(result):
            # A plain callable that returned an awaitable (``lambda: send(x)``): await it on the
            # loop, under the same timeout (the timer stays armed on the new task).
            assert self._loop is not None
            task = self._loop.create_task(
                self._drive(run, _await, result), context=run.job.context.copy()
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

    def _finish(
        self, run: _Run, result: Any, exc: BaseException | None, *, outcome: str | None = None
    ) -> None:
        """A run (attempt) ended: retry it, or record it."""
        job = run.job
        if job.run is run:
            job.run = None
        else:
            job.drop_run(run)
        now = self._clock.time()
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

    def _schedule_retry(self, run: _Run, exc: BaseException, now: float) -> None:
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
            )
        retry = _Run(self, job, run.fire_ts, now + delay, run.attempt + 1, run.outcome)
        job.add_run(retry)
        retry.timer = self._clock.call_at(now + delay, functools.partial(self._retry, retry))

    def _retry(self, retry: _Run) -> None:
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
        job: _JobState,
        run: _Run,
        result: Any,
        exc: BaseException | None,
        outcome: str,
        now: float,
    ) -> None:
        if job.history.__class__ is _Run:
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
        if job.running == 0:
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
        if self._journal is not None:
            self._journal.job_changed(job)
        if self._graph.any_dependents and self._graph.has_dependents(job.id):
            if exc is None:
                self._release_dependents(job)
            else:
                self._skip_dependents_of(job)

    @staticmethod
    def _remember(job: _JobState, entry: tuple[Any, ...]) -> None:
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

    def _finalize(self, job: _JobState, status: JobStatus) -> None:
        job.status = status
        if self._journal is not None:
            self._journal.job_changed(job)
        x = job.x
        if x.final_waiters:
            waiters, x.final_waiters = x.final_waiters, None
            for w in waiters:
                if not w.done():
                    w.set_result(None)

    def _emit(self, kind: type[JobEvent], job: _JobState, **fields: Any) -> None:
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


def run_context(job: _JobState, fire_ts: float) -> contextvars.Context:
    """A fresh copy of the job's context for one run, with :func:`current_run` set."""
    ctx = job.context.copy()
    ctx.run(_CURRENT.set, _Run(None, job, fire_ts, fire_ts, 1, None))
    return ctx


def _call_in_thread(run: _Run) -> Any:
    """A sync run's body in its worker thread (inside a copy of the job's context)."""
    _CURRENT.set(run)
    return run.job.call()


def _current_task() -> asyncio.Task[Any] | None:
    try:
        return asyncio.current_task()
    except RuntimeError:  # no loop running in this thread
        return None


async def _no_events() -> AsyncIterator[Event]:
    return
    yield  # an async generator that ends at once


async def _await(awaitable: Any) -> Any:
    return await awaitable
