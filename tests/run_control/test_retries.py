"""Retries: attempts, capped delays, retry_on, events, counters (docs/controlling-jobs.md)."""

from __future__ import annotations

import asyncio
import itertools

import pytest

from asyncron import AsyncScheduler, IntervalTrigger, JobStatus
from asyncron.events import Event, RunFailed, RunRetried, RunSucceeded
from asyncron.testing import VirtualClock


@pytest.mark.asyncio
async def test_exhausted_retries_fail_the_job_and_history_keeps_every_attempt() -> None:
    clock = VirtualClock(autojump=True)
    calls = 0

    async def always_fails() -> None:
        nonlocal calls
        calls += 1
        raise ConnectionError(f"try {calls}")

    async with AsyncScheduler(clock=clock) as s:
        job_id = await s.schedule(always_fails, retries=2, retry_delay=1, max_retry_delay=2)
        job = await s.wait_job(job_id, timeout=5)
        history = await s.get_run_history(job_id)
    await clock.aclose()
    assert calls == 3
    assert job.status is JobStatus.FAILED and job.error == "ConnectionError: try 3"
    assert [r.outcome for r in history] == ["retried", "retried", "failed"]
    assert [r.attempt for r in history] == [1, 2, 3]
    assert all(r.scheduled_at == history[0].scheduled_at for r in history)


@pytest.mark.asyncio
async def test_retry_delay_is_capped_by_max_retry_delay() -> None:
    clock = VirtualClock(autojump=True)
    starts: list[float] = []

    def fails() -> None:
        starts.append(clock.time())
        raise OSError("down")

    async with AsyncScheduler(clock=clock) as s:
        await s.wait_job(
            await s.schedule(fails, retries=5, retry_delay=4, max_retry_delay=5), timeout=5
        )
    await clock.aclose()
    gaps = [b - a for a, b in itertools.pairwise(starts)]
    assert len(gaps) == 5
    assert all(0 < g <= 5 for g in gaps)
    assert 2 <= gaps[0] <= 4  # attempt 1 waits in [d/2, d] with d = retry_delay


@pytest.mark.asyncio
async def test_retry_on_accepts_a_tuple_of_exception_classes() -> None:
    clock = VirtualClock(autojump=True)
    calls = 0

    def fails() -> None:
        nonlocal calls
        calls += 1
        raise TimeoutError("slow")

    async with AsyncScheduler(clock=clock) as s:
        job = await s.wait_job(
            await s.schedule(fails, retries=2, retry_delay=1, retry_on=(KeyError, TimeoutError)),
            timeout=5,
        )
    await clock.aclose()
    assert calls == 3 and job.status is JobStatus.FAILED


@pytest.mark.asyncio
async def test_retry_event_carries_the_delay_and_error() -> None:
    clock = VirtualClock(autojump=True)
    seen: list[Event] = []
    calls = 0

    def flaky() -> str:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise ConnectionError("first")
        return "ok"

    async with AsyncScheduler(clock=clock) as s:
        s.subscribe(seen.append, types=(RunRetried, RunSucceeded, RunFailed))
        await s.wait_job(await s.schedule(flaky, retries=1, retry_delay=2), timeout=5)
        await asyncio.sleep(0)
    await clock.aclose()
    retried = [e for e in seen if isinstance(e, RunRetried)]
    assert len(retried) == 1 and 1 <= retried[0].delay <= 2
    assert retried[0].error == "ConnectionError: first"
    assert not any(isinstance(e, RunFailed) for e in seen)  # a retried attempt is not a failure
    assert any(isinstance(e, RunSucceeded) and e.attempt == 2 for e in seen)


@pytest.mark.asyncio
async def test_recurring_job_with_retries_keeps_its_schedule_after_exhausting_them() -> None:
    clock = VirtualClock()
    calls = 0

    def fails() -> None:
        nonlocal calls
        calls += 1
        raise OSError("no")

    async with AsyncScheduler(clock=clock) as s:
        job_id = await s.schedule(
            fails, trigger=IntervalTrigger(minutes=1), retries=1, retry_delay=1
        )
        await clock.advance(150)
        job = await s.get_job(job_id)
    assert calls == 4  # two fires, each tried twice
    assert job is not None and job.status is JobStatus.PENDING and job.error == "OSError: no"


@pytest.mark.asyncio
async def test_failure_counter_counts_failed_runs_not_retried_attempts() -> None:
    clock = VirtualClock(autojump=True)

    def fails() -> None:
        raise OSError("no")

    async with AsyncScheduler(clock=clock) as s:
        await s.wait_job(await s.schedule(fails, retries=2, retry_delay=1), timeout=5)
        stats = s.statistics()
    await clock.aclose()
    assert stats.failures == 1 and stats.retries == 2
