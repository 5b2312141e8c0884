"""Fixtures for the PostgreSQL tests: a reachable server, a fresh schema per test.

The server is ``postgresql://postgres@127.0.0.1:5432/test`` unless ``ASYNCRON_TEST_POSTGRES``
names another. When it cannot be reached the tests are skipped with the reason, unless
``ASYNCRON_REQUIRE_POSTGRES=1`` (CI), which makes them fail instead.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import shutil
import socket
import subprocess
import tempfile
import threading
from collections.abc import Callable, Coroutine, Iterator
from pathlib import Path
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


def sql(query: str, *args: Any, dsn: str | None = None) -> list[asyncpg.Record]:
    """Run one statement on a short-lived connection (to ``dsn``, default the test server);
    returns its rows."""

    async def go() -> list[asyncpg.Record]:
        conn = await asyncpg.connect(dsn or DSN, timeout=5)
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


def _pg_bindir() -> Path | None:
    found = shutil.which("pg_config")
    if found:
        out = subprocess.run([found, "--bindir"], capture_output=True, text=True, check=False)
        candidate = Path(out.stdout.strip())
        if (candidate / "initdb").exists():
            return candidate
    versions = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"))
    return versions[-1].parent if versions else None


class PrivateServer:
    """A PostgreSQL server of the test's own (initdb in a temporary directory, a free port), so
    that a test can stop and restart it without disturbing anything else using the shared one."""

    def __init__(self, bindir: Path, root: Path) -> None:
        self.bindir = bindir
        self.data = root / "data"
        self.log = root / "server.log"
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            self.port = sock.getsockname()[1]
        self.dsn = f"postgresql://postgres@127.0.0.1:{self.port}/postgres"
        self._as_postgres = os.geteuid() == 0  # initdb and postgres refuse to run as root
        self._root = root
        if self._as_postgres:
            shutil.chown(root, "postgres", "postgres")
        self._run("initdb", "-A", "trust", "-U", "postgres", "-D", str(self.data), "--no-sync")

    def _run(self, tool: str, *args: str) -> None:
        cmd = [str(self.bindir / tool), *args]
        if self._as_postgres:
            cmd = ["runuser", "-u", "postgres", "--", *cmd]
        done = subprocess.run(cmd, capture_output=True, text=True, check=False, timeout=60)
        if done.returncode != 0:
            raise RuntimeError(f"{tool} failed ({done.returncode}): {done.stderr or done.stdout}")

    def start(self) -> None:
        options = (
            f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self._root} -c fsync=off "
            "-c full_page_writes=off -c max_connections=200"
        )
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.log), "-o", options, "-w", "start")

    def stop(self, mode: str = "fast") -> None:
        self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "stop")

    def running(self) -> bool:
        cmd = [str(self.bindir / "pg_ctl"), "-D", str(self.data), "status"]
        if self._as_postgres:
            cmd = ["runuser", "-u", "postgres", "--", *cmd]
        return subprocess.run(cmd, capture_output=True, check=False).returncode == 0


@pytest.fixture
def private_pg(pg_dsn: str) -> Iterator[PrivateServer]:
    """A private PostgreSQL server (see :class:`PrivateServer`), stopped after the test.

    Needs the server binaries (initdb, pg_ctl) and, when run as root, the ``postgres`` user.
    """
    bindir = _pg_bindir()
    problem = None
    if bindir is None:
        problem = "no PostgreSQL server binaries (initdb) on this machine"
    elif os.geteuid() == 0 and shutil.which("runuser") is None:
        problem = "running as root without runuser: cannot start a private server"
    if problem is not None:
        if os.environ.get("ASYNCRON_REQUIRE_POSTGRES") == "1":
            pytest.fail(problem + " (ASYNCRON_REQUIRE_POSTGRES=1)")
        pytest.skip(problem)
    assert bindir is not None
    root = Path(tempfile.mkdtemp(prefix="asyncron-pg-"))
    server = PrivateServer(bindir, root)
    server.start()
    try:
        yield server
    finally:
        if server.running():
            server.stop("immediate")
        shutil.rmtree(root, ignore_errors=True)
