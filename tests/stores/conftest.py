"""Fixtures of the store tests: one store factory per kind of store.

``store_factory`` gives each test a fresh, empty store of each kind in :data:`KINDS`: memory,
JSON file, SQLite and PostgreSQL (a fresh schema per test, dropped after it). The PostgreSQL
server is ``postgresql://postgres@127.0.0.1:5432/test`` unless ``ASYNCRON_TEST_POSTGRES`` names
another; when it cannot be reached (or asyncpg is not installed) the PostgreSQL tests are
skipped with the reason, unless ``ASYNCRON_REQUIRE_POSTGRES=1`` (CI), which makes them fail
(the rule of tests/postgres/conftest.py).

A contract test that holds for some kinds only by design says so with
``@pytest.mark.store_kinds(*kinds, reason=...)``: it is generated for those kinds only (the
reason says why, next to the test).
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import json
import os
import secrets
import sqlite3
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from asyncron.abc import Store
from asyncron.stores import JsonFileStore, MemoryStore, SQLiteStore
from asyncron.stores.postgres import PostgresStore

StoreFactory = Callable[[], Store]

KINDS = ["memory", "json", "sqlite", "postgres"]
PG_DSN = os.environ.get("ASYNCRON_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "store_kinds(*kinds, reason): a store test that applies to these kinds of store only",
    )


def make_factory(kind: str, tmp_path: Path, schema: str = "") -> StoreFactory:
    """A factory returning a fresh store object on the *same* backing file (or PostgreSQL
    schema) each call."""
    if kind == "memory":
        shared = MemoryStore()
        return lambda: shared
    if kind == "json":
        return lambda: JsonFileStore(tmp_path / "jobs.json")
    if kind == "postgres":
        return lambda: PostgresStore(PG_DSN, schema=schema, application_name="asyncron-contract")
    return lambda: SQLiteStore(tmp_path / "jobs.db")


def _run_pg(query: str) -> None:
    """Run one statement on the test server, on a short-lived connection (on a loop of its own,
    in a helper thread: whatever loop the test has, it is not running during a sync fixture)."""
    import asyncpg  # only here: asyncpg is optional, and the other kinds must run without it

    async def go() -> None:
        conn = await asyncpg.connect(PG_DSN, timeout=5)
        try:
            await conn.execute(query)
        finally:
            await conn.close()

    box: list[BaseException] = []

    def target() -> None:
        try:
            asyncio.run(go())
        except BaseException as exc:
            box.append(exc)

    thread = threading.Thread(target=target)
    thread.start()
    thread.join()
    if box:
        raise box[0]


_PG_PROBLEM: list[str | None] = []  # filled once: None when the server answers


def _pg_problem() -> str | None:
    """Why the PostgreSQL kind cannot run here (None: it can)."""
    if not _PG_PROBLEM:
        if importlib.util.find_spec("asyncpg") is None:
            _PG_PROBLEM.append("the PostgreSQL store needs asyncpg (asyncron[postgres])")
        else:
            try:
                _run_pg("SELECT 1")
                _PG_PROBLEM.append(None)
            except Exception as exc:
                _PG_PROBLEM.append(
                    f"PostgreSQL at {PG_DSN} is not reachable: {type(exc).__name__}: {exc}"
                )
    return _PG_PROBLEM[0]


def _kind_param(kind: str) -> Any:
    return pytest.param(kind, marks=[pytest.mark.postgres] if kind == "postgres" else [])


@pytest.hookimpl(tryfirst=True)  # before the fixture's own params are applied
def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """A test marked ``store_kinds`` runs on those kinds only: it is parametrized with them alone
    (not generated for the others and skipped, which would count as skips in every run)."""
    marker = metafunc.definition.get_closest_marker("store_kinds")
    if marker is None or "store_factory" not in metafunc.fixturenames:
        return
    unknown = [kind for kind in marker.args if kind not in KINDS]
    if unknown or "reason" not in marker.kwargs:
        raise pytest.UsageError(
            f"store_kinds{marker.args}: kinds must be among {KINDS}, with a reason"
        )
    # as a parametrize mark (read after this hook), which the fixture's own params give way to
    metafunc.definition.add_marker(
        pytest.mark.parametrize(
            "store_factory", [_kind_param(k) for k in KINDS if k in marker.args], indirect=True
        )
    )


@pytest.fixture(params=[_kind_param(k) for k in KINDS])
def store_factory(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[StoreFactory]:
    kind: str = request.param
    if kind != "postgres":
        yield make_factory(kind, tmp_path)
        return
    problem = _pg_problem()
    if problem is not None:
        if os.environ.get("ASYNCRON_REQUIRE_POSTGRES") == "1":
            pytest.fail(problem + " (ASYNCRON_REQUIRE_POSTGRES=1)")
        pytest.skip(problem)
    schema = "t_" + secrets.token_hex(6)  # random: concurrent test runs never collide
    try:
        yield make_factory(kind, tmp_path, schema)
    finally:
        _run_pg(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


@pytest.fixture(params=["json", "sqlite"])
def durable_factory(request: pytest.FixtureRequest, tmp_path: Path) -> StoreFactory:
    return make_factory(request.param, tmp_path)


def read_records(path: Path) -> list[dict[str, Any]]:
    """Every job record in a JSON or SQLite store file, as the file holds it (no asyncron code)."""
    if path.suffix == ".db":
        with contextlib.closing(sqlite3.connect(path)) as conn:
            return [json.loads(doc) for (doc,) in conn.execute("SELECT doc FROM asyncron_jobs")]
    doc: dict[str, Any] = json.loads(path.read_text())
    return list(doc["jobs"])


def edit_record(
    path: Path,
    job_id: str,
    change: Callable[[dict[str, Any]], object],
    raw: tuple[str, str] | None = None,
) -> None:
    """Edit one record in a store file the way an attacker with write access would: by hand,
    around asyncron (``change`` mutates the record's JSON object in place; ``raw=(old, new)``
    then replaces text in the written JSON, for what ``json.dumps`` cannot write)."""

    def render(value: Any) -> str:
        text = json.dumps(value)
        return text if raw is None else text.replace(*raw)

    if path.suffix == ".db":
        with contextlib.closing(sqlite3.connect(path)) as conn, conn:
            (text,) = conn.execute("SELECT doc FROM asyncron_jobs WHERE id=?", (job_id,)).fetchone()
            row = json.loads(text)
            change(row)
            conn.execute("UPDATE asyncron_jobs SET doc=? WHERE id=?", (render(row), job_id))
        return
    doc = json.loads(path.read_text())
    for row in doc["jobs"]:
        if row["id"] == job_id:
            change(row)
    path.write_text(render(doc))


RECORD_APP = Path(__file__).with_name("record_app.py")


def run_record_app(
    store: Path, mode: str, out: Path, options: dict[str, Any] | None = None
) -> tuple[subprocess.CompletedProcess[str], dict[str, Any]]:
    """Run ``record_app.py`` over the store file ``store`` in a subprocess (see its docstring);
    the process and its JSON report (empty for ``setup``). Fails the test on a non-zero exit."""
    url = f"{'sqlite' if store.suffix == '.db' else 'json'}:///{store}"
    argv = [sys.executable, str(RECORD_APP), url, mode, str(out), json.dumps(options or {})]
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=60, cwd=RECORD_APP.parent)
    assert proc.returncode == 0, proc.stderr[-3000:]
    lines = proc.stdout.strip().splitlines()
    return proc, (json.loads(lines[-1]) if lines else {})


def marks(out: Path) -> list[str]:
    """What the jobs of ``record_app.py`` wrote (one name per run)."""
    return out.read_text().split() if out.exists() else []
