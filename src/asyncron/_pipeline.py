"""JobPipeline: stages run one after another, the callables of a stage concurrently.

A run is one loop over the stages; each stage is an ``asyncio.TaskGroup``. Coroutine functions run
as tasks of the group, sync callables in the pipeline's bounded thread pool with a copy of the
caller's contextvars (as the scheduler runs sync jobs), the task waiting on a future that the
thread completes. A stage starts as soon as the task group of the previous one exits: no polling,
no timer.

Each callable runs inside a small wrapper that records its result or exception in its own slot,
so the task group never sees user exceptions. Fail-fast and timeouts both work by cancelling the
stage's tasks (a timeout is one ``loop.call_at`` timer per stage), never the task that called
``run()``: that one is cancelled only from outside, and then the task group cancels the stage and
waits for it. This keeps error collection exact (every error, with its stage and callable index)
whatever the order in which callables fail, and tells apart the three reasons a callable can stop
early (a sibling failed, the deadline passed, the caller cancelled) without inspecting exceptions.
"""

from __future__ import annotations

import asyncio
import contextvars
import inspect
import math
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Final, Literal, Self

from ._core._executors import WorkerPool, call_in_thread
from ._core._state import _is_async_callable, _short_name, set_progress
from .errors import (
    CallableCancelledError,
    DeadlockError,
    InvalidPipelineError,
    PipelineError,
    PipelineTimeoutError,
)

__all__ = [
    "CallableCancelledError",
    "FailurePolicy",
    "InvalidPipelineError",
    "JobPipeline",
    "PipelineError",
    "PipelineStatistics",
    "PipelineTimeoutError",
]

FailurePolicy = Literal["fail_fast", "continue"]
_POLICIES: Final = ("fail_fast", "continue")


# -- values ---------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PipelineStatistics:
    """A snapshot of a pipeline's counters (:meth:`JobPipeline.statistics`).

    ``current_stage`` is the 0-based stage index of the most recently started run that is still
    going (None when none is). Durations are in seconds; ``last_stage_durations`` belongs to the
    last run that ended, and holds one entry per stage it started.
    """

    stages: int
    runs_started: int
    runs_completed: int
    runs_failed: int
    runs_cancelled: int
    running: int
    current_stage: int | None
    callable_errors: int
    last_duration: float | None
    last_stage_durations: tuple[float, ...]


@dataclass(frozen=True, slots=True)
class _Step:
    """One callable of a stage, with what was decided about it once, at ``add_stage`` time."""

    func: Callable[..., Any]
    name: str
    is_async: bool
    takes_input: bool


@dataclass(frozen=True, slots=True)
class _Stage:
    steps: tuple[_Step, ...]
    timeout: float | None
    name: str | None
    sync_count: int


class _Missing:
    __slots__ = ()

    def __repr__(self) -> str:
        return "<missing>"


_MISSING: Final = _Missing()

# The progress text of the pipeline run the current code belongs to, if any: a pipeline run from
# inside another one's stage publishes "stage 2 of 3 > stage 1 of 4" and, when it ends, gives the
# job back its caller's text instead of clearing it.
_PROGRESS: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "asyncron_pipeline_progress", default=None
)
_NEVER: Final = math.inf


# -- validation helpers ---------------------------------------------------------------------------


def _check_timeout(what: str, value: object) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
        raise InvalidPipelineError(
            f"{what}: expected a number of seconds > 0 (or None for no limit), got "
            f"{type(value).__name__} {value!r}"
        )
    return float(value)


def _check_name(what: str, value: object) -> str | None:
    if value is not None and not isinstance(value, str):
        raise InvalidPipelineError(
            f"{what}: expected a str or None, got {type(value).__name__} {value!r}"
        )
    return value


def _takes_input(func: Callable[..., Any], pass_input: bool | None, where: str) -> bool:
    """Decide, from the signature, whether ``func`` is called with the stage input.

    Auto (``pass_input=None``): yes iff it has a required positional parameter. In every case the
    signature must accept the chosen call (one positional argument, or none).
    """
    try:
        sig: inspect.Signature | None = inspect.signature(func)
    except (TypeError, ValueError):  # some builtins and C callables have no signature
        sig = None
    if sig is None:
        if pass_input is None:
            raise InvalidPipelineError(
                f"{where}: its signature cannot be inspected, so whether it takes the stage input "
                f"is unknown; say so with add_stage(..., pass_input=True) or pass_input=False"
            )
        return pass_input
    if pass_input is None:
        pass_input = any(
            p.default is p.empty and p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
            for p in sig.parameters.values()
        )
    try:
        if pass_input:
            sig.bind(None)
        else:
            sig.bind()
    except TypeError:
        wanted = (
            "one positional argument (the stage input)"
            if pass_input
            else "being called without arguments"
        )
        raise InvalidPipelineError(
            f"{where}: its signature {sig} does not allow {wanted}; a stage callable must take "
            f"either no argument or exactly one positional argument (the previous stage's results, "
            f"or run()'s `initial` for stage 0); bind the others with functools.partial"
        ) from None
    return pass_input


def _progress_text(index: int, total: int, name: str | None) -> str:
    text = f"stage {index + 1} of {total}"
    return f"{text} ({name})" if name else text


# -- the pipeline ---------------------------------------------------------------------------------


class JobPipeline:
    """Stages that run in order; the callables of each stage run concurrently.

    Args:
        stages: initial stages, each a list of callables (same as calling :meth:`add_stage` for
            each, with default options).
        failure: ``"fail_fast"`` (default): the first error cancels the rest of its stage, later
            stages are skipped and :meth:`run` raises :class:`PipelineError` with every error of
            the stage. ``"continue"``: errors are recorded in place of results and the run goes on.
        timeout: limit for a whole run, in seconds (None: no limit).
        stage_timeout: default limit for each stage, in seconds; ``add_stage(timeout=...)``
            overrides it for one stage.
        max_workers: size of the pipeline's thread pool for sync callables (default: the number
            of sync callables in the widest stage, so that a stage is truly concurrent). Runs of
            the same pipeline going on at once share the pool.
        abandon_threads: what a cancelled or timed-out run does about sync callables still running
            in their threads (they cannot be killed). False (default): wait for them to return, so
            no thread outlives :meth:`run`; True: return at once and let them finish in the
            background, their results discarded.

    Raises:
        InvalidPipelineError: an argument has the wrong type or value (the message names it).
    """

    def __init__(
        self,
        stages: Iterable[Iterable[Callable[..., Any]]] | None = None,
        *,
        failure: FailurePolicy = "fail_fast",
        timeout: float | None = None,
        stage_timeout: float | None = None,
        max_workers: int | None = None,
        abandon_threads: bool = False,
    ) -> None:
        if failure not in _POLICIES:
            raise InvalidPipelineError(
                f"failure: expected 'fail_fast' or 'continue', got {failure!r}"
            )
        if max_workers is not None and (
            isinstance(max_workers, bool) or not isinstance(max_workers, int) or max_workers < 1
        ):
            raise InvalidPipelineError(
                f"max_workers: expected a positive int or None, got {max_workers!r}"
            )
        if not isinstance(abandon_threads, bool):
            raise InvalidPipelineError(
                f"abandon_threads: expected a bool, got {type(abandon_threads).__name__} "
                f"{abandon_threads!r}"
            )
        self._failure: FailurePolicy = failure
        self._timeout = _check_timeout("timeout", timeout)
        self._stage_timeout = _check_timeout("stage_timeout", stage_timeout)
        self._max_workers = max_workers
        self._abandon_threads = abandon_threads
        self._stages: tuple[_Stage, ...] = ()
        # sized by the stages that run (max_workers, else the most sync callables of a stage)
        self._pool = WorkerPool(max_workers or 1, name="asyncron-pipeline")
        # counters, guarded by a lock: run_sync() lets several threads run one pipeline at once
        self._lock = threading.Lock()
        self._run_seq = 0
        self._active: dict[int, tuple[int, int]] = {}  # run number -> (stages, current index)
        self._started = 0
        self._completed = 0
        self._failed = 0
        self._cancelled = 0
        self._callable_errors = 0
        self._last_duration: float | None = None
        self._last_stage_durations: tuple[float, ...] = ()
        if stages is not None:
            if isinstance(stages, str | bytes) or not isinstance(stages, Iterable):
                raise InvalidPipelineError(
                    f"stages: expected a list of stages (each a list of callables) or None, got "
                    f"{type(stages).__name__} {stages!r}"
                )
            given: list[Any] = list(stages)
            if given and all(callable(stage) for stage in given):
                # JobPipeline(stages=[f, g]): a flat list. Say how to write it instead of
                # complaining about "stage 0" only.
                labels = [_short_name(stage) for stage in given]
                raise InvalidPipelineError(
                    f"stages: expected a list of stages, each a list of callables, got a flat "
                    f"list of callables; write stages=[{', '.join(f'[{n}]' for n in labels)}] "
                    f"for one callable per stage, or stages=[[{', '.join(labels)}]] to run them "
                    "concurrently in one stage"
                )
            for stage in given:
                self.add_stage(stage)

    # -- building -------------------------------------------------------------------------------

    def add_stage(
        self,
        callables: Iterable[Callable[..., Any]],
        *,
        timeout: float | None = None,
        name: str | None = None,
        pass_input: bool | None = None,
    ) -> Self:
        """Append a stage and return the pipeline (for chaining).

        Each callable is called with the stage input (``run()``'s ``initial`` for the first
        stage, a list of the previous stage's results for the others) or with no argument. By
        default (``pass_input=None``) it gets the input iff it has a required positional
        parameter; ``True`` or ``False`` decides for every callable of the stage. Whether a
        callable is a coroutine function, and whether it takes the input, is decided here, once.

        Args:
            callables: a non-empty list (or other iterable) of callables: coroutine functions
                (run as tasks) or plain callables (run in worker threads).
            timeout: limit for this stage in seconds (default: the pipeline's ``stage_timeout``).
            name: a label for messages and progress text (``"stage 2 of 3 (transform)"``).
            pass_input: see above.

        Raises:
            InvalidPipelineError: ``callables`` is not a non-empty iterable of callables, a
                callable's signature cannot take the chosen call, or an option is invalid. The
                message names the stage index and the callable.
        """
        index = len(self._stages)
        where = f"add_stage (stage index {index})"
        if (
            callable(callables)
            or isinstance(callables, str | bytes | dict)
            or not isinstance(callables, Iterable)
        ):
            hint = (
                f"; for a one-callable stage pass a list: add_stage([{_short_name(callables)}])"
                if callable(callables)
                else ""
            )
            raise InvalidPipelineError(
                f"{where}: callables: expected a list of callables, got "
                f"{type(callables).__name__} {callables!r}{hint}"
            )
        stage_timeout = _check_timeout(f"{where}: timeout", timeout)
        stage_name = _check_name(f"{where}: name", name)
        if pass_input is not None and not isinstance(pass_input, bool):
            raise InvalidPipelineError(
                f"{where}: pass_input: expected True, False or None, got {pass_input!r}"
            )
        funcs = list(callables)
        if not funcs:
            raise InvalidPipelineError(f"{where}: callables: a stage needs at least one callable")
        steps: list[_Step] = []
        for i, func in enumerate(funcs):
            at = f"{where}, callable {i}"
            if inspect.iscoroutine(func):
                func.close()  # it will never run: close it instead of warning "never awaited"
                raise InvalidPipelineError(
                    f"{at}: got a coroutine object ({func.__qualname__}); pass the function "
                    f"itself, not the result of calling it"
                )
            if not callable(func):
                raise InvalidPipelineError(
                    f"{at}: expected a callable, got {type(func).__name__} {func!r}"
                )
            label = _short_name(func)
            if inspect.isasyncgenfunction(func):
                raise InvalidPipelineError(
                    f"{at} ({label}): an async generator function cannot be awaited; use a "
                    f"coroutine function that returns the collected values"
                )
            takes = _takes_input(func, pass_input, f"{at} ({label})")
            steps.append(_Step(func, label, _is_async_callable(func), takes))
        stage = _Stage(tuple(steps), stage_timeout, stage_name, sum(not s.is_async for s in steps))
        self._stages = (*self._stages, stage)
        return self

    def __len__(self) -> int:
        """The number of stages."""
        return len(self._stages)

    def __repr__(self) -> str:
        widths = [len(s.steps) for s in self._stages]
        return f"JobPipeline(stages={len(widths)}, callables={widths}, failure={self._failure!r})"

    # -- observing ------------------------------------------------------------------------------

    @property
    def progress(self) -> str | None:
        """``"stage k of n"`` (1-based, plus ``" (name)"`` for a named stage) for the most recently
        started run that is still going, or None when no run is going."""
        with self._lock:
            if not self._active:
                return None
            total, index = self._active[max(self._active)]
        stages = self._stages
        name = stages[index].name if index < len(stages) else None
        return _progress_text(index, total, name)

    def statistics(self) -> PipelineStatistics:
        """An immutable snapshot of the run counters; never blocks."""
        with self._lock:
            current = self._active[max(self._active)][1] if self._active else None
            return PipelineStatistics(
                stages=len(self._stages),
                runs_started=self._started,
                runs_completed=self._completed,
                runs_failed=self._failed,
                runs_cancelled=self._cancelled,
                running=len(self._active),
                current_stage=current,
                callable_errors=self._callable_errors,
                last_duration=self._last_duration,
                last_stage_durations=self._last_stage_durations,
            )

    # -- running --------------------------------------------------------------------------------

    async def run(self, initial: Any = None) -> list[list[Any]]:
        """Run every stage in order and return their results: one list per stage, each holding the
        stage's results in the order of its callables.

        ``initial`` is the input of the first stage. The stages are those added before the call;
        adding stages during a run does not change it. While it runs, it publishes
        ``"stage k of n"`` as the progress of the scheduled job it runs in
        (:func:`asyncron.set_progress`) and clears it at the end (a pipeline run inside another's
        stage publishes ``"stage 2 of 3 > stage 1 of 4"`` and then restores the outer text).

        Cancelling the call cancels the running stage's tasks and waits for them (and, unless the
        pipeline was made with ``abandon_threads=True``, for its sync callables' threads); it
        returns only when nothing it started is left running.

        Raises:
            PipelineError: ``"fail_fast"`` and a callable raised: the group holds every error of
                that stage.
            PipelineTimeoutError: a stage ran past its timeout (``"fail_fast"``), or the whole run
                past the pipeline's (either policy).
        """
        loop = asyncio.get_running_loop()
        stages = self._stages
        total = len(stages)
        executor = self._executor_for(stages) if any(s.sync_count for s in stages) else None
        with self._lock:
            self._run_seq += 1
            run_id = self._run_seq
            self._started += 1
        fail_fast = self._failure == "fail_fast"
        started = time.perf_counter()
        pipeline_deadline = loop.time() + self._timeout if self._timeout is not None else _NEVER
        results: list[list[Any]] = []
        durations: list[float] = []
        outcome = "cancelled"
        stage_input: Any = initial
        outer = _PROGRESS.get()
        token: contextvars.Token[str | None] | None = None
        try:
            for index, stage in enumerate(stages):
                with self._lock:
                    self._active[run_id] = (total, index)
                text = _progress_text(index, total, stage.name)
                if outer is not None:
                    text = f"{outer} > {text}"
                if token is None:
                    token = _PROGRESS.set(text)
                else:
                    _PROGRESS.set(text)
                set_progress(text)
                stage_started = time.perf_counter()
                try:
                    stage_results = await self._run_stage(
                        loop,
                        index,
                        total,
                        stage,
                        stage_input,
                        executor,
                        pipeline_deadline,
                        fail_fast,
                        results,
                    )
                finally:
                    durations.append(time.perf_counter() - stage_started)
                results.append(stage_results)
                stage_input = stage_results
            outcome = "completed"
            return results
        except (PipelineError, PipelineTimeoutError):
            outcome = "failed"
            raise
        finally:
            if token is not None:
                _PROGRESS.reset(token)
            set_progress(outer)
            with self._lock:
                self._active.pop(run_id, None)
                if outcome == "completed":
                    self._completed += 1
                elif outcome == "failed":
                    self._failed += 1
                else:
                    self._cancelled += 1
                self._last_duration = time.perf_counter() - started
                self._last_stage_durations = tuple(durations)

    def run_sync(self, initial: Any = None) -> list[list[Any]]:
        """Run the pipeline from synchronous code: a fresh event loop in the calling thread
        (``asyncio.run``) drives :meth:`run` and is closed afterwards.

        Raises:
            DeadlockError: the calling thread is running an event loop (blocking it would stall
                that loop; ``await pipeline.run()`` there instead).
            PipelineError, PipelineTimeoutError: as :meth:`run`.
        """
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            pass
        else:
            raise DeadlockError(
                "JobPipeline.run_sync() was called from a thread that is running an event loop; "
                "blocking it would stall that loop. Use `await pipeline.run(...)` there instead."
            )
        return asyncio.run(self.run(initial))

    def _executor_for(self, stages: tuple[_Stage, ...]) -> WorkerPool:
        """The pipeline's thread pool, (re)made when the stages need more threads than it has."""
        self._pool.executor(self._max_workers or max(s.sync_count for s in stages))
        return self._pool

    async def _run_stage(
        self,
        loop: asyncio.AbstractEventLoop,
        index: int,
        total: int,
        stage: _Stage,
        stage_input: Any,
        executor: WorkerPool | None,
        pipeline_deadline: float,
        fail_fast: bool,
        done: list[list[Any]],
    ) -> list[Any]:
        steps = stage.steps
        count = len(steps)
        state = _StageRun(count, fail_fast)
        slots = state.slots
        errors = state.errors
        stage_timeout = stage.timeout if stage.timeout is not None else self._stage_timeout
        stage_deadline = loop.time() + stage_timeout if stage_timeout is not None else _NEVER
        deadline = min(stage_deadline, pipeline_deadline)
        label = _progress_text(index, total, stage.name)
        # The first stage gets `initial` itself; later ones get the previous results, each callable
        # its own list, so that a consumer mutating it disturbs neither another consumer nor the
        # results run() returns.
        share = index == 0
        # The deadline is a timer that cancels the stage's tasks (as fail-fast does), not the
        # caller's task: run() itself is only ever cancelled from outside.
        timer = loop.call_at(deadline, state.expire) if deadline != _NEVER else None
        try:
            async with asyncio.TaskGroup() as tg:
                for i, step in enumerate(steps):
                    arg = stage_input if share else list(stage_input)
                    where = f"{label}, callable {i + 1} of {count} ({step.name})"
                    state.tasks.append(
                        tg.create_task(
                            self._call(loop, step, arg, i, state, executor, where),
                            name=f"asyncron-pipeline {where}",
                        )
                    )
        finally:
            if timer is not None:
                timer.cancel()
        if errors:
            with self._lock:
                self._callable_errors += len(errors)
        if fail_fast and errors:
            order = sorted(errors)
            names = ", ".join(steps[i].name for i in order)
            later = total - index - 1
            raise PipelineError(
                f"pipeline {label} failed: {len(order)} of {count} callable(s) raised ({names}); "
                f"the rest of the stage was cancelled"
                + (f" and {later} later stage(s) skipped" if later else ""),
                [errors[i] for i in order],
                stage_index=index,
                callable_indices=order,
                results=done,
            )
        pending = [i for i in range(count) if slots[i] is _MISSING and i not in errors]
        if state.timed_out and pending:
            still = ", ".join(steps[i].name for i in pending)
            if pipeline_deadline <= stage_deadline:
                assert self._timeout is not None
                raise PipelineTimeoutError(
                    f"pipeline timed out after {self._timeout:g} s, during {label} (still "
                    f"running: {still})",
                    stage_index=index,
                    timeout=self._timeout,
                    scope="pipeline",
                    results=done,
                )
            assert stage_timeout is not None
            if fail_fast:
                raise PipelineTimeoutError(
                    f"pipeline {label} timed out after {stage_timeout:g} s (still running: "
                    f"{still})",
                    stage_index=index,
                    timeout=stage_timeout,
                    scope="stage",
                    results=done,
                )
            for i in pending:
                slots[i] = PipelineTimeoutError(
                    f"pipeline {label}, callable {i + 1} of {count} ({steps[i].name}) did not "
                    f"finish within the stage timeout of {stage_timeout:g} s",
                    stage_index=index,
                    timeout=stage_timeout,
                    scope="stage",
                    callable_index=i,
                )
            with self._lock:
                self._callable_errors += len(pending)
        elif pending:
            # The task group ended normally, so these callables were cancelled by something other
            # than the pipeline or the caller of run() (someone called cancel() on their task).
            lost = {
                i: CallableCancelledError(
                    f"pipeline {label}, callable {i + 1} of {count} ({steps[i].name}) was "
                    f"cancelled, but not by the pipeline"
                )
                for i in pending
            }
            with self._lock:
                self._callable_errors += len(lost)
            if fail_fast:
                raise PipelineError(
                    f"pipeline {label} failed: {len(lost)} of {count} callable(s) were cancelled "
                    f"from outside ({', '.join(steps[i].name for i in pending)})",
                    list(lost.values()),
                    stage_index=index,
                    callable_indices=pending,
                    results=done,
                )
            for i, lost_error in lost.items():
                slots[i] = lost_error
        for i, error in errors.items():
            slots[i] = error
        return slots

    async def _call(
        self,
        loop: asyncio.AbstractEventLoop,
        step: _Step,
        arg: Any,
        i: int,
        state: _StageRun,
        executor: WorkerPool | None,
        where: str,
    ) -> None:
        """Run one callable and put its result (or exception) in its slot; cancellation passes."""
        try:
            if step.is_async:
                value = await (step.func(arg) if step.takes_input else step.func())
            else:
                assert executor is not None
                args = (arg,) if step.takes_input else ()
                value = await call_in_thread(loop, executor, step.func, args, self._abandon_threads)
                if inspect.isawaitable(value):
                    # a plain callable returning an awaitable (``lambda rows: save(rows)``), as
                    # the scheduler does
                    value = await value
        except asyncio.CancelledError as cancelled:
            task = asyncio.current_task()
            if task is None or task.cancelling():
                raise  # a real cancellation (the pipeline's, or its caller's): let it through
            # The callable raised CancelledError without anyone cancelling its task: that is
            # this callable's error, not a reason to stop the stage.
            error = CallableCancelledError(
                f"pipeline {where} was cancelled, but not by the pipeline"
            )
            error.__cause__ = cancelled
            state.fail(i, error)
        except Exception as exc:
            exc.add_note(f"in pipeline {where}")
            state.fail(i, exc)
        else:
            state.slots[i] = value


class _StageRun:
    """The mutable state of one stage of one run: slots, errors, tasks, and why they stopped."""

    __slots__ = ("errors", "fail_fast", "slots", "tasks", "timed_out")

    def __init__(self, count: int, fail_fast: bool) -> None:
        self.slots: list[Any] = [_MISSING] * count
        self.errors: dict[int, Exception] = {}
        self.tasks: list[asyncio.Task[None]] = []
        self.fail_fast = fail_fast
        self.timed_out = False

    def fail(self, i: int, exc: Exception) -> None:
        self.errors[i] = exc
        if self.fail_fast:
            self._cancel_all()

    def expire(self) -> None:
        self.timed_out = True
        self._cancel_all()

    def _cancel_all(self) -> None:
        current = asyncio.current_task()
        for task in self.tasks:
            if task is not current:
                task.cancel()
