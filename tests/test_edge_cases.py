"""Edge cases found in review: each test pins a bug that was fixed, so it stays fixed."""

from __future__ import annotations

import asyncio
import gc
from datetime import timedelta

import pytest

from asyncron import (
    AsyncScheduler,
    DependencyScheduler,
    IntervalTrigger,
    JobStatus,
    Scheduler,
)
from asyncron.errors import DeadlockError, JobStateError
from asyncron.testing import VirtualClock

# -- max_runs ------------------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_run_now_then_scheduled_fire_does_not_exceed_max_runs() -> None:
    clock = VirtualClock()
    calls: list[int] = []
    async with AsyncScheduler(clock=clock) as s:
        job_id = await s.schedule(
            lambda: calls.append(1), trigger=clock.now() + timedelta(seconds=60), max_runs=1
        )
        await s.run_now(job_id)
        await clock.advance(120)
        job = await s.get_job(job_id)
    assert job is not None
    assert job.run_count == 1 and len(calls) == 1


@pytest.mark.asyncio
async def test_buffered_fires_respect_max_runs() -> None:
    clock = VirtualClock()
    release = asyncio.Event()
    runs = 0

    async def job() -> None:
        nonlocal runs
        runs += 1
        if runs == 1:
            await release.wait()

    async with AsyncScheduler(clock=clock) as s:
        job_id = await s.schedule(
            job, trigger=IntervalTrigger(seconds=10), max_runs=2, overlap="buffer_all"
        )
        for _ in range(5):
            await clock.advance(10, wait_for_runs=False)
        release.set()
        await clock.wait_idle()
        snap = await s.get_job(job_id)
    assert snap is not None
    assert runs == 2 and snap.run_count == 2
    assert snap.status is JobStatus.COMPLETED


# -- state transitions ---------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_resume_of_cancelled_paused_job_keeps_it_cancelled() -> None:
    clock = VirtualClock()
    async with AsyncScheduler(clock=clock) as s:
        job_id = await s.schedule(lambda: 1, trigger=IntervalTrigger(seconds=10))
        await s.pause(job_id)
        assert await s.cancel(job_id)
        resumed = await s.resume(job_id)
        job = await s.get_job(job_id)
    assert job is not None
    assert job.status is JobStatus.CANCELLED
    assert resumed is False


@pytest.mark.asyncio
async def test_run_now_waiting_for_running_run_refuses_after_cancel() -> None:
    gate = asyncio.Event()
    calls = 0

    async def job() -> None:
        nonlocal calls
        calls += 1
        await gate.wait()

    async with AsyncScheduler() as s:
        job_id = await s.schedule(job, trigger=IntervalTrigger(hours=1))
        first = asyncio.ensure_future(s.run_now(job_id))
        await asyncio.sleep(0.01)
        second = asyncio.ensure_future(s.run_now(job_id))  # waits for the first run
        await asyncio.sleep(0.01)
        await s.cancel(job_id)
        gate.set()
        results = await asyncio.gather(first, second, return_exceptions=True)
    assert calls == 1
    assert isinstance(results[1], JobStateError)


@pytest.mark.asyncio
async def test_run_now_of_job_cancelled_mid_run_raises_a_regular_error() -> None:
    async def job() -> None:
        await asyncio.sleep(5)

    async with AsyncScheduler() as s:
        job_id = await s.schedule(job, trigger=IntervalTrigger(hours=1))
        caller = asyncio.ensure_future(s.run_now(job_id))
        await asyncio.sleep(0.01)
        await s.cancel(job_id)
        exc: BaseException | None = None
        try:
            await caller
        except BaseException as e:
            exc = e
    assert exc is not None
    assert not isinstance(exc, asyncio.CancelledError)
    assert not caller.cancelled()


@pytest.mark.asyncio
async def test_cancelled_pending_retry_is_recorded_as_cancelled() -> None:
    clock = VirtualClock()

    def bad() -> None:
        raise ValueError("boom")

    async with AsyncScheduler(clock=clock) as s:
        job_id = await s.schedule(bad, retries=3, retry_delay=100)
        await clock.advance(1)
        await s.cancel(job_id)
        await clock.advance(0)
        history = await s.get_run_history(job_id)
    assert [r.outcome for r in history] == ["retried", "cancelled"]


# -- stop ----------------------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_stop_does_not_leave_buffered_runs_running() -> None:
    clock = VirtualClock()
    release = asyncio.Event()
    runs = 0

    async def job() -> None:
        nonlocal runs
        runs += 1
        if runs == 1:
            await release.wait()
        else:
            await asyncio.sleep(5)

    s = AsyncScheduler(clock=clock, stop_timeout=2)
    await s.start()
    try:
        job_id = await s.schedule(job, trigger=IntervalTrigger(seconds=10), overlap="buffer_one")
        await clock.advance(10, wait_for_runs=False)
        await clock.advance(10, wait_for_runs=False)  # buffered behind the first run
        asyncio.get_running_loop().call_later(0.02, release.set)
        await s.stop()
        snap = await s.get_job(job_id)
        assert s.running_runs == 0
        assert snap is not None and snap.status is not JobStatus.RUNNING
        assert runs == 1
    finally:
        release.set()
        await s.stop(timeout=0)  # a failed assert must not leave the 5 s run behind


# -- options: timeout, retries, jitter, max_instances --------------------------------------------


@pytest.mark.asyncio
async def test_timeout_applies_to_awaitable_returned_by_sync_callable() -> None:
    async with AsyncScheduler(stop_timeout=0.1) as s:
        job_id = await s.schedule(lambda: asyncio.sleep(0.5), timeout=0.05)
        job = await s.wait_job(job_id, timeout=5)
    assert job.status is JobStatus.FAILED
    assert job.error is not None and job.error.startswith("RunTimeoutError")


@pytest.mark.asyncio
async def test_jitter_does_not_cause_misfires() -> None:
    clock = VirtualClock()
    async with AsyncScheduler(clock=clock) as s:
        job_id = await s.schedule(
            lambda: 1, trigger=IntervalTrigger(seconds=60), jitter=10, misfire_grace_time=1
        )
        await clock.advance(600)
        job = await s.get_job(job_id)
        misfires = s.statistics().misfires
    assert job is not None
    assert job.run_count >= 9
    assert misfires == 0


@pytest.mark.asyncio
async def test_max_instances_with_the_default_policy_means_allow_all() -> None:
    # docs (JobOptions): max_instances=N > 1 with the default policy means allow_all, as in
    # APScheduler: N concurrent runs, further fires skipped. A refusal is a failure.
    clock = VirtualClock()
    gate = asyncio.Event()
    active = peak = 0

    async def job() -> None:
        nonlocal active, peak
        active += 1
        peak = max(peak, active)
        try:
            await gate.wait()
        finally:
            active -= 1

    async with AsyncScheduler(clock=clock) as s:
        job_id = await s.schedule(job, trigger=IntervalTrigger(seconds=10), max_instances=2)
        snapshot = await s.get_job(job_id)
        assert snapshot is not None and snapshot.options is not None
        assert snapshot.options.overlap == "allow_all" and snapshot.options.max_instances == 2
        await clock.advance(10, wait_for_runs=False)
        await clock.advance(10, wait_for_runs=False)
        assert active == 2
        await clock.advance(
            10, wait_for_runs=False
        )  # a third concurrent run would exceed the limit: skipped
        assert active == 2 and s.statistics().skipped_fires == 1
        gate.set()
        await clock.wait_idle()
        job_after = await s.get_job(job_id)
    assert peak == 2
    assert job_after is not None and job_after.run_count == 2


# -- waiters and deadlocks -----------------------------------------------------------------------


@pytest.mark.asyncio
async def test_wait_job_timeout_does_not_leak_waiters() -> None:
    clock = VirtualClock()
    async with AsyncScheduler(clock=clock) as s:
        job_id = await s.schedule(lambda: 1, trigger=IntervalTrigger(seconds=60))

        async def time_out(n: int) -> None:
            for _ in range(n):
                with pytest.raises(TimeoutError):
                    await s.wait_job(job_id, timeout=0.0001)

        def live_futures() -> int:
            gc.collect()
            return sum(1 for o in gc.get_objects() if isinstance(o, asyncio.Future))

        await time_out(5)
        before = live_futures()
        await time_out(200)
        # each wait_job() parks one future on the job; a timed-out one must be taken back
        assert live_futures() - before < 20


@pytest.mark.asyncio
async def test_run_now_of_own_job_from_inside_is_refused() -> None:
    holder: dict[str, str] = {}
    nested = 0

    async def job() -> object:
        nonlocal nested
        nested += 1
        if nested == 1:
            return await asyncio.wait_for(s.run_now(holder["id"]), 1)
        return "inner"

    async with AsyncScheduler(stop_timeout=0.1) as s:
        holder["id"] = await s.schedule(job, trigger=IntervalTrigger(hours=1))
        with pytest.raises(DeadlockError):
            await s.run_now(holder["id"])


# -- dependencies --------------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_resume_releases_held_dependent_fire_and_job_completes() -> None:
    clock = VirtualClock()
    async with AsyncScheduler(clock=clock) as s:
        a = await s.schedule(lambda: "a", trigger=clock.now() + timedelta(seconds=100))
        d = await s.schedule(
            lambda: "d", trigger=IntervalTrigger(seconds=60), depends_on=[a], max_runs=2
        )
        await clock.advance(61)  # d's fire at 60 s is held, waiting for a
        await s.pause(d)
        await clock.advance(40)  # a succeeds at 100 s while d is paused
        await s.resume(d)
        await clock.advance(0)
        after_resume = await s.get_job(d)
        await clock.advance(300)
        final = await s.get_job(d)
    assert after_resume is not None and after_resume.run_count == 1
    assert final is not None and final.run_count == 2
    assert final.status is JobStatus.COMPLETED


@pytest.mark.asyncio
async def test_dependent_of_never_run_completed_upstream_does_not_hang() -> None:
    clock = VirtualClock()
    async with AsyncScheduler(clock=clock) as s:
        up = await s.schedule(
            lambda: "a",
            trigger=IntervalTrigger(seconds=60, end=clock.now() - timedelta(days=1)),
        )
        upstream = await s.get_job(up)
        assert upstream is not None and upstream.status is JobStatus.COMPLETED
        assert upstream.run_count == 0
        d = await s.schedule(lambda: "d", depends_on=[up])
        await clock.advance(10)
        job = await s.get_job(d)
    assert job is not None and job.status.is_final


# -- events --------------------------------------------------------------------------------------


def test_decorator_at_import_time_with_subscriber() -> None:
    s = AsyncScheduler()
    s.subscribe(lambda event: None)

    @s.every(seconds=5)
    def tick() -> None:
        pass

    assert len(s.list_jobs_nowait()) == 1


# -- threaded facade: run_pending -----------------------------------------------------------------


def test_run_pending_skips_paused_tasks() -> None:
    clock = VirtualClock()
    sch = Scheduler(clock=clock)
    hits: list[int] = []
    try:
        task_id = sch.register_task("t", "* * * * *", lambda: hits.append(1))
        assert sch.pause(task_id)
        sch.advance(120)
        ran = sch.run_pending()
        assert sch.resume(task_id)
        ran_after_resume = sch.run_pending()
    finally:
        sch.stop()
    assert ran == 0 and ran_after_resume == 1 and hits == [1]


def test_run_pending_respects_dependencies() -> None:
    clock = VirtualClock()
    sch = DependencyScheduler(clock=clock)
    order: list[str] = []
    try:
        a = sch.schedule(order.append, args=("a",), trigger=IntervalTrigger(hours=1))
        sch.schedule_with_deps(order.append, [a], args=("b",))
        sch.run_pending()
    finally:
        sch.stop()
    assert order == []
