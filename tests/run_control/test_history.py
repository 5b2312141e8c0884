"""Run history, describe() and statistics() (docs/controlling-jobs.md)."""

from __future__ import annotations

import dataclasses
from datetime import timedelta

import pytest

from asyncron import AsyncScheduler, IntervalTrigger, RunRecord, SchedulerStatistics
from asyncron.testing import VirtualClock
from helpers import T0


@pytest.mark.asyncio
async def test_run_history_is_bounded_by_the_history_option() -> None:
    clock = VirtualClock()
    async with AsyncScheduler(clock=clock) as s:
        job_id = await s.schedule(lambda: 1, trigger=IntervalTrigger(seconds=1), history=5)
        await clock.advance(12)
        history = await s.get_run_history(job_id)
    assert len(history) == 5
    assert [r.scheduled_at for r in history] == [T0 + timedelta(seconds=n) for n in range(8, 13)]


@pytest.mark.asyncio
async def test_run_history_default_keeps_20() -> None:
    clock = VirtualClock()
    async with AsyncScheduler(clock=clock) as s:
        job_id = await s.schedule(lambda: 1, trigger=IntervalTrigger(seconds=1))
        await clock.advance(30)
        history = await s.get_run_history(job_id)
    assert len(history) == 20


@pytest.mark.asyncio
async def test_run_record_has_the_documented_fields() -> None:
    clock = VirtualClock()

    def bad() -> None:
        raise KeyError("k")

    async with AsyncScheduler(clock=clock) as s:
        job_id = await s.schedule(bad, trigger=IntervalTrigger(seconds=1))
        await clock.advance(1)
        (rec,) = await s.get_run_history(job_id)
    assert isinstance(rec, RunRecord)
    assert rec.outcome == "failed" and rec.error == "KeyError: 'k'" and rec.result is None
    assert rec.attempt == 1 and rec.duration >= 0 and rec.lateness == 0
    assert rec.started_at <= rec.ended_at
    with pytest.raises(dataclasses.FrozenInstanceError):
        rec.outcome = "x"  # type: ignore[misc]


@pytest.mark.asyncio
async def test_describe_next_fires_stop_at_max_runs_and_trigger_end() -> None:
    clock = VirtualClock()
    async with AsyncScheduler(clock=clock) as s:
        a = await s.schedule(lambda: 1, trigger=IntervalTrigger(minutes=1), max_runs=3)
        b = await s.schedule(
            lambda: 1, trigger=IntervalTrigger(minutes=1, start=T0, end=T0 + timedelta(minutes=4))
        )
        da = await s.describe(a)
        db = await s.describe(b)
    assert len(da.next_fires) == 3
    assert db.next_fires[-1] == T0 + timedelta(minutes=4) and len(db.next_fires) <= 5


@pytest.mark.asyncio
async def test_describe_shows_only_the_last_ten_runs() -> None:
    clock = VirtualClock()
    async with AsyncScheduler(clock=clock) as s:
        job_id = await s.schedule(lambda: 1, trigger=IntervalTrigger(seconds=1))
        await clock.advance(15)
        desc = await s.describe(job_id)
    assert len(desc.last_runs) == 10
    assert desc.last_runs[-1].scheduled_at == T0 + timedelta(seconds=15)


@pytest.mark.asyncio
async def test_statistics_is_an_immutable_snapshot() -> None:
    clock = VirtualClock()
    async with AsyncScheduler(clock=clock) as s:
        await s.schedule(lambda: 1, trigger=IntervalTrigger(seconds=1))
        before = s.statistics()
        await clock.advance(5)
        after = s.statistics()
    assert isinstance(before, SchedulerStatistics)
    assert before.fires == 0 and after.fires == 5
    with pytest.raises(dataclasses.FrozenInstanceError):
        after.fires = 0  # type: ignore[misc]
    with pytest.raises(TypeError):
        after.jobs_by_status["pending"] = 9  # type: ignore[index]


@pytest.mark.asyncio
async def test_statistics_counts_jobs_by_status_and_failures() -> None:
    clock = VirtualClock()

    def bad() -> None:
        raise ValueError("x")

    async with AsyncScheduler(clock=clock) as s:
        await s.schedule(lambda: 1)
        await s.schedule(bad)
        paused = await s.schedule(lambda: 1, trigger=IntervalTrigger(hours=1))
        await s.pause(paused)
        await clock.advance(1)
        stats = s.statistics()
    assert stats.jobs == 3
    assert stats.jobs_by_status["completed"] == 1
    assert stats.jobs_by_status["failed"] == 1
    assert stats.jobs_by_status["paused"] == 1
    assert stats.failures == 1 and stats.fires == 2


@pytest.mark.asyncio
async def test_statistics_lateness_percentiles() -> None:
    clock = VirtualClock()
    async with AsyncScheduler(clock=clock) as s:
        assert s.statistics().lateness_p50 is None
        await s.schedule(lambda: 1, trigger=IntervalTrigger(seconds=1))
        await clock.advance(10)
        stats = s.statistics()
    assert stats.lateness_p50 == 0 and stats.lateness_max == 0
