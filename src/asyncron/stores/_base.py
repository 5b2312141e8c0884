"""A base for stores that do blocking I/O: one dedicated worker thread per store.

One thread (not a pool) keeps every operation of a store in order and lets ``sqlite3`` keep its
connection on the thread that made it; the event loop only ever awaits a future.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from ..abc import Store

__all__ = ["ThreadedStore"]

T = TypeVar("T")


class ThreadedStore(Store):
    """Runs its blocking work on its own single worker thread."""

    _executor: ThreadPoolExecutor | None = None

    def _worker(self) -> ThreadPoolExecutor:
        if self._executor is None:
            self._executor = ThreadPoolExecutor(1, thread_name_prefix="asyncron-store")
        return self._executor

    async def _run(self, func: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        loop = asyncio.get_running_loop()
        call = functools.partial(func, *args, **kwargs) if kwargs else func
        return await loop.run_in_executor(self._worker(), call, *(() if kwargs else args))

    def _shutdown_worker(self) -> None:
        executor, self._executor = self._executor, None
        if executor is not None:
            executor.shutdown(wait=False)
