"""The threaded facades' loop thread: a daemon thread running an event loop, and the blocking
portal (anyio's) through which every facade call reaches it."""

from __future__ import annotations

import asyncio
import concurrent.futures
import importlib.util
import logging
import threading
from collections.abc import Callable
from typing import Any

import anyio
from anyio.from_thread import BlockingPortal

from .errors import SchedulerStateError

__all__ = ["_LoopThread", "_uvloop_available"]


def _uvloop_available() -> bool:
    return importlib.util.find_spec("uvloop") is not None


class _LoopThread:
    """A daemon thread running an event loop and a blocking portal into it.

    The loop's default executor (``run_in_executor(None, ...)``: sync event subscribers, an
    async job's own offloads) is this thread's own pool, dropped without waiting when the loop
    ends: a callback still running in it (a subscriber that outlived ``stop_timeout``) finishes
    on its own instead of holding the loop thread, and so ``stop()``, open.
    """

    def __init__(self, use_uvloop: bool) -> None:
        self._use_uvloop = use_uvloop
        self._ready = threading.Event()
        self._portal: BlockingPortal | None = None
        self._exit: anyio.Event | None = None
        self._error: BaseException | None = None
        self._closing = False
        self.ident: int | None = None
        self.thread = threading.Thread(target=self._main, name="asyncron-loop", daemon=True)
        # set by the facade once a stop() that ends this loop has completed (wait_stopped())
        self.stopped = threading.Event()

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
        loop = asyncio.get_running_loop()
        offloads = concurrent.futures.ThreadPoolExecutor(thread_name_prefix="asyncron-offload")
        loop.set_default_executor(offloads)
        try:
            async with BlockingPortal() as portal:
                self._portal = portal
                self._ready.set()
                await self._exit.wait()
                # A call still waiting in the loop (another thread's wait_job() for a job that
                # will never end, say) would keep the portal, and so stop(), waiting forever:
                # cancel it; its caller gets a SchedulerStateError (see call()).
                self._closing = True
                await portal.stop(cancel_remaining=True)
        finally:
            self._closing = True
            # The event loop's own shutdown joins its default executor's threads, without a
            # time limit (Python 3.11): hand it an unused pool, and let ours go unwaited.
            offloads.shutdown(wait=False, cancel_futures=True)
            loop.set_default_executor(concurrent.futures.ThreadPoolExecutor(1))

    def call(self, func: Callable[..., Any], *args: Any) -> Any:
        """Run ``func(*args)`` on the loop and return its result.

        Raises:
            SchedulerStateError: the scheduler stopped while the call was waiting.
        """
        assert self._portal is not None
        portal_call: Callable[..., Any] = self._portal.call
        name = getattr(func, "func", func)  # a functools.partial: the engine method's name
        name = getattr(name, "__name__", "call").lstrip("_").removesuffix("_nowait")
        if self._closing:
            raise SchedulerStateError(_stopped_meanwhile(name))
        try:
            return portal_call(func, *args)
        except concurrent.futures.CancelledError:
            if not self._closing:
                raise
            raise SchedulerStateError(
                f"{name}(): the scheduler was stopped while this call was waiting"
            ) from None
        except RuntimeError as exc:  # the portal closed between the check above and the call
            if self._closing and "portal is not running" in str(exc):
                raise SchedulerStateError(_stopped_meanwhile(name)) from None
            raise

    def call_soon(self, func: Callable[..., Any], *args: Any) -> None:
        assert self._portal is not None
        self._portal.start_task_soon(func, *args)

    def request_exit(self) -> None:
        """Let the loop end (call on the loop thread)."""
        assert self._exit is not None
        self._exit.set()

    def shutdown(self, timeout: float) -> None:
        """End the loop and wait (up to ``timeout`` seconds) for its thread to finish.

        The loop's own shutdown cancels its remaining tasks and waits for them; a task that
        ignores cancellation would keep it going forever. After ``timeout`` the thread, a
        daemon, is left to it, and this says so on the ``asyncron`` logger.
        """
        if self.thread.is_alive():
            try:
                self.call(self.request_exit)
            except RuntimeError:  # the portal is already closing
                pass
            self.thread.join(timeout)
            if self.thread.is_alive():
                logging.getLogger("asyncron").warning(
                    "stop: the scheduler's loop thread did not end within %.1f s (a task that "
                    "ignores cancellation?); it was left running as a daemon thread",
                    timeout,
                )


def _stopped_meanwhile(name: str) -> str:
    return (
        f"{name}(): the scheduler's loop stopped (stop() was in progress when this call was "
        f"made); call it again after stop() has returned"
    )
