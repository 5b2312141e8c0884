"""Job state and runs: the engine's mutable record of each job (:class:`JobState`), one run in
flight (:class:`Run`), and what a running job can learn about its own run (:func:`current_run`).

A scheduler may hold 100,000s of job records, so :class:`JobState` is slotted and keeps its
rarely used fields in a side object shared by every plain job (:class:`_JobExtras`).
Nothing here knows the dispatcher or the outcomes; ``Run`` reports its end to its engine through
``engine._on_run_done`` (its done-callback).
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
import inspect
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Generic, Protocol, TypeVar, overload

from .._listing import display_zone, in_zone
from .._model import Job, JobOptions, JobStatus
from ..abc import Trigger
from ..errors import InvalidJobError

__all__ = [
    "JobState",
    "RestoredJob",
    "Run",
    "RunInfo",
    "ScheduleRequest",
    "current_run",
    "schedule_request",
    "set_progress",
]

_V = TypeVar("_V")
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
_CURRENT: contextvars.ContextVar[Run | None] = contextvars.ContextVar(
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


def _ts_to_dt(ts: float | None) -> datetime | None:
    return None if ts is None else datetime.fromtimestamp(ts, UTC)


def _dt(ts: float) -> datetime:
    return datetime.fromtimestamp(ts, UTC)


@dataclass(frozen=True, slots=True)
class ScheduleRequest:
    """``schedule()``'s arguments, checked and normalised by :func:`schedule_request`: what every
    face (``AsyncScheduler``, the threaded facades) hands the engine to add a job."""

    func: Callable[..., Any]
    name: str | None
    trigger: object
    args: Any
    kwargs: dict[str, Any] | None
    max_runs: int | None
    job_id: str | None
    function_name: str | None
    depends_on: Any
    replace: bool
    manual: bool
    options: dict[str, Any]


def schedule_request(
    func: Callable[..., Any],
    name: str | None = None,
    trigger: object = None,
    args: Any = (),
    kwargs: dict[str, Any] | None = None,
    max_runs: int | None = None,
    *,
    job_id: str | None = None,
    function_name: str | None = None,
    depends_on: Any = None,
    replace: bool = False,
    manual: bool = False,
    **options: Any,
) -> ScheduleRequest:
    """``schedule()``'s arguments as one value, with the checks that need no engine state done
    (pure: any thread may call it, so a facade reports bad input before the hop to the loop).
    What depends on the engine (the trigger shorthand's zone, the job options over the
    defaults, ids in use, dependencies) is checked when the engine adds the job.

    Raises:
        InvalidJobError: ``replace`` is not a bool, or ``function_name`` not a non-empty str.
    """
    if not isinstance(replace, bool):
        raise InvalidJobError(f"replace: expected True or False, got {replace!r}")
    if function_name is not None and (not isinstance(function_name, str) or not function_name):
        raise InvalidJobError(f"function_name: expected a non-empty str, got {function_name!r}")
    return ScheduleRequest(
        func,
        name,
        trigger,
        args,
        kwargs,
        max_runs,
        job_id,
        function_name,
        depends_on,
        replace,
        manual,
        options,
    )


@dataclass(frozen=True, slots=True)
class RestoredJob:
    """A stored job as a journal hands it back to the engine (``EngineHooks.restore_job``).

    ``next_run`` is the fire to arm, already decided by the journal's misfire policy (None: no
    fire is left); ``status`` a final status is kept as it is, any other is re-derived.
    ``ref`` is the stored function reference (registered name or ``module:qualname``).
    """

    job_id: str
    name: str
    func: Callable[..., Any]
    args: tuple[Any, ...]
    kwargs: dict[str, Any]
    trigger: Trigger
    max_runs: int | None
    run_count: int
    status: JobStatus
    next_run: datetime | None
    last_run: datetime | None
    error: str | None
    result: Any
    failure_count: int
    ref: str | None


class _JobExtras:
    """The rarely used part of a job's record.

    A scheduler with 100,000 pending jobs keeps 100,000 records, and most jobs never use
    arguments, dependencies, buffers, waiters, progress texts or failure details. Those fields
    live here, in an object created on the first write of a non-default value
    (:meth:`JobState.extras`); until then every job shares :data:`_NO_EXTRAS`, whose fields are
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
    more_runs: set[Run] | None  # runs in flight besides JobState.run (overlap allowed)
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
    """A :class:`JobState` attribute kept in the job's :class:`_JobExtras`: reading it costs
    nothing extra for a plain job, and writing the default value to a plain job allocates
    nothing. The engine's hot paths read ``job.x`` directly."""

    __slots__ = ("name",)

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    @overload
    def __get__(self, job: None, owner: type | None = None) -> _Rare[_V]: ...

    @overload
    def __get__(self, job: JobState, owner: type | None = None) -> _V: ...

    def __get__(self, job: JobState | None, owner: type | None = None) -> _V | _Rare[_V]:
        if job is None:
            return self
        value: _V = getattr(job.x, self.name)
        return value

    def __set__(self, job: JobState, value: _V) -> None:
        x = job.x
        if x is _NO_EXTRAS:
            if value is getattr(x, self.name):
                return
            x = job.extras()
        setattr(x, self.name, value)


class RunOwner(Protocol):
    """What a :class:`Run` reports its end to: its engine."""

    def _on_run_done(self, run: Run, fut: asyncio.Future[Any]) -> None: ...


class JobState:
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
        self.run: Run | None = None  # a run in flight (more_runs holds any others)
        # Past runs, oldest first: a plain list of entry tuples trimmed in halves (a deque would
        # allocate a 64-slot block per job). A job's first run, when it succeeds on the fast
        # path, is kept as (fire_ts, started, ended, attempt) instead; past_runs() makes the list
        # from it when history is read or a second run ends (a one-shot job never pays for it).
        self.history: list[tuple[Any, ...]] | tuple[float, float, float, int] | None = None
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
        if history.__class__ is tuple:
            assert isinstance(history, tuple)
            history = self.history = [(*history, "succeeded", self.result, None)]
        assert not isinstance(history, tuple)
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
    def runs(self) -> tuple[Run, ...]:
        """Every run of the job in flight."""
        run, more = self.run, self.x.more_runs
        if not more:
            return () if run is None else (run,)
        return tuple(more) if run is None else (run, *more)

    def add_run(self, run: Run) -> None:
        if self.run is None:
            self.run = run
        else:
            x = self.extras()
            if x.more_runs is None:
                x.more_runs = set()
            x.more_runs.add(run)

    def drop_run(self, run: Run) -> None:
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
            next_run=in_zone(self.next_fire, display_zone(self.trigger)),
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


class Run:
    """One run (one attempt) of a job in flight. Its own done-callback: ``fut.add_done_callback(run)``."""

    __slots__ = (
        "abandoned",
        "attempt",
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
        engine: RunOwner | None,
        job: JobState,
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
        self.timer: Any = None
        self.timed_out = False
        self.abandoned = False
        self.superseded = False
        self.recovering = False

    def __call__(self, fut: asyncio.Future[Any]) -> None:
        assert self.engine is not None
        self.engine._on_run_done(self, fut)


def run_context(job: JobState, fire_ts: float) -> contextvars.Context:
    """A fresh copy of the job's context for one run, with :func:`current_run` set."""
    ctx = job.context.copy()
    ctx.run(_CURRENT.set, Run(None, job, fire_ts, fire_ts, 1, None))
    return ctx
