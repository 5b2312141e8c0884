"""Timeouts: the error, the outcome in history and events, retried timeouts, cancellation."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import pytest

from asyncron import AsyncScheduler, IntervalTrigger, JobStatus
from asyncron import errors as E
from asyncron.events import Event, RunFailed
from helpers import SyncGate


@pytest.mark.asyncio
async def test_timeout_failure_is_a_run_timeout_error_and_a_builtin_timeout_error() -> None:
    assert issubclass(E.RunTimeoutError, TimeoutError)
    assert issubclass(E.RunTimeoutError, E.AsyncronError)


@pytest.mark.asyncio
async def test_async_timeout_outcome_is_timed_out_in_history_and_event() -> None:
    seen: list[Event] = []

    async def slow() -> None:
        await asyncio.sleep(5)

    async with AsyncScheduler() as s:
        s.subscribe(seen.append, types=RunFailed)
        job_id = await s.schedule(slow, timeout=0.02)
        job = await s.wait_job(job_id, timeout=2)
        history = await s.get_run_history(job_id)
        await asyncio.sleep(0.01)
    assert job.status is JobStatus.FAILED
    assert history[-1].outcome == "timed_out"
    assert [e.outcome for e in seen if isinstance(e, RunFailed)] == ["timed_out"]


@pytest.mark.asyncio
async def test_timed_out_attempt_is_retried_when_timeouts_are_retried() -> None:
    calls = 0

    async def slow_then_fast() -> str:
        nonlocal calls
        calls += 1
        if calls == 1:
            await asyncio.sleep(5)
        return "fast"

    async with AsyncScheduler() as s:
        job = await s.wait_job(
            await s.schedule(slow_then_fast, timeout=0.02, retries=1, retry_delay=0.01),
            timeout=2,
        )
    assert job.status is JobStatus.COMPLETED and job.result == "fast" and calls == 2


@pytest.mark.asyncio
async def test_sync_timeout_frees_the_job_to_fire_again(
    wait_for: Callable[..., Awaitable[None]],
) -> None:
    gate = SyncGate()
    async with AsyncScheduler(stop_timeout=0.1) as s:
        job_id = await s.schedule(gate, trigger=IntervalTrigger(seconds=0.05), timeout=0.02)
        await wait_for(lambda: gate.calls >= 2)
        history = await s.get_run_history(job_id)
        await s.cancel(job_id)
        gate.release.set()
    assert history[0].outcome == "timed_out"
    assert gate.peak >= 2  # the abandoned thread is still going when the next fire starts


@pytest.mark.asyncio
async def test_cancelling_the_task_that_awaits_run_now_is_not_turned_into_a_timeout() -> None:
    async def slow() -> None:
        await asyncio.sleep(5)

    async with AsyncScheduler() as s:
        job_id = await s.schedule(slow, trigger=IntervalTrigger(hours=1), timeout=1)
        caller = asyncio.ensure_future(s.run_now(job_id))
        await asyncio.sleep(0.01)
        caller.cancel()
        with pytest.raises(asyncio.CancelledError):
            await caller


@pytest.mark.asyncio
async def test_stop_cancels_a_run_with_a_timeout_as_cancelled_not_timed_out() -> None:
    async def slow() -> None:
        await asyncio.sleep(5)

    s = AsyncScheduler(stop_timeout=0.02)
    await s.start()
    job_id = await s.schedule(slow, timeout=3)
    await asyncio.sleep(0.01)
    await s.stop()
    history = await s.get_run_history(job_id)
    assert history[-1].outcome == "cancelled"


@pytest.mark.asyncio
async def test_a_cancelled_sync_run_is_recorded_once_when_its_timeout_passes_later() -> None:
    """A sync run abandoned by ``cancel()`` before its timeout: the timeout, when it comes, finds
    the run already recorded and records nothing more."""
    gate = SyncGate()
    seen: list[Event] = []
    async with AsyncScheduler() as s:
        s.subscribe(seen.append, types=RunFailed)
        job_id = await s.schedule(gate, trigger=IntervalTrigger(hours=1), timeout=0.1)
        waiting = asyncio.ensure_future(s.run_now(job_id))
        assert await asyncio.to_thread(gate.started.wait, 2)
        assert await s.cancel(job_id)
        await asyncio.gather(waiting, return_exceptions=True)
        await asyncio.sleep(0.3)  # past the timeout
        history = await s.get_run_history(job_id)
        stats = s.statistics()
        gate.release.set()
    assert [e.outcome for e in seen if isinstance(e, RunFailed)] == ["abandoned"]
    assert [r.outcome for r in history] == ["abandoned"]
    assert stats.running == 0
