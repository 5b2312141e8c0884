"""pytest fixtures for testing code that uses asyncron (loaded by pytest automatically when
asyncron is installed, through the ``pytest11`` entry point; nothing to configure).

- ``virtual_clock``: a fresh :class:`~asyncron.testing.VirtualClock` (2026-01-01 00:00 UTC,
  no autojump), closed after the test.
- ``autojump_clock``: the same with ``autojump=True``: time jumps to the next deadline whenever
  the event loop is idle.

Pass either to ``AsyncScheduler(clock=...)`` or ``Scheduler(clock=...)``.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from .testing import VirtualClock

__all__ = ["autojump_clock", "virtual_clock"]


def _closed(clock: VirtualClock) -> None:
    jumper = clock._jumper
    if jumper is not None and not jumper.done():
        try:
            loop = jumper.get_loop()
        except RuntimeError:
            return
        if not loop.is_closed():
            loop.call_soon_threadsafe(jumper.cancel)


@pytest.fixture
def virtual_clock() -> Iterator[VirtualClock]:
    """A virtual clock for one test: time moves only with ``await clock.advance(...)``."""
    clock = VirtualClock()
    yield clock
    _closed(clock)


@pytest.fixture
def autojump_clock() -> Iterator[VirtualClock]:
    """A virtual clock that jumps to the next deadline whenever the event loop is idle."""
    clock = VirtualClock(autojump=True)
    yield clock
    _closed(clock)
