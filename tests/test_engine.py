from __future__ import annotations

import asyncio
import contextvars
import gc
import itertools
import logging
import threading
import time
import warnings
from datetime import UTC, datetime, timedelta

import pytest

from asyncron import AsyncScheduler, CronTrigger, IntervalTrigger, JobStatus, OnceTrigger
from asyncron.errors import InvalidJobError, JobLookupError, JobStateError
from asyncron.testing import VirtualClock

pytestmark = pytest.mark.asyncio


async def test_job_without_trigger_runs_once_now_and_completes() -> None:
    async def add(a: int, b: int) -> int:
        return a + b

    async with AsyncScheduler() as s:
        job_id = await s.schedule(add, args=(2,), kwargs={"b": 3})
        job = await s.wait_job(job_id, timeout=5)
    assert job.status is JobStatus.COMPLETED
    assert job.result == 5
    assert job.run_count == 1
    assert job.next_run is None
    assert job.last_run is not None and job.last_run.tzinfo is not None
    assert job.name == "add"


async def test_sync_job_runs_in_a_worker_thread_not_the_loop() -> None:
    loop_thread = threading.get_ident()
    seen: list[int] = []

    def work() -> str:
        seen.append(threading.get_ident())
        return "done"

    async with AsyncScheduler(max_workers=2) as s:
        job = await s.wait_job(await s.schedule(work), timeout=5)
    assert job.result == "done"
    assert seen and seen[0] != loop_thread


async def test_job_due_in_40ms_fires_about_40ms_later_without_a_tick() -> None:
    fired: list[float] = []
    start = time.time()
    async with AsyncScheduler() as s:
        run_at = datetime.fromtimestamp(start + 0.04, UTC)
        job_id = await s.schedule(lambda: fired.append(time.time()), trigger=OnceTrigger(run_at))
        await s.wait_job(job_id, timeout=5)
    lateness = fired[0] - (start + 0.04)
    assert -0.002 <= lateness < 0.03  # generous band: a tick-based scheduler would be 0..1 s late


async def test_earlier_deadline_inserted_later_wakes_the_dispatcher() -> None:
    fired: list[str] = []
    now = time.time()
    async with AsyncScheduler() as s:
        await s.schedule(lambda: fired.append("late"), trigger=datetime.fromtimestamp(now + 5, UTC))
        early = await s.schedule(
            lambda: fired.append("early"), trigger=datetime.fromtimestamp(now + 0.03, UTC)
        )
        t0 = time.perf_counter()
        await s.wait_job(early, timeout=5)
        assert time.perf_counter() - t0 < 1.0
    assert fired == ["early"]


async def test_interval_job_fires_on_schedule_with_virtual_clock() -> None:
    clock = VirtualClock()
    stamps: list[datetime] = []
    async with AsyncScheduler(clock=clock) as s:
        await s.schedule(lambda: stamps.append(clock.now()), trigger=IntervalTrigger(minutes=5))
        await clock.advance(timedelta(hours=1))
    assert len(stamps) == 12
    assert all(b - a == timedelta(minutes=5) for a, b in itertools.pairwise(stamps))


async def test_a_week_of_five_minute_fires_takes_well_under_a_second() -> None:
    clock = VirtualClock()
    count = 0

    async def tick() -> None:
        nonlocal count
        count += 1

    loop = asyncio.get_running_loop()
    async with AsyncScheduler(clock=clock) as s:
        job_id = await s.schedule(tick, trigger=IntervalTrigger(minutes=5))
        # Time the library, not asyncio's debug mode (``-o asyncio_debug=true``): with it, the
        # same week took 1.8 s idle and over 2 s on a loaded machine.
        debug = loop.get_debug()
        loop.set_debug(False)
        try:
            t0 = time.perf_counter()
            await clock.advance(timedelta(days=7))
            elapsed = time.perf_counter() - t0
        finally:
            loop.set_debug(debug)
        job = await s.get_job(job_id)
    assert count == 7 * 24 * 12
    assert job is not None and job.run_count == count
    assert elapsed < 1.0  # typically ~0.1 s; generous for a loaded machine


async def test_autojump_clock_runs_max_runs_then_completes() -> None:
    clock = VirtualClock(autojump=True)

    async def noop() -> int:
        return 1

    async with AsyncScheduler(clock=clock) as s:
        job_id = await s.schedule(noop, trigger=IntervalTrigger(hours=1), max_runs=48)
        job = await s.wait_job(job_id, timeout=10)
    assert job.status is JobStatus.COMPLETED
    assert job.run_count == 48
    assert clock.now() == datetime(2026, 1, 3, tzinfo=UTC)
    await clock.aclose()


async def test_due_jobs_fire_in_deadline_then_insertion_order() -> None:
    clock = VirtualClock()
    order: list[str] = []
    at = clock.now() + timedelta(seconds=10)
    async with AsyncScheduler(clock=clock) as s:
        for name in ("a", "b", "c"):
            await s.schedule(order.append, args=(name,), trigger=OnceTrigger(at))
        await s.schedule(
            order.append, args=("first",), trigger=OnceTrigger(at - timedelta(seconds=1))
        )
        await clock.advance(20)
    assert order[0] == "first"
    assert sorted(order[1:]) == ["a", "b", "c"]


async def test_async_jobs_start_in_deadline_then_insertion_order() -> None:
    clock = VirtualClock()
    order: list[str] = []

    async def record(name: str) -> None:
        order.append(name)

    at = clock.now() + timedelta(seconds=10)
    async with AsyncScheduler(clock=clock) as s:
        for name in ("a", "b", "c"):
            await s.schedule(record, args=(name,), trigger=OnceTrigger(at))
        await s.schedule(record, args=("first",), trigger=OnceTrigger(at - timedelta(seconds=1)))
        await clock.advance(20)
    assert order == ["first", "a", "b", "c"]


async def test_failing_one_shot_job_is_failed_with_error_and_traceback(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async def boom() -> None:
        raise RuntimeError("disk full")

    caplog.set_level(logging.ERROR, logger="asyncron")
    async with AsyncScheduler() as s:
        job = await s.wait_job(await s.schedule(boom), timeout=5)
        # the scheduler keeps working after a failure
        ok = await s.wait_job(await s.schedule(lambda: 42), timeout=5)
    assert job.status is JobStatus.FAILED
    assert job.error == "RuntimeError: disk full"
    assert job.traceback is not None and "disk full" in job.traceback and "boom" in job.traceback
    assert ok.result == 42
    assert any("disk full" in r.getMessage() for r in caplog.records)


async def test_failing_recurring_job_keeps_its_schedule() -> None:
    clock = VirtualClock()
    calls = 0

    def flaky() -> str:
        nonlocal calls
        calls += 1
        if calls == 2:
            raise ValueError("second call fails")
        return f"ok {calls}"

    async with AsyncScheduler(clock=clock) as s:
        job_id = await s.schedule(flaky, trigger=IntervalTrigger(seconds=10))
        await clock.advance(20)
        failed = await s.get_job(job_id)
        await clock.advance(10)
        recovered = await s.get_job(job_id)
    assert failed is not None and failed.status is JobStatus.PENDING
    assert failed.error == "ValueError: second call fails"
    assert recovered is not None and recovered.error is None and recovered.result == "ok 3"
    assert recovered.run_count == 3 and recovered.failure_count == 1


async def test_job_never_overlaps_itself_and_skipped_fires_are_counted() -> None:
    clock = VirtualClock()
    release = asyncio.Event()
    active = 0
    peak = 0

    async def slow() -> None:
        nonlocal active, peak
        active += 1
        peak = max(peak, active)
        await release.wait()
        active -= 1

    async with AsyncScheduler(clock=clock) as s:
        job_id = await s.schedule(slow, trigger=IntervalTrigger(seconds=1))
        # the run started at t=1 is still going at t=2..5
        await clock.advance(5, wait_for_runs=False)
        release.set()
        await clock.wait_idle()
        job = await s.get_job(job_id)
    assert peak == 1
    assert job is not None and job.skipped_fires == 4 and job.run_count == 1


async def test_max_runs_limits_runs_and_completes_the_job() -> None:
    clock = VirtualClock()
    async with AsyncScheduler(clock=clock) as s:
        job_id = await s.schedule(lambda: None, trigger=IntervalTrigger(seconds=1), max_runs=3)
        await clock.advance(10)
        job = await s.get_job(job_id)
    assert job is not None
    assert (job.run_count, job.status, job.next_run) == (3, JobStatus.COMPLETED, None)


async def test_cancel_stops_future_fires_and_reports_whether_it_did() -> None:
    clock = VirtualClock()
    hits: list[int] = []
    async with AsyncScheduler(clock=clock) as s:
        job_id = await s.schedule(hits.append, args=(1,), trigger=IntervalTrigger(seconds=1))
        await clock.advance(3)
        assert await s.cancel(job_id) is True
        assert await s.cancel(job_id) is False
        assert await s.cancel("no-such-job") is False
        await clock.advance(10)
        job = await s.get_job(job_id)
    assert len(hits) == 3
    assert job is not None and job.status is JobStatus.CANCELLED and job.next_run is None


async def test_cancel_cancels_a_running_async_run() -> None:
    started = asyncio.Event()

    async def forever() -> None:
        started.set()
        await asyncio.sleep(3600)

    async with AsyncScheduler() as s:
        job_id = await s.schedule(forever)
        await started.wait()
        assert await s.cancel(job_id)
        job = await s.wait_job(job_id, timeout=5)
        for _ in range(5):
            await asyncio.sleep(0)
        job = await s.get_job(job_id)  # type: ignore[assignment]
    assert job is not None and job.status is JobStatus.CANCELLED
    assert job.error is not None and "cancelled" in job.error


async def test_a_job_can_cancel_itself_from_inside() -> None:
    clock = VirtualClock()
    runs = 0
    holder: dict[str, str] = {}

    async def self_cancelling(s: AsyncScheduler) -> str:
        nonlocal runs
        runs += 1
        if runs == 2:
            await s.cancel(holder["id"])
        return "ran"

    async with AsyncScheduler(clock=clock) as s:
        holder["id"] = await s.schedule(
            self_cancelling, args=(s,), trigger=IntervalTrigger(seconds=1)
        )
        await clock.advance(10)
        job = await s.get_job(holder["id"])
    assert runs == 2
    assert job is not None and job.status is JobStatus.CANCELLED and job.result == "ran"


async def test_a_job_can_schedule_another_job() -> None:
    clock = VirtualClock()
    out: list[str] = []

    async def parent(s: AsyncScheduler) -> None:
        await s.schedule(
            out.append, args=("child",), trigger=IntervalTrigger(seconds=5), max_runs=1
        )

    async with AsyncScheduler(clock=clock) as s:
        await s.schedule(parent, args=(s,))
        await clock.advance(6)
    assert out == ["child"]


async def test_run_now_returns_the_result_and_records_the_run() -> None:
    clock = VirtualClock()
    async with AsyncScheduler(clock=clock) as s:
        job_id = await s.schedule(lambda x: x * 2, args=(21,), trigger=IntervalTrigger(hours=1))
        assert await s.run_now(job_id) == 42
        job = await s.get_job(job_id)
    assert job is not None and job.run_count == 1 and job.status is JobStatus.PENDING
    assert job.next_run is not None  # the schedule is untouched


async def test_run_now_reraises_the_job_error() -> None:
    async def bad() -> None:
        raise KeyError("missing")

    clock = VirtualClock()
    async with AsyncScheduler(clock=clock) as s:
        job_id = await s.schedule(bad, trigger=IntervalTrigger(hours=1))
        with pytest.raises(KeyError, match="missing"):
            await s.run_now(job_id)
        job = await s.get_job(job_id)
    assert job is not None and job.error == "KeyError: 'missing'"


async def test_run_now_waits_for_the_running_run_instead_of_overlapping() -> None:
    gate = asyncio.Event()
    active = 0
    peak = 0

    async def work() -> str:
        nonlocal active, peak
        active += 1
        peak = max(peak, active)
        await gate.wait()
        active -= 1
        return "ok"

    async with AsyncScheduler() as s:
        job_id = await s.schedule(work, trigger=IntervalTrigger(hours=1, start=datetime.now(UTC)))
        await asyncio.sleep(0.02)
        runner = asyncio.ensure_future(s.run_now(job_id))
        await asyncio.sleep(0.02)
        gate.set()
        assert await asyncio.wait_for(runner, 5) == "ok"
    assert peak == 1


async def test_run_now_unknown_and_cancelled_jobs_raise_clear_errors() -> None:
    async with AsyncScheduler(clock=VirtualClock()) as s:
        with pytest.raises(JobLookupError, match="no job with id 'nope'"):
            await s.run_now("nope")
        job_id = await s.schedule(lambda: 1, trigger=IntervalTrigger(hours=1))
        await s.cancel(job_id)
        with pytest.raises(JobStateError, match="was cancelled"):
            await s.run_now(job_id)


async def test_get_job_and_list_jobs_with_status_filter() -> None:
    clock = VirtualClock()
    async with AsyncScheduler(clock=clock) as s:
        a = await s.schedule(lambda: 1, name="once")
        b = await s.schedule(lambda: 2, name="every", trigger=IntervalTrigger(hours=1))
        await clock.advance(1)
        assert await s.get_job("missing") is None
        assert [j.id for j in await s.list_jobs()] == [a, b]
        assert [j.id for j in await s.list_jobs(JobStatus.COMPLETED)] == [a]
        assert [j.id for j in await s.list_jobs("pending")] == [b]
        with pytest.raises(InvalidJobError, match="status: expected a JobStatus or one of"):
            await s.list_jobs("done")


async def test_job_snapshot_is_read_only() -> None:
    async with AsyncScheduler(clock=VirtualClock()) as s:
        job = await s.get_job(await s.schedule(lambda: 1, trigger=IntervalTrigger(hours=1)))
    assert job is not None
    with pytest.raises(AttributeError):
        job.status = JobStatus.FAILED  # type: ignore[misc]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"func": 5}, "func: expected a callable, got int 5"),
        ({"name": 3}, "name: expected a str or None, got int"),
        ({"args": "abc"}, "args: expected a tuple or list"),
        ({"kwargs": [1]}, "kwargs: expected a dict"),
        ({"max_runs": 0}, "max_runs: expected a positive int or None, got 0"),
        ({"max_runs": True}, "max_runs: expected a positive int or None, got True"),
        ({"trigger": object()}, "trigger: expected a Trigger"),
    ],
)
async def test_bad_schedule_arguments_are_rejected_with_the_field_named(
    kwargs: dict[str, object], message: str
) -> None:
    async with AsyncScheduler(clock=VirtualClock()) as s:
        call = {"func": lambda: None, **kwargs}
        with pytest.raises(InvalidJobError, match=message) as info:
            await s.schedule(**call)  # type: ignore[arg-type]
        assert isinstance(info.value, ValueError)
        assert await s.list_jobs() == []


async def test_duplicate_job_id_is_rejected() -> None:
    async with AsyncScheduler(clock=VirtualClock()) as s:
        await s.schedule(lambda: 1, job_id="report", trigger=IntervalTrigger(hours=1))
        with pytest.raises(InvalidJobError, match="'report' is already in use"):
            await s.schedule(lambda: 1, job_id="report")


async def test_trigger_shorthands_timedelta_number_datetime_and_cron_string() -> None:
    clock = VirtualClock()
    t0 = clock.now()
    async with AsyncScheduler(clock=clock) as s:
        a = await s.schedule(lambda: 1, trigger=timedelta(minutes=15))
        b = await s.schedule(lambda: 1, trigger=600)
        f = await s.schedule(lambda: 1, trigger=112.5)
        c = await s.schedule(lambda: 1, trigger=t0 + timedelta(hours=2))
        d = await s.schedule(lambda: 1, trigger="0 3 * * *")
        jobs = {j.id: j for j in await s.list_jobs()}
        # Each shorthand means exactly the trigger it stands for, and fires on its values.
        assert jobs[a].trigger == IntervalTrigger(minutes=15)
        assert jobs[b].trigger == IntervalTrigger(minutes=10)
        assert jobs[f].trigger == IntervalTrigger(seconds=112, milliseconds=500)
        assert jobs[c].trigger == OnceTrigger(t0 + timedelta(hours=2))
        assert jobs[d].trigger == CronTrigger.from_expression("0 3 * * *")
        assert [jobs[j].next_run for j in (a, b, f, c, d)] == [
            t0 + timedelta(minutes=15),
            t0 + timedelta(minutes=10),
            t0 + timedelta(seconds=112.5),
            t0 + timedelta(hours=2),
            t0 + timedelta(hours=3),
        ]
        await clock.advance(timedelta(hours=3))
        runs = {j.id: j.run_count for j in await s.list_jobs()}
    assert [runs[j] for j in (a, b, f, c, d)] == [12, 18, 96, 1, 1]


async def test_contextvars_of_the_scheduling_caller_reach_async_and_sync_jobs() -> None:
    var: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="none")
    seen: list[str] = []

    async def async_job() -> None:
        seen.append("async:" + var.get())

    def sync_job() -> None:
        seen.append("sync:" + var.get())

    async with AsyncScheduler() as s:
        var.set("req-7")
        a = await s.schedule(async_job)
        b = await s.schedule(sync_job)
        var.set("other")
        await s.wait_job(a, timeout=5)
        await s.wait_job(b, timeout=5)
    assert sorted(seen) == ["async:req-7", "sync:req-7"]


async def test_sync_callable_returning_a_coroutine_is_awaited() -> None:
    async def send(x: int) -> int:
        return x + 1

    async with AsyncScheduler() as s:
        job = await s.wait_job(await s.schedule(lambda: send(1)), timeout=5)
    assert job.result == 2


async def test_stop_waits_for_running_jobs_then_cancels_after_timeout() -> None:
    finished: list[str] = []

    async def quick() -> None:
        await asyncio.sleep(0.05)
        finished.append("quick")

    async def stuck() -> None:
        try:
            await asyncio.sleep(3600)
        finally:
            finished.append("stuck-cancelled")

    s = AsyncScheduler(stop_timeout=0.2)
    await s.start()
    await s.schedule(quick)
    stuck_id = await s.schedule(stuck)
    await asyncio.sleep(0.01)
    t0 = time.perf_counter()
    await s.stop()
    elapsed = time.perf_counter() - t0
    await s.stop()  # idempotent
    assert finished == ["quick", "stuck-cancelled"]
    assert 0.15 < elapsed < 2.0
    job = await s.get_job(stuck_id)
    assert job is not None and job.error is not None and "cancelled" in job.error


async def test_stop_from_inside_a_job_does_not_deadlock() -> None:
    async def stopper(s: AsyncScheduler) -> str:
        await s.stop()
        return "stopped"

    s = AsyncScheduler()
    await s.start()
    job_id = await s.schedule(stopper, args=(s,))
    await asyncio.wait_for(s.run_until_stopped(), 5)
    assert not s.running
    job = await s.wait_job(job_id, timeout=5)
    assert job.result == "stopped"


async def test_jobs_scheduled_before_start_fire_after_start() -> None:
    s = AsyncScheduler()
    job_id = await s.schedule(lambda: "early")
    await asyncio.sleep(0.02)
    job = await s.get_job(job_id)
    assert job is not None and job.run_count == 0
    async with s:
        job = await s.wait_job(job_id, timeout=5)
    assert job.result == "early"


async def test_scheduler_can_be_restarted_after_stop() -> None:
    clock = VirtualClock()
    hits: list[int] = []
    s = AsyncScheduler(clock=clock)
    job_id = await s.schedule(hits.append, args=(1,), trigger=IntervalTrigger(seconds=1))
    async with s:
        await clock.advance(2)
    async with s:
        await clock.advance(2)
    job = await s.get_job(job_id)
    assert len(hits) == 4 and job is not None and job.run_count == 4


async def test_missed_fires_after_a_stall_are_coalesced_into_one_run() -> None:
    clock = VirtualClock()
    hits: list[datetime] = []
    async with AsyncScheduler(clock=clock) as s:
        job_id = await s.schedule(
            lambda: hits.append(clock.now()), trigger=IntervalTrigger(seconds=10)
        )
        clock.jump(95)  # the process was stalled (e.g. suspended) for 95 s
        await clock.advance(0)
        job = await s.get_job(job_id)
    assert len(hits) == 1
    assert job is not None and job.next_run == datetime(2026, 1, 1, 0, 1, 40, tzinfo=UTC)
    assert s.statistics().misfires == 1


async def test_statistics_is_a_snapshot_of_counters() -> None:
    clock = VirtualClock()
    async with AsyncScheduler(clock=clock) as s:
        await s.schedule(lambda: 1, trigger=IntervalTrigger(seconds=1), max_runs=5)

        async def bad() -> None:
            raise ValueError("x")

        await s.schedule(bad)
        await clock.advance(10)
        stats = s.statistics()
    assert stats.fires == 6
    assert stats.failures == 1
    assert stats.jobs_by_status["completed"] == 1
    assert stats.jobs_by_status["failed"] == 1
    assert stats.lateness_p50 == 0.0
    with pytest.raises(TypeError):
        stats.jobs_by_status["completed"] = 5  # type: ignore[index]


async def test_wait_job_times_out_and_unknown_job_raises() -> None:
    async with AsyncScheduler(clock=VirtualClock()) as s:
        job_id = await s.schedule(lambda: 1, trigger=IntervalTrigger(hours=1))
        with pytest.raises(TimeoutError):
            await s.wait_job(job_id, timeout=0.01)
        with pytest.raises(JobLookupError):
            await s.wait_job("missing")


async def test_many_jobs_all_due_now_all_run() -> None:
    n = 2000
    done = 0

    async def hit() -> None:
        nonlocal done
        done += 1

    async with AsyncScheduler() as s:
        ids = [await s.schedule(hit) for _ in range(n)]
        await s.wait_job(ids[-1], timeout=10)
        for _ in range(10):
            await asyncio.sleep(0)
    assert done == n


async def test_a_job_reads_its_own_run_info_and_publishes_progress() -> None:
    from asyncron import current_run, set_progress

    clock = VirtualClock()
    seen: list[tuple[str, datetime]] = []

    def job() -> None:
        info = current_run()
        assert info is not None
        seen.append((info.job_id, info.scheduled_at))
        set_progress("step 2 of 3")

    assert current_run() is None
    async with AsyncScheduler(clock=clock) as s:
        job_id = await s.schedule(job, trigger=IntervalTrigger(seconds=10))
        await clock.advance(10)
        snap = await s.get_job(job_id)
    assert seen == [(job_id, datetime(2026, 1, 1, 0, 0, 10, tzinfo=UTC))]
    assert snap is not None and snap.progress == "step 2 of 3"


async def test_large_batch_records_each_run_as_a_single_run_does() -> None:
    # 600 due jobs: one dispatch pass large enough to pause the collector, on the fast path
    # (no subscriber); one more job observed by a subscriber takes the general path.
    import gc

    async def value(i: int) -> int:
        await asyncio.sleep(0)
        return i

    seen: list[object] = []
    async with AsyncScheduler() as s:
        await s.stop()
        ids = [await s.schedule(value, args=(i,)) for i in range(600)]
        await s.start()
        fast = [await s.wait_job(job_id, timeout=10) for job_id in ids]
        assert gc.isenabled()
        fast_history = await s.get_run_history(ids[7])
        s.subscribe(seen.append)
        general_id = await s.schedule(value, args=(7,))
        general = await s.wait_job(general_id, timeout=10)
        general_history = await s.get_run_history(general_id)
    assert seen  # the subscriber saw the general path's run
    assert [j.result for j in fast] == list(range(600))
    assert {j.status for j in fast} == {JobStatus.COMPLETED}
    assert all(j.run_count == 1 and j.next_run is None for j in fast)
    assert general.status is fast[7].status and general.result == fast[7].result
    assert len(fast_history) == len(general_history) == 1
    a, b = fast_history[0], general_history[0]
    assert (a.outcome, a.attempt, a.result, a.error) == (b.outcome, b.attempt, b.result, b.error)
    assert a.scheduled_at <= a.started_at <= a.ended_at


async def test_history_of_a_recurring_job_keeps_every_result_in_order() -> None:
    clock = VirtualClock(autojump=True)
    counter = itertools.count(1)

    async def tick() -> int:
        return next(counter)

    async with AsyncScheduler(clock=clock) as s:
        job_id = await s.schedule(tick, trigger=IntervalTrigger(minutes=1), max_runs=4)
        job = await s.wait_job(job_id, timeout=10)
        history = await s.get_run_history(job_id)
    assert job.result == 4
    assert [r.result for r in history] == [1, 2, 3, 4]
    assert [r.outcome for r in history] == ["succeeded"] * 4
    await clock.aclose()


async def test_next_run_keeps_the_exact_instant_and_the_triggers_time_zone() -> None:
    from zoneinfo import ZoneInfo

    from asyncron import CronTrigger

    clock = VirtualClock()
    berlin = CronTrigger.from_expression("30 9 * * *", timezone="Europe/Berlin")
    exact = clock.now() + timedelta(hours=1, microseconds=123457)
    async with AsyncScheduler(clock=clock) as s:
        zoned = await s.get_job(await s.schedule(lambda: None, trigger=berlin))
        once = await s.get_job(await s.schedule(lambda: None, trigger=OnceTrigger(exact)))
    assert zoned is not None and once is not None
    assert zoned.next_run == berlin.get_next_run(clock.now())
    assert zoned.next_run is not None and zoned.next_run.tzinfo == ZoneInfo("Europe/Berlin")
    assert once.next_run == exact and once.next_run is not None
    assert once.next_run.microsecond == 123457
    await clock.aclose()


async def test_rarely_used_fields_of_one_job_do_not_leak_to_another() -> None:
    # Plain jobs share one read-only record of defaults; a job that sets a rare field (here:
    # arguments, a pause, a progress text from its thread) gets its own.
    from asyncron import set_progress

    def report() -> str:
        set_progress("half way")
        return "ok"

    clock = VirtualClock()
    async with AsyncScheduler(clock=clock) as s:
        plain = await s.schedule(lambda: None, trigger=IntervalTrigger(hours=1))
        with_args = await s.schedule(print, trigger=IntervalTrigger(hours=1), args=("x",))
        paused = await s.schedule(lambda: None, trigger=IntervalTrigger(hours=1))
        await s.pause(paused)
        done = await s.wait_job(await s.schedule(report), timeout=5)
        jobs = {j.id: j for j in await s.list_jobs()}
    assert done.progress == "half way" and done.result == "ok"
    assert jobs[with_args].args == ("x",) and jobs[plain].args == ()
    assert jobs[paused].status is JobStatus.PAUSED and jobs[plain].status is JobStatus.PENDING
    assert jobs[plain].progress is None and jobs[plain].kwargs == {}
    await clock.aclose()


@pytest.mark.asyncio
async def test_a_run_cancelled_before_its_task_first_runs_is_recorded_and_leaves_nothing_behind() -> (
    None
):
    """Cancelled in the same loop pass that started it: the run's task never steps, yet the run
    ends cancelled, the job is no longer running, and no coroutine is left never awaited."""

    async def body() -> None:
        await asyncio.sleep(10)

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        async with AsyncScheduler() as scheduler:
            job_id = await scheduler.schedule(body)
            await asyncio.sleep(0)  # the dispatcher fires it: its task exists, not yet stepped
            assert (await scheduler.get_job(job_id)).status is JobStatus.RUNNING  # type: ignore[union-attr]
            assert await scheduler.cancel(job_id)
            job = await scheduler.get_job(job_id)
            assert job is not None and job.status is JobStatus.CANCELLED
            assert scheduler.statistics().running == 0
        gc.collect()
