"""Restart scenarios through the real engine, with a VirtualClock (RELIABILITY B, D3)."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import persist_jobs
import pytest

from asyncron import AsyncScheduler, CronTrigger, IntervalTrigger, JobStatus, current_run
from asyncron.errors import InvalidJobError, StoreError
from asyncron.stores import (
    JsonFileStore,
    MisfirePolicy,
    SQLiteStore,
    StoreJournal,
    StoreLockedError,
)
from asyncron.testing import VirtualClock
from helpers import T0, store_url

pytestmark = pytest.mark.asyncio


@pytest.fixture(params=["json", "sqlite"])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    persist_jobs.CALLS.clear()
    return store_url(request.param, tmp_path)


def engine(url: str | StoreJournal, at: datetime) -> tuple[AsyncScheduler, VirtualClock]:
    clock = VirtualClock(start=at)
    return AsyncScheduler(clock=clock, store=url), clock


async def test_jobs_resume_with_counts_results_and_next_fire(url: str) -> None:
    s, clock = engine(url, T0)
    async with s:
        jid = await s.schedule(
            persist_jobs.arecord, trigger=IntervalTrigger(minutes=1), args=("tick",), max_runs=5
        )
        await clock.advance(180)
    s, clock = engine(url, T0 + timedelta(seconds=200))
    async with s:
        job = await s.get_job(jid)
        assert job is not None
        assert (job.run_count, job.max_runs, job.result) == (3, 5, {"tag": "tick", "n": 3})
        assert job.next_run == T0 + timedelta(minutes=4)
        assert job.args == ("tick",)
        await clock.advance(600)
        final = await s.get_job(jid)
        assert final is not None and final.run_count == 5 and final.status is JobStatus.COMPLETED
    assert len(persist_jobs.CALLS) == 5  # nothing fired twice across the restart


async def test_missed_cron_fires_coalesce_into_one_late_run_by_default(url: str) -> None:
    s, _clock = engine(url, T0)
    async with s:
        jid = await s.schedule(
            persist_jobs.record, trigger=CronTrigger.from_expression("0 * * * *", "UTC"),
            args=("hourly",),
        )  # fmt: skip
    journal = StoreJournal(_store(url))
    s, clock = engine(journal, T0 + timedelta(hours=5, minutes=30))
    async with s:
        await clock.advance(1)
        plan = journal.misfires[jid]
        assert plan.missed == 5 and plan.skipped == 4
        job = await s.get_job(jid)
        assert job is not None and job.run_count == 1
        assert job.next_run == T0 + timedelta(hours=6)


async def test_catch_up_all_runs_each_missed_fire_bounded(tmp_path: Path) -> None:
    persist_jobs.CALLS.clear()
    path = tmp_path / "s.json"
    journal = StoreJournal(JsonFileStore(path), misfire=MisfirePolicy("all", max_count=3))
    s, clock = engine(journal, T0)
    async with s:
        jid = await s.schedule(persist_jobs.record, trigger="0 * * * *", args=("c",))
    journal = StoreJournal(JsonFileStore(path), misfire=MisfirePolicy("all", max_count=3))
    s, clock = engine(journal, T0 + timedelta(hours=10, minutes=1))
    async with s:
        await clock.advance(1)
        for _ in range(20):
            await clock.wait_idle()
        job = await s.get_job(jid)
        assert job is not None and job.run_count == 3
        assert journal.misfires[jid].skipped == 7


async def test_unregistered_function_is_kept_untouched_and_comes_back(url: str) -> None:
    s, _clock = engine(url, T0)
    async with s:
        jid = await s.schedule(
            persist_jobs.record, trigger=IntervalTrigger(hours=1), args=("u",),
            function_name="billing.send_v1",
        )  # fmt: skip
        other = await s.schedule(persist_jobs.record, trigger=IntervalTrigger(hours=1), args=("o",))
    before = await _raw_row(url, jid)
    journal = StoreJournal(_store(url))
    s, clock = engine(journal, T0 + timedelta(minutes=1))
    async with s:
        [unresolved] = journal.unresolved
        assert unresolved.id == jid and "billing.send_v1" in unresolved.reason
        shown = await s.get_job(jid)
        assert shown is not None and shown.status is JobStatus.UNRESOLVED
        assert shown.error is not None and "billing.send_v1" in shown.error
        assert [j.id for j in await s.list_jobs("unresolved")] == [jid]
        assert await s.get_job(other) is not None
        await clock.advance(3600)  # other jobs keep firing and being saved
        assert await _raw_row(url, jid) == before
        assert journal.register_function("billing.send_v1", persist_jobs.record) == 1
        assert journal.unresolved == []
        assert (await s.get_job(jid)) is not None
        await clock.advance(3600)
    assert ("u", None) in persist_jobs.CALLS


async def test_unknown_time_zone_in_store_is_unresolved_not_deleted(url: str) -> None:
    s, _clock = engine(url, T0)
    async with s:
        jid = await s.schedule(persist_jobs.record, trigger="0 3 * * *", args=("tz",))
        other = await s.schedule(persist_jobs.record, trigger=IntervalTrigger(hours=1), args=("o",))
    await _edit_trigger_zone(url, jid, "Mars/Olympus")
    before = await _raw_row(url, jid)
    assert "Mars/Olympus" in before
    s, clock = engine(url, T0)
    async with s:
        [shown] = await s.list_jobs("unresolved")
        assert shown.id == jid and shown.error is not None and "Mars/Olympus" in shown.error
        await clock.advance(2 * 3600)  # the other job fires and is saved twice
        ran = await s.get_job(other)
        assert ran is not None and ran.run_count == 2
    # Read the row back after the store was rewritten: still there, byte for byte.
    assert await _raw_row(url, jid) == before
    assert ("tz", None) not in persist_jobs.CALLS


async def test_lambda_is_refused_at_schedule_time_with_advice(url: str) -> None:
    s, _clock = engine(url, T0)
    async with s:
        with pytest.raises(InvalidJobError, match="register_function"):
            await s.schedule(lambda: None, trigger=60)
        with pytest.raises(InvalidJobError, match=r"kwargs\['s'\]"):
            await s.schedule(persist_jobs.record, trigger=60, args=("x",), kwargs={"s": {1}})
        assert await s.list_jobs() == []


async def test_second_scheduler_on_the_same_file_gets_a_clear_error(url: str) -> None:
    s1, _ = engine(url, T0)
    s2, _ = engine(url, T0)
    async with s1:
        with pytest.raises(StoreLockedError, match="already open in another process"):
            await s2.start()
        assert not s2.running


async def test_failed_run_error_survives_restart(url: str) -> None:
    s, clock = engine(url, T0)
    async with s:
        jid = await s.schedule(persist_jobs.fail, trigger=IntervalTrigger(hours=1), args=("f",))
        await clock.advance(3600)
    s, _clock = engine(url, T0 + timedelta(minutes=61))
    async with s:
        job = await s.get_job(jid)
        assert job is not None and job.error == "ValueError: boom f" and job.failure_count == 1


# -- helpers: edit the stored record as a tamperer would ------------------------------------------


def _store(url: str) -> JsonFileStore | SQLiteStore:
    kind, path = url.split(":///", 1)
    return JsonFileStore(path) if kind == "json" else SQLiteStore(path)


async def _edit_trigger_zone(url: str, job_id: str, zone: str) -> None:
    store = _store(url)
    await store.open()
    row = await store.get_job(job_id)
    assert row is not None
    await store.write_batch([row.evolve(trigger={**row.trigger, "timezone": zone})])
    await store.close()


async def _raw_row(url: str, job_id: str) -> str:
    store = _store(url)
    if isinstance(store, JsonFileStore):
        doc = json.loads(store.path.read_text())
        return json.dumps([r for r in doc["jobs"] if r["id"] == job_id])
    import sqlite3

    assert store.path is not None
    with sqlite3.connect(store.path) as conn:
        row = conn.execute("SELECT doc FROM asyncron_jobs WHERE id=?", (job_id,)).fetchone()
    return str(row[0])


# -- the start gate: an on_crash="abandon" job runs only once its start is on disk ------------

SEEN: list[tuple[str, float | None, float]] = []


def _running_fire_on_disk(url: str, job_id: str) -> float | None:
    """The stored job's open run as the file holds it now (read beside the open store)."""
    kind, path = url.split(":///", 1)  # four slashes: an absolute path
    if kind == "json":
        [doc] = [r for r in json.loads(Path(path).read_text())["jobs"] if r["id"] == job_id]
    else:
        import sqlite3

        with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as conn:
            raw = conn.execute("SELECT doc FROM asyncron_jobs WHERE id=?", (job_id,)).fetchone()
        doc = json.loads(raw[0])
    value = doc.get("running_fire")
    return None if value is None else float(value)


def peek(url: str) -> None:
    run = current_run()
    assert run is not None
    SEEN.append((url, _running_fire_on_disk(url, run.job_id), run.scheduled_at.timestamp()))


async def apeek(url: str) -> None:
    peek(url)


@pytest.mark.parametrize("func", [peek, apeek])
async def test_an_abandon_job_is_called_only_once_its_start_is_written(
    url: str, func: Callable[[str], object]
) -> None:
    SEEN.clear()
    s, clock = engine(url, T0)
    async with s:
        jid = await s.schedule(func, trigger=IntervalTrigger(minutes=1), args=(url,), max_runs=3)
        await clock.advance(180)
        job = await s.get_job(jid)
    assert job is not None and job.run_count == 3 and job.error is None
    fires = [(T0 + timedelta(minutes=m)).timestamp() for m in (1, 2, 3)]
    # each run found its own start on disk when its body began
    assert [(url, fire, fire) for fire in fires] == SEEN


async def test_a_rerun_job_is_not_held_for_its_start(url: str) -> None:
    """on_crash="rerun" may run twice anyway: its start is written behind the run (the fast
    path), so the body runs before the write that records it."""
    SEEN.clear()
    journal = StoreJournal(_store(url))
    s, clock = engine(journal, T0)
    async with s:
        await s.schedule(apeek, trigger=IntervalTrigger(minutes=1), args=(url,), on_crash="rerun")
        await journal.flush()  # the job is on disk, its first start not yet
        await clock.advance(60)
    assert [(url, None, (T0 + timedelta(minutes=1)).timestamp())] == SEEN


class _FailingWrites(JsonFileStore):
    """A JSON store whose writes fail while ``failing`` is set (a full or lost disk)."""

    failing = False

    async def write_batch(self, put: Any, remove: Any = ()) -> None:
        if self.failing:
            raise StoreError(f"{self.description}: No space left on device")
        await super().write_batch(put, remove)


@pytest.mark.parametrize("func", [persist_jobs.record, persist_jobs.arecord])
async def test_a_start_that_cannot_be_written_fails_the_run_without_calling_the_job(
    tmp_path: Path, func: Callable[..., object]
) -> None:
    persist_jobs.CALLS.clear()
    store = _FailingWrites(tmp_path / "s.json")
    journal = StoreJournal(store)
    s, clock = engine(journal, T0)
    async with s:
        jid = await s.schedule(func, trigger=IntervalTrigger(minutes=1), args=("g",))
        await journal.flush()
        store.failing = True
        await clock.advance(60)
        job = await s.get_job(jid)
        assert persist_jobs.CALLS == []  # never called: a crash now would not know it ran
        assert job is not None and job.failure_count == 1 and job.error is not None
        assert job.error.startswith("StoreError: ") and "was not started" in job.error
        assert (T0 + timedelta(minutes=1)).isoformat() in job.error
        assert "No space left on device" in job.error
        store.failing = False  # the disk is back: the next fire runs
        await clock.advance(60)
        job = await s.get_job(jid)
    assert persist_jobs.CALLS == [("g", None)]
    assert job is not None and job.run_count == 2 and job.error is None


async def test_a_gated_sync_run_past_its_timeout_is_abandoned_in_its_thread(url: str) -> None:
    """Behind the gate a sync run is still a sync run: past its timeout it is abandoned in its
    thread (RunTimeoutError), as without a store."""
    persist_jobs.CALLS.clear()
    persist_jobs.RELEASE.clear()
    s, clock = engine(url, T0)
    try:
        async with s:
            jid = await s.schedule(
                persist_jobs.block, trigger=IntervalTrigger(hours=1), args=("t",), timeout=0.05
            )
            await clock.advance(3600)
            job = await s.get_job(jid)
            [record] = await s.get_run_history(jid)
            assert persist_jobs.CALLS == [("t", None)]  # the body did start
            persist_jobs.RELEASE.set()
    finally:
        persist_jobs.RELEASE.set()
    assert record.outcome == "timed_out"
    assert job is not None and job.error is not None and job.error.startswith("RunTimeoutError")
    assert "a sync callable cannot be interrupted, so it was abandoned in its thread" in job.error
