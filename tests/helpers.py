"""Helpers shared by test files across areas: ``from helpers import Boom, T0, WAIT, ...``.

Fixtures live in ``conftest.py``; plain names (constants, classes, functions) live here, because
every ``conftest.py`` outside a package is imported as the module ``conftest`` and the last one
loaded wins, so ``from conftest import ...`` would depend on collection order. ``tests/`` is on
``sys.path`` (pytest puts it there to import ``tests/conftest.py``).
"""

from __future__ import annotations

import asyncio
import inspect
import socket
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from asyncron import IntervalTrigger

T0 = datetime(2026, 1, 1, tzinfo=UTC)
"""Where a ``VirtualClock()`` starts: the epoch of the virtual-time tests."""

T0_NOON = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
"""A fixed instant for the trigger tests (``from helpers import T0_NOON as T0``)."""

WAIT = 5.0
"""Upper bound for waits on real time; tests normally finish far sooner."""


class Boom(Exception):
    """A user's own exception type."""


def wait_until(predicate: Callable[[], object], timeout: float = WAIT) -> None:
    """Poll ``predicate()`` from a plain thread until it is true; AssertionError after
    ``timeout`` seconds. (On a running loop, use the ``wait_for`` fixture instead.)"""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.005)


def signature_params(func: Any) -> list[tuple[str, Any]]:
    """``(name, default)`` of each parameter of ``func`` but ``self``."""
    sig = inspect.signature(func)
    return [(p.name, p.default) for p in sig.parameters.values() if p.name != "self"]


def store_url(kind: str, folder: Path) -> str:
    """The URL of a ``json`` (``state.json``) or ``sqlite`` (``jobs.db``) store in ``folder``."""
    return f"{kind}:///{folder / ('state.json' if kind == 'json' else 'jobs.db')}"


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def job_vanished() -> Any:
    """For ``scheduler.get_job_nowait(job_id) or job_vanished()``: the job must still exist."""
    raise AssertionError("job vanished")


def every_second() -> IntervalTrigger:
    """Fires at T0 + 1 s, + 2 s, ... (on a ``VirtualClock()``)."""
    return IntervalTrigger(seconds=1, start=T0 + timedelta(seconds=1))


class Gate:
    """An async job body that blocks until released and records its concurrency."""

    def __init__(self) -> None:
        self.release = asyncio.Event()
        self.active = 0
        self.peak = 0
        self.calls = 0

    async def __call__(self) -> str:
        self.calls += 1
        self.active += 1
        self.peak = max(self.peak, self.active)
        try:
            await self.release.wait()
        finally:
            self.active -= 1
        return "released"


class SyncGate:
    """A sync job body (runs in a thread) that blocks until released."""

    def __init__(self) -> None:
        self.release = threading.Event()
        self.started = threading.Event()
        self.lock = threading.Lock()
        self.active = 0
        self.peak = 0
        self.calls = 0

    def __call__(self) -> str:
        with self.lock:
            self.calls += 1
            self.active += 1
            self.peak = max(self.peak, self.active)
        self.started.set()
        try:
            self.release.wait(5)
        finally:
            with self.lock:
                self.active -= 1
        return "released"
