"""PersistentScheduler: the classic facade with saved jobs (issue 5)."""

from __future__ import annotations

import json
import sqlite3
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "stores"))

import persist_jobs

from asyncron import JobStatus, PersistentScheduler
from asyncron.errors import InvalidJobError
from asyncron.stores import StoreLockedError

DONE = threading.Event()


def greet(who: str) -> str:
    persist_jobs.CALLS.append(("greet", who))
    DONE.set()
    return f"hi {who}"


@pytest.fixture(params=["state.json", "jobs.db"])
def state(request: pytest.FixtureRequest, tmp_path: Path) -> Path:
    persist_jobs.CALLS.clear()
    DONE.clear()
    return tmp_path / request.param


def stored_rows(state: Path) -> dict[str, dict[str, Any]]:
    """Every saved job record, by id, read straight from the file (JSON or SQLite)."""
    if state.suffix == ".json":
        return {row["id"]: row for row in json.loads(state.read_text())["jobs"]}
    with sqlite3.connect(state) as conn:
        docs = [json.loads(doc) for (doc,) in conn.execute("SELECT doc FROM asyncron_jobs")]
    return {doc["id"]: doc for doc in docs}


def stored_ids(state: Path) -> set[str]:
    return set(stored_rows(state))


def test_schedule_with_function_name_is_saved_before_it_returns(state: Path) -> None:
    ps = PersistentScheduler(state)
    try:
        jid = ps.schedule(greet, trigger=3600, args=("ann",), function_name="greet")
        memory_only = ps.schedule(greet, trigger=3600, args=("bob",))
        assert stored_ids(state) == {jid}
        assert memory_only not in stored_ids(state)
    finally:
        ps.stop()


def test_jobs_survive_a_restart_and_need_their_function_registered(state: Path) -> None:
    ps = PersistentScheduler(state)
    # one run before the restart, one after: the interval is long enough that a loaded machine
    # does not fit the second run in before stop()
    jid = ps.schedule(greet, trigger=0.3, args=("ann",), function_name="greet", max_runs=2)
    ps.start()
    deadline = time.monotonic() + 5
    while (job := ps.get_job(jid)) is not None and job.run_count < 1:
        assert time.monotonic() < deadline
        time.sleep(0.01)
    ps.stop()
    runs_before = ps.get_job(jid).run_count  # type: ignore[union-attr]

    ps2 = PersistentScheduler(state)
    ps2.start()
    try:
        [unresolved] = ps2.unresolved_jobs()
        assert unresolved.id == jid and "register_function('greet'" in unresolved.reason
        unresolved_job = ps2.get_job(jid)
        assert unresolved_job is not None and unresolved_job.status is JobStatus.UNRESOLVED
        ps2.register_function("greet", greet)
        assert ps2.unresolved_jobs() == []
        job = ps2.get_job(jid)
        # back with its history (its missed fire may already be running again)
        assert job is not None and runs_before <= job.run_count <= 2 and job.max_runs == 2
        done = ps2.wait_job(jid, timeout=5)
        assert done.run_count == 2 and done.result == "hi ann"
    finally:
        ps2.stop()


def test_unstorable_arguments_are_refused_only_for_saved_jobs(state: Path) -> None:
    ps = PersistentScheduler(state)
    try:
        with pytest.raises(InvalidJobError, match=r"args\[0\]"):
            ps.schedule(greet, trigger=60, args=(object(),), function_name="greet")
        ps.schedule(greet, trigger=60, args=(object(),))  # memory-only: anything goes
    finally:
        ps.stop()


def test_second_scheduler_on_the_same_file_is_refused(state: Path) -> None:
    ps = PersistentScheduler(state)
    ps.start()
    try:
        other = PersistentScheduler(state)
        with pytest.raises(StoreLockedError):
            other.start()
        other.stop()
    finally:
        ps.stop()


def test_stop_is_idempotent_and_saves(state: Path) -> None:
    ps = PersistentScheduler(state)
    jid = ps.schedule(greet, trigger=3600, args=("x",), function_name="greet")
    ps.start()
    ps.cancel(jid)
    ps.stop()
    ps.stop()
    assert [row["status"] for row in stored_rows(state).values()] == ["cancelled"]


def test_sqlite_by_url(tmp_path: Path) -> None:
    ps = PersistentScheduler(f"sqlite:///{tmp_path}/x.db")
    try:
        jid = ps.schedule(greet, trigger=3600, args=("x",), function_name="greet")
        assert stored_ids(tmp_path / "x.db") == {jid}
    finally:
        ps.stop()


def test_production_mode_seals_saved_jobs_and_test_mode_saves_them_plain(state: Path) -> None:
    """Issue 13's production mode: with a keyring, the saved function and arguments cannot be
    read from the file, an edit is refused at the next start; ``test_mode = True`` saves plain."""
    pytest.importorskip("cryptography")
    from asyncron.stores import Keyring

    ring = Keyring({"k1": Keyring.generate_key()})
    ps = PersistentScheduler(state, keyring=ring)
    jid = ps.schedule(greet, trigger=3600, args=("ann",), function_name="greet")
    ps.stop()
    row = stored_rows(state)[jid]
    assert row["func_ref"] == "<sealed>" and "ann" not in json.dumps(row)

    again = PersistentScheduler(state, keyring=ring)
    again.register_function("greet", greet)
    again.start()
    try:
        assert again.run_now(jid) == "hi ann"
    finally:
        again.stop()

    plain = PersistentScheduler(state, keyring=ring)
    plain.test_mode = True
    plain.register_function("greet", greet)
    plain.start()
    plain.stop()  # the loaded job is saved again, in plain form
    row = stored_rows(state)[jid]
    assert row["func_ref"] == "greet" and row["arguments"]["args"] == ["ann"]

    production = PersistentScheduler(state, keyring=ring)
    production.register_function("greet", greet)
    production.start()
    try:
        [unresolved] = production.unresolved_jobs()
        assert unresolved.id == jid and "accept_unsealed=True" in unresolved.reason
    finally:
        production.stop()
