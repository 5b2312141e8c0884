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


class BlackHoleProxy:
    """A TCP proxy on loopback, in a thread of its own, between one node and the server. After
    :meth:`cut` it black-holes the traffic, as a network partition does: every socket stays
    open and nothing is forwarded either way (no reset, no FIN), and new connections are
    accepted and left silent."""

    def __init__(self, host: str = "127.0.0.1", port: int = 5432) -> None:
        self.target = (host, port)
        self.port = 0
        self._cut = threading.Event()
        self._ready = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._writers: list[asyncio.StreamWriter] = []
        self._thread = threading.Thread(target=lambda: asyncio.run(self._serve()), daemon=True)

    def dsn(self, dsn: str) -> str:
        """``dsn`` with its host and port replaced by the proxy's."""
        from urllib.parse import urlsplit, urlunsplit

        parts = urlsplit(dsn)
        user = parts.netloc.rpartition("@")[0]
        return urlunsplit(parts._replace(netloc=f"{user}@127.0.0.1:{self.port}"))

    def start(self) -> BlackHoleProxy:
        self._thread.start()
        self._ready.wait(10)
        return self

    def cut(self) -> None:
        self._cut.set()

    def close(self) -> None:
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(10)

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while not self._cut.is_set():
            data = await reader.read(65536)
            if not data:
                break
            if self._cut.is_set():
                break  # black-holed: dropped
            writer.write(data)
            await writer.drain()
        if not self._cut.is_set():
            writer.close()
        else:
            await asyncio.Event().wait()  # keep the socket open, forward nothing, for ever

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._writers.append(writer)
        if self._cut.is_set():
            await asyncio.Event().wait()  # accepted, and silent
        up_reader, up_writer = await asyncio.open_connection(*self.target)
        self._writers.append(up_writer)
        await asyncio.gather(
            self._pipe(reader, up_writer), self._pipe(up_reader, writer), return_exceptions=True
        )

    async def _serve(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        server = await asyncio.start_server(self._client, "127.0.0.1", 0)
        self.port = server.sockets[0].getsockname()[1]
        self._ready.set()
        async with server:
            await self._stop.wait()
            server.close()
            others = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for task in others:
                task.cancel()
            await asyncio.gather(*others, return_exceptions=True)
            for writer in self._writers:
                writer.transport.abort()
