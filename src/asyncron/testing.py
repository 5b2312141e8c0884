"""Test support: a virtual clock that makes a week of schedules run in milliseconds.

Give a :class:`VirtualClock` to the scheduler (``AsyncScheduler(clock=clock)``) and move time
yourself with :meth:`VirtualClock.advance` / :meth:`VirtualClock.advance_to`, or create it with
``autojump=True`` and let time jump to the next deadline whenever the loop is idle (trio's
``MockClock`` is the model). Between two jumps the clock lets every job that fired run to its end,
so jobs see time move only when nothing is left to do at the current instant.
"""

from __future__ import annotations

import asyncio
import heapq
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from .abc import Clock

__all__ = ["VirtualClock"]

_DEFAULT_START = datetime(2026, 1, 1, tzinfo=UTC)


class _VirtualTimer:
    __slots__ = ("callback", "cancelled", "when")

    def __init__(self, when: float, callback: Callable[[], None]) -> None:
        self.when = when
        self.callback = callback
        self.cancelled = False

    def cancel(self) -> None:
        self.cancelled = True


class VirtualClock(Clock):
    """A clock whose time moves only when told to (or, with ``autojump``, when the loop is idle).

    Args:
        start: the initial wall time (aware; naive is read as UTC). Default 2026-01-01 00:00 UTC.
        autojump: jump to the next deadline whenever the loop has nothing else to do.

    Real-time waits inside jobs (``asyncio.sleep``, threads) are not virtualised: the clock waits
    for running jobs to finish before it moves on.
    """

    def __init__(self, start: datetime | None = None, *, autojump: bool = False) -> None:
        if start is None:
            start = _DEFAULT_START
        elif not isinstance(start, datetime):
            raise TypeError(f"start: expected a datetime, got {type(start).__name__} {start!r}")
        elif start.tzinfo is None:
            start = start.replace(tzinfo=UTC)
        self._now = start.timestamp()
        self._timers: list[tuple[float, int, _VirtualTimer]] = []
        self._seq = 0
        self._probes: list[Callable[[], bool]] = []
        self._autojump = autojump
        self._jumper: asyncio.Task[None] | None = None
        self._advancing = 0

    # -- Clock ------------------------------------------------------------------------------

    def time(self) -> float:
        return self._now

    def call_at(self, when: float, callback: Callable[[], None]) -> _VirtualTimer:
        timer = _VirtualTimer(when, callback)
        self._seq += 1
        heapq.heappush(self._timers, (when, self._seq, timer))
        if self._autojump:
            self._ensure_jumper()
        return timer

    def bind(self, is_busy: Callable[[], bool]) -> None:
        self._probes.append(is_busy)

    # -- moving time ------------------------------------------------------------------------

    @property
    def autojump(self) -> bool:
        return self._autojump

    @autojump.setter
    def autojump(self, value: bool) -> None:
        self._autojump = bool(value)
        if self._autojump and self._timers:
            self._ensure_jumper()

    async def advance(self, seconds: float | timedelta) -> None:
        """Move time forward by ``seconds``, firing every timer due on the way, in order.

        Each timer fires with the clock set to its own deadline, and the loop is let run until
        idle before time moves again.

        Raises:
            ValueError: ``seconds`` is negative.
        """
        if isinstance(seconds, timedelta):
            seconds = seconds.total_seconds()
        if seconds < 0:
            raise ValueError(f"seconds: cannot move time backwards (got {seconds})")
        await self._advance_to(self._now + seconds)

    async def advance_to(self, when: datetime) -> None:
        """Move time forward to ``when`` (aware; naive is read as UTC).

        Raises:
            ValueError: ``when`` is before the current virtual time.
        """
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        target = when.timestamp()
        if target < self._now:
            raise ValueError(
                f"when: {when.isoformat()} is before the clock's current time {self.now().isoformat()}"
            )
        await self._advance_to(target)

    async def wait_idle(self) -> None:
        """Return once the loop and every bound scheduler have nothing left to do right now."""
        await self._settle()

    async def _advance_to(self, target: float) -> None:
        self._advancing += 1
        try:
            await self._settle()
            while True:
                self._drop_cancelled()
                if not self._timers or self._timers[0][0] > target:
                    break
                self._now = max(self._now, self._timers[0][0])
                self._fire_due()
                await self._settle()
            self._now = max(self._now, target)
            self._fire_due()
            await self._settle()
        finally:
            self._advancing -= 1

    def _drop_cancelled(self) -> None:
        timers = self._timers
        while timers and timers[0][2].cancelled:
            heapq.heappop(timers)

    def _fire_due(self) -> None:
        timers = self._timers
        while timers and timers[0][0] <= self._now:
            timer = heapq.heappop(timers)[2]
            if not timer.cancelled:
                timer.callback()

    def _busy(self) -> bool:
        return any(probe() for probe in self._probes)

    async def _settle(self) -> None:
        """Wait until nothing is ready to run on the loop and no bound scheduler is busy."""
        loop = asyncio.get_running_loop()
        quiet = 0
        spins = 0
        while quiet < 3:
            await asyncio.sleep(0)
            ready = getattr(loop, "_ready", None)  # asyncio's run queue; absent on uvloop
            if ready:
                quiet = 0
                continue
            if self._busy():
                quiet = 0
                # Work is in flight off the loop (a thread) or on a real-time timer. Spin through
                # the loop (each pass polls the selector, so a thread's result is picked up at
                # once) and back off to short sleeps if it takes long.
                spins += 1
                await asyncio.sleep(0 if spins < 200 else 0.0005)
                continue
            quiet += 1

    def _ensure_jumper(self) -> None:
        if self._jumper is None or self._jumper.done():
            try:
                loop = asyncio.get_running_loop()
            except RuntimeError:
                return
            self._jumper = loop.create_task(self._jump_loop(), name="asyncron-virtual-clock")

    async def _jump_loop(self) -> None:
        while self._autojump:
            await self._settle()
            if self._advancing:
                await asyncio.sleep(0.0005)
                continue
            self._drop_cancelled()
            if not self._timers:
                return
            self._now = max(self._now, self._timers[0][0])
            self._fire_due()

    async def aclose(self) -> None:
        """Stop the autojump task, if any (it also ends by itself when no timer is left)."""
        self._autojump = False
        if self._jumper is not None and not self._jumper.done():
            self._jumper.cancel()
            try:
                await self._jumper
            except asyncio.CancelledError:
                pass
