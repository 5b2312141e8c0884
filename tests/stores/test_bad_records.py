"""Issue 15 item 4: one bad record must not take the store down. Black-box: an app in a
subprocess over a real JSON/SQLite file with one record edited to hold a value asyncron never
writes; that record is kept aside (untouched) and reported, every other job loads and runs, and
``asyncron jobs --store`` shows it. A failed open always releases the file lock.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from asyncron import AsyncScheduler
from asyncron.errors import StoreLockedError, StoreVersionError
from asyncron.stores import SQLiteStore, StoreJournal
from conftest import edit_record, marks, read_records, run_record_app

DEEP = "[" * 3000 + "]" * 3000


@pytest.fixture(params=["jobs.json", "jobs.db"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Path:
    return tmp_path / request.param


def _field(name: str, value: Any) -> Any:
    return lambda row: row.__setitem__(name, value)


def _trigger(doc: dict[str, Any]) -> Any:
    return lambda row: row.__setitem__("trigger", doc)


CASES: dict[str, tuple[Any, tuple[str, str] | None]] = {
    "next_run NaN": (_field("next_run", float("nan")), None),
    "next_run 1e308": (_field("next_run", 1e308), None),
    "next_run -1e18": (_field("next_run", -1e18), None),
    "next_run year 10000": (_field("next_run", 253402300800.0), None),
    "interval 1e12 days": (
        _trigger({"type": "interval", "interval": [10**12, 0, 0], "start": None, "end": None}),
        None,
    ),
    "5000-char zone": (
        _trigger(
            {"type": "cron", "expression": "0 * * * *", "timezone": "A" * 5000, "start": None}
        ),
        None,
    ),
    "run_count -1": (_field("run_count", -1), None),
    # last: json cannot read the file back to edit it once this one is in
    "3000-deep argument": (
        _field("arguments", {"args": ["DEEP"], "kwargs": {}}),
        ('"DEEP"', DEEP),
    ),
}


def _record_text(store: Path, job_id: str) -> str:
    """The record ``job_id`` as the file holds it (for JSON, its text up to white space: the file is
    rewritten compactly around it). ``json`` cannot be used: one of them is 3,000 levels deep."""
    if store.suffix == ".db":
        with contextlib.closing(sqlite3.connect(store)) as conn:
            query = "SELECT doc FROM asyncron_jobs WHERE id=?"
            (text,) = conn.execute(query, (job_id,)).fetchone()
            return str(text)
    compact = re.sub(r"\s", "", store.read_text())
    start = compact.index(f'{{"id":"{job_id}"')
    return compact[start : compact.index('"version"', start)]


def test_bad_records_are_kept_aside_and_the_others_load(store: Path, tmp_path: Path) -> None:
    """Each case in its own record (one job each), all in one file: every bad one is kept
    aside and reported, and the good jobs load and run."""
    out = tmp_path / "out"
    victims = [f"victim-{n}" for n in range(len(CASES))]
    run_record_app(store, "setup", out, {"victims": victims})
    before = {}
    for victim, (change, raw) in zip(victims, CASES.values(), strict=True):
        edit_record(store, victim, change, raw)
        before[victim] = _record_text(store, victim)

    proc, report = run_record_app(store, "restart", out, {"vouch": True})

    assert sorted(marks(out)) == ["good", "plain"]  # every other job loaded and ran
    assert report["jobs"]["good"]["status"] == report["jobs"]["p"]["status"] == "completed"
    for victim, case in zip(victims, CASES, strict=True):
        job = report["jobs"][victim]
        assert job["status"] == "unresolved" and victim in job["error"], case
        assert _record_text(store, victim) == before[victim], case  # kept as it was
    assert sorted(e["job_id"] for e in report["events"]) == sorted(victims)
    assert {e["kind"] for e in report["events"]} == {"data"}
    assert "not loaded" in proc.stderr and "Traceback" not in proc.stderr

    url = f"{'sqlite' if store.suffix == '.db' else 'json'}:///{store}"
    cli = subprocess.run(
        [sys.executable, "-m", "asyncron", "jobs", "--store", url],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert cli.returncode == 0, cli.stderr
    assert "Traceback" not in cli.stderr
    assert all(victim in cli.stdout for victim in victims)
    assert "kept in the store but not loaded (never run)" in cli.stdout


def test_sqlite_schema_version_not_a_number_is_refused_and_the_lock_released(
    tmp_path: Path,
) -> None:
    path = tmp_path / "jobs.db"
    out = tmp_path / "out"
    run_record_app(path, "setup", out)
    with contextlib.closing(sqlite3.connect(path)) as conn, conn:
        conn.execute("UPDATE asyncron_meta SET value='abc' WHERE key='schema_version'")
    before = read_records(path)

    async def twice() -> list[BaseException]:
        errors: list[BaseException] = []
        for _ in range(2):  # the retry must see the same error, not our own lock
            try:
                async with AsyncScheduler(store=StoreJournal(SQLiteStore(path))):
                    pass
            except StoreVersionError as exc:
                errors.append(exc)
        return errors

    errors = asyncio.run(twice())
    assert len(errors) == 2 and not any(isinstance(e, StoreLockedError) for e in errors)
    assert "schema_version is 'abc', not a version number" in str(errors[0])
    assert str(os.getpid()) not in str(errors[1])
    assert read_records(path) == before


def test_a_failed_load_releases_the_lock_for_a_retry(tmp_path: Path) -> None:
    """Whatever fails after the store is open (here: reading its jobs), the store is closed and
    a retry in the same process opens it again instead of meeting its own lock."""
    path = tmp_path / "jobs.db"

    class Failing(SQLiteStore):
        failures = 1

        async def list_jobs(self) -> Any:
            if Failing.failures:
                Failing.failures -= 1
                raise OSError("disk on fire")
            return await super().list_jobs()

    async def run() -> str:
        try:
            async with AsyncScheduler(store=StoreJournal(Failing(path))):
                pass
        except OSError as exc:
            first = str(exc)
        async with AsyncScheduler(store=StoreJournal(Failing(path))) as s:
            assert await s.list_jobs() == []
        return first

    assert asyncio.run(run()) == "disk on fire"
