"""The leader lock: among the processes of one app on one host (web workers), only the one
holding the lock file fires jobs and opens the store; the others stand by and retry, and one of
them takes over when the holder stops or dies (the OS releases a dead process's lock).
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

from ..errors import StoreLockedError
from ..stores._files import FileLock
from ._base import EngineBase

__all__ = ["Leadership"]

logger = logging.getLogger("asyncron")


class Leadership(EngineBase):
    """Takes, waits for and releases the leader lock."""

    _leader_path: Path | None  # the lock file given as ``leader_lock``, or None
    _leader_retry: float  # seconds between a standby's attempts
    _leader_lock: FileLock | None  # held while this process leads
    _leader_task: asyncio.Task[None] | None  # a standby's wait for the lock

    def _take_leadership(self) -> bool:
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
        raise NotImplementedError  # _engine
