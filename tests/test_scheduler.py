"""AsyncScheduler's public surface: the classic API as coroutines, context manager, stop, wait_job."""

from __future__ import annotations

import asyncio
import inspect

import pytest

from asyncron import AsyncScheduler, IntervalTrigger, JobStatus, Scheduler
from asyncron import errors as E
from asyncron.events import SchedulerStarted, SchedulerStopped
from helpers import WAIT, signature_params


@pytest.mark.asyncio
async def test_async_scheduler_context_manager_and_basic_operations() -> None:
    async with AsyncScheduler() as s:
        job_id = await s.schedule(lambda: "hi")
        assert isinstance(job_id, str)
        job = await s.wait_job(job_id)
        assert job.status is JobStatus.COMPLETED and job.result == "hi"
        assert (await s.get_job(job_id)) is not None
        assert await s.get_job("missing") is None
        assert [j.id for j in await s.list_jobs()] == [job_id]
        assert [j.id for j in await s.list_jobs(JobStatus.COMPLETED)] == [job_id]
        assert await s.cancel(job_id) is False


@pytest.mark.asyncio
async def test_async_scheduler_signature_matches_classic() -> None:
    params = signature_params(AsyncScheduler.schedule)[:6]
    assert params == signature_params(Scheduler.schedule)


@pytest.mark.asyncio
async def test_async_scheduler_methods_are_coroutines() -> None:
    for name in (
        "schedule",
        "cancel",
        "get_job",
        "list_jobs",
        "run_now",
        "wait_job",
        "start",
        "stop",
    ):
        assert inspect.iscoroutinefunction(getattr(AsyncScheduler, name)), name


@pytest.mark.asyncio
async def test_async_run_now_returns_and_reraises() -> None:
    async with AsyncScheduler() as s:
        ok = await s.schedule(lambda: 3, trigger=IntervalTrigger(hours=1))
        bad = await s.schedule(lambda: 1 / 0, trigger=IntervalTrigger(hours=1))
        assert await s.run_now(ok) == 3
        with pytest.raises(ZeroDivisionError):
            await s.run_now(bad)
        with pytest.raises(LookupError):
            await s.run_now("missing")


@pytest.mark.asyncio
async def test_async_stop_is_idempotent() -> None:
    s = AsyncScheduler()
    seen: list[str] = []
    s.subscribe(lambda e: seen.append(type(e).__name__), types=(SchedulerStarted, SchedulerStopped))
    await s.stop()
    assert not s.running
    async with s:
        assert s.running
        assert await s.run_now(await s.schedule(lambda: 7, trigger=IntervalTrigger(hours=1))) == 7
    assert not s.running
    await s.stop()
    await s.stop()
    assert not s.running
    await asyncio.sleep(0)
    # One start, one stop: the extra stop() calls did nothing.
    assert seen == ["SchedulerStarted", "SchedulerStopped"]


@pytest.mark.asyncio
async def test_async_cancel_running_async_job() -> None:
    async with AsyncScheduler() as s:
        started = asyncio.Event()

        async def long() -> None:
            started.set()
            await asyncio.sleep(10)

        job_id = await s.schedule(long)
        await asyncio.wait_for(started.wait(), WAIT)
        assert await s.cancel(job_id) is True
        job = await s.wait_job(job_id, timeout=WAIT)
        assert job.status is JobStatus.CANCELLED


@pytest.mark.asyncio
async def test_async_wait_job_timeout() -> None:
    async with AsyncScheduler() as s:
        job_id = await s.schedule(print, trigger=IntervalTrigger(hours=1))
        with pytest.raises(TimeoutError):
            await s.wait_job(job_id, timeout=0.05)


@pytest.mark.asyncio
async def test_async_scheduler_with_dependencies() -> None:
    order: list[str] = []
    async with AsyncScheduler() as s:
        a = await s.schedule(lambda: order.append("a"))
        b = await s.schedule(lambda: order.append("b"), depends_on=[a])
        await s.wait_job(b)
    assert order == ["a", "b"]


@pytest.mark.asyncio
async def test_async_wait_job_ends_when_the_scheduler_stops() -> None:
    async with AsyncScheduler() as s:
        job_id = await s.schedule(print, trigger=IntervalTrigger(hours=1))
        waiter = asyncio.create_task(s.wait_job(job_id))
        await asyncio.sleep(0.01)
    await asyncio.sleep(0.05)
    done = waiter.done()
    if not done:
        waiter.cancel()
        with pytest.raises(asyncio.CancelledError):
            await waiter
    assert done
    assert isinstance(waiter.exception(), E.SchedulerStateError)
