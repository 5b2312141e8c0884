"""Executors: where a callable runs. Coroutine functions run as tasks on the loop; sync
callables in a bounded pool of worker threads, with a copy of the caller's contextvars.

One implementation for the engine and for :class:`~asyncron.JobPipeline`: :class:`WorkerPool`
(made on first use, threads marked with their owner so that a facade can refuse a blocking call
from one of them) and two ways to wait for a call in it:

* :meth:`WorkerPool.offload` returns a loop future completed when the call ends (the engine:
  its run's done-callback records the outcome; a sync run that must stop early is *abandoned*,
  left to finish in its thread, because a thread cannot be interrupted);
* :func:`call_in_thread` awaits the call (the pipeline: a cancelled caller waits for the thread
  unless told to abandon it).
"""

from __future__ import annotations

import asyncio
import contextvars
import threading
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from ..abc import Executor

__all__ = ["WorkerPool", "call_in_thread", "current_task", "worker_owner"]

_worker_local = threading.local()

# a call waiting for a thread (WorkerPool.offload): loop, its future, context, func, args
_Call = tuple[
    asyncio.AbstractEventLoop,
    "asyncio.Future[Any]",
    contextvars.Context,
    Callable[..., Any],
    tuple[Any, ...],
]


def _mark_worker(owner: object) -> None:
    _worker_local.owner = owner


def worker_owner() -> object | None:
    """The owner (engine, pipeline) of the pool the calling thread belongs to, or None."""
    return getattr(_worker_local, "owner", None)


class WorkerPool(Executor):
    """A bounded pool of worker threads, made on first use.

    Args:
        max_workers: the most threads it runs at once.
        name: the threads' name prefix.
        owner: what :func:`worker_owner` returns in its threads.
    """

    __slots__ = ("_executor", "_lock", "_queue", "_submitted", "max_workers", "name", "owner")

    def __init__(self, max_workers: int, *, name: str, owner: object = None) -> None:
        self.max_workers = max_workers
        self.name = name
        self.owner = owner
        self._executor: ThreadPoolExecutor | None = None
        self._lock = threading.Lock()
        # offload(): calls handed to the threads and not yet reported back, and the calls
        # waiting for one of them (see offload)
        self._submitted = 0
        self._queue: deque[_Call] = deque()

    def executor(self, at_least: int = 0) -> ThreadPoolExecutor:
        """The thread pool, made now if needed, or remade larger when ``at_least`` threads are
        needed and it has fewer. An outgrown pool is dropped, not shut down: calls still using
        it keep it alive, and its idle threads exit once it is garbage."""
        pool = self._executor
        if pool is not None and at_least <= self.max_workers:
            return pool
        with self._lock:
            if self._executor is None or at_least > self.max_workers:
                self.max_workers = max(self.max_workers, at_least)
                self._executor = ThreadPoolExecutor(
                    self.max_workers,
                    thread_name_prefix=self.name,
                    initializer=_mark_worker,
                    initargs=(self.owner,),
                )
            return self._executor

    def offload(
        self,
        loop: asyncio.AbstractEventLoop,
        context: contextvars.Context,
        func: Callable[..., Any],
        *args: Any,
    ) -> asyncio.Future[Any]:
        """Run ``context.run(func, *args)`` in a worker thread; a loop future gets its outcome.
        Cancelling that future does not stop a call that has started (a thread cannot be
        interrupted); a call still waiting for a thread is dropped.

        At most two calls per thread are handed to the thread pool at a time; the others wait
        here, in order, as a loop future and their arguments. A burst of 100,000 sync fires then
        keeps 100,000 small records alive instead of 100,000 thread-pool work items with their
        futures, locks and callbacks, which the garbage collector would walk again and again.
        Call on the loop's thread.
        """
        fut: asyncio.Future[Any] = loop.create_future()
        if self._submitted < 2 * self.max_workers:
            self._submit(loop, fut, context, func, args)
        else:
            self._queue.append((loop, fut, context, func, args))
        return fut

    def _submit(
        self,
        loop: asyncio.AbstractEventLoop,
        fut: asyncio.Future[Any],
        context: contextvars.Context,
        func: Callable[..., Any],
        args: tuple[Any, ...],
    ) -> None:
        self._submitted += 1
        call = self.executor().submit(context.run, func, *args)

        def report(done: Future[Any]) -> None:  # in the worker thread (or here)
            try:
                loop.call_soon_threadsafe(self._settle, fut, done)
            except RuntimeError:  # the loop is closed: an abandoned call outlived its engine
                pass

        call.add_done_callback(report)

    def _settle(self, fut: asyncio.Future[Any], call: Future[Any]) -> None:
        """On the loop: pass a call's outcome to its future, and hand the next waiting call to
        the thread pool."""
        self._submitted -= 1
        if not fut.done():
            if call.cancelled():
                fut.cancel()
            elif (exc := call.exception()) is not None:
                fut.set_exception(exc)
            else:
                fut.set_result(call.result())
        queue = self._queue
        while queue and self._submitted < 2 * self.max_workers:
            loop, waiting, context, func, args = queue.popleft()
            if not waiting.done():
                self._submit(loop, waiting, context, func, args)

    def shutdown(self) -> None:
        """Drop queued calls and let the threads exit once their current call returns (it is
        never waited for); a later call makes a new pool."""
        pool, self._executor = self._executor, None
        if pool is not None:
            pool.shutdown(wait=False, cancel_futures=True)
        queue, self._queue = self._queue, deque()
        for _, fut, _, _, _ in queue:
            fut.cancel()


async def call_in_thread(
    loop: asyncio.AbstractEventLoop,
    pool: WorkerPool,
    func: Callable[..., Any],
    args: tuple[Any, ...],
    abandon: bool,
    at_least: int = 0,
) -> Any:
    """Run ``func(*args)`` in ``pool`` with a copy of the caller's contextvars; return its
    result or raise its exception.

    A thread cannot be interrupted. Cancelled while the call runs, this waits for it to return
    (unless ``abandon``) and then lets the cancellation go on, or raises the call's error if it
    raised one (it counts as the callable's error). Repeated cancellations (anyio cancel scopes
    re-deliver them) are absorbed the same way. With ``abandon`` it re-raises the cancellation at
    once (a call still queued for a thread is dropped; a running one finishes unobserved).

    Unlike ``loop.run_in_executor``, the thread wakes a plain future of ours instead of a future
    chained to the call: a cancelled await cancels only that future, never the call, so the task
    can go on waiting for the thread, and the normal path costs the same two loop passes.
    """
    ctx = contextvars.copy_context()
    call = pool.executor(at_least).submit(ctx.run, func, *args)
    waiter: list[asyncio.Future[None]] = [loop.create_future()]

    def wake() -> None:  # on the loop
        if not waiter[0].done():
            waiter[0].set_result(None)

    def on_done(_: Future[Any]) -> None:  # in the worker thread (or here, if already done)
        try:
            loop.call_soon_threadsafe(wake)
        except RuntimeError:  # the loop is closed: an abandoned call outlived its run
            pass

    call.add_done_callback(on_done)
    cancelled = False
    while not call.done():
        try:
            await waiter[0]
        except asyncio.CancelledError:
            if abandon:
                call.cancel()
                raise
            cancelled = True
            waiter[0] = loop.create_future()
    if cancelled:
        exc = call.exception()
        if isinstance(exc, Exception):
            raise exc
        raise asyncio.CancelledError
    return call.result()


def current_task() -> asyncio.Task[Any] | None:
    """The running task, or None (also when no loop runs in this thread)."""
    try:
        return asyncio.current_task()
    except RuntimeError:  # no loop running in this thread
        return None


async def await_it(awaitable: Any) -> Any:
    """``await awaitable``, as a coroutine function (to run an awaitable a sync callable
    returned)."""
    return await awaitable
