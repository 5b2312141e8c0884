"""Conformance audit: what a user reading DESIGN.md / the docs would check, one thing per test.

These tests are written from the public specification (names, exact classic signatures,
semantics) and from what APScheduler / ``schedule`` users naturally write. They use sub-second
real waits or the virtual clock.
"""

from __future__ import annotations

import asyncio
import dataclasses
import inspect
import itertools
import json
import threading
import time
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

import asyncron
from asyncron import (
    AsyncScheduler,
    CronTrigger,
    DependencyScheduler,
    IntervalTrigger,
    Job,
    JobPipeline,
    JobStatus,
    OnceTrigger,
    PersistentScheduler,
    Scheduler,
    Trigger,
)
from asyncron import errors as E
from asyncron.events import SchedulerStarted, SchedulerStopped
from asyncron.testing import VirtualClock

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
WAIT = 5.0  # upper bound for waits on real time; tests normally finish far sooner


class Boom(Exception):
    """A user's own exception type."""


@pytest.fixture
def sched() -> Any:
    s = Scheduler(max_workers=4, stop_timeout=2)
    yield s
    s.stop()


def _wait_for(predicate: Any, timeout: float = WAIT) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.005)


# ==================================================================================================
# Public names
# ==================================================================================================


@pytest.mark.parametrize(
    "name",
    [
        "AsyncScheduler",
        "Scheduler",
        "DependencyScheduler",
        "PersistentScheduler",
        "JobPipeline",
        "Job",
        "JobStatus",
        "Trigger",
        "OnceTrigger",
        "IntervalTrigger",
        "CronTrigger",
    ],
)
def test_public_name_is_exported(name: str) -> None:
    assert name in asyncron.__all__
    assert getattr(asyncron, name) is not None


def test_virtual_clock_importable_from_testing() -> None:
    from asyncron.testing import VirtualClock as VC

    assert VC is VirtualClock


def test_triggers_are_trigger_subclasses() -> None:
    for cls in (OnceTrigger, IntervalTrigger, CronTrigger):
        assert issubclass(cls, Trigger)


# ==================================================================================================
# Classic Scheduler: signatures
# ==================================================================================================


def _params(func: Any) -> list[tuple[str, Any]]:
    sig = inspect.signature(func)
    return [(p.name, p.default) for p in sig.parameters.values() if p.name != "self"]


def test_schedule_signature_is_exact() -> None:
    assert _params(Scheduler.schedule) == [
        ("func", inspect.Parameter.empty),
        ("name", None),
        ("trigger", None),
        ("args", ()),
        ("kwargs", None),
        ("max_runs", None),
    ]


def test_schedule_return_annotation_is_str() -> None:
    assert inspect.signature(Scheduler.schedule).return_annotation in (str, "str")


def test_cancel_get_job_list_jobs_run_now_signatures() -> None:
    assert _params(Scheduler.cancel) == [("job_id", inspect.Parameter.empty)]
    assert _params(Scheduler.get_job) == [("job_id", inspect.Parameter.empty)]
    assert _params(Scheduler.list_jobs) == [("status", None)]
    assert _params(Scheduler.run_now) == [("job_id", inspect.Parameter.empty)]
    assert _params(Scheduler.start) == []
    assert _params(Scheduler.stop) == []
    assert _params(Scheduler.run_pending) == []


def test_register_task_signature() -> None:
    assert _params(Scheduler.register_task) == [
        ("name", inspect.Parameter.empty),
        ("cron_expr", inspect.Parameter.empty),
        ("callback", inspect.Parameter.empty),
    ]


def test_schedule_accepts_every_argument_by_keyword(sched: Scheduler) -> None:
    job_id = sched.schedule(
        func=lambda a, b=0: a + b,
        name="adder",
        trigger=IntervalTrigger(hours=1),
        args=(1,),
        kwargs={"b": 2},
        max_runs=1,
    )
    assert isinstance(job_id, str) and job_id
    assert sched.run_now(job_id) == 3


def test_schedule_returns_distinct_string_ids(sched: Scheduler) -> None:
    ids = {sched.schedule(lambda: None, trigger=IntervalTrigger(hours=1)) for _ in range(50)}
    assert len(ids) == 50
    assert all(isinstance(i, str) for i in ids)


# ==================================================================================================
# Classic Scheduler: behaviour
# ==================================================================================================


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
    _wait_for(lambda: (j := s.get_job(job_id)) is not None and j.status is JobStatus.RUNNING)
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


# -- register_task / run_pending ------------------------------------------------------------------


@pytest.mark.parametrize("bad", ["61 * * * *", "* * *", "", "*/0 * * * *", "not cron"])
def test_register_task_rejects_bad_cron_at_registration(bad: str) -> None:
    s = Scheduler()
    try:
        with pytest.raises(ValueError):
            s.register_task("t", bad, print)
        assert s.list_jobs() == []
    finally:
        s.stop()


def test_register_task_returns_an_id_and_names_the_job() -> None:
    s = Scheduler()
    try:
        job_id = s.register_task("report", "0 9 * * 1-5", print)
        assert isinstance(job_id, str)
        job = s.get_job(job_id)
        assert job is not None and job.name == "report"
        assert isinstance(job.trigger, CronTrigger)
    finally:
        s.stop()


def test_register_task_rejects_a_non_callable() -> None:
    s = Scheduler()
    try:
        with pytest.raises((TypeError, ValueError)):
            s.register_task("t", "* * * * *", "nope")  # type: ignore[arg-type]
    finally:
        s.stop()


def test_run_pending_returns_zero_when_nothing_is_due() -> None:
    s = Scheduler()
    try:
        s.register_task("t", "0 0 1 1 *", print)
        assert s.run_pending() == 0
    finally:
        s.stop()


def test_run_pending_runs_in_the_calling_thread_with_a_seconds_cron() -> None:
    s = Scheduler()
    try:
        seen: list[int] = []
        s.register_task("tick", "* * * * * *", lambda: seen.append(threading.get_ident()))
        _wait_for(lambda: s.run_pending() > 0, timeout=2.5)
        assert seen and set(seen) == {threading.get_ident()}
    finally:
        s.stop()


def test_run_pending_runs_due_scheduled_jobs_when_not_started() -> None:
    s = Scheduler()
    try:
        seen: list[int] = []
        s.schedule(lambda: seen.append(threading.get_ident()))
        assert s.run_pending() == 1
        assert seen == [threading.get_ident()]
        assert s.run_pending() == 0
    finally:
        s.stop()


def test_registered_task_is_not_run_by_the_background_loop() -> None:
    # a virtual clock instead of sleeping 1.1 s: five seconds pass, each one a due fire
    s = Scheduler(clock=VirtualClock())
    try:
        hits: list[int] = []
        s.register_task("tick", "* * * * * *", lambda: hits.append(1))
        s.start()
        s.advance(5)
        assert hits == []  # the background loop left it alone
        assert s.run_pending() == 1 and hits == [1]  # it was due: run_pending runs it, once
    finally:
        s.stop()


# ==================================================================================================
# Job and JobStatus
# ==================================================================================================


def test_job_status_members() -> None:
    for name in ("PENDING", "RUNNING", "COMPLETED", "FAILED", "CANCELLED"):
        assert hasattr(JobStatus, name)
    assert len({JobStatus.PENDING, JobStatus.RUNNING, JobStatus.COMPLETED, JobStatus.FAILED,
                JobStatus.CANCELLED}) == 5  # fmt: skip


def test_job_status_compares_to_its_text() -> None:
    assert JobStatus.PENDING == "pending"
    assert JobStatus("completed") is JobStatus.COMPLETED


def test_job_has_the_documented_fields() -> None:
    names = {f.name for f in dataclasses.fields(Job)}
    assert {
        "id", "name", "status", "trigger", "next_run", "last_run", "run_count", "max_runs",
        "error", "result",
    } <= names  # fmt: skip


@pytest.mark.parametrize("field", ["id", "name", "status", "run_count", "error", "result"])
def test_job_snapshot_is_read_only(sched: Scheduler, field: str) -> None:
    job = sched.get_job(sched.schedule(print, trigger=IntervalTrigger(hours=1)))
    assert job is not None
    with pytest.raises(AttributeError):
        setattr(job, field, "x")


def test_job_snapshot_does_not_change_afterwards(sched: Scheduler) -> None:
    job_id = sched.schedule(lambda: 5, trigger=IntervalTrigger(hours=1))
    before = sched.get_job(job_id)
    sched.run_now(job_id)
    assert before is not None and before.run_count == 0 and before.result is None
    after = sched.get_job(job_id)
    assert after is not None and after.run_count == 1


def test_job_next_run_matches_trigger(sched: Scheduler) -> None:
    start = datetime.now(UTC) + timedelta(hours=2)
    trigger = IntervalTrigger(minutes=10, start=start)
    job = sched.get_job(sched.schedule(print, trigger=trigger))
    assert job is not None and job.next_run == start


def test_running_status_is_visible(sched: Scheduler) -> None:
    sched.start()
    release = threading.Event()
    job_id = sched.schedule(lambda: release.wait(WAIT))
    try:
        _wait_for(
            lambda: (j := sched.get_job(job_id)) is not None and j.status is JobStatus.RUNNING
        )
        assert [j.id for j in sched.list_jobs(JobStatus.RUNNING)] == [job_id]
        assert [j.id for j in sched.list_jobs("running")] == [job_id]
    finally:
        release.set()
    sched.wait_job(job_id, timeout=WAIT)


# ==================================================================================================
# Triggers: the common contract
# ==================================================================================================

ALL_TRIGGERS: list[Trigger] = [
    OnceTrigger(datetime(2100, 1, 1, tzinfo=UTC)),
    IntervalTrigger(seconds=30),
    IntervalTrigger(minutes=5, start=T0),
    CronTrigger.from_expression("*/5 * * * *", timezone="UTC"),
    CronTrigger.from_expression("0 9 * * 1-5", timezone="Europe/Berlin"),
]


@pytest.mark.parametrize("trigger", ALL_TRIGGERS, ids=repr)
def test_get_next_run_none_means_now_and_is_aware(trigger: Trigger) -> None:
    before = datetime.now(UTC)
    nxt = trigger.get_next_run(None)
    assert nxt is not None and nxt.tzinfo is not None and nxt.utcoffset() is not None
    assert nxt > before


@pytest.mark.parametrize("trigger", ALL_TRIGGERS, ids=repr)
def test_get_next_run_without_argument(trigger: Trigger) -> None:
    nxt = trigger.get_next_run()
    assert nxt is not None and nxt.tzinfo is not None


@pytest.mark.parametrize("trigger", ALL_TRIGGERS[1:], ids=repr)
def test_get_next_run_is_strictly_after_and_increasing(trigger: Trigger) -> None:
    t = T0
    for _ in range(20):
        nxt = trigger.get_next_run(t)
        assert nxt is not None and nxt > t and nxt.tzinfo is not None
        t = nxt


@pytest.mark.parametrize("trigger", ALL_TRIGGERS[1:], ids=repr)
def test_get_next_run_of_a_fire_time_is_the_following_fire(trigger: Trigger) -> None:
    first = trigger.get_next_run(T0)
    assert first is not None
    second = trigger.get_next_run(first)
    assert second is not None and second > first


@pytest.mark.parametrize("trigger", ALL_TRIGGERS, ids=repr)
def test_get_next_run_accepts_a_naive_datetime(trigger: Trigger) -> None:
    naive = datetime(2026, 3, 1, 12, 0)
    nxt = trigger.get_next_run(naive)
    # every trigger here fires after that instant; a naive time is local time, as documented
    assert nxt is not None and nxt.tzinfo is not None
    assert nxt == trigger.get_next_run(naive.astimezone())


@pytest.mark.parametrize("trigger", ALL_TRIGGERS, ids=repr)
def test_get_next_run_rejects_a_non_datetime(trigger: Trigger) -> None:
    with pytest.raises((TypeError, ValueError), match="from_time"):
        trigger.get_next_run("2026-01-01")  # type: ignore[arg-type]


@pytest.mark.parametrize("trigger", ALL_TRIGGERS, ids=repr)
def test_triggers_are_immutable(trigger: Trigger) -> None:
    with pytest.raises(AttributeError):
        trigger.foo = 1  # type: ignore[attr-defined]


@pytest.mark.parametrize("trigger", ALL_TRIGGERS, ids=repr)
def test_triggers_have_a_useful_repr_and_str(trigger: Trigger) -> None:
    assert type(trigger).__name__ in repr(trigger)
    assert str(trigger)


def test_trigger_abc_cannot_be_instantiated() -> None:
    with pytest.raises(TypeError):
        Trigger()  # type: ignore[abstract]


def test_a_user_trigger_subclass_works_with_the_scheduler(sched: Scheduler) -> None:
    class EveryTenMs(Trigger):
        def get_next_run(self, from_time: datetime | None = None) -> datetime | None:
            base = from_time or datetime.now(UTC)
            return base + timedelta(milliseconds=10)

    sched.start()
    job = sched.wait_job(sched.schedule(lambda: 1, trigger=EveryTenMs(), max_runs=2), timeout=WAIT)
    assert job.run_count == 2


# -- OnceTrigger ----------------------------------------------------------------------------------


def test_once_trigger_fires_once_at_run_at() -> None:
    t = OnceTrigger(T0)
    assert t.get_next_run(T0 - timedelta(seconds=1)) == T0
    assert t.get_next_run(T0) is None
    assert t.get_next_run(T0 + timedelta(days=1)) is None


def test_once_trigger_naive_run_at_is_local_time() -> None:
    naive = datetime(2030, 6, 1, 8, 30)
    t = OnceTrigger(naive)
    assert t.run_at.tzinfo is not None
    assert t.run_at.replace(tzinfo=None) == naive
    assert t.run_at == naive.astimezone()  # the same instant Python's local time gives


def test_once_trigger_aware_run_at_in_another_zone() -> None:
    berlin = datetime(2030, 6, 1, 8, 30, tzinfo=ZoneInfo("Europe/Berlin"))
    t = OnceTrigger(berlin)
    nxt = t.get_next_run(datetime(2030, 6, 1, 6, 0, tzinfo=UTC))
    assert nxt == berlin and nxt is not None and nxt.tzinfo is not None


def test_once_trigger_in_the_past_is_exhausted_for_get_next_run() -> None:
    past = datetime.now(UTC) - timedelta(hours=1)
    assert OnceTrigger(past).get_next_run() is None


def test_once_trigger_rejects_a_non_datetime() -> None:
    with pytest.raises(ValueError, match="run_at"):
        OnceTrigger("2026-01-01")  # type: ignore[arg-type]


def test_once_trigger_rejects_a_date() -> None:
    with pytest.raises(ValueError, match="run_at"):
        OnceTrigger(date(2026, 1, 1))  # type: ignore[arg-type]


def test_once_trigger_equality() -> None:
    assert OnceTrigger(T0) == OnceTrigger(T0)
    assert OnceTrigger(T0) != OnceTrigger(T0 + timedelta(seconds=1))
    assert hash(OnceTrigger(T0)) == hash(OnceTrigger(T0))


# -- IntervalTrigger ------------------------------------------------------------------------------


def test_interval_units_add_up() -> None:
    t = IntervalTrigger(hours=1, minutes=2, seconds=3)
    assert t.interval == timedelta(hours=1, minutes=2, seconds=3)


def test_interval_timedelta_positional() -> None:
    assert IntervalTrigger(timedelta(minutes=5)).interval == timedelta(minutes=5)


def test_interval_without_start_is_one_interval_after_from_time() -> None:
    t = IntervalTrigger(seconds=30)
    assert t.get_next_run(T0) == T0 + timedelta(seconds=30)


def test_interval_with_start_lies_on_the_grid() -> None:
    t = IntervalTrigger(minutes=15, start=T0)
    assert t.get_next_run(T0 - timedelta(hours=1)) == T0
    assert t.get_next_run(T0) == T0 + timedelta(minutes=15)
    assert t.get_next_run(T0 + timedelta(minutes=16)) == T0 + timedelta(minutes=30)


def test_interval_end_is_inclusive_then_exhausted() -> None:
    t = IntervalTrigger(minutes=15, start=T0, end=T0 + timedelta(hours=1))
    assert t.get_next_run(T0 + timedelta(minutes=45)) == T0 + timedelta(hours=1)
    assert t.get_next_run(T0 + timedelta(hours=1)) is None


def test_interval_keeps_elapsed_time_across_dst() -> None:
    ny = ZoneInfo("America/New_York")
    before = datetime(2026, 3, 8, 1, 30, tzinfo=ny)  # DST starts at 02:00
    nxt = IntervalTrigger(hours=1).get_next_run(before)
    assert nxt is not None
    assert nxt.astimezone(UTC) - before.astimezone(UTC) == timedelta(hours=1)


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"seconds": 0}, "seconds"),
        ({"seconds": -1}, "seconds"),
        ({"minutes": -5}, "minutes"),
        ({"hours": 0}, "hours"),
        ({}, "interval"),
    ],
)
def test_interval_non_positive_is_a_value_error_naming_the_field(
    kwargs: dict[str, float], field: str
) -> None:
    with pytest.raises(ValueError, match=field) as info:
        IntervalTrigger(**kwargs)
    assert isinstance(info.value, E.AsyncronError)
    assert "positive" in str(info.value)


def test_interval_zero_timedelta_is_rejected() -> None:
    with pytest.raises(ValueError, match="interval"):
        IntervalTrigger(timedelta(0))


def test_interval_negative_timedelta_message_is_readable() -> None:
    with pytest.raises(ValueError) as info:
        IntervalTrigger(timedelta(seconds=-5))
    assert "-5" in str(info.value)
    assert "days=-1" not in str(info.value)


@pytest.mark.parametrize("bad", ["5", None, [1]])
def test_interval_non_number_names_the_unit(bad: object) -> None:
    with pytest.raises(ValueError, match="seconds"):
        IntervalTrigger(seconds=bad)  # type: ignore[arg-type]


def test_interval_end_before_start_names_end() -> None:
    with pytest.raises(ValueError, match="end") as info:
        IntervalTrigger(seconds=5, start=T0, end=T0 - timedelta(seconds=1))
    assert "start" in str(info.value)


def test_interval_naive_and_aware_mix_is_refused() -> None:
    with pytest.raises(ValueError, match="naive"):
        IntervalTrigger(seconds=5, start=datetime(2026, 1, 1), end=T0)


def test_interval_equality_and_hash() -> None:
    assert IntervalTrigger(seconds=60) == IntervalTrigger(minutes=1)
    assert IntervalTrigger(timedelta(minutes=1)) == IntervalTrigger(seconds=60)
    assert hash(IntervalTrigger(seconds=60)) == hash(IntervalTrigger(minutes=1))
    assert IntervalTrigger(seconds=60) != IntervalTrigger(seconds=61)


# ==================================================================================================
# CronTrigger
# ==================================================================================================


def test_cron_from_expression_with_zone_name() -> None:
    t = CronTrigger.from_expression("0 9 * * 1-5", timezone="Europe/Berlin")
    nxt = t.get_next_run(T0)  # a Sunday
    assert nxt == datetime(2026, 3, 2, 9, 0, tzinfo=ZoneInfo("Europe/Berlin"))
    assert nxt is not None and nxt.utcoffset() == timedelta(hours=1)


@pytest.mark.parametrize(
    "tz",
    [ZoneInfo("Europe/Berlin"), UTC, timezone(timedelta(hours=2)), "UTC", "utc", None],
    ids=repr,
)
def test_cron_timezone_accepts_names_and_tzinfo_objects(tz: Any) -> None:
    t = CronTrigger.from_expression("30 6 * * *", timezone=tz)
    nxt = t.get_next_run(T0)
    assert nxt is not None and nxt.tzinfo is not None
    assert (nxt.hour, nxt.minute) == (6, 30)


def test_cron_timezone_positional() -> None:
    t = CronTrigger.from_expression("0 0 * * *", "Asia/Tokyo")
    nxt = t.get_next_run(T0)
    assert nxt is not None and nxt.utcoffset() == timedelta(hours=9)


def test_cron_unknown_timezone_is_a_value_error_naming_it() -> None:
    with pytest.raises(ValueError, match="Mars/Olympus"):
        CronTrigger.from_expression("* * * * *", timezone="Mars/Olympus")


def test_cron_naive_from_time_is_read_in_the_trigger_zone() -> None:
    t = CronTrigger.from_expression("0 9 * * *", timezone="America/New_York")
    nxt = t.get_next_run(datetime(2026, 6, 1, 8, 0))
    assert nxt == datetime(2026, 6, 1, 9, 0, tzinfo=ZoneInfo("America/New_York"))


def test_cron_result_is_in_the_trigger_zone() -> None:
    t = CronTrigger.from_expression("0 9 * * *", timezone="Asia/Kolkata")
    nxt = t.get_next_run(T0)
    assert nxt is not None and nxt.utcoffset() == timedelta(hours=5, minutes=30)


def test_cron_strictly_after_an_exact_fire_time() -> None:
    t = CronTrigger.from_expression("*/5 * * * *", timezone="UTC")
    assert t.get_next_run(T0) == T0 + timedelta(minutes=5)
    assert t.get_next_run(T0 - timedelta(microseconds=1)) == T0


def test_cron_get_previous_run() -> None:
    t = CronTrigger.from_expression("*/5 * * * *", timezone="UTC")
    assert t.get_previous_run(T0) == T0 - timedelta(minutes=5)
    assert t.get_previous_run(T0 + timedelta(seconds=1)) == T0
    prev = t.get_previous_run()
    assert prev is not None and prev < datetime.now(UTC)


def test_cron_six_fields_seconds_first_and_seven_with_year() -> None:
    six = CronTrigger.from_expression("*/10 * * * * *", timezone="UTC")
    assert six.get_next_run(T0) == T0 + timedelta(seconds=10)
    seven = CronTrigger.from_expression("0 0 0 1 1 * 2030", timezone="UTC")
    assert seven.get_next_run(T0) == datetime(2030, 1, 1, tzinfo=UTC)
    assert seven.get_next_run(datetime(2030, 1, 1, tzinfo=UTC)) is None


def test_cron_names_and_aliases() -> None:
    t = CronTrigger.from_expression("0 12 * jan-mar MON-fri", timezone="UTC")
    nxt = t.get_next_run(T0)
    assert nxt == datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
    assert CronTrigger.from_expression("@daily", timezone="UTC").get_next_run(T0) == datetime(
        2026, 3, 2, tzinfo=UTC
    )


def test_cron_dom_dow_or_semantics() -> None:
    t = CronTrigger.from_expression("0 0 13 * 5", timezone="UTC")  # the 13th OR any Friday
    nxt = t.get_next_run(T0)  # Sunday 1 March 2026 -> Friday 6 March
    assert nxt == datetime(2026, 3, 6, tzinfo=UTC)


def test_cron_describe_and_str() -> None:
    t = CronTrigger.from_expression("0 9 * * 1-5", timezone="UTC")
    text = t.describe()
    assert "09:00" in text and "Monday" in text and "Friday" in text
    assert str(t) == text


def test_cron_equality_hash_and_repr() -> None:
    a = CronTrigger.from_expression("0 9 * * *", timezone="Europe/Berlin")
    b = CronTrigger.from_expression("0 9 * * *", timezone=ZoneInfo("Europe/Berlin"))
    c = CronTrigger.from_expression("0 9 * * *", timezone="UTC")
    assert a == b and hash(a) == hash(b)
    assert a != c
    assert "0 9 * * *" in repr(a) and "Europe/Berlin" in repr(a)


def test_cron_expression_and_timezone_are_readable() -> None:
    t = CronTrigger.from_expression("0 9 * * *", timezone="Europe/Berlin")
    assert t.expression == "0 9 * * *"
    assert str(t.timezone) == "Europe/Berlin"


def test_cron_dst_gap_fixed_time_runs_after_the_gap() -> None:
    t = CronTrigger.from_expression("30 2 * * *", timezone="America/New_York")
    nxt = t.get_next_run(datetime(2026, 3, 8, 0, 0, tzinfo=ZoneInfo("America/New_York")))
    assert nxt is not None
    assert nxt.astimezone(UTC) == datetime(2026, 3, 8, 7, 0, tzinfo=UTC)  # 03:00 EDT


def test_cron_dst_overlap_fixed_time_runs_once() -> None:
    ny = ZoneInfo("America/New_York")
    t = CronTrigger.from_expression("30 1 * * *", timezone=ny)
    first = t.get_next_run(datetime(2026, 11, 1, 0, 0, tzinfo=ny))
    assert first is not None
    second = t.get_next_run(first)
    assert second is not None
    assert second.astimezone(UTC) - first.astimezone(UTC) > timedelta(hours=23)


# -- cron errors (issue 3) ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("expr", "field", "token", "position", "allowed"),
    [
        ("*/0 * * * *", "minute", "0", 2, "1-"),
        ("60 * * * *", "minute", "60", 0, "0-59"),
        ("* 24 * * *", "hour", "24", 2, "0-23"),
        ("* * 32 * *", "day-of-month", "32", 4, "1-31"),
        ("* * * 13 *", "month", "13", 6, "1-12"),
        ("* * * * 8", "day-of-week", "8", 8, "0-7"),
        ("5-1 * * * *", "minute", "5-1", 0, "0-59"),
        ("* * * foo *", "month", "foo", 6, "JAN-DEC"),
        ("* * * * funday", "day-of-week", "funday", 8, "SUN-SAT"),
    ],
)
def test_cron_error_names_field_token_position_and_allowed(
    expr: str, field: str, token: str, position: int, allowed: str
) -> None:
    with pytest.raises(ValueError) as info:
        CronTrigger.from_expression(expr)
    err = info.value
    assert isinstance(err, E.CronParseError) and isinstance(err, E.AsyncronError)
    msg = str(err)
    assert field in msg, msg
    assert token in msg, msg
    assert f"position {position}" in msg, msg
    assert allowed in msg, msg
    assert err.field == field
    assert err.position == position


def test_cron_impossible_day_names_the_day_and_month() -> None:
    with pytest.raises(ValueError) as info:
        CronTrigger.from_expression("* * 31 2 *")
    msg = str(info.value)
    # 'month' alone is part of 'day-of-month': name the month itself and what is allowed
    assert msg.startswith("day-of-month field: '31' at position 4 never matches a day in February")
    assert "allowed 1-29 (or L) for the month field '2'" in msg


@pytest.mark.parametrize("expr", ["* * * *", "* * * * * * * *", "*", "0 0"])
def test_cron_wrong_field_count_says_what_is_expected(expr: str) -> None:
    with pytest.raises(ValueError, match="5 fields") as info:
        CronTrigger.from_expression(expr)
    assert str(len(expr.split())) in str(info.value)


@pytest.mark.parametrize("expr", ["", "   "])
def test_cron_empty_expression(expr: str) -> None:
    with pytest.raises(ValueError, match="empty"):
        CronTrigger.from_expression(expr)


@pytest.mark.parametrize("expr", [None, 5, b"* * * * *", ["*"] * 5])
def test_cron_non_string_is_a_value_error_naming_the_type(expr: object) -> None:
    with pytest.raises(ValueError) as info:
        CronTrigger.from_expression(expr)  # type: ignore[arg-type]
    assert type(expr).__name__ in str(info.value)
    assert "str" in str(info.value)


def test_cron_error_is_not_a_bare_traceback_from_deep_inside() -> None:
    with pytest.raises(E.CronParseError) as info:
        CronTrigger.from_expression("1,,2 * * * *")
    assert "minute" in str(info.value)


def test_cron_unknown_alias() -> None:
    with pytest.raises(ValueError, match="@fortnightly"):
        CronTrigger.from_expression("@fortnightly")


# ==================================================================================================
# Errors package
# ==================================================================================================


@pytest.mark.parametrize(
    ("cls", "builtin"),
    [
        (E.InvalidTriggerError, ValueError),
        (E.CronParseError, ValueError),
        (E.InvalidJobError, ValueError),
        (E.JobLookupError, LookupError),
        (E.JobStateError, RuntimeError),
        (E.SchedulerStateError, RuntimeError),
        (E.DeadlockError, RuntimeError),
        (E.DependencyCycleError, ValueError),
        (E.RunTimeoutError, TimeoutError),
    ],
)
def test_error_leaf_subclasses_root_and_builtin(cls: type[Exception], builtin: type) -> None:
    assert issubclass(cls, E.AsyncronError)
    assert issubclass(cls, builtin)


def test_errors_all_is_complete() -> None:
    for name in E.__all__:
        assert issubclass(getattr(E, name), E.AsyncronError)


def test_job_lookup_error_carries_the_id() -> None:
    err = E.JobLookupError("abc")
    assert err.job_id == "abc"
    assert "abc" in str(err)


def test_errors_are_picklable() -> None:
    import pickle

    for err in (
        E.JobLookupError("abc"),
        E.DependencyCycleError(["a", "b", "a"]),
        E.CronParseError(
            "minute field: bad", expression="x", field="minute", token="x", position=0
        ),
    ):
        back = pickle.loads(pickle.dumps(err))
        assert type(back) is type(err) and str(back) == str(err)


# ==================================================================================================
# DependencyScheduler
# ==================================================================================================


@pytest.fixture
def dsched() -> Any:
    s = DependencyScheduler(max_workers=4, stop_timeout=2)
    yield s
    s.stop()


def test_dependency_signatures() -> None:
    assert _params(DependencyScheduler.add_dependency) == [
        ("job_id", inspect.Parameter.empty),
        ("depends_on", inspect.Parameter.empty),
    ]
    params = inspect.signature(DependencyScheduler.schedule_with_deps).parameters
    assert list(params)[1:3] == ["func", "depends_on"]


def test_dependency_scheduler_is_a_scheduler() -> None:
    assert issubclass(DependencyScheduler, Scheduler)


def test_schedule_with_deps_waits_for_the_dependency(dsched: DependencyScheduler) -> None:
    order: list[str] = []
    release = threading.Event()

    def first() -> None:
        release.wait(WAIT)
        order.append("first")

    a = dsched.schedule(first)
    b = dsched.schedule_with_deps(lambda: order.append("second"), [a])
    dsched.start()
    time.sleep(0.05)
    job_b = dsched.get_job(b)
    assert job_b is not None and job_b.run_count == 0
    release.set()
    dsched.wait_job(b, timeout=WAIT)
    assert order == ["first", "second"]


def test_schedule_with_deps_accepts_schedule_keywords(dsched: DependencyScheduler) -> None:
    a = dsched.schedule(lambda: 1)
    b = dsched.schedule_with_deps(
        lambda x, y=0: x + y, [a], name="dep", args=(1,), kwargs={"y": 2}, max_runs=1
    )
    dsched.start()
    job = dsched.wait_job(b, timeout=WAIT)
    assert job.name == "dep" and job.result == 3


def test_add_dependency_then_run(dsched: DependencyScheduler) -> None:
    order: list[str] = []
    a = dsched.schedule(lambda: order.append("a"))
    b = dsched.schedule(lambda: order.append("b"))
    dsched.add_dependency(a, [b])  # a waits for b
    dsched.start()
    dsched.wait_job(a, timeout=WAIT)
    assert order == ["b", "a"]


def test_dependency_cycle_is_named(dsched: DependencyScheduler) -> None:
    a = dsched.schedule(print, name="a", trigger=IntervalTrigger(hours=1))
    b = dsched.schedule(print, name="b", trigger=IntervalTrigger(hours=1))
    c = dsched.schedule(print, name="c", trigger=IntervalTrigger(hours=1))
    dsched.add_dependency(a, [b])
    dsched.add_dependency(b, [c])
    with pytest.raises(ValueError) as info:
        dsched.add_dependency(c, [a])
    assert isinstance(info.value, E.DependencyCycleError)
    assert f"{c} -> {a} -> {b} -> {c}" in str(info.value)
    job_c = dsched.get_job(c)
    assert job_c is not None and a not in getattr(job_c, "depends_on", ())


def test_self_dependency_is_a_cycle(dsched: DependencyScheduler) -> None:
    a = dsched.schedule(print, trigger=IntervalTrigger(hours=1))
    with pytest.raises(E.DependencyCycleError, match=f"{a} -> {a}"):
        dsched.add_dependency(a, [a])


def test_unknown_ids_are_lookup_errors(dsched: DependencyScheduler) -> None:
    a = dsched.schedule(print, trigger=IntervalTrigger(hours=1))
    with pytest.raises(LookupError, match="ghost"):
        dsched.add_dependency(a, ["ghost"])
    with pytest.raises(LookupError, match="ghost"):
        dsched.add_dependency("ghost", [a])
    with pytest.raises(LookupError, match="ghost"):
        dsched.schedule_with_deps(print, ["ghost"])
    assert len(dsched.list_jobs()) == 1


def test_failed_dependency_skips_the_dependent(dsched: DependencyScheduler) -> None:
    def fails() -> None:
        raise Boom("upstream")

    a = dsched.schedule(fails)
    b = dsched.schedule_with_deps(print, [a])
    dsched.start()
    job_b = dsched.wait_job(b, timeout=WAIT)
    assert job_b.run_count == 0
    assert job_b.status not in (JobStatus.COMPLETED, JobStatus.PENDING, JobStatus.RUNNING)


def test_depends_on_given_as_a_string_is_refused_clearly(dsched: DependencyScheduler) -> None:
    a = dsched.schedule(print, trigger=IntervalTrigger(hours=1))
    with pytest.raises((TypeError, ValueError), match="depends_on"):
        dsched.schedule_with_deps(print, a)  # type: ignore[arg-type]


# ==================================================================================================
# PersistentScheduler
# ==================================================================================================


def greet(who: str = "world") -> str:
    return f"hello {who}"


def test_persistent_schedule_with_function_name_saves_immediately(tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    s = PersistentScheduler(path)
    try:
        s.register_function("greet", greet)
        job_id = s.schedule(
            greet, name="greeter", trigger=IntervalTrigger(hours=1), args=("bob",),
            function_name="greet",
        )  # fmt: skip
        assert path.exists()
        text = path.read_text()
        assert job_id in text and "greet" in text
        json.loads(text)
    finally:
        s.stop()


def test_persistent_state_file_accepts_str_and_path(tmp_path: Path) -> None:
    for state in (str(tmp_path / "a.json"), tmp_path / "b.json"):
        s = PersistentScheduler(state)
        s.register_function("greet", greet)
        s.schedule(greet, trigger=IntervalTrigger(hours=1), function_name="greet")
        s.stop()
        assert Path(state).exists()


def test_persistent_reload_in_a_new_instance(tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    s = PersistentScheduler(path)
    s.register_function("greet", greet)
    job_id = s.schedule(
        greet, name="greeter", trigger=IntervalTrigger(hours=1), kwargs={"who": "ann"},
        max_runs=5, function_name="greet",
    )  # fmt: skip
    s.stop()

    s2 = PersistentScheduler(path)
    try:
        s2.register_function("greet", greet)
        s2.start()
        job = s2.get_job(job_id)
        assert job is not None
        assert job.name == "greeter" and job.max_runs == 5
        assert job.status is JobStatus.PENDING
        assert s2.run_now(job_id) == "hello ann"
    finally:
        s2.stop()


def test_persistent_stop_saves_run_counts(tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    s = PersistentScheduler(path)
    s.register_function("greet", greet)
    job_id = s.schedule(greet, trigger=IntervalTrigger(hours=1), function_name="greet")
    s.start()
    assert s.run_now(job_id) == "hello world"
    s.stop()

    s2 = PersistentScheduler(path)
    try:
        s2.register_function("greet", greet)
        s2.start()
        job = s2.get_job(job_id)
        assert job is not None and job.run_count == 1 and job.result == "hello world"
    finally:
        s2.stop()


def test_persistent_unnamed_jobs_stay_in_memory(tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    s = PersistentScheduler(path)
    job_id = s.schedule(lambda: None, trigger=IntervalTrigger(hours=1))
    s.stop()
    s2 = PersistentScheduler(path)
    try:
        s2.start()
        assert s2.get_job(job_id) is None
    finally:
        s2.stop()


def test_persistent_refuses_unserializable_args_at_schedule_time(tmp_path: Path) -> None:
    s = PersistentScheduler(tmp_path / "state.json")
    try:
        s.register_function("greet", greet)
        with pytest.raises(ValueError, match="args"):
            s.schedule(greet, args=(object(),), function_name="greet")
    finally:
        s.stop()


def test_persistent_scheduler_is_a_scheduler() -> None:
    assert issubclass(PersistentScheduler, Scheduler)


# ==================================================================================================
# JobPipeline
# ==================================================================================================


def test_pipeline_signature_and_chaining() -> None:
    assert _params(JobPipeline.__init__)[0] == ("stages", None)
    p = JobPipeline()
    assert p.add_stage([lambda: 1]) is p
    assert p.add_stage([lambda: 2]).add_stage([lambda: 3]) is p


def test_pipeline_run_sync_returns_each_stage_results() -> None:
    p = JobPipeline().add_stage([lambda: 1, lambda: 2]).add_stage([lambda: 3])
    assert p.run_sync() == [[1, 2], [3]]


def test_pipeline_with_initial_stages() -> None:
    p = JobPipeline(stages=[[lambda: "a"], [lambda: "b", lambda: "c"]])
    assert p.run_sync() == [["a"], ["b", "c"]]


def test_pipeline_stages_given_as_tuples() -> None:
    p = JobPipeline(stages=((lambda: 1,), (lambda: 2,)))
    assert p.run_sync() == [[1], [2]]


@pytest.mark.asyncio
async def test_pipeline_await_run_mixes_async_and_sync() -> None:
    async def fetch() -> int:
        await asyncio.sleep(0.01)
        return 10

    p = JobPipeline().add_stage([fetch, lambda: 5]).add_stage([lambda prev: sum(prev)])
    assert await p.run() == [[10, 5], [15]]


@pytest.mark.asyncio
async def test_pipeline_stage_callables_run_concurrently() -> None:
    async def nap() -> None:
        await asyncio.sleep(0.1)

    p = JobPipeline().add_stage([nap] * 5)
    started = time.perf_counter()
    await p.run()
    assert time.perf_counter() - started < 0.3


def test_pipeline_failure_raises_with_the_original_error() -> None:
    def bad() -> None:
        raise Boom("stage failed")

    ran: list[int] = []
    p = JobPipeline().add_stage([bad]).add_stage([lambda: ran.append(1)])
    with pytest.raises(Exception) as info:
        p.run_sync()
    err = info.value
    assert isinstance(err, BaseExceptionGroup)
    assert err.subgroup(Boom) is not None
    assert ran == []


def test_pipeline_empty_stage_is_refused() -> None:
    with pytest.raises((TypeError, ValueError), match="stage"):
        JobPipeline().add_stage([])


def test_pipeline_single_callable_instead_of_list_is_refused_with_a_hint() -> None:
    with pytest.raises((TypeError, ValueError), match=r"add_stage\(\[") as info:
        JobPipeline().add_stage(print)  # type: ignore[arg-type]
    assert "list" in str(info.value)


def test_empty_pipeline_returns_no_results() -> None:
    assert JobPipeline().run_sync() == []


def test_pipeline_scheduled_as_a_job(sched: Scheduler) -> None:
    p = JobPipeline().add_stage([lambda: 1]).add_stage([lambda: 2])
    sched.start()
    job = sched.wait_job(sched.schedule(p.run), timeout=WAIT)
    assert job.result == [[1], [2]]


# ==================================================================================================
# AsyncScheduler
# ==================================================================================================


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
    params = _params(AsyncScheduler.schedule)[:6]
    assert params == _params(Scheduler.schedule)


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


# ==================================================================================================
# VirtualClock (docs/testing.md)
# ==================================================================================================


@pytest.mark.asyncio
async def test_virtual_clock_advance_runs_a_week_of_interval_fires() -> None:
    clock = VirtualClock()
    fired: list[datetime] = []
    async with AsyncScheduler(clock=clock) as s:
        await s.schedule(lambda: fired.append(clock.now()), trigger=IntervalTrigger(minutes=5))
        await clock.advance(timedelta(days=7))
    assert len(fired) == 7 * 24 * 12
    assert fired[0] == datetime(2026, 1, 1, 0, 5, tzinfo=UTC)
    assert all(b - a == timedelta(minutes=5) for a, b in itertools.pairwise(fired))


@pytest.mark.asyncio
async def test_virtual_clock_advance_accepts_seconds() -> None:
    clock = VirtualClock()
    fired: list[int] = []
    async with AsyncScheduler(clock=clock) as s:
        await s.schedule(lambda: fired.append(1), trigger=IntervalTrigger(seconds=10))
        await clock.advance(60)
    assert len(fired) == 6


@pytest.mark.asyncio
async def test_virtual_clock_advance_to() -> None:
    clock = VirtualClock(datetime(2026, 1, 1, tzinfo=UTC))
    fired: list[datetime] = []
    async with AsyncScheduler(clock=clock) as s:
        await s.schedule(
            lambda: fired.append(clock.now()),
            trigger=CronTrigger.from_expression("0 9 * * *", timezone="UTC"),
        )
        await clock.advance_to(datetime(2026, 1, 3, 12, 0, tzinfo=UTC))
    assert fired == [datetime(2026, 1, d, 9, tzinfo=UTC) for d in (1, 2, 3)]


@pytest.mark.asyncio
async def test_virtual_clock_autojump_with_wait_job() -> None:
    clock = VirtualClock(autojump=True)
    async with AsyncScheduler(clock=clock) as s:
        job_id = await s.schedule(
            lambda: None,
            trigger=CronTrigger.from_expression("0 9 * * 1-5", timezone="UTC"),
            max_runs=10,
        )
        job = await s.wait_job(job_id)
    assert job.run_count == 10
    assert clock.now() == datetime(2026, 1, 14, 9, 0, tzinfo=UTC)
    await clock.aclose()


@pytest.mark.asyncio
async def test_virtual_clock_refuses_to_go_backwards() -> None:
    clock = VirtualClock()
    with pytest.raises(ValueError):
        await clock.advance(-1)
    with pytest.raises(ValueError):
        await clock.advance_to(datetime(2020, 1, 1, tzinfo=UTC))


def test_virtual_clock_start_and_now() -> None:
    clock = VirtualClock(datetime(2030, 5, 5, tzinfo=UTC))
    assert clock.now() == datetime(2030, 5, 5, tzinfo=UTC)
    assert clock.now().tzinfo is not None
    assert clock.time() == datetime(2030, 5, 5, tzinfo=UTC).timestamp()


@pytest.mark.asyncio
async def test_virtual_clock_once_trigger_at_a_virtual_instant() -> None:
    clock = VirtualClock()
    async with AsyncScheduler(clock=clock) as s:
        when = clock.now() + timedelta(hours=3)
        job_id = await s.schedule(lambda: clock.now(), trigger=OnceTrigger(when))
        await clock.advance(timedelta(hours=2))
        job = await s.get_job(job_id)
        assert job is not None and job.run_count == 0
        await clock.advance(timedelta(hours=1))
        job = await s.get_job(job_id)
        assert job is not None and job.result == when


def test_sync_scheduler_accepts_a_virtual_clock() -> None:
    clock = VirtualClock()
    s = Scheduler(clock=clock)
    try:
        job_id = s.schedule(lambda: None, trigger=IntervalTrigger(hours=1))
        job = s.get_job(job_id)
        assert job is not None and job.next_run == datetime(2026, 1, 1, 1, tzinfo=UTC)
    finally:
        s.stop()


# ==================================================================================================
# Found by the audit
# ==================================================================================================


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


@pytest.mark.parametrize(
    "make",
    [
        lambda: IntervalTrigger(seconds="5"),
        lambda: OnceTrigger("2026-01-01"),
        lambda: CronTrigger.from_expression(5),
        lambda: CronTrigger.from_expression("* * * * *", timezone=5),
        lambda: IntervalTrigger(seconds=5).get_next_run("now"),
    ],
)
def test_wrong_argument_types_are_both_type_and_value_errors(make: Any) -> None:
    with pytest.raises(TypeError) as info:
        make()
    assert isinstance(info.value, ValueError) and isinstance(info.value, E.AsyncronError)


def test_schedule_non_callable_is_also_a_type_error(sched: Scheduler) -> None:
    # APScheduler raises TypeError here; ValueError (the spec's tree) works too
    with pytest.raises(TypeError, match="callable"):
        sched.schedule(42)  # type: ignore[arg-type]


def test_pipeline_given_a_flat_list_of_callables_says_how_to_write_it() -> None:
    def extract() -> None: ...

    def load() -> None: ...

    with pytest.raises(ValueError) as info:
        JobPipeline(stages=[extract, load])  # type: ignore[list-item]
    assert "stages=[[extract], [load]]" in str(info.value)
    assert "stages=[[extract, load]]" in str(info.value)


@pytest.mark.parametrize("trigger", ALL_TRIGGERS, ids=repr)
def test_triggers_pickle_and_copy(trigger: Trigger) -> None:
    import copy
    import pickle

    assert pickle.loads(pickle.dumps(trigger)) == trigger
    assert copy.copy(trigger) == trigger
    assert copy.deepcopy(trigger) == trigger


def test_job_snapshot_can_be_deep_copied_and_pickled(sched: Scheduler) -> None:
    import copy
    import pickle

    job = sched.get_job(sched.schedule(print, trigger=IntervalTrigger(hours=1)))
    assert job is not None
    assert copy.deepcopy(job) == job
    assert pickle.loads(pickle.dumps(job)) == job


def test_dependency_cycle_message_also_names_the_jobs(dsched: DependencyScheduler) -> None:
    a = dsched.schedule(print, name="extract", trigger=IntervalTrigger(hours=1))
    b = dsched.schedule(print, name="load", trigger=IntervalTrigger(hours=1))
    dsched.add_dependency(a, [b])
    with pytest.raises(E.DependencyCycleError) as info:
        dsched.add_dependency(b, [a])
    assert info.value.cycle == [b, a, b]
    assert f"{b} -> {a} -> {b}" in str(info.value)
    assert "load -> extract -> load" in str(info.value)


def test_naive_run_at_follows_a_tz_change_made_at_runtime(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TZ", "America/New_York")
    time.tzset()
    try:
        naive = datetime(2026, 6, 1, 12, 0)
        assert OnceTrigger(naive).run_at == naive.astimezone()
    finally:
        monkeypatch.undo()
        time.tzset()


def test_wait_job_timeout_says_which_job_and_its_state(sched: Scheduler) -> None:
    job_id = sched.schedule(print, trigger=IntervalTrigger(hours=1))
    sched.start()
    with pytest.raises(TimeoutError) as info:
        sched.wait_job(job_id, timeout=0.02)
    assert job_id in str(info.value) and "pending" in str(info.value)


def test_wait_job_unknown_id_is_a_lookup_error(sched: Scheduler) -> None:
    with pytest.raises(LookupError, match="nope"):
        sched.wait_job("nope", timeout=0.1)
