"""Test support: a virtual clock that makes a week of schedules run in milliseconds.

Give a :class:`VirtualClock` to the scheduler (``AsyncScheduler(clock=clock)``) and move time
yourself with :meth:`VirtualClock.advance` / :meth:`VirtualClock.advance_to`, or create it with
``autojump=True`` and let time jump to the next deadline whenever the loop is idle (trio's
``MockClock`` is the model). Between two jumps the clock lets every job that fired run to its end,
so jobs see time move only when nothing is left to do at the current instant.

Two ways to move time for the cases in between: ``advance(..., wait_for_runs=False)`` fires
what falls due without waiting for runs still going (a fire that arrives while the previous run
of its job is in progress), and :meth:`VirtualClock.jump` moves time without firing anything
(the process was suspended or the loop blocked: the fires now due are late).
"""

from __future__ import annotations

import asyncio
import heapq
import math
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


def _seconds(seconds: float | timedelta) -> float:
    if isinstance(seconds, timedelta):
        seconds = seconds.total_seconds()
    if isinstance(seconds, bool) or not isinstance(seconds, int | float):
        raise TypeError(
            f"seconds: expected a number or a timedelta, got {type(seconds).__name__} {seconds!r}"
        )
    if not math.isfinite(seconds) or seconds < 0:
        raise ValueError(
            f"seconds: expected a finite number >= 0 (time cannot move backwards), got {seconds}"
        )
    return float(seconds)


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

    async def advance(self, seconds: float | timedelta, *, wait_for_runs: bool = True) -> None:
        """Move time forward by ``seconds``, firing every timer due on the way, in order.

        Each timer fires with the clock set to its own deadline, and the loop is let run until
        idle before time moves again. By default "idle" includes the runs of every bound
        scheduler: time moves on only once the jobs that fired have ended. With
        ``wait_for_runs=False`` it means only that the loop has nothing ready to do: runs still
        going (a job awaiting an event, a thread) are left running while later fires arrive,
        which is how overlap policies, ``max_instances`` and timeouts are tested.

        Raises:
            ValueError: ``seconds`` is negative or not a finite number.
        """
        await self._advance_to(self._now + _seconds(seconds), wait_for_runs)

    async def advance_to(self, when: datetime, *, wait_for_runs: bool = True) -> None:
        """Move time forward to ``when`` (aware; naive is read as UTC); ``wait_for_runs`` as
        in :meth:`advance`.

        Raises:
            ValueError: ``when`` is before the current virtual time.
        """
        await self._advance_to(self._target(when), wait_for_runs)

    def jump(self, seconds: float | timedelta) -> None:
        """Move time forward by ``seconds`` at once, firing nothing (trio's ``MockClock.jump``).

        It is what a suspended process or a blocked loop looks like: the timers that became due
        have not fired, and the fires they stand for run late, when a scheduler next looks at
        the clock: at the next :meth:`advance` (``await clock.advance(0)``) or autojump, or
        when a change to its jobs wakes it. That is how misfire handling is tested; and an
        operation made right after the jump (``pause``, ``reschedule``, ...) happens at the
        same instant as those fires, before the dispatcher has seen them.

        Raises:
            ValueError: ``seconds`` is negative or not a finite number.
        """
        self._now += _seconds(seconds)

    def _target(self, when: datetime) -> float:
        if not isinstance(when, datetime):
            raise TypeError(f"when: expected a datetime, got {type(when).__name__} {when!r}")
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        target = when.timestamp()
        if target < self._now:
            raise ValueError(
                f"when: {when.isoformat()} is before the clock's current time {self.now().isoformat()}"
            )
        return target

    async def wait_idle(self) -> None:
        """Return once the loop and every bound scheduler have nothing left to do right now."""
        await self._settle()

    async def _advance_to(self, target: float, wait_for_runs: bool = True) -> None:
        self._advancing += 1
        try:
            await self._settle(wait_for_runs)
            while True:
                self._drop_cancelled()
                if not self._timers or self._timers[0][0] > target:
                    break
                self._now = max(self._now, self._timers[0][0])
                self._fire_due()
                await self._settle(wait_for_runs)
            self._now = max(self._now, target)
            self._fire_due()
            await self._settle(wait_for_runs)
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

    async def _settle(self, wait_for_runs: bool = True) -> None:
        """Wait until nothing is ready to run on the loop and (with ``wait_for_runs``) no bound
        scheduler is busy."""
        loop = asyncio.get_running_loop()
        ready = getattr(loop, "_ready", None)  # asyncio's run queue; absent on uvloop
        # Without the run queue to look at, "nothing ready" can only be estimated by passes:
        # a fire reaches a job's first await in about five, so twenty leave a wide margin.
        needed = 3 if ready is not None or wait_for_runs else 20
        quiet = 0
        spins = 0
        while quiet < needed:
            await asyncio.sleep(0)
            if ready:
                quiet = 0
                continue
            if wait_for_runs and self._busy():
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
