"""Inside a running job, cancelling running jobs, and backfill."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from asyncron import AsyncScheduler, CronTrigger, IntervalTrigger, JobStatus, current_run
from asyncron import errors as E
from asyncron.events import Event, JobRemoved, RunFailed
from asyncron.testing import VirtualClock
from helpers import T0, Gate


@pytest.mark.asyncio
async def test_async_job_schedules_another_job_from_inside() -> None:
    clock = VirtualClock()
    seen: list[str] = []
    s = AsyncScheduler(clock=clock)

    async def parent() -> None:
        await s.schedule(seen.append, args=("child",))
        seen.append("parent")

    async with s:
        await s.schedule(parent)
        await clock.advance(1)
        await clock.advance(1)
    assert seen == ["parent", "child"]


@pytest.mark.asyncio
async def test_async_job_cancels_itself_and_its_run_is_not_lost() -> None:
    clock = VirtualClock()
    s = AsyncScheduler(clock=clock)
    ids: list[str] = []

    async def once_then_stop() -> str:
        await s.cancel(ids[0])
        return "last"

    async with s:
        ids.append(await s.schedule(once_then_stop, trigger=IntervalTrigger(minutes=1)))
        await clock.advance(300)
        job = await s.get_job(ids[0])
    assert job is not None and job.status is JobStatus.CANCELLED
    assert job.run_count == 1


@pytest.mark.asyncio
async def test_cancel_a_running_async_job_cancels_its_task() -> None:
    cleaned = asyncio.Event()
    started = asyncio.Event()

    async def work() -> None:
        started.set()
        try:
            await asyncio.sleep(5)
        finally:
            cleaned.set()

    async with AsyncScheduler() as s:
        job_id = await s.schedule(work)
        await asyncio.wait_for(started.wait(), 2)
        assert await s.cancel(job_id) is True
        await asyncio.wait_for(cleaned.wait(), 2)
        history = await s.get_run_history(job_id)
        job = await s.get_job(job_id)
    assert history[-1].outcome == "cancelled"
    assert job is not None and job.status is JobStatus.CANCELLED


@pytest.mark.asyncio
async def test_cancel_a_running_job_emits_job_removed() -> None:
    clock = VirtualClock()
    seen: list[Event] = []
    gate = Gate()
    async with AsyncScheduler(clock=clock) as s:
        s.subscribe(seen.append, types=(JobRemoved, RunFailed))
        job_id = await s.schedule(gate)
        await clock.advance(0, wait_for_runs=False)
        await s.cancel(job_id)
        await clock.wait_idle()
        await asyncio.sleep(0)
    kinds = {type(e) for e in seen}
    assert JobRemoved in kinds


@pytest.mark.asyncio
async def test_backfill_honours_buffer_and_counts_runs() -> None:
    clock = VirtualClock(start=datetime(2026, 3, 10, tzinfo=UTC))
    hits: list[datetime] = []

    def body() -> None:
        info = current_run()
        assert info is not None
        hits.append(info.scheduled_at)

    async with AsyncScheduler(clock=clock) as s:
        job_id = await s.schedule(body, trigger=IntervalTrigger(hours=6, start=T0))
        n = await s.backfill(
            job_id, datetime(2026, 3, 9, tzinfo=UTC), datetime(2026, 3, 9, 18, tzinfo=UTC)
        )
        job = await s.get_job(job_id)
        history = await s.get_run_history(job_id)
    assert n == 3 and [h.hour for h in hits] == [6, 12, 18]
    assert job is not None and job.run_count == 3
    assert [r.scheduled_at.hour for r in history] == [6, 12, 18]


@pytest.mark.asyncio
async def test_backfill_window_reaching_into_the_future_does_not_run_future_fires() -> None:
    clock = VirtualClock(start=datetime(2026, 3, 10, tzinfo=UTC))
    hits: list[datetime] = []

    def body() -> None:
        info = current_run()
        assert info is not None
        hits.append(info.scheduled_at)

    async with AsyncScheduler(clock=clock) as s:
        job_id = await s.schedule(body, trigger=IntervalTrigger(hours=6, start=T0))
        # docs: "the window stops at the current time" (a refusal is a failure)
        n = await s.backfill(
            job_id, datetime(2026, 3, 9, 12, tzinfo=UTC), datetime(2026, 3, 10, 12, tzinfo=UTC)
        )
        assert n == 2
        assert hits == [datetime(2026, 3, 9, 18, tzinfo=UTC), datetime(2026, 3, 10, tzinfo=UTC)]
        await clock.advance(timedelta(hours=12))
    # 03-10 06:00 and 12:00 are regular fires: each runs exactly once, after the backfill
    assert hits[2:] == [datetime(2026, 3, 10, 6, tzinfo=UTC), datetime(2026, 3, 10, 12, tzinfo=UTC)]


@pytest.mark.asyncio
async def test_backfill_end_before_start_is_refused() -> None:
    async with AsyncScheduler(clock=VirtualClock()) as s:
        job_id = await s.schedule(lambda: 1, trigger=IntervalTrigger(hours=1))
        with pytest.raises(E.InvalidJobError, match="before start"):
            await s.backfill(job_id, T0, T0 - timedelta(days=1))


@pytest.mark.asyncio
async def test_backfill_reads_naive_datetimes_as_local_time(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import time as _time

    monkeypatch.setenv("TZ", "America/New_York")
    _time.tzset()
    try:
        clock = VirtualClock(start=datetime(2026, 3, 10, tzinfo=UTC))
        async with AsyncScheduler(clock=clock) as s:
            job_id = await s.schedule(
                lambda: 1, trigger=CronTrigger.from_expression("0 12 * * *", "UTC")
            )
            # 2026-03-09 06:00 to 09:00 New York time is 10:00 to 13:00 UTC: holds 12:00 UTC
            n = await s.backfill(job_id, datetime(2026, 3, 9, 6), datetime(2026, 3, 9, 9))
    finally:
        monkeypatch.undo()
        _time.tzset()
    assert n == 1
