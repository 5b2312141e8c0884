"""Encryption at rest: key ids, rotation, wrong keys, tampering, no plaintext (RELIABILITY E).

Every test here needs ``cryptography`` (the ``[crypto]`` extra, part of ``[test]``); without it
this module, and only this one, is skipped.
"""

from __future__ import annotations

import hashlib
import json
import logging
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from helpers import T0

pytest.importorskip("cryptography", reason="encryption at rest needs the [crypto] extra")

import persist_jobs

from asyncron import AsyncScheduler, IntervalTrigger, JobStatus
from asyncron.stores import (
    DecryptionError,
    FunctionRegistry,
    JsonFileStore,
    Keyring,
    SQLiteStore,
    StoreJournal,
)
from asyncron.testing import VirtualClock
from conftest import read_records

K1, K2 = Keyring.generate_key(), Keyring.generate_key()
CANARY = "s3cr3t-CANARY"


def journal(path: Path, keyring: Keyring | None, **options: Any) -> StoreJournal:
    """A journal on ``path`` whose registry knows ``persist_jobs.record`` as ``"record"``."""
    registry = FunctionRegistry()
    registry.register("record", persist_jobs.record)
    store = SQLiteStore(path) if path.suffix == ".db" else JsonFileStore(path)
    return StoreJournal(store, registry=registry, keyring=keyring, **options)


@pytest.fixture(params=["state.json", "jobs.db"])
def path(request: pytest.FixtureRequest, tmp_path: Path) -> Path:
    persist_jobs.CALLS.clear()
    return tmp_path / request.param


def file_bytes(path: Path) -> bytes:
    return path.read_bytes()


async def schedule_secret_jobs(path: Path, keyring: Keyring | None, n: int = 3) -> list[str]:
    clock = VirtualClock(start=T0)
    async with AsyncScheduler(clock=clock, store=journal(path, keyring)) as s:
        return [
            await s.schedule(
                persist_jobs.record,
                trigger=IntervalTrigger(hours=1),
                args=(f"j{i}",),
                kwargs={"value": {"password": CANARY}},
            )
            for i in range(n)
        ]


@pytest.mark.asyncio
async def test_arguments_are_not_stored_in_plaintext(path: Path) -> None:
    await schedule_secret_jobs(path, Keyring({"k1": K1}))
    for stored in _files_of(path):
        assert CANARY.encode() not in stored


def _files_of(path: Path) -> list[bytes]:
    return [p.read_bytes() for p in path.parent.glob(path.name + "*")]


@pytest.mark.asyncio
async def test_missing_key_leaves_jobs_unresolved_and_bytes_untouched(
    path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    ids = await schedule_secret_jobs(path, Keyring({"k1": K1}))
    plain = await schedule_secret_jobs_plain(path)
    digest = _digest_rows(path, ids)
    for keyring in (None, Keyring({"k2": K2})):
        clock = VirtualClock(start=T0 + timedelta(minutes=30))
        j = journal(path, keyring, accept_unsealed=True)
        with caplog.at_level(logging.WARNING, "asyncron"):
            async with AsyncScheduler(clock=clock, store=j) as s:
                assert {u.id for u in j.unresolved} == set(ids)
                assert all("key id 'k1'" in u.reason for u in j.unresolved)
                assert (await s.get_job(plain)) is not None  # unencrypted jobs still load
                await clock.advance(3600)  # ... and keep firing and being saved
        assert _digest_rows(path, ids) == digest
        assert CANARY not in caplog.text
    clock = VirtualClock(start=T0 + timedelta(minutes=30))
    # (the plain job was sealed with k2, the active key, when the k2 keyring saved it)
    j = journal(path, Keyring({"k1": K1, "k2": K2}))
    async with AsyncScheduler(clock=clock, store=j) as s:
        assert j.unresolved == []
        job = await s.get_job(ids[0])
        assert job is not None and job.kwargs == {"value": {"password": CANARY}}


async def schedule_secret_jobs_plain(path: Path) -> str:
    clock = VirtualClock(start=T0)
    # without a keyring the row is written unencrypted and unsealed, as a job saved before
    # encryption was turned on (the sealed rows are kept untouched meanwhile)
    j = journal(path, None)
    async with AsyncScheduler(clock=clock, store=j) as s:
        jid = await s.schedule(persist_jobs.record, trigger=IntervalTrigger(hours=1), args=("p",))
    row = next(r for r in read_records(path) if r["id"] == jid)
    assert row["arguments"] == {"args": ["p"], "kwargs": {}} and "seal" not in row["options"]
    return jid


def _digest_rows(path: Path, ids: list[str]) -> str:
    import sqlite3

    if path.suffix == ".db":
        with sqlite3.connect(path) as conn:
            docs = [
                conn.execute("SELECT doc FROM asyncron_jobs WHERE id=?", (i,)).fetchone()[0]
                for i in ids
            ]
        return hashlib.sha256("".join(docs).encode()).hexdigest()
    rows = {r["id"]: r for r in json.loads(path.read_text())["jobs"]}
    return hashlib.sha256(json.dumps([rows[i] for i in ids]).encode()).hexdigest()


@pytest.mark.asyncio
async def test_rotation_reencrypts_every_row_with_the_active_key(path: Path) -> None:
    ids = await schedule_secret_jobs(path, Keyring({"k1": K1}))
    ring = Keyring({"k1": K1, "k2": K2}, active="k2")
    j = journal(path, ring)
    async with AsyncScheduler(clock=VirtualClock(start=T0), store=j):
        assert await j.rotate_keys() == {"rewritten": len(ids), "unresolved": 0}
    j = journal(path, Keyring({"k2": K2}))  # k1 can now be dropped
    async with AsyncScheduler(clock=VirtualClock(start=T0), store=j) as s:
        assert j.unresolved == []
        assert len(await s.list_jobs()) == len(ids)


def test_tampering_swapping_and_truncation_fail_authentication() -> None:
    ring = Keyring({"k1": K1})
    a = ring.encrypt(b'{"args":[1],"kwargs":{}}', job_id="a", field="arguments")
    b = ring.encrypt(b'{"args":[2],"kwargs":{}}', job_id="b", field="arguments")
    assert ring.decrypt(a, job_id="a", field="arguments") == b'{"args":[1],"kwargs":{}}'
    import base64

    ct = bytearray(base64.b64decode(a["ct"]))
    ct[3] ^= 1
    flipped = {**a, "ct": base64.b64encode(bytes(ct)).decode()}
    cases = [
        (flipped, "a", "arguments", "authentication failed"),
        (b, "a", "arguments", "authentication failed"),  # swapped between jobs
        (a, "a", "result", "authentication failed"),  # moved to another field
        ({**a, "nonce": a["nonce"][:8]}, "a", "arguments", "nonce"),
        ({**a, "kid": "k9"}, "a", "arguments", "key id 'k9' not in keyring"),
    ]
    for env, job_id, field, message in cases:
        with pytest.raises(DecryptionError, match=message):
            ring.decrypt(env, job_id=job_id, field=field)


def test_nonces_never_repeat() -> None:
    ring = Keyring({"k1": K1})
    nonces = {ring.encrypt(b"x", job_id="a", field="f")["nonce"] for _ in range(100_000)}
    assert len(nonces) == 100_000


def test_keyring_validates_keys_and_never_shows_them() -> None:
    from asyncron.errors import InvalidJobError

    with pytest.raises(InvalidJobError, match=r"keys\['k1'\]: expected a 32-byte") as info:
        Keyring({"k1": b"short"})
    assert isinstance(info.value, ValueError)
    with pytest.raises(InvalidJobError, match="'k2' is not in the keyring") as info:
        Keyring({"k1": K1}, active="k2")
    assert isinstance(info.value, ValueError)
    assert K1 not in repr(Keyring({"k1": K1}))


# -- restarts with and without the key (from the persistence conformance audit) -------------------


@pytest.mark.asyncio
async def test_wrong_key_leaves_those_jobs_unresolved_and_others_load(path: Path) -> None:
    k1 = Keyring.generate_key()
    async with AsyncScheduler(clock=VirtualClock(), store=journal(path, Keyring({"k1": k1}))) as s:
        secret = await s.schedule(
            persist_jobs.record, trigger="@hourly", args=("card",), function_name="record"
        )
    async with AsyncScheduler(
        clock=VirtualClock(), store=journal(path, None)
    ) as s:  # no keyring: the encrypted job is kept aside, a plain one is added
        plain = await s.schedule(
            persist_jobs.record, trigger="@hourly", args=("public",), function_name="record"
        )
    before = file_bytes(path)
    wrong = journal(path, Keyring({"k9": Keyring.generate_key()}), accept_unsealed=True)
    async with AsyncScheduler(clock=VirtualClock(), store=wrong) as s:
        unresolved = await s.list_jobs(JobStatus.UNRESOLVED)
        ok = await s.get_job(plain)
    assert [u.id for u in unresolved] == [secret]
    assert unresolved[0].error is not None and "k1" in unresolved[0].error
    assert ok is not None and ok.status is JobStatus.PENDING
    if path.suffix == ".json":
        doc_before = json.loads(before)
        doc_after = json.loads(file_bytes(path))
        row = next(r for r in doc_before["jobs"] if r["id"] == secret)
        assert row in doc_after["jobs"]
    async with AsyncScheduler(clock=VirtualClock(), store=journal(path, Keyring({"k1": k1}))) as s:
        back = await s.get_job(secret)
    assert back is not None and back.args == ("card",)


@pytest.mark.asyncio
async def test_encrypted_arguments_round_trip_with_the_right_key(path: Path) -> None:
    ring = Keyring({"k1": Keyring.generate_key()})
    async with AsyncScheduler(clock=VirtualClock(), store=journal(path, ring)) as s:
        jid = await s.schedule(
            persist_jobs.record,
            trigger="@hourly",
            args=(Decimal("9.99"),),
            kwargs={"value": "4111-1111"},
            function_name="record",
        )
    assert b"4111" not in file_bytes(path)
    async with AsyncScheduler(clock=VirtualClock(), store=journal(path, ring)) as s:
        job = await s.get_job(jid)
    assert job is not None and job.args == (Decimal("9.99"),)
    assert job.kwargs == {"value": "4111-1111"}


@pytest.mark.asyncio
async def test_missing_keyring_for_encrypted_jobs_says_what_to_do(path: Path) -> None:
    ring = Keyring({"k1": Keyring.generate_key()})
    async with AsyncScheduler(clock=VirtualClock(), store=journal(path, ring)) as s:
        jid = await s.schedule(
            persist_jobs.record, trigger="@hourly", args=(1,), function_name="record"
        )
    async with AsyncScheduler(clock=VirtualClock(), store=journal(path, None)) as s:
        job = await s.get_job(jid)
    assert job is not None and job.status is JobStatus.UNRESOLVED
    assert job.error is not None and "keyring" in job.error.lower()


@pytest.mark.asyncio
async def test_adding_the_key_later_brings_the_job_back(path: Path) -> None:
    k1 = Keyring.generate_key()
    ring = Keyring({"k1": k1})
    async with AsyncScheduler(clock=VirtualClock(), store=journal(path, ring)) as s:
        jid = await s.schedule(
            persist_jobs.record, trigger="@hourly", args=(1,), function_name="record"
        )
    k2 = Keyring.generate_key()
    async with AsyncScheduler(
        clock=VirtualClock(), store=journal(path, Keyring({"k1": k1, "k2": k2}, active="k2"))
    ) as s:
        job = await s.get_job(jid)
        await s.modify(jid, args=(2,))
    assert job is not None and job.status is JobStatus.PENDING
    async with AsyncScheduler(clock=VirtualClock(), store=journal(path, Keyring({"k2": k2}))) as s:
        again = await s.get_job(jid)
    assert again is not None and again.args == (2,)
