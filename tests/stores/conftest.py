from __future__ import annotations

import contextlib
import json
import sqlite3
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from asyncron.abc import Store
from asyncron.stores import JsonFileStore, MemoryStore, SQLiteStore

StoreFactory = Callable[[], Store]

KINDS = ["memory", "json", "sqlite"]


def make_factory(kind: str, tmp_path: Path) -> StoreFactory:
    """A factory returning a fresh store object on the *same* backing file each call."""
    if kind == "memory":
        shared = MemoryStore()
        return lambda: shared
    if kind == "json":
        return lambda: JsonFileStore(tmp_path / "jobs.json")
    return lambda: SQLiteStore(tmp_path / "jobs.db")


@pytest.fixture(params=KINDS)
def store_factory(request: pytest.FixtureRequest, tmp_path: Path) -> StoreFactory:
    return make_factory(request.param, tmp_path)


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
