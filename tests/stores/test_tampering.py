"""Issue 15 item 1: a store is data, never code. Black-box: an app in a subprocess over a real
JSON/SQLite file that the test edits the way someone with write access to it would.

A stored function reference resolves only to a function the app vouched for in its process
(registered, scheduled by object, ``@asyncron.storable``, ``allowed_modules``); with a keyring,
every record is sealed (AES-GCM over the whole record) and any edit is detected.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from conftest import edit_record, marks, read_records, run_record_app

pytest.importorskip("cryptography", reason="sealed records need the [crypto] extra")

from asyncron.stores import Keyring

KEYS = {"k1": Keyring.generate_key()}


@pytest.fixture(params=["jobs.json", "jobs.db"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Path:
    return tmp_path / request.param


def _set(field: str, value: Any) -> Any:
    return lambda row: row.__setitem__(field, value)


TARGETS = [
    "record_jobs:wipe",  # another function of the app's own job module
    "record_jobs:_mark",  # a private helper of it
    "asyncron.stores._records:split_document",  # a private helper of an imported library
    "json:dumps",  # the standard library
    "os:system",
]


def test_tampered_references_are_kept_reported_and_never_run(store: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    victims = [f"victim-{n}" for n in range(len(TARGETS))]
    run_record_app(store, "setup", out, {"victims": victims})
    for victim, target in zip(victims, TARGETS, strict=True):
        edit_record(store, victim, _set("func_ref", target))
    tampered = read_records(store)

    proc, report = run_record_app(store, "restart", out, {"vouch": True})

    assert "WIPED" not in marks(out)
    assert sorted(marks(out)) == ["good", "plain"]  # the untouched jobs loaded and ran
    for victim, target in zip(victims, TARGETS, strict=True):
        job = report["jobs"][victim]
        assert job["status"] == "unresolved", target
        assert target in job["error"] and "never run" in job["error"], job["error"]
    assert sorted(e["job_id"] for e in report["events"]) == victims
    assert {e["kind"] for e in report["events"]} == {"function"}
    assert "stored job victim-0" in proc.stderr and "not loaded, kept in the store" in proc.stderr
    after = {r["id"]: r for r in read_records(store)}
    assert all(after[r["id"]] == r for r in tampered if r["id"] in victims)  # untouched


def test_restart_before_the_app_schedules_again_names_every_fix(tmp_path: Path) -> None:
    """The migration case: ``plain`` was scheduled by object; a new process that does not
    schedule it again (yet) has not vouched for it. (Not about the store kind: JSON only.)"""
    store = tmp_path / "jobs.json"
    out = tmp_path / "out"
    run_record_app(store, "setup", out)

    _, report = run_record_app(store, "restart", out)
    error = report["jobs"]["p"]["error"]
    assert report["jobs"]["p"]["status"] == "unresolved" and "plain" not in marks(out)
    for fix in ("@asyncron.storable", "allowed_modules", "registered", "scheduled by object"):
        assert fix in error

    # scheduling another job of the same function by object brings it back at once ...
    _, report = run_record_app(store, "another", out)
    assert report["jobs"]["p"]["status"] == "completed" and "plain" in marks(out)
    # ... and so does scheduling it again (replace=True); allowed_modules: the tests below
    fresh, fresh_out = tmp_path / "again.json", tmp_path / "out-again"
    run_record_app(fresh, "setup", fresh_out)
    _, report = run_record_app(fresh, "reschedule", fresh_out)
    assert report["jobs"]["p"]["status"] == "completed" and "plain" in marks(fresh_out)


def test_sealed_records_hide_the_function_and_arguments(store: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    run_record_app(store, "setup", out, {"keyring": KEYS})
    raw = store.read_bytes()
    assert b"record_jobs" not in raw and str(out).encode() not in raw
    rows = read_records(store)
    assert {r["func_ref"] for r in rows} == {"<sealed>"}
    assert all(r["options"]["seal"]["mac"]["kid"] == "k1" for r in rows)

    _, report = run_record_app(store, "restart", out, {"keyring": KEYS, "vouch": True})
    assert {j["status"] for j in report["jobs"].values()} == {"completed"}
    assert sorted(marks(out)) == ["good", "good", "plain"]


EDITS: dict[str, Any] = {
    "run_count": _set("run_count", 7),
    "next_run": _set("next_run", 1.0),
    "name": _set("name", "renamed"),
    "max_runs": _set("max_runs", 99),
    "status": _set("status", "completed"),
    "trigger": lambda row: row["trigger"].__setitem__("run_at", "2030-01-01T00:00:00+00:00"),
    "arguments": lambda row: row.__setitem__("arguments", {"args": ["/tmp/x"], "kwargs": {}}),
    "no_seal": lambda row: row["options"].pop("seal"),  # an unsealed record is refused too
    "ref": lambda row: row["options"]["seal"].__setitem__("ref", {"$enc": "A256GCM"}),
    "func_ref": _set("func_ref", "record_jobs:wipe"),
}


def test_any_edit_of_a_sealed_record_is_detected(store: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    victims = [f"victim-{name}" for name in EDITS]
    run_record_app(store, "setup", out, {"keyring": KEYS, "victims": victims})
    for victim, edit in zip(victims, EDITS.values(), strict=True):
        edit_record(store, victim, edit)
    tampered = read_records(store)

    proc, report = run_record_app(store, "restart", out, {"keyring": KEYS, "vouch": True})

    assert sorted(marks(out)) == ["good", "plain"]  # only the untouched jobs ran
    for victim in victims:
        job = report["jobs"][victim]
        assert job["status"] == "unresolved" and "seal" in job["error"], (victim, job)
    assert sorted(e["job_id"] for e in report["events"]) == sorted(victims)
    assert {e["kind"] for e in report["events"]} == {"seal"}
    after = {r["id"]: r for r in read_records(store)}
    assert all(after[r["id"]] == r for r in tampered if r["id"] in victims)  # untouched
    assert "not loaded, kept in the store" in proc.stderr


def test_a_sealed_record_copied_over_another_job_is_detected(store: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    run_record_app(store, "setup", out, {"keyring": KEYS})
    p_record = next(r for r in read_records(store) if r["id"] == "p")
    edit_record(store, "victim", lambda row: row.update({**p_record, "id": "victim"}))

    _, report = run_record_app(store, "restart", out, {"keyring": KEYS, "vouch": True})

    assert report["jobs"]["victim"]["status"] == "unresolved"
    assert "does not match its seal" in report["jobs"]["victim"]["error"]
    assert sorted(marks(out)) == ["good", "plain"]


def test_unsealed_records_load_once_with_accept_unsealed_and_are_sealed(tmp_path: Path) -> None:
    """Turning the keyring on for an existing store: refused (with the fix named), then one
    start with accept_unsealed=True seals every record."""
    store = tmp_path / "jobs.db"
    out = tmp_path / "out"
    run_record_app(store, "setup", out, {"allowed_modules": ["record_jobs"]})
    _, refused = run_record_app(store, "restart", out, {"keyring": KEYS})
    assert all("accept_unsealed=True" in j["error"] for j in refused["jobs"].values())
    assert marks(out) == []

    options = {"keyring": KEYS, "accept_unsealed": True, "allowed_modules": ["record_jobs"]}
    _, report = run_record_app(store, "restart", out, options)
    assert {j["status"] for j in report["jobs"].values()} == {"completed"}
    assert all("seal" in r["options"] for r in read_records(store))


def test_test_mode_writes_plain_records(store: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    run_record_app(store, "setup", out, {"keyring": KEYS, "test_mode": True})
    rows = read_records(store)
    assert {r["func_ref"] for r in rows} == {"record_jobs:good", "record_jobs:plain"}
    assert all("seal" not in r["options"] for r in rows)
    assert all(r["arguments"] == {"args": [str(out)], "kwargs": {}} for r in rows)
