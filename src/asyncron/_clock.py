"""The system clock: wall-time deadlines armed on the loop's monotonic timer."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from .abc import Clock, TimerHandle

__all__ = ["SystemClock"]


class SystemClock(Clock):
    """Real time.

    Deadlines are wall-clock instants (what triggers produce); each one is armed on the loop's
    monotonic timer (``loop.call_later``) for the remaining wall time, capped at ``max_sleep``
    seconds. The engine re-reads the wall clock whenever it is called back, so a wall-clock jump
    (NTP step, suspend and resume) is noticed within ``max_sleep`` instead of after the old sleep.
    """

    __slots__ = ("max_sleep",)

    def __init__(self, max_sleep: float = 1.0) -> None:
        self.max_sleep = max_sleep

    def time(self) -> float:
        return time.time()

    def call_at(self, when: float, callback: Callable[[], None]) -> TimerHandle:
        delay = when - time.time()
        if delay > self.max_sleep:
            delay = self.max_sleep
        return asyncio.get_running_loop().call_later(max(delay, 0.0), callback)
