from __future__ import annotations

import asyncio
import random
import threading
import time
from collections import Counter
from collections.abc import Callable
from datetime import timedelta

import pytest

from asyncron import DependencyScheduler, IntervalTrigger, JobStatus, Scheduler
from asyncron.errors import DeadlockError, DependencyCycleError, JobLookupError
from asyncron.testing import VirtualClock


@pytest.fixture
def scheduler() -> Scheduler:
    s = Scheduler(max_workers=8, stop_timeout=2)
    yield s  # type: ignore[misc]
    s.stop()


def test_schedule_without_trigger_runs_once_now(scheduler: Scheduler) -> None:
    scheduler.start()
    job_id = scheduler.schedule(lambda a, b: a * b, args=(6, 7))
    job = scheduler.wait_job(job_id, timeout=5)
    assert job.status is JobStatus.COMPLETED and job.result == 42


def test_exact_classic_signatures_work_positionally(scheduler: Scheduler) -> None:
    hits: list[str] = []
    job_id = scheduler.schedule(
        hits.append, "collector", IntervalTrigger(seconds=0.02), ("x",), None, 3
    )
    scheduler.start()
    job = scheduler.wait_job(job_id, timeout=5)
    assert hits == ["x", "x", "x"]
    assert (job.name, job.run_count, job.max_runs) == ("collector", 3, 3)


def test_jobs_scheduled_before_start_wait_for_start(scheduler: Scheduler) -> None:
    job_id = scheduler.schedule(lambda: "hi")
    time.sleep(0.05)
    job = scheduler.get_job(job_id)
    assert job is not None and job.run_count == 0 and job.status is JobStatus.PENDING
    scheduler.start()
    assert scheduler.wait_job(job_id, timeout=5).result == "hi"


def test_run_now_returns_result_and_reraises_error(scheduler: Scheduler) -> None:
    def divide(a: int, b: int) -> float:
        return a / b

    ok = scheduler.schedule(divide, args=(1, 4), trigger=IntervalTrigger(hours=1))
    bad = scheduler.schedule(divide, args=(1, 0), trigger=IntervalTrigger(hours=1))
    assert scheduler.run_now(ok) == 0.25
    with pytest.raises(ZeroDivisionError):
        scheduler.run_now(bad)
    job = scheduler.get_job(bad)
    assert job is not None and job.error is not None and job.error.startswith("ZeroDivisionError")
    with pytest.raises(JobLookupError):
        scheduler.run_now("missing")


def test_cancel_get_job_and_list_jobs(scheduler: Scheduler) -> None:
    a = scheduler.schedule(lambda: 1, name="a", trigger=IntervalTrigger(hours=1))
    b = scheduler.schedule(lambda: 2, name="b", trigger=IntervalTrigger(hours=1))
    assert scheduler.cancel(a) is True
    assert scheduler.cancel(a) is False
    assert scheduler.cancel("nope") is False
    assert scheduler.get_job("nope") is None
    assert [j.name for j in scheduler.list_jobs()] == ["a", "b"]
    assert [j.id for j in scheduler.list_jobs(JobStatus.CANCELLED)] == [a]
    assert [j.id for j in scheduler.list_jobs(status="pending")] == [b]


def test_stop_is_idempotent_and_joins_the_loop_thread(
    loop_threads: Callable[[], list[threading.Thread]],
) -> None:
    before = loop_threads()
    s = Scheduler()
    s.start()
    s.start()
    [thread] = [t for t in loop_threads() if t not in before]  # one loop thread, however often
    s.stop()
    s.stop()
    assert not thread.is_alive() and loop_threads() == before


def test_context_manager_starts_and_stops(
    loop_threads: Callable[[], list[threading.Thread]],
) -> None:
    before = loop_threads()
    with Scheduler() as s:
        job_id = s.schedule(lambda: "ok")
        assert s.wait_job(job_id, timeout=5).result == "ok"
        assert s.engine.running and len(loop_threads()) == len(before) + 1
    assert not s.engine.running and loop_threads() == before


def test_callback_may_schedule_and_cancel_other_jobs(scheduler: Scheduler) -> None:
    out: list[str] = []
    victim = scheduler.schedule(lambda: out.append("victim"), trigger=IntervalTrigger(hours=1))

    def parent() -> str:
        scheduler.cancel(victim)
        child = scheduler.schedule(lambda: out.append("child"))
        return child

    scheduler.start()
    parent_id = scheduler.schedule(parent)
    child_id = scheduler.wait_job(parent_id, timeout=5).result
    scheduler.wait_job(child_id, timeout=5)
    assert out == ["child"]
    victim_job = scheduler.get_job(victim)
    assert victim_job is not None and victim_job.status is JobStatus.CANCELLED


def test_callback_may_call_stop_without_deadlock() -> None:
    s = Scheduler()
    done = threading.Event()

    def stopper() -> None:
        s.stop()
        done.set()

    s.start()
    s.schedule(stopper)
    assert done.wait(5)
    deadline = time.time() + 5
    while s.engine.running and time.time() < deadline:
        time.sleep(0.01)
    assert not s.engine.running
    s.stop()


def test_blocking_call_from_the_loop_thread_is_refused(scheduler: Scheduler) -> None:
    errors: list[BaseException] = []

    async def async_job() -> str:
        try:
            scheduler.run_now("anything")
        except DeadlockError as exc:
            errors.append(exc)
        # non-blocking calls are fine from the loop thread
        return scheduler.schedule(lambda: None, trigger=IntervalTrigger(hours=1))

    scheduler.start()
    job = scheduler.wait_job(scheduler.schedule(async_job), timeout=5)
    assert job.status is JobStatus.COMPLETED
    assert scheduler.get_job(job.result) is not None
    assert len(errors) == 1
    assert "would deadlock" in str(errors[0]) and isinstance(errors[0], RuntimeError)


def test_register_task_and_run_pending_run_in_the_calling_thread() -> None:
    clock = VirtualClock()
    s = Scheduler(clock=clock)
    caller = threading.get_ident()
    seen: list[int] = []
    job_id = s.register_task("report", "* * * * *", lambda: seen.append(threading.get_ident()))
    assert s.run_pending() == 0  # not due yet
    s.advance(60)  # due now: advance() does not run hand-driven tasks, run_pending() does
    assert seen == []
    assert s.run_pending() == 1
    assert seen == [caller]
    snap = s.get_job(job_id)
    assert snap is not None and snap.run_count == 1 and snap.name == "report"
    assert snap.next_run == clock.now() + timedelta(minutes=1)
    assert s.run_pending() == 0
    s.stop()


def test_register_task_rejects_an_invalid_cron_expression() -> None:
    s = Scheduler()
    with pytest.raises(ValueError, match="minute"):
        s.register_task("bad", "61 * * * *", lambda: None)
    assert s.list_jobs() == []
    s.stop()


def test_run_pending_runs_due_scheduled_jobs_when_not_started_and_records_failures() -> None:
    s = Scheduler()
    caller = threading.get_ident()
    seen: list[int] = []

    def fails() -> None:
        raise OSError("no network")

    ok = s.schedule(lambda: seen.append(threading.get_ident()))
    bad = s.schedule(fails)
    assert s.run_pending() == 2
    assert seen == [caller]
    bad_job = s.get_job(bad)
    ok_job = s.get_job(ok)
    assert ok_job is not None and ok_job.status is JobStatus.COMPLETED
    assert bad_job is not None and bad_job.status is JobStatus.FAILED
    assert bad_job.error == "OSError: no network"
    s.stop()


def test_run_pending_runs_async_callbacks_too() -> None:
    s = Scheduler()

    async def coro() -> str:
        await asyncio.sleep(0)
        return "async ok"

    job_id = s.schedule(coro)
    assert s.run_pending() == 1
    job = s.get_job(job_id)
    assert job is not None and job.result == "async ok"
    s.stop()


def test_stress_32_threads_schedule_cancel_list_run_now() -> None:
    s = Scheduler(max_workers=8, stop_timeout=5)
    s.start()
    counter = Counter[str]()
    lock = threading.Lock()
    errors: list[BaseException] = []

    def work(tag: str) -> str:
        with lock:
            counter[tag] += 1
        return tag

    def worker(n: int) -> None:
        rng = random.Random(n)
        mine: list[str] = []
        try:
            for i in range(25):
                op = rng.random()
                if op < 0.5 or not mine:
                    jid = s.schedule(
                        work, args=(f"t{n}-{i}",), trigger=IntervalTrigger(seconds=0.01), max_runs=2
                    )
                    mine.append(jid)
                elif op < 0.7:
                    jid = mine.pop(rng.randrange(len(mine)))
                    before = s.get_job(jid)
                    cancelled = s.cancel(jid)
                    after = s.get_job(jid)
                    assert before is not None and after is not None
                    assert cancelled == (not before.status.is_final) or after.status.is_final
                    if cancelled:
                        assert after.status is JobStatus.CANCELLED
                elif op < 0.85:
                    jobs = s.list_jobs()
                    assert all(j.id for j in jobs)
                else:
                    jid = s.schedule(work, args=(f"now{n}-{i}",), trigger=IntervalTrigger(hours=1))
                    assert s.run_now(jid) == f"now{n}-{i}"
                    assert s.cancel(jid) is True
        except BaseException as exc:  # collected and re-raised in the main thread
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(32)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert not errors, errors[:3]
    # every job that was not cancelled ran exactly its max_runs
    deadline = time.time() + 10
    while time.time() < deadline:
        pending = [j for j in s.list_jobs() if not j.status.is_final]
        if not pending:
            break
        time.sleep(0.02)
    jobs = s.list_jobs()
    s.stop()
    assert jobs
    for job in jobs:
        assert job.status is not JobStatus.FAILED, job.error
        if job.status is JobStatus.COMPLETED and job.max_runs == 2:
            assert job.run_count == 2
            assert counter[job.args[0]] == 2
        assert job.run_count == counter[job.args[0]]


def test_dependency_scheduler_facade() -> None:
    order: list[str] = []
    with DependencyScheduler() as s:
        a = s.schedule(order.append, args=("a",), trigger=IntervalTrigger(hours=1))
        b = s.schedule_with_deps(order.append, [a], args=("b",))
        c = s.schedule(order.append, args=("c",), trigger=IntervalTrigger(hours=1))
        s.add_dependency(c, [b])
        with pytest.raises(DependencyCycleError):
            s.add_dependency(a, [c])
        s.run_now(a)
        s.wait_job(b, timeout=5)
    assert order[:2] == ["a", "b"]


def test_facade_run_control_pause_resume_modify_describe() -> None:
    with Scheduler() as s:
        job_id = s.schedule(lambda: 1, name="x", trigger=IntervalTrigger(hours=1))
        assert s.pause(job_id) is True
        paused = s.get_job(job_id)
        assert paused is not None and paused.status is JobStatus.PAUSED
        assert s.resume(job_id) is True
        assert s.modify(job_id, name="y", retries=1).name == "y"
        job = s.reschedule(job_id, IntervalTrigger(minutes=5))
        assert isinstance(job.trigger, IntervalTrigger)
        assert len(s.describe(job_id).next_fires) == 10
        assert s.run_now(job_id) == 1
        assert [r.outcome for r in s.get_run_history(job_id)] == ["succeeded"]
        assert s.statistics().jobs == 1
        assert s.pause_all() == 1 and s.resume_all() == 1


def test_facade_jobs_see_the_scheduling_threads_contextvars() -> None:
    import contextvars

    var: contextvars.ContextVar[str] = contextvars.ContextVar("tenant", default="none")
    with Scheduler() as s:
        var.set("acme")
        job_id = s.schedule(var.get)
        assert s.wait_job(job_id, timeout=5).result == "acme"


def test_advance_moves_a_virtual_clock_for_sync_tests() -> None:
    """Scheduler.advance() lets sync code test its schedules in virtual time: timed jobs fire
    on the way, hand-driven tasks become due for run_pending()."""
    from datetime import timedelta

    from asyncron.errors import SchedulerStateError
    from asyncron.testing import VirtualClock

    clock = VirtualClock()
    scheduler = Scheduler(clock=clock)
    hits: list[object] = []
    job_id = scheduler.schedule(
        lambda: hits.append(clock.now()), trigger=IntervalTrigger(minutes=1)
    )
    scheduler.start()
    try:
        scheduler.advance(600)
        job = scheduler.get_job(job_id)
        assert job is not None and job.run_count == 10 and len(hits) == 10
        manual: list[object] = []
        scheduler.register_task("five", "*/5 * * * *", lambda: manual.append(clock.now()))
        assert scheduler.run_pending() == 0
        scheduler.advance(timedelta(minutes=5))
        assert scheduler.run_pending() == 1 and len(manual) == 1
    finally:
        scheduler.stop()
    with pytest.raises(SchedulerStateError, match="VirtualClock"):
        Scheduler().advance(1)


# -- stop() while other threads call the facade (issue 16) -----------------------------------


def _stop_in_thread(s: Scheduler, bound: float) -> float:
    """Run ``s.stop()`` in a helper thread and return how long it took; fail (instead of hanging
    the suite) if it does not return within ``bound`` seconds."""
    took: list[float] = []

    def stop() -> None:
        t0 = time.monotonic()
        s.stop()
        took.append(time.monotonic() - t0)

    helper = threading.Thread(target=stop, daemon=True)
    helper.start()
    helper.join(bound)
    assert not helper.is_alive(), f"stop() still waiting after {bound} s"
    return took[0]


def test_a_sync_subscriber_calling_the_facade_during_stop_does_not_hang_it() -> None:
    from asyncron.errors import SchedulerStateError
    from asyncron.events import SchedulerStopped

    s = Scheduler(stop_timeout=5)
    s.start()
    pending = s.schedule(lambda: None, "hourly", IntervalTrigger(hours=1))
    answers: dict[str, object] = {}

    def on_stop(event: SchedulerStopped) -> None:  # in a worker thread, while stop() runs
        job = s.get_job(pending)
        answers["get_job"] = None if job is None else job.name
        answers["list_jobs"] = [j.name for j in s.list_jobs()]
        for name, call in (("wait_job", lambda: s.wait_job(pending)), ("start", s.start)):
            try:
                call()
            except SchedulerStateError as exc:
                answers[name] = str(exc)

    s.subscribe(on_stop, SchedulerStopped)
    took = _stop_in_thread(s, bound=20)
    assert took < 4, took  # nothing waited for stop_timeout, let alone forever
    assert answers["get_job"] == "hourly" and answers["list_jobs"] == ["hourly"]
    assert "is stopped (or stopping)" in str(answers["wait_job"])
    assert "stop() is in progress" in str(answers["start"])
    assert not s.running and s.loop_thread is None


def test_a_subscriber_busy_past_stop_timeout_does_not_hold_stop() -> None:
    release = threading.Event()
    after: list[object] = []
    s = Scheduler(stop_timeout=0.2)
    s.start()

    def stuck(event: object) -> None:
        release.wait(30)
        after.append(s.get_job("nope"))  # the facade still answers once it is let go

    s.subscribe(stuck)
    try:
        took = _stop_in_thread(s, bound=20)
        assert took < 3, took  # stop_timeout for the subscribers, not the callback's 30 s
        assert not s.running
    finally:
        release.set()
    deadline = time.monotonic() + 10
    while not after and time.monotonic() < deadline:
        time.sleep(0.01)
    assert after == [None]
    s.stop()


def test_stop_gives_up_on_an_async_job_that_swallows_its_cancellation() -> None:
    ended = threading.Event()
    s = Scheduler(stop_timeout=0.1)

    async def deaf() -> None:
        for _ in range(400):  # ends on its own after about 20 s
            try:
                await asyncio.sleep(0.05)
            except asyncio.CancelledError:
                pass
        ended.set()

    s.start()
    job_id = s.schedule(deaf, "deaf")
    deadline = time.monotonic() + 5
    while s.running_runs == 0 and time.monotonic() < deadline:
        time.sleep(0.01)
    took = _stop_in_thread(s, bound=20)
    assert took < 8 and not ended.is_set(), took  # about 2 s: 0.1 s, 1 s after cancelling, 1 s
    assert not s.running
    job = s.get_job(job_id)
    assert job is not None and job.status is JobStatus.RUNNING  # left running, not recorded
    s.stop()
