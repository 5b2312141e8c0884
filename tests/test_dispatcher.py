"""``Scheduler(dispatcher)``, ``test_mode`` and ``Job.last_outcome`` (the second
specification's surface on the threaded facade), and that specification's promises."""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import pytest

from asyncron import AsyncScheduler, IntervalTrigger, JobStatus, Scheduler
from asyncron.errors import InvalidJobError
from asyncron.testing import VirtualClock


class SubmitOnly:
    """A work queue of another library: ``submit(fn, *args)`` returning nothing useful."""

    def __init__(self) -> None:
        self.calls = 0
        self.pool = ThreadPoolExecutor(2, thread_name_prefix="submit-only")

    def submit(self, fn: Callable[..., Any], *args: Any) -> None:
        self.calls += 1
        self.pool.submit(fn, *args)


class DispatchOnly:
    """A GUI-style loop: ``dispatch(fn)`` queues ``fn`` for its own thread."""

    def __init__(self) -> None:
        self.inbox: queue.Queue[Callable[[], None] | None] = queue.Queue()
        self.thread = threading.Thread(target=self._main, name="ui-thread", daemon=True)
        self.thread.start()

    def _main(self) -> None:
        while (fn := self.inbox.get()) is not None:
            fn()

    def dispatch(self, fn: Callable[[], None]) -> None:
        self.inbox.put(fn)

    def close(self) -> None:
        self.inbox.put(None)
        self.thread.join()


def where() -> str:
    return threading.current_thread().name


def test_run_pending_hands_due_callbacks_to_an_executor() -> None:
    pool = ThreadPoolExecutor(4, thread_name_prefix="mine")
    clock = VirtualClock()
    s = Scheduler(pool, clock=clock)
    ids = [s.register_task(f"t{i}", "* * * * *", where) for i in range(3)]
    s.advance(60)
    assert s.run_pending() == 3
    assert all(s.get_job(i).result.startswith("mine") for i in ids)  # type: ignore[union-attr]
    assert s.run_pending() == 0
    s.stop()
    assert pool.submit(lambda: 1).result() == 1  # the scheduler did not shut it down
    pool.shutdown()


@pytest.mark.parametrize("kind", ["submit", "dispatch", "function"])
def test_submit_or_dispatch_objects_are_dispatchers(kind: str) -> None:
    dispatcher: Any = SubmitOnly() if kind == "submit" else DispatchOnly()
    if kind == "function":
        dispatcher = dispatcher.dispatch
    s = Scheduler(dispatcher, clock=VirtualClock())
    ok = s.register_task("ok", "* * * * *", where)

    def fails() -> None:
        raise OSError("disk full")

    bad = s.register_task("bad", "* * * * *", fails)
    s.advance(60)
    assert s.run_pending() == 2
    ok_job, bad_job = s.get_job(ok), s.get_job(bad)
    assert ok_job is not None and bad_job is not None
    expected = "submit-only" if kind == "submit" else "ui-thread"
    assert ok_job.result.startswith(expected) and ok_job.last_outcome == "succeeded"
    assert bad_job.error == "OSError: disk full" and bad_job.last_outcome == "failed"
    s.stop()
    if kind == "dispatch":
        dispatcher.close()
    elif kind == "function":
        dispatcher.__self__.close()


def test_the_background_loop_uses_the_dispatcher_within_a_second() -> None:
    pool = ThreadPoolExecutor(2, thread_name_prefix="bg")
    with Scheduler(pool) as s:
        job_id = s.schedule(where, trigger=IntervalTrigger(seconds=0.2), max_runs=3)
        assert s.wait_job(job_id, timeout=10).status is JobStatus.COMPLETED
        history = s.get_run_history(job_id)
    assert all(r.result.startswith("bg") for r in history)
    assert all(abs(r.lateness) < 1.0 for r in history)  # the specification's +-1 s
    pool.shutdown()


def test_a_dispatcher_that_refuses_fails_the_run_not_the_scheduler() -> None:
    class Refuses:
        def submit(self, fn: Callable[..., Any], *args: Any) -> Future[Any]:
            raise RuntimeError("queue full")

    s = Scheduler(Refuses(), clock=VirtualClock())
    job_id = s.register_task("t", "* * * * *", where)
    s.advance(60)
    assert s.run_pending() == 1
    job = s.get_job(job_id)
    assert job is not None and job.error == "RuntimeError: queue full"
    assert job.status is JobStatus.PENDING
    s.advance(60)
    assert s.run_pending() == 1  # still scheduling
    s.stop()


@pytest.mark.parametrize("bad", [object(), "pool", 4, ThreadPoolExecutor])
def test_a_bad_dispatcher_is_a_clear_error(bad: object) -> None:
    with pytest.raises(InvalidJobError, match=r"dispatcher: expected a concurrent\.futures"):
        Scheduler(bad)
    with pytest.raises(TypeError):
        AsyncScheduler(executor=bad)  # type: ignore[arg-type]


def test_a_task_runs_in_one_thread_at_a_time() -> None:
    pool = ThreadPoolExecutor(8)
    s = Scheduler(pool, clock=VirtualClock())
    inside = {"now": 0, "max": 0}
    lock = threading.Lock()

    def task() -> None:
        with lock:
            inside["now"] += 1
            inside["max"] = max(inside["max"], inside["now"])
        time.sleep(0.005)
        with lock:
            inside["now"] -= 1

    s.register_task("once-at-a-time", "* * * * * *", task)
    ran = []

    def driver() -> None:
        for _ in range(20):
            ran.append(s.run_pending())

    for _ in range(5):
        s.advance(1)
        threads = [threading.Thread(target=driver) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(10)
    assert inside["max"] == 1 and sum(ran) == 5  # one run per second of virtual time
    s.stop()
    pool.shutdown()


def test_callbacks_can_register_new_tasks() -> None:
    pool = ThreadPoolExecutor(2)
    s = Scheduler(pool, clock=VirtualClock())
    added: list[str] = []

    def spawner() -> None:
        added.append(s.register_task(f"child{len(added)}", "* * * * *", where))

    s.register_task("spawner", "* * * * *", spawner)
    s.advance(60)
    done = threading.Event()
    threading.Thread(target=lambda: (s.run_pending(), done.set()), daemon=True).start()
    assert done.wait(10), "run_pending deadlocked on a registration from a callback"
    assert len(added) == 1 and s.get_job(added[0]) is not None
    s.advance(60)
    assert s.run_pending() == 2  # the spawner again and its child
    s.stop()
    pool.shutdown()


def test_registration_stays_cheap_as_tasks_pile_up_under_contention() -> None:
    s = Scheduler(ThreadPoolExecutor(2), clock=VirtualClock())

    def batch(n: int) -> float:
        def register() -> None:
            for i in range(n):
                s.register_task(f"t{i}", "*/5 * * * *", where)

        threads = [threading.Thread(target=register) for _ in range(4)]
        began = time.perf_counter()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        return (time.perf_counter() - began) / (4 * n)

    first = batch(150)
    batch(600)  # 3,000 tasks registered by now
    later = batch(150)
    assert len(s.list_jobs()) == 3_600
    assert later < 5 * first + 0.0005, (first, later)  # per registration: no O(n) growth
    s.stop()


def test_reads_do_not_hold_up_writers() -> None:
    s = Scheduler(clock=VirtualClock())
    for i in range(500):
        s.register_task(f"t{i}", "0 * * * *", where)
    stop = threading.Event()

    def reader() -> None:
        while not stop.is_set():
            s.get_job("t1")
            s.statistics()

    readers = [threading.Thread(target=reader) for _ in range(3)]
    for t in readers:
        t.start()
    began = time.perf_counter()
    for i in range(300):
        s.register_task(f"w{i}", "0 * * * *", where)
    elapsed = time.perf_counter() - began
    stop.set()
    for t in readers:
        t.join()
    assert elapsed < 10, elapsed
    s.stop()


def test_test_mode_defaults_to_production() -> None:
    s = Scheduler()
    assert s.test_mode is False
    s.test_mode = True
    assert s.test_mode is True
    with pytest.raises(InvalidJobError, match="test_mode"):
        s.test_mode = "yes"  # type: ignore[assignment]


def test_last_outcome_after_a_failed_run_now_of_a_recurring_job() -> None:
    calls: list[int] = []

    def flaky() -> str:
        calls.append(1)
        if len(calls) == 1:
            raise ValueError("first call fails")
        return "fine"

    with Scheduler(clock=VirtualClock()) as s:
        job_id = s.schedule(flaky, trigger=IntervalTrigger(hours=1))
        fresh = s.get_job(job_id)
        assert fresh is not None and fresh.last_outcome is None and fresh.last_error is None
        with pytest.raises(ValueError, match="first call fails"):
            s.run_now(job_id)
        job = s.get_job(job_id)
        assert job is not None
        # still scheduled: PENDING at once, the failure shown by last_outcome and error
        assert job.status is JobStatus.PENDING and job.next_run is not None
        assert job.last_outcome == "failed" and job.last_error == "ValueError: first call fails"
        s.advance(3600)
        job = s.get_job(job_id)
        assert job is not None and job.last_outcome == "succeeded" and job.error is None
        assert job.status is JobStatus.PENDING and job.run_count == 2


def test_stop_from_a_dispatched_callback_does_not_wait_for_itself() -> None:
    pool = ThreadPoolExecutor(2)
    s = Scheduler(pool, stop_timeout=30)
    s.start()
    loop_thread = s.loop_thread
    assert loop_thread is not None
    s.schedule(s.stop)
    began = time.monotonic()
    loop_thread.join(10)
    assert not loop_thread.is_alive() and time.monotonic() - began < 5
    pool.shutdown()


def test_a_persistent_scheduler_takes_a_dispatcher_too(tmp_path: Any) -> None:
    from asyncron import PersistentScheduler

    pool = ThreadPoolExecutor(1, thread_name_prefix="saved")
    with PersistentScheduler(tmp_path / "jobs.json", dispatcher=pool) as s:
        job_id = s.schedule(where, function_name="where", max_runs=1)
        assert s.wait_job(job_id, timeout=10).result.startswith("saved")
    pool.shutdown()
