from __future__ import annotations

import asyncio
import time

import pytest

from asyncron import AsyncScheduler, IntervalTrigger, JobStatus
from asyncron.errors import DependencyCycleError, InvalidJobError, JobLookupError
from asyncron.testing import VirtualClock

pytestmark = pytest.mark.asyncio

HOUR = IntervalTrigger(hours=1)


async def test_dependent_waits_then_starts_when_last_dependency_completes() -> None:
    order: list[str] = []
    gate_a = asyncio.Event()
    gate_b = asyncio.Event()

    async def a() -> None:
        await gate_a.wait()
        order.append("a")

    async def b() -> None:
        await gate_b.wait()
        order.append("b")

    async with AsyncScheduler() as s:
        ja = await s.schedule(a)
        jb = await s.schedule(b)
        jc = await s.schedule(order.append, args=("c",), depends_on=[ja, jb])
        await asyncio.sleep(0.02)
        assert order == []
        gate_a.set()
        await s.wait_job(ja, timeout=5)
        await asyncio.sleep(0.01)
        snap = await s.get_job(jc)
        assert snap is not None and snap.status is JobStatus.PENDING and snap.run_count == 0
        gate_b.set()
        done = await s.wait_job(jc, timeout=5)
    assert order == ["a", "b", "c"]
    assert done.status is JobStatus.COMPLETED and done.depends_on == (ja, jb)


async def test_release_latency_from_dependency_end_to_dependent_start_is_sub_millisecond() -> None:
    ended: list[float] = []
    started: list[float] = []

    async def upstream() -> None:
        await asyncio.sleep(0.01)
        ended.append(time.perf_counter())

    async def downstream() -> None:
        started.append(time.perf_counter())

    async with AsyncScheduler() as s:
        up = await s.schedule(upstream)
        down = await s.schedule(downstream, depends_on=[up])
        await s.wait_job(down, timeout=5)
    assert started[0] - ended[0] < 0.005  # typically ~50 µs; generous bound for CI


async def test_diamond_graph_runs_each_job_once_in_dependency_order() -> None:
    order: list[str] = []

    async def step(name: str) -> str:
        order.append(name)
        return name

    async with AsyncScheduler() as s:
        top = await s.schedule(step, args=("top",))
        left = await s.schedule(step, args=("left",), depends_on=[top])
        right = await s.schedule(step, args=("right",), depends_on=[top])
        bottom = await s.schedule(step, args=("bottom",), depends_on=[left, right])
        job = await s.wait_job(bottom, timeout=5)
    assert job.status is JobStatus.COMPLETED
    assert order[0] == "top" and order[-1] == "bottom" and sorted(order[1:3]) == ["left", "right"]
    assert len(order) == 4


async def test_failed_dependency_skips_dependents_transitively_naming_it() -> None:
    async def broken() -> None:
        raise OSError("source offline")

    async with AsyncScheduler() as s:
        src = await s.schedule(broken, name="extract")
        mid = await s.schedule(lambda: "t", name="transform", depends_on=[src])
        end = await s.schedule(lambda: "l", name="load", depends_on=[mid])
        mid_job = await s.wait_job(mid, timeout=5)
        end_job = await s.wait_job(end, timeout=5)
    assert mid_job.status is JobStatus.SKIPPED and mid_job.run_count == 0
    assert mid_job.skipped_because is not None
    assert "'extract'" in mid_job.skipped_because and "source offline" in mid_job.skipped_because
    assert end_job.status is JobStatus.SKIPPED
    assert end_job.skipped_because is not None and "'transform'" in end_job.skipped_because
    assert "'extract'" in end_job.skipped_because


async def test_rerunning_the_failed_dependency_releases_its_dependents() -> None:
    attempts = 0

    def flaky() -> str:
        nonlocal attempts
        attempts += 1
        if attempts == 1:
            raise RuntimeError("first try fails")
        return "ok"

    async with AsyncScheduler() as s:
        up = await s.schedule(flaky)
        down = await s.schedule(lambda: "downstream ran", depends_on=[up])
        assert (await s.wait_job(down, timeout=5)).status is JobStatus.SKIPPED
        assert await s.run_now(up) == "ok"
        for _ in range(50):
            job = await s.get_job(down)
            assert job is not None
            if job.status is JobStatus.COMPLETED:
                break
            await asyncio.sleep(0.01)
    assert job.result == "downstream ran" and job.run_count == 1


async def test_cancelled_dependency_skips_dependents() -> None:
    clock = VirtualClock()
    async with AsyncScheduler(clock=clock) as s:
        up = await s.schedule(lambda: 1, trigger=HOUR)
        down = await s.schedule(lambda: 2, depends_on=[up])
        await clock.advance(1)
        await s.cancel(up)
        job = await s.wait_job(down, timeout=5)
    assert job.status is JobStatus.SKIPPED
    assert job.skipped_because is not None and "was cancelled" in job.skipped_because


async def test_dependent_added_after_dependency_completed_runs_at_once() -> None:
    async with AsyncScheduler() as s:
        up = await s.schedule(lambda: 1)
        await s.wait_job(up, timeout=5)
        down = await s.schedule(lambda: 2, depends_on=[up])
        job = await s.wait_job(down, timeout=5)
    assert job.status is JobStatus.COMPLETED


async def test_recurring_dependent_waits_for_a_fresh_dependency_run_each_time() -> None:
    clock = VirtualClock()
    log: list[str] = []
    async with AsyncScheduler(clock=clock) as s:
        # upstream every 10 min, downstream every 5 min: downstream can run only after each
        # upstream run, so it runs at most once per upstream run
        up = await s.schedule(log.append, args=("up",), trigger=IntervalTrigger(minutes=10))
        down = await s.schedule(
            log.append, args=("down",), trigger=IntervalTrigger(minutes=5), depends_on=[up]
        )
        await clock.advance(60 * 60)
        job = await s.get_job(down)
    assert log.count("up") == 6
    assert log.count("down") == 6
    # every "down" directly follows an "up"
    for i, item in enumerate(log):
        if item == "down":
            assert log[i - 1] == "up"
    assert job is not None and job.skipped_fires >= 5


async def test_cycle_is_rejected_naming_it_and_nothing_changes() -> None:
    async with AsyncScheduler(clock=VirtualClock()) as s:
        a = await s.schedule(lambda: 1, job_id="a", trigger=HOUR)
        b = await s.schedule(lambda: 1, job_id="b", trigger=HOUR, depends_on=[a])
        c = await s.schedule(lambda: 1, job_id="c", trigger=HOUR, depends_on=[b])
        with pytest.raises(DependencyCycleError, match=r"^dependency cycle: a -> c -> b -> a$"):
            await s.add_dependency(a, [c])
        with pytest.raises(DependencyCycleError, match="a -> a"):
            await s.add_dependency(a, [a])
        job_a = await s.get_job(a)
    assert job_a is not None and job_a.depends_on == ()


async def test_unknown_dependency_is_a_lookup_error_and_adds_nothing() -> None:
    async with AsyncScheduler(clock=VirtualClock()) as s:
        with pytest.raises(JobLookupError, match="no job with id 'ghost'"):
            await s.schedule(lambda: 1, depends_on=["ghost"])
        assert await s.list_jobs() == []
        with pytest.raises(JobLookupError):
            await s.add_dependency("ghost", [])
        with pytest.raises(InvalidJobError, match="depends_on: expected a list of job ids"):
            await s.schedule(lambda: 1, depends_on="abc")


async def test_chain_of_2000_jobs_completes_in_order() -> None:
    order: list[int] = []

    async def step(i: int) -> None:
        order.append(i)

    async with AsyncScheduler() as s:
        prev = await s.schedule(step, args=(0,))
        for i in range(1, 2000):
            prev = await s.schedule(step, args=(i,), depends_on=[prev])
        await s.wait_job(prev, timeout=20)
    assert order == list(range(2000))


async def test_wide_fan_out_and_fan_in() -> None:
    hits = 0

    async def leaf() -> None:
        nonlocal hits
        hits += 1

    async with AsyncScheduler() as s:
        root = await s.schedule(leaf)
        leaves = [await s.schedule(leaf, depends_on=[root]) for _ in range(2000)]
        sink = await s.schedule(leaf, depends_on=leaves)
        job = await s.wait_job(sink, timeout=20)
    assert job.status is JobStatus.COMPLETED and hits == 2002
