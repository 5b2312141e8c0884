from __future__ import annotations

import asyncio
import importlib.util
import sqlite3
import threading
from collections.abc import Callable, Mapping
from pathlib import Path

import pytest


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
def loop_threads() -> Callable[[], list[threading.Thread]]:
    """``loop_threads()`` lists the live loop threads of threaded schedulers (``Scheduler`` and
    its subclasses name theirs ``asyncron-loop``): what a user sees of start() and stop()."""
    return _loop_threads


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
