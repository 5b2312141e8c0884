"""Fuzz (hypothesis): random and mutated job records fed to the JSON and SQLite loaders.

Whatever the records hold, opening the store and starting a scheduler on it (1) raises nothing
but asyncron's own errors, (2) never loses a good record: each comes back with its status, and
(3) never leaves the file lock held: another opener gets the lock afterwards.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import json
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import persist_jobs
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from asyncron import AsyncScheduler, CronTrigger, IntervalTrigger, JobStatus, OnceTrigger
from asyncron.errors import AsyncronError
from asyncron.stores import FunctionRegistry, JsonFileStore, SQLiteStore, StoreJournal
from asyncron.testing import VirtualClock
from conftest import read_records

T0 = datetime(2026, 3, 1, tzinfo=UTC)
GOOD_IDS = ("good-once", "good-interval", "good-cron")
FIELDS = [
    "id", "name", "func_ref", "trigger", "arguments", "status", "next_run", "last_run",
    "last_fire", "running_fire", "run_count", "failure_count", "max_runs", "error", "result",
    "options", "version",
]  # fmt: skip


def _good_records(tmp: Path) -> list[dict[str, Any]]:
    """Three records as asyncron writes them (once, interval and cron jobs)."""
    path = tmp / "template.json"

    async def write() -> None:
        triggers = [
            OnceTrigger(T0 + timedelta(days=1)),
            IntervalTrigger(minutes=5),
            CronTrigger.from_expression("0 9 * * 1-5", "Europe/Berlin"),
        ]
        async with AsyncScheduler(clock=VirtualClock(start=T0), store=f"json:///{path}") as s:
            for job_id, trigger in zip(GOOD_IDS, triggers, strict=True):
                await s.schedule(
                    persist_jobs.record, trigger=trigger, args=(job_id,), job_id=job_id
                )

    asyncio.run(write())
    return read_records(path)


@pytest.fixture(scope="module")
def good(tmp_path_factory: pytest.TempPathFactory) -> list[dict[str, Any]]:
    return _good_records(tmp_path_factory.mktemp("fuzz"))


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)


@st.composite
def bad_record(draw: st.DrawFn, template: dict[str, Any]) -> str:
    """A record's JSON text: random JSON, or a good record with some fields mutated (set to
    anything, removed, nested very deep, a huge string, a time out of range)."""
    if draw(st.integers(0, 5)) == 0:
        return json.dumps(draw(json_values))
    row = json.loads(json.dumps(template))
    row["id"] = "fuzz-" + draw(st.text("abcdef0123", min_size=1, max_size=6))
    deep: int | None = None
    for _ in range(draw(st.integers(1, 3))):
        name = draw(st.sampled_from(FIELDS))
        action = draw(st.sampled_from(["set", "del", "deep", "huge", "time", "nested"]))
        if action == "del":
            row.pop(name, None)
        elif action == "deep":
            deep = draw(st.sampled_from([70, 900, 3000]))
            row[name] = "$DEEP$"
        elif action == "huge":
            row[name] = "z" * draw(st.sampled_from([5000, 100_000]))
        elif action == "time":
            row[name] = draw(st.sampled_from([1e308, -1e18, 253402300800.0, float("nan"), 1e19]))
        elif action == "nested" and isinstance(row.get(name), dict) and row[name]:
            key = draw(st.sampled_from(sorted(row[name])))
            row[name][key] = draw(json_values | st.just("A" * 5000))
        else:
            row[name] = draw(json_values)
    if row.get("id") in GOOD_IDS:
        row["id"] = "fuzz-collision"
    text = json.dumps(row)
    if deep is not None:
        text = text.replace('"$DEEP$"', "[" * deep + "]" * deep, 1)
    return text


def _write_json(path: Path, texts: list[str]) -> None:
    path.write_text(
        '{"format": "asyncron.jobs", "version": 1, "jobs": [' + ",\n".join(texts) + "]}"
    )


def _write_sqlite(path: Path, texts: list[str]) -> None:
    asyncio.run(_create_schema(path))
    with contextlib.closing(sqlite3.connect(path)) as conn, conn:
        for n, text in enumerate(texts):
            conn.execute(
                "INSERT INTO asyncron_jobs(id, status, next_run, doc) VALUES (?, 'pending', NULL, ?)",
                (f"row-{n}", text),
            )


async def _create_schema(path: Path) -> None:
    store = SQLiteStore(path)
    await store.open()
    await store.close()


def _lock_is_free(store_path: Path) -> bool:
    lock = store_path.with_name(store_path.name + ".lock")
    with lock.open("a") as f:
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            return False
        fcntl.flock(f, fcntl.LOCK_UN)
    return True


async def _load(path: Path) -> dict[str, JobStatus]:
    store = SQLiteStore(path) if path.suffix == ".db" else JsonFileStore(path)
    registry = FunctionRegistry()
    journal = StoreJournal(store, registry=registry)
    async with AsyncScheduler(clock=VirtualClock(start=T0), store=journal) as s:
        return {j.id: j.status for j in await s.list_jobs()}


@pytest.mark.parametrize("kind", ["json", "sqlite"])
@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
def test_random_and_mutated_records_never_break_the_loader(
    kind: str,
    data: st.DataObject,
    good: list[dict[str, Any]],
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    path = tmp_path_factory.mktemp(kind) / ("jobs.db" if kind == "sqlite" else "jobs.json")
    bad = data.draw(
        st.lists(bad_record(good[data.draw(st.integers(0, 2))]), min_size=1, max_size=4)
    )
    texts = [json.dumps(r) for r in good]
    for text in bad:  # the bad ones anywhere among the good ones
        texts.insert(data.draw(st.integers(0, len(texts))), text)
    (_write_sqlite if kind == "sqlite" else _write_json)(path, texts)

    try:
        statuses = asyncio.run(_load(path))
    except AsyncronError:
        statuses = None  # a clear refusal of the whole store is allowed; a raw error is not
    assert _lock_is_free(path)
    assert statuses is not None, "one bad record took the whole store down"
    for job_id in GOOD_IDS:
        assert statuses.get(job_id) is JobStatus.PENDING, (job_id, statuses)
