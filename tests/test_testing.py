"""asyncron.testing.VirtualClock: the three ways to move time (advance, advance without waiting
for runs, jump) and what each one fires."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from asyncron import AsyncScheduler, IntervalTrigger
from asyncron.testing import VirtualClock
from helpers import T0

pytestmark = pytest.mark.asyncio


async def test_advance_waits_for_the_runs_that_fired_before_moving_on() -> None:
    clock = VirtualClock()
    seen: list[tuple[str, float]] = []

    async def job() -> None:
        seen.append(("start", clock.time()))
        await asyncio.sleep(0.01)  # real time: the clock waits for it
        seen.append(("end", clock.time()))

    async with AsyncScheduler(clock=clock) as s:
        await s.schedule(job, trigger=IntervalTrigger(seconds=10))
        await clock.advance(25)
    t = T0.timestamp()
    assert seen == [("start", t + 10), ("end", t + 10), ("start", t + 20), ("end", t + 20)]


async def test_advance_without_waiting_for_runs_delivers_fires_to_a_run_still_going() -> None:
    clock = VirtualClock()
    release = asyncio.Event()
    starts: list[float] = []

    async def job() -> None:
        starts.append(clock.time())
        await release.wait()

    async with AsyncScheduler(clock=clock) as s:
        job_id = await s.schedule(job, trigger=IntervalTrigger(seconds=10), overlap="skip")
        await clock.advance(35, wait_for_runs=False)  # fires at 10 (runs), 20 and 30 (skipped)
        assert clock.now() == T0 + timedelta(seconds=35)
        running = await s.get_job(job_id)
        release.set()
        await clock.wait_idle()
        done = await s.get_job(job_id)
    assert starts == [T0.timestamp() + 10]
    assert running is not None and running.skipped_fires == 2 and running.run_count == 0
    assert done is not None and done.run_count == 1


async def test_advance_to_without_waiting_for_runs() -> None:
    clock = VirtualClock()
    release = asyncio.Event()

    async def job() -> None:
        await release.wait()

    async with AsyncScheduler(clock=clock) as s:
        job_id = await s.schedule(job, trigger=IntervalTrigger(seconds=10), max_instances=3)
        await clock.advance_to(T0 + timedelta(seconds=30), wait_for_runs=False)
        assert s.running_runs == 3
        release.set()
        await clock.wait_idle()
        job_after = await s.get_job(job_id)
    assert job_after is not None and job_after.run_count == 3


async def test_jump_moves_time_and_fires_nothing_until_the_next_advance() -> None:
    clock = VirtualClock()
    late: list[float] = []
    async with AsyncScheduler(clock=clock) as s:
        job_id = await s.schedule(
            lambda: late.append(clock.time()), trigger=IntervalTrigger(seconds=10)
        )
        await clock.wait_idle()
        clock.jump(timedelta(seconds=15))  # a blocked loop: the t=10 fire has not happened
        for _ in range(20):
            await asyncio.sleep(0)
        assert clock.now() == T0 + timedelta(seconds=15) and late == []
        await clock.advance(0)  # now it fires, 5 s late
        job = await s.get_job(job_id)
    assert late == [T0.timestamp() + 15]
    assert job is not None and job.run_count == 1 and job.next_run == T0 + timedelta(seconds=20)


@pytest.mark.parametrize("bad", [-1, -0.001, float("nan"), float("inf"), timedelta(seconds=-1)])
async def test_time_never_moves_backwards_or_by_a_non_finite_amount(bad: object) -> None:
    clock = VirtualClock()
    with pytest.raises(ValueError, match="seconds: expected a finite number >= 0"):
        clock.jump(bad)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="seconds: expected a finite number >= 0"):
        await clock.advance(bad)  # type: ignore[arg-type]
    assert clock.now() == T0


@pytest.mark.parametrize("bad", ["10", None, True])
async def test_time_moves_only_by_a_number_or_a_timedelta(bad: object) -> None:
    clock = VirtualClock()
    with pytest.raises(TypeError, match="seconds: expected a number or a timedelta, got"):
        clock.jump(bad)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="seconds: expected a number or a timedelta, got"):
        await clock.advance(bad)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="when: expected a datetime, got str"):
        await clock.advance_to("2026-02-01")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="is before the clock's current time"):
        await clock.advance_to(T0 - timedelta(seconds=1))
    assert clock.now() == T0
