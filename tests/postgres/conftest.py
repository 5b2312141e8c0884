"""Fixtures for the PostgreSQL tests: a reachable server, a fresh schema per test.

The server is ``postgresql://postgres@127.0.0.1:5432/test`` unless ``ASYNCRON_TEST_POSTGRES``
names another. When it cannot be reached the tests are skipped with the reason, unless
``ASYNCRON_REQUIRE_POSTGRES=1`` (CI), which makes them fail instead.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import threading
from collections.abc import Callable, Coroutine, Iterator
from typing import Any, TypeVar

import pytest

pytest.importorskip("asyncpg", reason="the PostgreSQL tests need asyncpg (asyncron[postgres])")

import asyncpg

DSN = os.environ.get("ASYNCRON_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test")
T = TypeVar("T")


def run_sync(factory: Callable[[], Coroutine[Any, Any, T]]) -> T:
    """Run a coroutine to completion on a private loop in a helper thread (usable from sync
    tests and fixtures whatever loop pytest-asyncio has set up)."""
    box: dict[str, Any] = {}

    def target() -> None:
        try:
            box["value"] = asyncio.run(factory())
        except BaseException as exc:
            box["error"] = exc

    thread = threading.Thread(target=target)
    thread.start()
    thread.join()
    if "error" in box:
        raise box["error"]
    return box["value"]  # type: ignore[no-any-return]


def sql(query: str, *args: Any) -> list[asyncpg.Record]:
    """Run one statement on a short-lived connection; returns its rows."""

    async def go() -> list[asyncpg.Record]:
        conn = await asyncpg.connect(DSN, timeout=5)
        try:
            return list(await conn.fetch(query, *args))
        finally:
            await conn.close()

    return run_sync(go)


_REACHABLE: str | bool | None = False


def _problem() -> str | None:
    global _REACHABLE
    if _REACHABLE is False:
        try:
            sql("SELECT 1")
            _REACHABLE = None
        except Exception as exc:
            _REACHABLE = f"PostgreSQL at {DSN} is not reachable: {type(exc).__name__}: {exc}"
    return _REACHABLE if isinstance(_REACHABLE, str) else None


@pytest.fixture
def pg_dsn() -> str:
    problem = _problem()
    if problem is not None:
        if os.environ.get("ASYNCRON_REQUIRE_POSTGRES") == "1":
            pytest.fail(problem + " (ASYNCRON_REQUIRE_POSTGRES=1)")
        pytest.skip(problem)
    return DSN


@pytest.fixture
def schema(pg_dsn: str) -> Iterator[str]:
    """A fresh schema name (random, so concurrent test runs never collide), dropped after."""
    name = "t_" + secrets.token_hex(6)
    yield name
    sql(f'DROP SCHEMA IF EXISTS "{name}" CASCADE')
