"""The fixtures that asyncron's pytest plugin offers to every project that installs it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from asyncron import AsyncScheduler, CronTrigger, IntervalTrigger
from asyncron.testing import VirtualClock


def test_virtual_clock_fixture_starts_at_the_documented_instant(
    virtual_clock: VirtualClock,
) -> None:
    assert isinstance(virtual_clock, VirtualClock)
    assert virtual_clock.now() == datetime(2026, 1, 1, tzinfo=UTC)
    assert not virtual_clock.autojump


@pytest.mark.asyncio
async def test_virtual_clock_fixture_drives_a_scheduler(virtual_clock: VirtualClock) -> None:
    fired: list[datetime] = []
    async with AsyncScheduler(clock=virtual_clock) as scheduler:
        await scheduler.schedule(
            lambda: fired.append(virtual_clock.now()), trigger=IntervalTrigger(hours=1)
        )
        await virtual_clock.advance(timedelta(days=1))
    assert len(fired) == 24


@pytest.mark.asyncio
async def test_autojump_clock_fixture_needs_no_advancing(autojump_clock: VirtualClock) -> None:
    assert autojump_clock.autojump
    async with AsyncScheduler(clock=autojump_clock) as scheduler:
        trigger = CronTrigger.from_expression("0 2 * * 1-5", timezone="UTC")
        job_id = await scheduler.schedule(lambda: None, trigger=trigger, max_runs=5)
        job = await scheduler.wait_job(job_id)
    assert job.run_count == 5
    assert autojump_clock.now() == datetime(2026, 1, 7, 2, tzinfo=UTC)
