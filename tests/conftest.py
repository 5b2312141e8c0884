"""Fixtures shared by every test area. Plain shared names (``T0``, ``WAIT``, ``Boom``, ``Gate``,
``store_url``, ...) are in ``helpers.py``: import them with ``from helpers import ...``."""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import sqlite3
import threading
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

from asyncron import Scheduler


def pytest_asyncio_loop_factories(
    config: pytest.Config, item: pytest.Item
) -> Mapping[str, Callable[[], asyncio.AbstractEventLoop]]:
    """Every async test runs on the default loop and on uvloop (when installed)."""
    factories: dict[str, Callable[[], asyncio.AbstractEventLoop]] = {
        "asyncio": asyncio.new_event_loop
    }
    if importlib.util.find_spec("uvloop") is not None:
        import uvloop

        factories["uvloop"] = uvloop.new_event_loop
    return factories


def _loop_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "asyncron-loop" and t.is_alive()]


@pytest.fixture
def sched() -> Iterator[Scheduler]:
    """A started-on-demand classic ``Scheduler`` (4 workers, 2 s stop timeout), stopped after the
    test."""
    s = Scheduler(max_workers=4, stop_timeout=2)
    yield s
    s.stop()


@pytest.fixture
def loop_threads() -> Callable[[], list[threading.Thread]]:
    """``loop_threads()`` lists the live loop threads of threaded schedulers (``Scheduler`` and
    its subclasses name theirs ``asyncron-loop``): what a user sees of start() and stop()."""
    return _loop_threads


async def _wait_for(condition: Callable[[], object], timeout: float = 5.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not condition():
        if loop.time() > deadline:
            raise AssertionError(f"condition not reached within {timeout} s")
        await asyncio.sleep(0.002)


@pytest.fixture
def wait_for() -> Callable[..., Awaitable[None]]:
    """``await wait_for(condition, timeout=5.0)``: poll ``condition()`` on the running loop until
    it is true; AssertionError after ``timeout`` seconds."""
    return _wait_for


@contextlib.asynccontextmanager
async def _serve_aiohttp(app: Any, shutdown_timeout: float = 60.0) -> AsyncIterator[str]:
    from aiohttp import web

    runner = web.AppRunner(app, shutdown_timeout=shutdown_timeout)
    await runner.setup()
    try:
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        host, port = runner.addresses[0][:2]
        yield f"http://{host}:{port}"
    finally:
        await runner.cleanup()


@pytest.fixture
def serve_aiohttp() -> Callable[..., contextlib.AbstractAsyncContextManager[str]]:
    """``async with serve_aiohttp(app) as url``: the aiohttp ``app`` on a real server at
    127.0.0.1 and a free port, cleaned up on exit (``shutdown_timeout=`` as aiohttp's)."""
    return _serve_aiohttp


def _make_foreign_sqlite(path: Path) -> Path:
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT)")
        conn.execute("INSERT INTO users (name) VALUES ('ada')")
    conn.close()
    return path


@pytest.fixture
def foreign_sqlite() -> Callable[[Path], Path]:
    """``foreign_sqlite(path)`` writes another application's SQLite database there (a ``users``
    table, rollback journal mode): what a store must refuse and leave byte for byte."""
    return _make_foreign_sqlite
