"""asyncron.testing.VirtualClock as docs/testing.md shows it: advance, advance_to, autojump,
start and now, and the classic Scheduler on a virtual clock."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

import pytest

from asyncron import AsyncScheduler, CronTrigger, IntervalTrigger, OnceTrigger, Scheduler
from asyncron.testing import VirtualClock


@pytest.mark.asyncio
async def test_virtual_clock_advance_runs_a_week_of_interval_fires() -> None:
    clock = VirtualClock()
    fired: list[datetime] = []
    async with AsyncScheduler(clock=clock) as s:
        await s.schedule(lambda: fired.append(clock.now()), trigger=IntervalTrigger(minutes=5))
        await clock.advance(timedelta(days=7))
    assert len(fired) == 7 * 24 * 12
    assert fired[0] == datetime(2026, 1, 1, 0, 5, tzinfo=UTC)
    assert all(b - a == timedelta(minutes=5) for a, b in itertools.pairwise(fired))


@pytest.mark.asyncio
async def test_virtual_clock_advance_accepts_seconds() -> None:
    clock = VirtualClock()
    fired: list[int] = []
    async with AsyncScheduler(clock=clock) as s:
        await s.schedule(lambda: fired.append(1), trigger=IntervalTrigger(seconds=10))
        await clock.advance(60)
    assert len(fired) == 6


@pytest.mark.asyncio
async def test_virtual_clock_advance_to() -> None:
    clock = VirtualClock(datetime(2026, 1, 1, tzinfo=UTC))
    fired: list[datetime] = []
    async with AsyncScheduler(clock=clock) as s:
        await s.schedule(
            lambda: fired.append(clock.now()),
            trigger=CronTrigger.from_expression("0 9 * * *", timezone="UTC"),
        )
        await clock.advance_to(datetime(2026, 1, 3, 12, 0, tzinfo=UTC))
    assert fired == [datetime(2026, 1, d, 9, tzinfo=UTC) for d in (1, 2, 3)]


@pytest.mark.asyncio
async def test_virtual_clock_autojump_with_wait_job() -> None:
    clock = VirtualClock(autojump=True)
    async with AsyncScheduler(clock=clock) as s:
        job_id = await s.schedule(
            lambda: None,
            trigger=CronTrigger.from_expression("0 9 * * 1-5", timezone="UTC"),
            max_runs=10,
        )
        job = await s.wait_job(job_id)
    assert job.run_count == 10
    assert clock.now() == datetime(2026, 1, 14, 9, 0, tzinfo=UTC)
    await clock.aclose()


@pytest.mark.asyncio
async def test_virtual_clock_refuses_to_go_backwards() -> None:
    clock = VirtualClock()
    with pytest.raises(ValueError):
        await clock.advance(-1)
    with pytest.raises(ValueError):
        await clock.advance_to(datetime(2020, 1, 1, tzinfo=UTC))


def test_virtual_clock_start_and_now() -> None:
    clock = VirtualClock(datetime(2030, 5, 5, tzinfo=UTC))
    assert clock.now() == datetime(2030, 5, 5, tzinfo=UTC)
    assert clock.now().tzinfo is not None
    assert clock.time() == datetime(2030, 5, 5, tzinfo=UTC).timestamp()


@pytest.mark.asyncio
async def test_virtual_clock_once_trigger_at_a_virtual_instant() -> None:
    clock = VirtualClock()
    async with AsyncScheduler(clock=clock) as s:
        when = clock.now() + timedelta(hours=3)
        job_id = await s.schedule(lambda: clock.now(), trigger=OnceTrigger(when))
        await clock.advance(timedelta(hours=2))
        job = await s.get_job(job_id)
        assert job is not None and job.run_count == 0
        await clock.advance(timedelta(hours=1))
        job = await s.get_job(job_id)
        assert job is not None and job.result == when


def test_sync_scheduler_accepts_a_virtual_clock() -> None:
    clock = VirtualClock()
    s = Scheduler(clock=clock)
    try:
        job_id = s.schedule(lambda: None, trigger=IntervalTrigger(hours=1))
        job = s.get_job(job_id)
        assert job is not None and job.next_run == datetime(2026, 1, 1, 1, tzinfo=UTC)
    finally:
        s.stop()
