"""Dispatchers: who runs a due sync callback (``Scheduler(dispatcher)``).

A dispatcher is a ``concurrent.futures.Executor`` (used as is), any object with
``submit(fn, *args)`` (a thread pool of another library, a work queue) or ``dispatch(fn)`` (a
GUI or game loop's "run this on your thread"), or a plain function ``dispatcher(fn)``. The others
are wrapped in an Executor whose
futures complete when the dispatcher has run the callback, so the scheduler learns its result or
error either way, whatever the dispatcher's own ``submit`` returns.
"""

from __future__ import annotations

import asyncio
import contextvars
from collections.abc import Callable
from concurrent.futures import Executor, Future
from typing import Any, TypeVar

from . import abc
from .errors import InvalidJobError

__all__ = ["DispatchPool", "as_executor"]

T = TypeVar("T")


class _Handoff(Executor):
    """An Executor that hands each call to ``target`` (a dispatcher's submit or dispatch)."""

    def __init__(self, target: Callable[[Callable[[], None]], object], what: str) -> None:
        self._target = target
        self._what = what

    def submit(self, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> Future[T]:
        future: Future[T] = Future()

        def work() -> None:
            if not future.set_running_or_notify_cancel():
                return
            try:
                result = fn(*args, **kwargs)
            except BaseException as exc:
                future.set_exception(exc)
            else:
                future.set_result(result)

        try:
            self._target(work)
        except Exception as exc:  # the dispatcher refused the callback: the run fails with this
            if not future.done():
                future.set_exception(exc)
        return future

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        """The dispatcher belongs to the caller: nothing to shut down."""

    def __repr__(self) -> str:
        return f"<dispatcher {self._what}>"


def as_executor(dispatcher: object) -> Executor:
    """The Executor that runs callbacks through ``dispatcher``.

    Raises:
        InvalidJobError: ``dispatcher`` is none of the three kinds (the message says which
            are accepted).
    """
    if isinstance(dispatcher, Executor):
        return dispatcher
    if isinstance(dispatcher, type):
        raise InvalidJobError(
            f"dispatcher: expected a concurrent.futures.Executor (or a dispatcher) instance, got "
            f"the class {dispatcher.__qualname__}; did you mean {dispatcher.__qualname__}()?"
        )
    for method in ("submit", "dispatch"):
        target = getattr(dispatcher, method, None)
        if callable(target):
            return _Handoff(target, f"{type(dispatcher).__name__}.{method}")
    if callable(dispatcher):
        return _Handoff(dispatcher, getattr(dispatcher, "__qualname__", repr(dispatcher)))
    raise InvalidJobError(
        "dispatcher: expected a concurrent.futures.Executor, an object with submit(fn, *args) "
        f"or dispatch(fn), or a function dispatcher(fn); got {type(dispatcher).__name__} "
        f"{dispatcher!r}"
    )


class DispatchPool(abc.Executor):
    """The engine's :class:`~asyncron.abc.Executor` over a ``concurrent.futures.Executor`` of
    the user's (``AsyncScheduler(executor=...)``): sync runs go to it; it is never shut down
    (it belongs to the caller)."""

    __slots__ = ("executor",)

    def __init__(self, executor: Executor) -> None:
        if not isinstance(executor, Executor):
            raise InvalidJobError(
                f"executor: expected a concurrent.futures.Executor, got "
                f"{type(executor).__name__} {executor!r}"
            )
        self.executor = executor

    def offload(
        self,
        loop: asyncio.AbstractEventLoop,
        context: contextvars.Context,
        func: Callable[..., Any],
        *args: Any,
    ) -> asyncio.Future[Any]:
        return asyncio.wrap_future(self.executor.submit(context.run, func, *args), loop=loop)

    def shutdown(self) -> None:
        """The executor is the caller's: nothing to shut down."""
