"""pause, resume, reschedule and modify: events, instants, what is refused and left unchanged."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from asyncron import AsyncScheduler, IntervalTrigger, JobStatus
from asyncron import errors as E
from asyncron.events import Event, FireMisfired, JobModified, JobPaused, JobResumed
from asyncron.testing import VirtualClock
from helpers import T0, Gate, every_second


@pytest.mark.asyncio
async def test_pause_and_resume_emit_events() -> None:
    clock = VirtualClock()
    seen: list[Event] = []
    async with AsyncScheduler(clock=clock) as s:
        s.subscribe(seen.append, types=(JobPaused, JobResumed))
        job_id = await s.schedule(lambda: 1, trigger=IntervalTrigger(minutes=1))
        await s.pause(job_id)
        await s.resume(job_id)
        await asyncio.sleep(0)
    assert [type(e) for e in seen] == [JobPaused, JobResumed]
    assert all(isinstance(e, JobPaused | JobResumed) and e.job_id == job_id for e in seen)


@pytest.mark.asyncio
async def test_paused_job_keeps_its_next_run_visible() -> None:
    clock = VirtualClock()
    async with AsyncScheduler(clock=clock) as s:
        job_id = await s.schedule(lambda: 1, trigger=IntervalTrigger(minutes=1))
        await s.pause(job_id)
        job = await s.get_job(job_id)
    assert job is not None and job.status is JobStatus.PAUSED
    assert job.next_run == T0 + timedelta(minutes=1)


@pytest.mark.asyncio
async def test_resume_with_grace_time_skips_fires_missed_too_long_ago() -> None:
    clock = VirtualClock()
    hits: list[float] = []
    seen: list[Event] = []
    async with AsyncScheduler(clock=clock) as s:
        s.subscribe(seen.append, types=FireMisfired)
        job_id = await s.schedule(
            lambda: hits.append(clock.time()),
            trigger=IntervalTrigger(minutes=1),
            misfire_grace_time=30,
        )
        await s.pause(job_id)
        await clock.advance(10 * 60 + 45)
        await s.resume(job_id)
        await clock.advance(0)
        job = await s.get_job(job_id)
        stats = s.statistics()
    assert hits == []
    assert job is not None and job.next_run == T0 + timedelta(minutes=11)
    # the fire held since 00:01 is 9 min 45 s late: a misfire, published like any other
    [misfired] = seen
    assert isinstance(misfired, FireMisfired) and misfired.job_id == job_id
    assert misfired.scheduled_at == T0 + timedelta(minutes=1)
    assert misfired.lateness == pytest.approx(9 * 60 + 45)
    # counted twice: that fire, and the 02:00..10:00 fires coalesced past now
    assert stats.misfires == 2


@pytest.mark.asyncio
async def test_misfire_emits_fire_misfired_with_lateness() -> None:
    clock = VirtualClock()
    seen: list[Event] = []
    async with AsyncScheduler(clock=clock) as s:
        s.subscribe(seen.append, types=FireMisfired)
        job_id = await s.schedule(
            lambda: 1, trigger=IntervalTrigger(seconds=10), misfire_grace_time=1
        )
        clock.jump(15)  # the loop was blocked: the t=10 fire is 5 s late
        await clock.advance(0)
        await asyncio.sleep(0)
    assert len(seen) == 1
    ev = seen[0]
    assert isinstance(ev, FireMisfired) and ev.job_id == job_id
    assert ev.lateness == pytest.approx(5)


@pytest.mark.asyncio
async def test_pause_while_running_lets_the_run_finish_then_status_is_paused() -> None:
    clock = VirtualClock()
    gate = Gate()
    async with AsyncScheduler(clock=clock) as s:
        job_id = await s.schedule(gate, trigger=every_second())
        await clock.advance(1, wait_for_runs=False)
        assert await s.pause(job_id) is True
        during = await s.get_job(job_id)
        gate.release.set()
        await clock.wait_idle()
        after = await s.get_job(job_id)
        await clock.advance(10)
        later = await s.get_job(job_id)
    assert during is not None and during.status is JobStatus.RUNNING
    assert after is not None and after.status is JobStatus.PAUSED and after.run_count == 1
    assert later is not None and later.run_count == 1


@pytest.mark.asyncio
async def test_pause_unknown_job_is_a_lookup_error() -> None:
    async with AsyncScheduler(clock=VirtualClock()) as s:
        with pytest.raises(LookupError):
            await s.pause("nope")
        with pytest.raises(LookupError):
            await s.resume("nope")
        with pytest.raises(LookupError):
            await s.modify("nope", name="x")
        with pytest.raises(LookupError):
            await s.reschedule("nope", IntervalTrigger(minutes=1))
        with pytest.raises(LookupError):
            await s.describe("nope")


@pytest.mark.asyncio
async def test_pause_all_skips_finished_and_already_paused_jobs() -> None:
    clock = VirtualClock()
    async with AsyncScheduler(clock=clock) as s:
        done = await s.schedule(lambda: 1)
        await clock.advance(1)
        a = await s.schedule(lambda: 1, trigger=IntervalTrigger(minutes=1))
        b = await s.schedule(lambda: 1, trigger=IntervalTrigger(minutes=1))
        await s.pause(a)
        assert await s.pause_all() == 1
        assert await s.resume_all() == 2
        statuses = [(await s.get_job(j)).status for j in (done, a, b)]  # type: ignore[union-attr]
    assert statuses == [JobStatus.COMPLETED, JobStatus.PENDING, JobStatus.PENDING]


@pytest.mark.asyncio
async def test_resume_at_the_same_instant_as_a_fire_runs_it_once() -> None:
    clock = VirtualClock()
    hits: list[float] = []
    async with AsyncScheduler(clock=clock) as s:
        job_id = await s.schedule(
            lambda: hits.append(clock.time()), trigger=IntervalTrigger(seconds=10)
        )
        await s.pause(job_id)
        clock.jump(10)  # the fire is due right now
        await s.resume(job_id)
        await clock.advance(0)
        await clock.advance(5)
    assert hits == [T0.timestamp() + 10]


@pytest.mark.asyncio
async def test_reschedule_at_the_same_instant_as_a_due_fire_uses_the_new_trigger() -> None:
    clock = VirtualClock()
    hits: list[float] = []
    async with AsyncScheduler(clock=clock) as s:
        job_id = await s.schedule(
            lambda: hits.append(clock.time()), trigger=IntervalTrigger(seconds=10)
        )
        clock.jump(10)  # the old trigger's fire is due, dispatcher not run yet
        await s.reschedule(job_id, IntervalTrigger(seconds=30))
        await clock.advance(0)
        await clock.advance(30)
    assert hits == [T0.timestamp() + 40]


@pytest.mark.asyncio
async def test_modify_at_the_same_instant_as_a_due_fire_uses_the_new_args() -> None:
    clock = VirtualClock()
    seen: list[str] = []
    async with AsyncScheduler(clock=clock) as s:
        job_id = await s.schedule(seen.append, args=("old",), trigger=IntervalTrigger(seconds=10))
        clock.jump(10)
        await s.modify(job_id, args=("new",))
        await clock.advance(0)
    assert seen == ["new"]


@pytest.mark.asyncio
async def test_modify_unknown_field_names_it_and_leaves_the_job_unchanged() -> None:
    clock = VirtualClock()
    async with AsyncScheduler(clock=clock) as s:
        job_id = await s.schedule(lambda: 1, name="keep", trigger=IntervalTrigger(minutes=1))
        before = await s.get_job(job_id)
        with pytest.raises(E.InvalidJobError, match="colour") as info:
            await s.modify(job_id, name="changed", colour="red")
        after = await s.get_job(job_id)
    assert isinstance(info.value, ValueError)
    assert before == after and after is not None and after.name == "keep"


@pytest.mark.asyncio
async def test_modify_bad_value_leaves_every_field_unchanged() -> None:
    clock = VirtualClock()
    async with AsyncScheduler(clock=clock) as s:
        job_id = await s.schedule(lambda: 1, name="keep", trigger=IntervalTrigger(minutes=1))
        with pytest.raises(E.InvalidJobError, match="retries"):
            await s.modify(job_id, name="changed", retries=-3)
        after = await s.get_job(job_id)
    assert after is not None and after.name == "keep"
    assert after.options is not None and after.options.retries == 0


@pytest.mark.asyncio
async def test_modify_trigger_points_to_reschedule() -> None:
    async with AsyncScheduler(clock=VirtualClock()) as s:
        job_id = await s.schedule(lambda: 1, trigger=IntervalTrigger(minutes=1))
        with pytest.raises(E.InvalidJobError, match="reschedule"):
            await s.modify(job_id, trigger=IntervalTrigger(minutes=5))


@pytest.mark.asyncio
async def test_modify_emits_job_modified_listing_the_changed_fields() -> None:
    clock = VirtualClock()
    seen: list[Event] = []
    async with AsyncScheduler(clock=clock) as s:
        s.subscribe(seen.append, types=JobModified)
        job_id = await s.schedule(lambda: 1, trigger=IntervalTrigger(minutes=1))
        await s.modify(job_id, retries=3, name="x")
        await s.reschedule(job_id, IntervalTrigger(minutes=2))
        await asyncio.sleep(0)
    assert [e.changed for e in seen if isinstance(e, JobModified)] == [
        ("name", "retries"),
        ("trigger",),
    ]


@pytest.mark.asyncio
async def test_modify_during_a_run_applies_to_the_next_run_only() -> None:
    clock = VirtualClock()
    seen: list[str] = []
    release = asyncio.Event()

    async def body(tag: str) -> None:
        seen.append(tag)
        await release.wait()

    async with AsyncScheduler(clock=clock) as s:
        job_id = await s.schedule(body, args=("a",), trigger=every_second(), overlap="buffer_one")
        await clock.advance(1, wait_for_runs=False)
        await s.modify(job_id, args=("b",))
        release.set()
        await clock.wait_idle()
        await clock.advance(1)
    assert seen[:2] == ["a", "b"]


@pytest.mark.asyncio
async def test_reschedule_a_completed_job_brings_it_back() -> None:
    clock = VirtualClock()
    async with AsyncScheduler(clock=clock) as s:
        job_id = await s.schedule(lambda: 1)
        await clock.advance(1)
        job = await s.reschedule(job_id, IntervalTrigger(minutes=1))
        await clock.advance(120)
        after = await s.get_job(job_id)
    assert job.status is JobStatus.PENDING
    assert after is not None and after.run_count == 3


@pytest.mark.asyncio
async def test_reschedule_a_cancelled_job_is_refused() -> None:
    async with AsyncScheduler(clock=VirtualClock()) as s:
        job_id = await s.schedule(lambda: 1, trigger=IntervalTrigger(minutes=1))
        await s.cancel(job_id)
        with pytest.raises(E.JobStateError, match="cancelled"):
            await s.reschedule(job_id, IntervalTrigger(minutes=2))
