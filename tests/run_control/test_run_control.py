from __future__ import annotations

import asyncio
import itertools
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from asyncron import AsyncScheduler, CronTrigger, IntervalTrigger, JobStatus
from asyncron.errors import InvalidJobError, RunTimeoutError
from asyncron.events import (
    Event,
    FireSkipped,
    JobAdded,
    JobPaused,
    RunFailed,
    RunRetried,
    RunStarted,
    RunSucceeded,
    SchedulerStopped,
)
from asyncron.testing import VirtualClock
from helpers import T0

pytestmark = pytest.mark.asyncio


class Gate:
    """An async job that blocks until released; counts concurrency."""

    def __init__(self) -> None:
        self.release = asyncio.Event()
        self.active = 0
        self.peak = 0
        self.starts: list[float] = []

    async def __call__(self, clock: VirtualClock) -> None:
        self.starts.append(clock.time())
        self.active += 1
        self.peak = max(self.peak, self.active)
        try:
            await self.release.wait()
        finally:
            self.active -= 1


@pytest.mark.parametrize(
    ("overlap", "runs", "skipped", "peak"),
    [
        ("skip", 1, 3, 1),
        ("buffer_one", 2, 2, 1),
        ("buffer_all", 4, 0, 1),
        ("allow_all", 4, 0, 4),
    ],
)
async def test_overlap_policies_count_and_run_as_documented(
    overlap: str, runs: int, skipped: int, peak: int
) -> None:
    clock = VirtualClock()
    gate = Gate()
    async with AsyncScheduler(clock=clock) as s:
        job_id = await s.schedule(
            gate,
            args=(clock,),
            trigger=IntervalTrigger(seconds=1, start=T0 + timedelta(seconds=1)),
            max_runs=None,
            overlap=overlap,
        )
        for _ in range(4):  # fires at t=1..4 while the first run is still going
            await clock.advance(1, wait_for_runs=False)
        await s.pause(job_id)
        gate.release.set()
        await clock.wait_idle()
        job = await s.get_job(job_id)
    assert job is not None
    assert (job.run_count, job.skipped_fires, gate.peak) == (runs, skipped, peak)


async def test_allow_all_respects_max_instances() -> None:
    clock = VirtualClock()
    gate = Gate()
    async with AsyncScheduler(clock=clock) as s:
        job_id = await s.schedule(
            gate,
            args=(clock,),
            trigger=IntervalTrigger(seconds=1),
            overlap="allow_all",
            max_instances=2,
        )
        for _ in range(4):
            await clock.advance(1, wait_for_runs=False)
        await s.pause(job_id)
        gate.release.set()
        await clock.wait_idle()
        job = await s.get_job(job_id)
    assert gate.peak == 2 and job is not None and job.skipped_fires == 2


async def test_cancel_other_cancels_the_running_run_then_starts() -> None:
    clock = VirtualClock()
    gate = Gate()
    async with AsyncScheduler(clock=clock) as s:
        job_id = await s.schedule(
            gate, args=(clock,), trigger=IntervalTrigger(seconds=1), overlap="cancel_other"
        )
        await clock.advance(1, wait_for_runs=False)
        await clock.advance(1, wait_for_runs=False)
        history = await s.get_run_history(job_id)
        await s.pause(job_id)
        gate.release.set()
        await clock.wait_idle()
        job = await s.get_job(job_id)
    assert gate.peak == 1
    assert history[0].outcome == "cancelled"
    assert job is not None and job.run_count == 2 and job.error is None


async def test_failed_run_is_retried_with_backoff_and_history_keeps_every_attempt() -> None:
    clock = VirtualClock(autojump=True)
    attempts: list[float] = []

    def flaky() -> str:
        attempts.append(clock.time())
        if len(attempts) < 3:
            raise ConnectionError(f"attempt {len(attempts)}")
        return "ok"

    async with AsyncScheduler(clock=clock) as s:
        job_id = await s.schedule(flaky, retries=3, retry_delay=10, max_retry_delay=15)
        job = await s.wait_job(job_id, timeout=10)
        history = await s.get_run_history(job_id)
        stats = s.statistics()
    await clock.aclose()
    assert job.status is JobStatus.COMPLETED and job.result == "ok" and job.run_count == 1
    assert [r.outcome for r in history] == ["retried", "retried", "succeeded"]
    assert [r.attempt for r in history] == [1, 2, 3]
    assert history[0].error == "ConnectionError: attempt 1"
    gaps = [b - a for a, b in itertools.pairwise(attempts)]
    assert 5 <= gaps[0] <= 10 and 7.5 <= gaps[1] <= 15  # full jitter within [cap/2, cap]
    assert stats.retries == 2


async def test_only_configured_exceptions_are_retried() -> None:
    clock = VirtualClock(autojump=True)
    calls = 0

    def bad() -> None:
        nonlocal calls
        calls += 1
        raise KeyError("not retried")

    async with AsyncScheduler(clock=clock) as s:
        job = await s.wait_job(
            await s.schedule(bad, retries=5, retry_on=ConnectionError), timeout=10
        )
    await clock.aclose()
    assert calls == 1 and job.status is JobStatus.FAILED


async def test_async_run_exceeding_timeout_is_cancelled_and_fails_distinctly() -> None:
    cleaned = asyncio.Event()

    async def slow() -> None:
        try:
            await asyncio.sleep(10)
        finally:
            cleaned.set()

    async with AsyncScheduler() as s:
        job = await s.wait_job(await s.schedule(slow, timeout=0.05), timeout=5)
    assert cleaned.is_set()
    assert job.status is JobStatus.FAILED
    assert job.error is not None and job.error.startswith("RunTimeoutError")
    assert "cancelled" in job.error


async def test_sync_run_exceeding_timeout_is_abandoned_and_flagged() -> None:
    release = asyncio.Event()
    import threading

    done = threading.Event()

    def stuck() -> str:
        done.wait(5)
        return "late"

    async with AsyncScheduler(stop_timeout=0.1) as s:
        job_id = await s.schedule(stuck, timeout=0.05)
        job = await s.wait_job(job_id, timeout=5)
        history = await s.get_run_history(job_id)
        done.set()
    release.set()
    assert job.status is JobStatus.FAILED
    assert job.error is not None and "abandoned" in job.error
    assert history[-1].outcome == "timed_out"


async def test_run_now_of_a_timed_out_job_raises_run_timeout_error() -> None:
    async def slow() -> None:
        await asyncio.sleep(10)

    async with AsyncScheduler() as s:
        job_id = await s.schedule(slow, trigger=IntervalTrigger(hours=1), timeout=0.02)
        with pytest.raises(RunTimeoutError):
            await s.run_now(job_id)


async def test_timeout_does_not_swallow_scheduler_stop_cancellation() -> None:
    async def slow() -> None:
        await asyncio.sleep(10)

    s = AsyncScheduler(stop_timeout=0.05)
    await s.start()
    job_id = await s.schedule(slow, timeout=5)
    await asyncio.sleep(0.01)
    await s.stop()
    job = await s.get_job(job_id)
    assert job is not None and job.error is not None
    assert job.error.startswith("CancelledError")


async def test_jitter_delays_each_fire_within_bound_but_keeps_nominal_schedule() -> None:
    clock = VirtualClock()
    starts: list[float] = []
    async with AsyncScheduler(clock=clock) as s:
        job_id = await s.schedule(
            lambda: starts.append(clock.time()), trigger=IntervalTrigger(minutes=1), jitter=5
        )
        await clock.advance(10 * 60 + 10)
        history = await s.get_run_history(job_id)
    assert len(starts) == 10
    for rec in history:
        assert 0 <= rec.lateness <= 5
        assert rec.scheduled_at.second == 0


async def test_misfire_grace_time_skips_fires_that_are_too_late() -> None:
    clock = VirtualClock()
    hits: list[float] = []
    async with AsyncScheduler(clock=clock) as s:
        job_id = await s.schedule(
            lambda: hits.append(clock.time()),
            trigger=IntervalTrigger(seconds=10),
            misfire_grace_time=2,
        )
        clock.jump(15)  # the loop was blocked: the t=10 fire is 5 s late
        await clock.advance(0)
        job = await s.get_job(job_id)
        await clock.advance(5)  # t=20 fire is on time
    assert len(hits) == 1
    assert job is not None and s.statistics().misfires == 1


async def test_pause_holds_fires_and_resume_coalesces_missed_ones() -> None:
    clock = VirtualClock()
    hits: list[float] = []
    async with AsyncScheduler(clock=clock) as s:
        job_id = await s.schedule(
            lambda: hits.append(clock.time()), trigger=IntervalTrigger(minutes=1)
        )
        await clock.advance(60)
        assert await s.pause(job_id) is True
        assert await s.pause(job_id) is False
        paused = await s.get_job(job_id)
        await clock.advance(600)
        assert len(hits) == 1
        assert await s.resume(job_id) is True
        await clock.advance(0)
        resumed = await s.get_job(job_id)
    assert paused is not None and paused.status is JobStatus.PAUSED
    assert len(hits) == 2  # ten missed fires ran once
    assert resumed is not None and resumed.status is JobStatus.PENDING


async def test_pause_all_and_resume_all() -> None:
    clock = VirtualClock()
    async with AsyncScheduler(clock=clock) as s:
        ids = [await s.schedule(lambda: 1, trigger=IntervalTrigger(minutes=1)) for _ in range(3)]
        assert await s.pause_all() == 3
        await clock.advance(300)
        assert all(j.run_count == 0 for j in await s.list_jobs())
        assert await s.resume_all() == 3
        await clock.advance(0)
        assert [j.run_count for j in await s.list_jobs()] == [1, 1, 1]
        assert len(ids) == 3


async def test_pause_and_fire_due_at_the_same_instant_is_atomic() -> None:
    clock = VirtualClock()
    hits: list[float] = []
    async with AsyncScheduler(clock=clock) as s:
        job_id = await s.schedule(lambda: hits.append(1), trigger=IntervalTrigger(seconds=10))
        clock.jump(10)  # the fire is due now, but the dispatcher has not run yet
        await s.pause(job_id)
        await clock.advance(0)
    assert hits == []


async def test_reschedule_replaces_the_trigger_from_now() -> None:
    clock = VirtualClock()
    async with AsyncScheduler(clock=clock) as s:
        job_id = await s.schedule(lambda: 1, trigger=IntervalTrigger(hours=1))
        job = await s.reschedule(job_id, CronTrigger.from_expression("*/5 * * * *", timezone="UTC"))
        assert job.next_run == datetime(2026, 1, 1, 0, 5, tzinfo=UTC)
        await clock.advance(15 * 60)
        after = await s.get_job(job_id)
    assert after is not None and after.run_count == 3


async def test_modify_changes_args_and_options_and_rejects_unknown_fields() -> None:
    clock = VirtualClock()
    seen: list[int] = []
    async with AsyncScheduler(clock=clock) as s:
        job_id = await s.schedule(seen.append, args=(1,), trigger=IntervalTrigger(seconds=10))
        await clock.advance(10)
        job = await s.modify(job_id, args=(2,), name="renamed", retries=2)
        await clock.advance(10)
        with pytest.raises(InvalidJobError, match="unknown job option"):
            await s.modify(job_id, colour="red")
        with pytest.raises(InvalidJobError, match="overlap: unknown policy 'sometimes'"):
            await s.modify(job_id, overlap="sometimes")
        unchanged = await s.get_job(job_id)
    assert seen == [1, 2]
    assert job.name == "renamed" and job.options is not None and job.options.retries == 2
    assert unchanged is not None and unchanged.options is not None
    assert unchanged.options.overlap == "skip"


async def test_max_runs_lowered_by_modify_completes_the_job() -> None:
    clock = VirtualClock()
    async with AsyncScheduler(clock=clock) as s:
        job_id = await s.schedule(lambda: 1, trigger=IntervalTrigger(seconds=1))
        await clock.advance(3)
        await s.modify(job_id, max_runs=3)
        job = await s.get_job(job_id)
    assert job is not None and job.status is JobStatus.COMPLETED


async def test_backfill_runs_past_fires_in_order_with_their_nominal_times() -> None:
    clock = VirtualClock(start=datetime(2026, 3, 10, tzinfo=UTC))
    seen: list[str] = []

    def record() -> None:
        from asyncron import current_run

        info = current_run()
        assert info is not None
        seen.append(info.scheduled_at.strftime("%d %H:%M"))

    async with AsyncScheduler(clock=clock) as s:
        job_id = await s.schedule(
            record, trigger=CronTrigger.from_expression("0 9 * * *", timezone="UTC")
        )
        n = await s.backfill(
            job_id, datetime(2026, 3, 6, tzinfo=UTC), datetime(2026, 3, 9, 12, tzinfo=UTC)
        )
        with pytest.raises(InvalidJobError, match="more than 2 fires"):
            await s.backfill(
                job_id, datetime(2026, 3, 1, tzinfo=UTC), datetime(2026, 3, 9, tzinfo=UTC), limit=2
            )
    assert n == 4
    assert seen == ["06 09:00", "07 09:00", "08 09:00", "09 09:00"]


async def test_describe_shows_next_ten_fires_and_last_runs() -> None:
    clock = VirtualClock()
    async with AsyncScheduler(clock=clock) as s:
        job_id = await s.schedule(lambda: 1, trigger=IntervalTrigger(minutes=5))
        await clock.advance(15 * 60)
        desc = await s.describe(job_id)
    assert len(desc.next_fires) == 10
    assert desc.next_fires[0] == datetime(2026, 1, 1, 0, 20, tzinfo=UTC)
    assert [r.outcome for r in desc.last_runs] == ["succeeded"] * 3
    assert desc.job.id == job_id


async def test_subscribe_receives_typed_events_in_order() -> None:
    clock = VirtualClock()
    events: list[Event] = []

    async def bad() -> None:
        raise ValueError("nope")

    async with AsyncScheduler(clock=clock) as s:
        sub = s.subscribe(events.append)
        ok = await s.schedule(lambda: 7, name="ok")
        await s.schedule(bad, name="bad")
        await clock.advance(1)
        await s.pause(ok)
        await sub.aclose()
    kinds = [type(e).__name__ for e in events]
    assert kinds[:2] == ["JobAdded", "JobAdded"]
    assert "RunStarted" in kinds and "RunSucceeded" in kinds and "RunFailed" in kinds
    succeeded = next(e for e in events if isinstance(e, RunSucceeded))
    failed = next(e for e in events if isinstance(e, RunFailed))
    assert succeeded.job_name == "ok" and succeeded.result == 7
    assert failed.error == "ValueError: nope" and failed.outcome == "failed"
    assert isinstance(events[-1], JobPaused | RunSucceeded | RunFailed)


async def test_subscribe_filters_by_type_and_one_shot() -> None:
    clock = VirtualClock()
    added: list[Event] = []
    first_start: list[Event] = []
    async with AsyncScheduler(clock=clock) as s:
        s.subscribe(added.append, types=JobAdded)
        s.subscribe(first_start.append, types=[RunStarted], one_shot=True)
        await s.schedule(lambda: 1, trigger=IntervalTrigger(seconds=1))
        await clock.advance(3)
        await asyncio.sleep(0)
    assert len(added) == 1 and len(first_start) == 1


async def test_stop_waits_for_a_one_shot_sync_subscriber_like_any_other() -> None:
    """A one-shot subscription leaves the hub when its event arrives, before its callback has
    run (in a thread, for a sync one): stop() still waits for that callback."""
    clock = VirtualClock()
    seen: list[Event] = []

    def slow(event: Event) -> None:
        time.sleep(0.2)
        seen.append(event)

    async with AsyncScheduler(clock=clock) as s:
        s.subscribe(slow, types=[RunStarted], one_shot=True)
        await s.schedule(lambda: 1, trigger=IntervalTrigger(seconds=1))
        await clock.advance(2)
    assert [type(e) for e in seen] == [RunStarted]


async def test_events_async_iterator_ends_when_scheduler_stops() -> None:
    clock = VirtualClock()
    got: list[Event] = []
    s = AsyncScheduler(clock=clock)
    await s.start()

    async def consume() -> None:
        async for event in s.events():
            got.append(event)

    consumer = asyncio.ensure_future(consume())
    await asyncio.sleep(0)
    await s.schedule(lambda: 1)
    await clock.advance(1)
    await s.stop()
    await asyncio.wait_for(consumer, 5)
    assert isinstance(got[0], JobAdded) and isinstance(got[-1], SchedulerStopped)


async def test_slow_subscriber_never_blocks_dispatch_and_drops_are_counted() -> None:
    clock = VirtualClock()
    release = asyncio.Event()

    async def slow(event: Event) -> None:
        await release.wait()

    async with AsyncScheduler(clock=clock) as s:
        sub = s.subscribe(slow, buffer=5)
        job_id = await s.schedule(lambda: 1, trigger=IntervalTrigger(seconds=1))
        t0 = time.perf_counter()
        await clock.advance(50)
        elapsed = time.perf_counter() - t0
        job = await s.get_job(job_id)
        release.set()
        stats = s.statistics()
        await sub.aclose()
    assert job is not None and job.run_count == 50
    assert sub.dropped > 0 and stats.events_dropped == sub.dropped
    assert elapsed < 2.0


async def test_retry_events_and_fire_skipped_events() -> None:
    clock = VirtualClock(autojump=True)
    events: list[Event] = []
    calls = 0

    def flaky() -> None:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise ConnectionError("once")

    async with AsyncScheduler(clock=clock) as s:
        s.subscribe(events.append, types=(RunRetried, FireSkipped))
        await s.wait_job(await s.schedule(flaky, retries=1, retry_delay=1), timeout=5)
        await asyncio.sleep(0)
    await clock.aclose()
    assert any(isinstance(e, RunRetried) and e.attempt == 1 for e in events)


async def test_cancel_running_sync_run_is_abandoned_and_says_so(
    caplog: pytest.LogCaptureFixture,
) -> None:
    import logging
    import threading

    started = threading.Event()
    finish = threading.Event()

    def work() -> None:
        started.set()
        finish.wait(5)

    caplog.set_level(logging.INFO, logger="asyncron")
    async with AsyncScheduler(stop_timeout=0.1) as s:
        job_id = await s.schedule(work)
        await asyncio.get_running_loop().run_in_executor(None, started.wait, 5)
        assert await s.cancel(job_id)
        history = await s.get_run_history(job_id)
        finish.set()
    assert history[-1].outcome == "abandoned"
    assert any("abandoned" in r.getMessage() for r in caplog.records)


async def test_bad_option_values_name_the_option() -> None:
    async with AsyncScheduler(clock=VirtualClock()) as s:
        with pytest.raises(InvalidJobError, match="timeout: expected a number of seconds > 0"):
            await s.schedule(lambda: 1, timeout=0)
        with pytest.raises(InvalidJobError, match="retries: expected an int >= 0, got -1"):
            await s.schedule(lambda: 1, retries=-1)
        with pytest.raises(InvalidJobError, match="retry_on: expected an exception class"):
            await s.schedule(lambda: 1, retry_on="ValueError")
        assert await s.list_jobs() == []


async def test_scheduler_wide_job_defaults_apply_and_can_be_overridden() -> None:
    async with AsyncScheduler(
        clock=VirtualClock(), job_defaults={"retries": 2, "overlap": "buffer_one"}
    ) as s:
        a = await s.get_job(await s.schedule(lambda: 1, trigger=IntervalTrigger(hours=1)))
        b = await s.get_job(
            await s.schedule(lambda: 1, trigger=IntervalTrigger(hours=1), retries=0)
        )
    assert (
        a is not None
        and a.options is not None
        and (a.options.retries, a.options.overlap) == (2, "buffer_one")
    )
    assert b is not None and b.options is not None and b.options.retries == 0
    with pytest.raises(InvalidJobError, match="unknown job option"):
        AsyncScheduler(job_defaults={"retrys": 1})


async def test_decorators_schedule_cron_and_interval_jobs() -> None:
    clock = VirtualClock()
    s = AsyncScheduler(clock=clock)
    hits: list[str] = []

    @s.every(minutes=5, retries=1)
    def five() -> None:
        hits.append("5m")

    @s.cron("0 * * * *", timezone="UTC", name="hourly")
    async def hourly() -> None:
        hits.append("1h")

    assert five.__name__ == "five"  # returned unchanged
    async with s:
        await clock.advance(3600)
        names = sorted(j.name for j in await s.list_jobs())
    assert names == ["five", "hourly"]
    assert hits.count("5m") == 12 and hits.count("1h") == 1


async def test_remove_and_purge_forget_finished_jobs_but_keep_needed_upstreams() -> None:
    clock = VirtualClock()
    async with AsyncScheduler(clock=clock) as s:
        done = [await s.schedule(lambda: 1) for _ in range(3)]
        up = await s.schedule(lambda: 1, trigger=IntervalTrigger(hours=1))
        down = await s.schedule(lambda: 2, trigger=IntervalTrigger(hours=1), depends_on=[up])
        await clock.advance(1)
        with pytest.raises(Exception, match="depend on it and can still run"):
            await s.remove(up)
        assert await s.purge() == 3
        assert await s.remove(down) is True
        assert await s.remove(down) is False
        assert await s.remove(up) is True
        assert await s.list_jobs() == []
        assert [await s.get_job(j) for j in done] == [None, None, None]


def stored_job_body() -> str:
    return "stored"


async def test_removed_job_is_deleted_from_the_store(tmp_path: Any) -> None:
    url = f"sqlite:///{tmp_path / 'jobs.db'}"
    async with AsyncScheduler(clock=VirtualClock(), store=url) as s:
        keep = await s.schedule(stored_job_body, trigger=IntervalTrigger(hours=1))
        gone = await s.schedule(stored_job_body, trigger=IntervalTrigger(hours=1))
        assert await s.remove(gone)
    async with AsyncScheduler(clock=VirtualClock(), store=url) as s:
        assert [j.id for j in await s.list_jobs()] == [keep]


@pytest.mark.asyncio
async def test_backfill_of_an_interval_without_start_follows_the_jobs_own_grid() -> None:
    """An interval counted from when the job was scheduled (00:07, every 30 min): the fires a
    backfill replays lie on that grid (:07 and :37), not on one counted from the window."""
    from asyncron import current_run

    clock = VirtualClock(start=datetime(2026, 3, 10, 0, 7, tzinfo=UTC))
    seen: list[datetime] = []

    def body() -> None:
        info = current_run()
        assert info is not None
        seen.append(info.scheduled_at)

    async with AsyncScheduler(clock=clock) as scheduler:
        job_id = await scheduler.schedule(body, trigger=IntervalTrigger(minutes=30))
        ran = await scheduler.backfill(
            job_id, datetime(2026, 3, 9, 22, 0, tzinfo=UTC), datetime(2026, 3, 10, 0, 0, tzinfo=UTC)
        )
    assert ran == 4
    assert [t.strftime("%H:%M") for t in seen] == ["22:07", "22:37", "23:07", "23:37"]


async def test_resume_all_resumes_jobs_paused_one_by_one_and_may_skip_the_missed_fires() -> None:
    clock = VirtualClock()
    async with AsyncScheduler(clock=clock) as s:
        one = await s.schedule(lambda: 1, "one", IntervalTrigger(minutes=1))
        two = await s.schedule(lambda: 2, "two", IntervalTrigger(minutes=1))
        assert await s.pause(one) is True  # paused one by one, not by pause_all()
        assert await s.pause_all() == 1  # only "two" was left to pause
        await clock.advance(300)
        assert await s.resume_all(catch_up=False) == 2  # both: resume each paused job
        await clock.advance(0)
        jobs = {j.name: j for j in await s.list_jobs()}
        assert [jobs[n].run_count for n in ("one", "two")] == [0, 0]  # missed fires skipped
        assert all(j.status is JobStatus.PENDING for j in jobs.values())
        await clock.advance(60)
        assert [(await s.get_job(i)).run_count for i in (one, two)] == [1, 1]  # type: ignore[union-attr]
        with pytest.raises(InvalidJobError, match="catch_up: expected True or False"):
            await s.resume_all(catch_up="no")  # type: ignore[arg-type]
