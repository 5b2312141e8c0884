"""The classic ``Scheduler``: what schedule, cancel, get_job, list_jobs, run_now, wait_job, start
and stop do, from threads and from inside jobs."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest

from asyncron import CronTrigger, IntervalTrigger, Job, JobStatus, OnceTrigger, Scheduler
from asyncron import errors as E
from helpers import WAIT, Boom, wait_until


def test_no_trigger_means_run_once_now(sched: Scheduler) -> None:
    sched.start()
    hits: list[int] = []
    job_id = sched.schedule(hits.append, args=(1,))
    job = sched.wait_job(job_id, timeout=WAIT)
    assert hits == [1]
    assert job.status is JobStatus.COMPLETED
    assert job.run_count == 1
    assert job.next_run is None
    assert job.last_run is not None and job.last_run.tzinfo is not None


def test_args_given_as_list(sched: Scheduler) -> None:
    sched.start()
    job_id = sched.schedule(lambda a, b: a - b, args=[5, 3])
    assert sched.wait_job(job_id, timeout=WAIT).result == 2


def test_kwargs_none_and_kwargs_dict(sched: Scheduler) -> None:
    sched.start()
    a = sched.schedule(lambda x=10: x, kwargs=None)
    b = sched.schedule(lambda x=10: x, kwargs={"x": 11})
    assert sched.wait_job(a, timeout=WAIT).result == 10
    assert sched.wait_job(b, timeout=WAIT).result == 11


def test_name_defaults_to_function_name(sched: Scheduler) -> None:
    def nightly_report() -> None:
        pass

    job_id = sched.schedule(nightly_report, trigger=IntervalTrigger(hours=1))
    job = sched.get_job(job_id)
    assert job is not None and job.name == "nightly_report"


def test_name_is_kept(sched: Scheduler) -> None:
    job_id = sched.schedule(print, name="my job", trigger=IntervalTrigger(hours=1))
    job = sched.get_job(job_id)
    assert job is not None and job.name == "my job"


def test_max_runs_is_honoured(sched: Scheduler) -> None:
    sched.start()
    hits: list[int] = []
    job_id = sched.schedule(
        hits.append, trigger=IntervalTrigger(seconds=0.01), args=(1,), max_runs=3
    )
    job = sched.wait_job(job_id, timeout=WAIT)
    assert job.run_count == 3 and len(hits) == 3
    assert job.status is JobStatus.COMPLETED
    assert job.max_runs == 3
    time.sleep(0.05)
    assert len(hits) == 3


def test_interval_of_half_a_second_given_as_float_seconds(sched: Scheduler) -> None:
    trigger = IntervalTrigger(seconds=0.5)
    assert trigger.interval == timedelta(milliseconds=500)
    job_id = sched.schedule(lambda: None, trigger=trigger)
    job = sched.get_job(job_id)
    assert job is not None and job.trigger == trigger


@pytest.mark.parametrize("bad", [0, -1])
def test_max_runs_must_be_positive(sched: Scheduler, bad: int) -> None:
    with pytest.raises(ValueError, match="max_runs"):
        sched.schedule(lambda: None, max_runs=bad)


def test_schedule_rejects_non_callable(sched: Scheduler) -> None:
    with pytest.raises((TypeError, ValueError), match="func"):
        sched.schedule("not callable")  # type: ignore[arg-type]


def test_schedule_rejects_a_string_as_args(sched: Scheduler) -> None:
    with pytest.raises((TypeError, ValueError), match="args"):
        sched.schedule(print, args="abc")


def test_schedule_rejects_a_bad_trigger_type(sched: Scheduler) -> None:
    with pytest.raises((TypeError, ValueError), match="trigger"):
        sched.schedule(print, trigger=object())  # type: ignore[arg-type]


def test_cancel_returns_true_then_false(sched: Scheduler) -> None:
    job_id = sched.schedule(lambda: None, trigger=IntervalTrigger(hours=1))
    assert sched.cancel(job_id) is True
    assert sched.cancel(job_id) is False
    job = sched.get_job(job_id)
    assert job is not None and job.status is JobStatus.CANCELLED
    assert job.next_run is None


def test_cancel_unknown_id_is_false(sched: Scheduler) -> None:
    assert sched.cancel("no-such-job") is False


def test_cancel_completed_job_is_false(sched: Scheduler) -> None:
    sched.start()
    job_id = sched.schedule(lambda: None)
    sched.wait_job(job_id, timeout=WAIT)
    assert sched.cancel(job_id) is False
    job = sched.get_job(job_id)
    assert job is not None and job.status is JobStatus.COMPLETED


def test_cancelled_job_never_runs(sched: Scheduler) -> None:
    hits: list[int] = []
    job_id = sched.schedule(hits.append, args=(1,))
    assert sched.cancel(job_id)
    sched.start()
    time.sleep(0.05)
    assert hits == []


def test_get_job_unknown_is_none(sched: Scheduler) -> None:
    assert sched.get_job("nope") is None


def test_get_job_returns_a_job_snapshot(sched: Scheduler) -> None:
    trigger = IntervalTrigger(hours=1)
    job_id = sched.schedule(print, name="p", trigger=trigger, max_runs=5)
    job = sched.get_job(job_id)
    assert isinstance(job, Job)
    assert job.id == job_id
    assert job.name == "p"
    assert job.status is JobStatus.PENDING
    assert job.trigger == trigger
    assert job.next_run is not None and job.next_run.tzinfo is not None
    assert job.last_run is None
    assert job.run_count == 0
    assert job.max_runs == 5
    assert job.error is None
    assert job.result is None


def test_list_jobs_all_and_filtered(sched: Scheduler) -> None:
    a = sched.schedule(print, trigger=IntervalTrigger(hours=1))
    b = sched.schedule(print, trigger=IntervalTrigger(hours=1))
    sched.cancel(b)
    all_ids = [j.id for j in sched.list_jobs()]
    assert all_ids == [a, b]
    assert [j.id for j in sched.list_jobs(JobStatus.PENDING)] == [a]
    assert [j.id for j in sched.list_jobs(JobStatus.CANCELLED)] == [b]
    assert sched.list_jobs(JobStatus.RUNNING) == []


@pytest.mark.parametrize("text", ["pending", "PENDING", "Pending"])
def test_list_jobs_accepts_status_strings(sched: Scheduler, text: str) -> None:
    a = sched.schedule(print, trigger=IntervalTrigger(hours=1))
    assert [j.id for j in sched.list_jobs(text)] == [a]


def test_list_jobs_unknown_status_is_a_value_error_listing_the_allowed(sched: Scheduler) -> None:
    with pytest.raises(ValueError, match="pending") as info:
        sched.list_jobs("bogus")
    assert "bogus" in str(info.value)


def test_list_jobs_returns_a_list_of_job(sched: Scheduler) -> None:
    sched.schedule(print, trigger=IntervalTrigger(hours=1))
    jobs = sched.list_jobs()
    assert isinstance(jobs, list) and all(isinstance(j, Job) for j in jobs)


def test_start_is_idempotent(sched: Scheduler) -> None:
    sched.start()
    sched.start()
    job_id = sched.schedule(lambda: 1)
    assert sched.wait_job(job_id, timeout=WAIT).result == 1


def test_stop_is_idempotent_and_safe_without_start(
    loop_threads: Callable[[], list[threading.Thread]],
) -> None:
    before = loop_threads()
    s = Scheduler()
    s.stop()
    s.stop()
    assert not s.engine.running and loop_threads() == before
    s.start()
    assert s.engine.running and len(loop_threads()) == len(before) + 1
    job_id = s.schedule(lambda: "ran")
    assert s.wait_job(job_id, timeout=WAIT).result == "ran"
    s.stop()
    s.stop()
    assert not s.engine.running and loop_threads() == before


def test_stop_joins_the_loop_thread(loop_threads: Callable[[], list[threading.Thread]]) -> None:
    before = loop_threads()
    s = Scheduler()
    s.start()
    assert len(loop_threads()) == len(before) + 1
    s.stop()
    assert loop_threads() == before


def test_stop_waits_for_a_running_job() -> None:
    s = Scheduler(stop_timeout=2)
    s.start()
    done = threading.Event()

    def slow() -> None:
        time.sleep(0.1)
        done.set()

    job_id = s.schedule(slow)
    wait_until(lambda: (j := s.get_job(job_id)) is not None and j.status is JobStatus.RUNNING)
    s.stop()
    assert done.is_set()


def test_restart_after_stop_runs_jobs_again() -> None:
    # docs/scheduling.md: "a stopped scheduler can be started again" (a refusal is a failure).
    s = Scheduler()
    s.start()
    s.stop()
    s.start()
    try:
        job_id = s.schedule(lambda: "again")
        assert s.wait_job(job_id, timeout=WAIT).result == "again"
    finally:
        s.stop()


def test_jobs_scheduled_before_start_fire_after_start(sched: Scheduler) -> None:
    hits: list[str] = []
    job_id = sched.schedule(hits.append, args=("x",))
    time.sleep(0.05)
    assert hits == []
    job = sched.get_job(job_id)
    assert job is not None and job.status is JobStatus.PENDING
    sched.start()
    sched.wait_job(job_id, timeout=WAIT)
    assert hits == ["x"]


def test_context_manager_starts_and_stops() -> None:
    with Scheduler() as s:
        assert isinstance(s, Scheduler)
        job_id = s.schedule(lambda: "ctx")
        assert s.wait_job(job_id, timeout=WAIT).result == "ctx"
    s.stop()  # still idempotent after the with block


def test_run_now_returns_the_result(sched: Scheduler) -> None:
    job_id = sched.schedule(lambda: {"answer": 42}, trigger=IntervalTrigger(hours=1))
    assert sched.run_now(job_id) == {"answer": 42}
    job = sched.get_job(job_id)
    assert job is not None and job.run_count == 1 and job.result == {"answer": 42}
    assert job.status is JobStatus.PENDING  # recurring: keeps its schedule


def test_run_now_reraises_the_jobs_own_exception_type(sched: Scheduler) -> None:
    def fails() -> None:
        raise Boom("it broke")

    job_id = sched.schedule(fails, trigger=IntervalTrigger(hours=1))
    with pytest.raises(Boom, match="it broke"):
        sched.run_now(job_id)
    job = sched.get_job(job_id)
    assert job is not None
    assert job.error is not None and "Boom" in job.error and "it broke" in job.error


def test_run_now_reraises_for_an_async_job(sched: Scheduler) -> None:
    async def fails() -> None:
        await asyncio.sleep(0)
        raise KeyError("k")

    job_id = sched.schedule(fails, trigger=IntervalTrigger(hours=1))
    with pytest.raises(KeyError):
        sched.run_now(job_id)


def test_run_now_unknown_id_is_a_lookup_error(sched: Scheduler) -> None:
    with pytest.raises(LookupError, match="nope"):
        sched.run_now("nope")


def test_unknown_job_error_is_also_a_key_error(sched: Scheduler) -> None:
    # APScheduler users write `except KeyError` (its JobLookupError is a KeyError)
    with pytest.raises(KeyError) as info:
        sched.run_now("nope")
    assert str(info.value) == "no job with id 'nope'"


def test_run_now_cancelled_job_is_refused(sched: Scheduler) -> None:
    job_id = sched.schedule(print, trigger=IntervalTrigger(hours=1))
    sched.cancel(job_id)
    with pytest.raises(RuntimeError, match="cancelled"):
        sched.run_now(job_id)


def test_run_now_works_before_start(sched: Scheduler) -> None:
    job_id = sched.schedule(lambda: 7, trigger=IntervalTrigger(hours=1))
    assert sched.run_now(job_id) == 7


def test_failed_one_shot_job_is_failed_with_error_text(sched: Scheduler) -> None:
    sched.start()

    def fails() -> None:
        raise ValueError("bad value")

    job = sched.wait_job(sched.schedule(fails), timeout=WAIT)
    assert job.status is JobStatus.FAILED
    assert job.error == "ValueError: bad value"
    assert job.run_count == 1


def test_failing_job_does_not_stop_the_scheduler(sched: Scheduler) -> None:
    sched.start()
    sched.wait_job(sched.schedule(lambda: 1 / 0), timeout=WAIT)
    assert sched.wait_job(sched.schedule(lambda: "ok"), timeout=WAIT).result == "ok"


def test_failing_recurring_job_keeps_its_schedule(sched: Scheduler) -> None:
    sched.start()
    calls: list[int] = []

    def flaky() -> int:
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("first fails")
        return len(calls)

    job_id = sched.schedule(flaky, trigger=IntervalTrigger(seconds=0.01), max_runs=3)
    job = sched.wait_job(job_id, timeout=WAIT)
    assert job.run_count == 3
    assert job.status is JobStatus.COMPLETED
    assert job.result == 3
    assert job.error is None


def test_result_of_last_run_is_recorded(sched: Scheduler) -> None:
    sched.start()
    counter = iter(range(100))
    job_id = sched.schedule(
        lambda: next(counter), trigger=IntervalTrigger(seconds=0.01), max_runs=2
    )
    assert sched.wait_job(job_id, timeout=WAIT).result == 1


def test_async_job_function_runs(sched: Scheduler) -> None:
    sched.start()

    async def coro(x: int) -> int:
        await asyncio.sleep(0)
        return x * 2

    assert sched.wait_job(sched.schedule(coro, args=(21,)), timeout=WAIT).result == 42


def test_trigger_given_as_a_datetime(sched: Scheduler) -> None:
    sched.start()
    when = datetime.now(UTC) + timedelta(milliseconds=30)
    job_id = sched.schedule(lambda: "dt", trigger=when)
    job = sched.get_job(job_id)
    assert job is not None and isinstance(job.trigger, OnceTrigger)
    assert sched.wait_job(job_id, timeout=WAIT).result == "dt"


def test_trigger_given_as_a_naive_local_datetime(sched: Scheduler) -> None:
    sched.start()
    when = datetime.now() + timedelta(milliseconds=30)  # naive: local time
    job_id = sched.schedule(lambda: "naive", trigger=when)
    job = sched.wait_job(job_id, timeout=WAIT)
    assert job.result == "naive"


def test_trigger_given_as_a_cron_string(sched: Scheduler) -> None:
    job_id = sched.schedule(print, trigger="*/5 * * * *")
    job = sched.get_job(job_id)
    assert job is not None and isinstance(job.trigger, CronTrigger)
    assert job.next_run is not None and job.next_run.minute % 5 == 0


def test_trigger_given_as_an_invalid_cron_string(sched: Scheduler) -> None:
    with pytest.raises(ValueError, match="minute"):
        sched.schedule(print, trigger="61 * * * *")
    assert sched.list_jobs() == []


def test_trigger_given_as_timedelta_and_seconds(sched: Scheduler) -> None:
    a = sched.get_job(sched.schedule(print, trigger=timedelta(minutes=5)))
    b = sched.get_job(sched.schedule(print, trigger=2.5))
    assert a is not None and a.trigger == IntervalTrigger(minutes=5)
    assert b is not None and b.trigger == IntervalTrigger(seconds=2.5)


def test_past_once_trigger_still_runs(sched: Scheduler) -> None:
    sched.start()
    job_id = sched.schedule(
        lambda: "late", trigger=OnceTrigger(datetime.now(UTC) - timedelta(hours=1))
    )
    assert sched.wait_job(job_id, timeout=WAIT).result == "late"


def test_calls_from_many_threads(sched: Scheduler) -> None:
    sched.start()
    ids: list[str] = []
    lock = threading.Lock()
    errors: list[BaseException] = []

    def worker(n: int) -> None:
        try:
            for i in range(10):
                jid = sched.schedule(lambda x=n * 100 + i: x)
                assert sched.get_job(jid) is not None
                sched.list_jobs()
                with lock:
                    ids.append(jid)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert len(set(ids)) == 160
    results = {sched.wait_job(j, timeout=WAIT).result for j in ids}
    assert len(results) == 160


def test_job_callback_can_schedule_and_cancel(sched: Scheduler) -> None:
    sched.start()
    victim = sched.schedule(print, trigger=IntervalTrigger(hours=1))

    def parent() -> str:
        assert sched.cancel(victim)
        return sched.schedule(lambda: "child")

    child = sched.wait_job(sched.schedule(parent), timeout=WAIT).result
    assert sched.wait_job(child, timeout=WAIT).result == "child"
    victim_job = sched.get_job(victim)
    assert victim_job is not None and victim_job.status is JobStatus.CANCELLED


def test_job_callback_can_call_stop() -> None:
    s = Scheduler(stop_timeout=2)
    s.start()
    stopped = threading.Event()

    def stopper() -> None:
        s.stop()
        stopped.set()

    s.schedule(stopper)
    assert stopped.wait(WAIT)
    s.stop()


def test_stop_unblocks_a_thread_waiting_for_a_job_that_never_ends() -> None:
    s = Scheduler(stop_timeout=1)
    s.start()
    job_id = s.schedule(print, trigger=IntervalTrigger(hours=1))
    outcome: list[BaseException | Job] = []

    def waiter() -> None:
        try:
            outcome.append(s.wait_job(job_id))
        except BaseException as exc:
            outcome.append(exc)

    thread = threading.Thread(target=waiter)
    thread.start()
    time.sleep(0.05)
    started = time.monotonic()
    s.stop()
    thread.join(WAIT)
    assert not thread.is_alive()
    assert time.monotonic() - started < 1.5
    assert len(outcome) == 1 and isinstance(outcome[0], E.SchedulerStateError)
    assert "stopped" in str(outcome[0]) and "wait_job" in str(outcome[0])


def test_a_job_can_be_cancelled_while_a_thread_waits_for_it(sched: Scheduler) -> None:
    job_id = sched.schedule(print, trigger=IntervalTrigger(hours=1))
    sched.start()
    result: list[Job] = []
    thread = threading.Thread(target=lambda: result.append(sched.wait_job(job_id)))
    thread.start()
    time.sleep(0.02)
    assert sched.cancel(job_id)
    thread.join(WAIT)
    assert result and result[0].status is JobStatus.CANCELLED


def test_schedule_non_callable_is_also_a_type_error(sched: Scheduler) -> None:
    # APScheduler raises TypeError here; ValueError (the spec's tree) works too
    with pytest.raises(TypeError, match="callable"):
        sched.schedule(42)  # type: ignore[arg-type]


def test_wait_job_timeout_says_which_job_and_its_state(sched: Scheduler) -> None:
    job_id = sched.schedule(print, trigger=IntervalTrigger(hours=1))
    sched.start()
    with pytest.raises(TimeoutError) as info:
        sched.wait_job(job_id, timeout=0.02)
    assert job_id in str(info.value) and "pending" in str(info.value)


def test_wait_job_unknown_id_is_a_lookup_error(sched: Scheduler) -> None:
    with pytest.raises(LookupError, match="nope"):
        sched.wait_job("nope", timeout=0.1)
