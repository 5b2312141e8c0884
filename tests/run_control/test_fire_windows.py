"""Jitter, trigger start/end windows and exhausted triggers, as the engine runs them."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from asyncron import (
    AsyncScheduler,
    CronTrigger,
    IntervalTrigger,
    JobStatus,
    OnceTrigger,
    current_run,
)
from asyncron import errors as E
from asyncron.testing import VirtualClock
from helpers import T0


@pytest.mark.asyncio
async def test_jitter_keeps_the_nominal_time_in_current_run() -> None:
    clock = VirtualClock()
    seen: list[tuple[datetime, float]] = []

    def body() -> None:
        info = current_run()
        assert info is not None
        seen.append((info.scheduled_at, clock.time()))

    async with AsyncScheduler(clock=clock) as s:
        await s.schedule(body, trigger=IntervalTrigger(minutes=1), jitter=10)
        await clock.advance(5 * 60 + 11)
    assert len(seen) == 5
    for nominal, started in seen:
        assert nominal.second == 0
        assert 0 <= started - nominal.timestamp() <= 10


@pytest.mark.asyncio
async def test_negative_jitter_is_refused() -> None:
    async with AsyncScheduler(clock=VirtualClock()) as s:
        with pytest.raises(E.InvalidJobError, match="jitter"):
            await s.schedule(lambda: 1, jitter=-1)


@pytest.mark.asyncio
async def test_interval_job_with_end_completes_after_its_last_fire() -> None:
    clock = VirtualClock()
    async with AsyncScheduler(clock=clock) as s:
        job_id = await s.schedule(
            lambda: 1,
            trigger=IntervalTrigger(
                minutes=1, start=T0 + timedelta(minutes=1), end=T0 + timedelta(minutes=3)
            ),
        )
        await clock.advance(10 * 60)
        job = await s.get_job(job_id)
    assert job is not None and job.status is JobStatus.COMPLETED
    assert job.run_count == 3 and job.next_run is None  # 00:01, 00:02, 00:03 (end inclusive)


@pytest.mark.asyncio
async def test_interval_job_scheduled_at_its_start_fires_at_start() -> None:
    clock = VirtualClock()
    hits: list[datetime] = []
    async with AsyncScheduler(clock=clock) as s:
        await s.schedule(
            lambda: hits.append(clock.now()),
            trigger=IntervalTrigger(minutes=1, start=T0, end=T0 + timedelta(minutes=2)),
        )
        await clock.advance(300)
    assert hits == [T0, T0 + timedelta(minutes=1), T0 + timedelta(minutes=2)]


@pytest.mark.asyncio
async def test_cron_job_with_start_and_end_runs_only_inside_the_window() -> None:
    clock = VirtualClock()
    hits: list[datetime] = []

    def body() -> None:
        hits.append(clock.now())

    trigger = CronTrigger.from_expression(
        "0 * * * *", "UTC", start=T0 + timedelta(hours=2), end=T0 + timedelta(hours=4)
    )
    async with AsyncScheduler(clock=clock) as s:
        job_id = await s.schedule(body, trigger=trigger)
        await clock.advance(timedelta(hours=8))
        job = await s.get_job(job_id)
    assert [h.hour for h in hits] == [2, 3, 4]
    assert job is not None and job.status is JobStatus.COMPLETED


@pytest.mark.asyncio
async def test_once_trigger_job_ends_completed_or_failed() -> None:
    clock = VirtualClock()

    def bad() -> None:
        raise ValueError("x")

    async with AsyncScheduler(clock=clock) as s:
        ok = await s.schedule(lambda: 1, trigger=OnceTrigger(T0 + timedelta(minutes=1)))
        ko = await s.schedule(bad, trigger=OnceTrigger(T0 + timedelta(minutes=1)))
        await clock.advance(120)
        a, b = await s.get_job(ok), await s.get_job(ko)
    assert a is not None and a.status is JobStatus.COMPLETED
    assert b is not None and b.status is JobStatus.FAILED and b.error == "ValueError: x"


@pytest.mark.asyncio
async def test_trigger_whose_window_is_already_over_completes_without_running() -> None:
    clock = VirtualClock(start=T0 + timedelta(days=1))
    ran: list[int] = []
    async with AsyncScheduler(clock=clock) as s:
        job_id = await s.schedule(
            lambda: ran.append(1),
            trigger=IntervalTrigger(minutes=1, start=T0, end=T0 + timedelta(hours=1)),
        )
        await clock.advance(60)
        job = await s.get_job(job_id)
    assert ran == []
    assert job is not None and job.status.is_final and job.next_run is None
