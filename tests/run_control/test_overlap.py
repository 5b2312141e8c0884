"""Overlap policies (skip, buffer_one, buffer_all, allow_all, cancel_other), async and sync jobs
(docs/controlling-jobs.md)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta

import pytest

from asyncron import AsyncScheduler, current_run
from asyncron import errors as E
from asyncron.events import Event, FireSkipped, RunFailed
from asyncron.testing import VirtualClock
from helpers import T0, Gate, SyncGate, every_second


@pytest.mark.parametrize(
    ("overlap", "runs", "skipped"),
    [("skip", 1, 3), ("buffer_one", 2, 2), ("buffer_all", 4, 0), ("allow_all", 4, 0)],
)
@pytest.mark.asyncio
async def test_overlap_policy_for_sync_jobs(
    overlap: str, runs: int, skipped: int, wait_for: Callable[..., Awaitable[None]]
) -> None:
    clock = VirtualClock()
    gate = SyncGate()
    async with AsyncScheduler(clock=clock) as s:
        job_id = await s.schedule(gate, trigger=every_second(), overlap=overlap)
        await clock.advance(1, wait_for_runs=False)
        await asyncio.get_running_loop().run_in_executor(None, gate.started.wait, 2)
        for _ in range(3):
            await clock.advance(1, wait_for_runs=False)
        await s.pause(job_id)
        gate.release.set()
        await wait_for(lambda: gate.calls == runs and gate.active == 0)
        await clock.wait_idle()
        job = await s.get_job(job_id)
    assert job is not None
    assert (job.run_count, job.skipped_fires) == (runs, skipped)
    assert gate.peak == (runs if overlap == "allow_all" else 1)


@pytest.mark.asyncio
async def test_skip_is_the_default_and_counts_in_statistics_and_events() -> None:
    clock = VirtualClock()
    gate = Gate()
    skipped: list[Event] = []
    async with AsyncScheduler(clock=clock) as s:
        s.subscribe(skipped.append, types=FireSkipped)
        job_id = await s.schedule(gate, trigger=every_second())
        job = await s.get_job(job_id)
        assert job is not None and job.options is not None and job.options.overlap == "skip"
        for _ in range(3):
            await clock.advance(1, wait_for_runs=False)
        stats = s.statistics()
        await s.pause(job_id)
        gate.release.set()
        await clock.wait_idle()
        await asyncio.sleep(0)
    assert stats.skipped_fires == 2
    assert len(skipped) == 2
    first = skipped[0]
    assert isinstance(first, FireSkipped) and first.reason == "overlap"
    assert first.job_id == job_id and first.scheduled_at == T0 + timedelta(seconds=2)


@pytest.mark.asyncio
async def test_buffer_one_keeps_one_fire_and_shows_it_buffered() -> None:
    clock = VirtualClock()
    gate = Gate()
    async with AsyncScheduler(clock=clock) as s:
        job_id = await s.schedule(gate, trigger=every_second(), overlap="buffer_one")
        for _ in range(4):
            await clock.advance(1, wait_for_runs=False)
        during = await s.get_job(job_id)
        await s.pause(job_id)
        gate.release.set()
        await clock.wait_idle()
        history = await s.get_run_history(job_id)
    assert during is not None and during.buffered_fires == 1 and during.skipped_fires == 2
    # the buffered run keeps its nominal time: the first fire dropped was t=3, t=2 was kept
    assert [r.scheduled_at for r in history] == [
        T0 + timedelta(seconds=1),
        T0 + timedelta(seconds=2),
    ]


@pytest.mark.asyncio
async def test_buffer_all_is_bounded_by_buffer_limit_and_counts_the_rest() -> None:
    clock = VirtualClock()
    gate = Gate()
    seen: list[Event] = []
    async with AsyncScheduler(clock=clock) as s:
        s.subscribe(seen.append, types=FireSkipped)
        job_id = await s.schedule(
            gate, trigger=every_second(), overlap="buffer_all", buffer_limit=2
        )
        for _ in range(5):
            await clock.advance(1, wait_for_runs=False)
        during = await s.get_job(job_id)
        await s.pause(job_id)
        gate.release.set()
        await clock.wait_idle()
        job = await s.get_job(job_id)
        await asyncio.sleep(0)
    assert during is not None and during.buffered_fires == 2
    assert job is not None and job.run_count == 3 and job.skipped_fires == 2
    assert [e.reason for e in seen if isinstance(e, FireSkipped)] == ["buffer_full"] * 2


@pytest.mark.asyncio
async def test_buffered_runs_run_one_after_another_in_fire_order() -> None:
    clock = VirtualClock()
    gate = Gate()
    order: list[datetime] = []

    async def body() -> None:
        info = current_run()
        assert info is not None
        order.append(info.scheduled_at)
        await gate()

    async with AsyncScheduler(clock=clock) as s:
        job_id = await s.schedule(body, trigger=every_second(), overlap="buffer_all")
        for _ in range(3):
            await clock.advance(1, wait_for_runs=False)
        await s.pause(job_id)
        gate.release.set()
        await clock.wait_idle()
    assert gate.peak == 1
    assert order == [T0 + timedelta(seconds=n) for n in (1, 2, 3)]


@pytest.mark.asyncio
async def test_cancel_other_on_a_sync_job_abandons_the_running_run(
    wait_for: Callable[..., Awaitable[None]],
) -> None:
    clock = VirtualClock()
    gate = SyncGate()
    async with AsyncScheduler(clock=clock, stop_timeout=0.2) as s:
        job_id = await s.schedule(gate, trigger=every_second(), overlap="cancel_other")
        await clock.advance(1, wait_for_runs=False)
        await asyncio.get_running_loop().run_in_executor(None, gate.started.wait, 2)
        gate.started.clear()
        await clock.advance(1, wait_for_runs=False)
        await asyncio.get_running_loop().run_in_executor(None, gate.started.wait, 2)
        history = await s.get_run_history(job_id)
        await s.pause(job_id)
        gate.release.set()
        await wait_for(lambda: gate.active == 0)
        await clock.wait_idle()
    assert gate.calls == 2
    assert history[0].outcome == "abandoned"


@pytest.mark.asyncio
async def test_cancel_other_cancelled_run_is_reported_as_a_cancelled_run_event() -> None:
    clock = VirtualClock()
    gate = Gate()
    failed: list[Event] = []
    async with AsyncScheduler(clock=clock) as s:
        s.subscribe(failed.append, types=RunFailed)
        job_id = await s.schedule(gate, trigger=every_second(), overlap="cancel_other")
        await clock.advance(1, wait_for_runs=False)
        await clock.advance(1, wait_for_runs=False)
        await s.pause(job_id)
        gate.release.set()
        await clock.wait_idle()
        await asyncio.sleep(0)
    assert [e.outcome for e in failed if isinstance(e, RunFailed)] == ["cancelled"]


@pytest.mark.asyncio
async def test_allow_all_max_instances_for_sync_jobs(
    wait_for: Callable[..., Awaitable[None]],
) -> None:
    clock = VirtualClock()
    gate = SyncGate()
    async with AsyncScheduler(clock=clock) as s:
        job_id = await s.schedule(
            gate, trigger=every_second(), overlap="allow_all", max_instances=2
        )
        for _ in range(4):
            await clock.advance(1, wait_for_runs=False)
        await wait_for(lambda: gate.active == 2)
        stats = s.statistics()
        await s.pause(job_id)
        gate.release.set()
        await wait_for(lambda: gate.active == 0)
        await clock.wait_idle()
        job = await s.get_job(job_id)
    assert gate.peak == 2
    assert job is not None and job.run_count == 2 and job.skipped_fires == 2
    assert stats.running == 2


@pytest.mark.asyncio
async def test_max_instances_alone_means_allow_all_like_apscheduler() -> None:
    async with AsyncScheduler(clock=VirtualClock()) as s:
        job = await s.get_job(await s.schedule(lambda: 1, trigger=every_second(), max_instances=3))
    assert job is not None and job.options is not None
    assert (job.options.overlap, job.options.max_instances) == ("allow_all", 3)


@pytest.mark.asyncio
async def test_max_instances_with_buffer_policy_is_refused_naming_both() -> None:
    async with AsyncScheduler(clock=VirtualClock()) as s:
        with pytest.raises(E.InvalidJobError, match=r"max_instances.*buffer_one"):
            await s.schedule(lambda: 1, overlap="buffer_one", max_instances=2)


@pytest.mark.asyncio
async def test_unknown_overlap_policy_lists_the_allowed_ones() -> None:
    async with AsyncScheduler(clock=VirtualClock()) as s:
        with pytest.raises(
            ValueError, match="skip, buffer_one, buffer_all, cancel_other, allow_all"
        ):
            await s.schedule(lambda: 1, overlap="queue")
