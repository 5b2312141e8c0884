"""asyncron.compat keeps the original threaded scheduler's names, shapes and observable
behaviour, and asyncron's where the original was wrong (docs/migrating.md)."""

from __future__ import annotations

import asyncio
import dataclasses
import inspect
import json
import logging
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

import asyncron
from asyncron import compat
from asyncron.compat import (
    CronTrigger,
    DependencyScheduler,
    DependencyStatus,
    IntervalTrigger,
    Job,
    JobPipeline,
    JobStatus,
    OnceTrigger,
    PersistentScheduler,
    ScheduledRecurrence,
    Scheduler,
    TriggerType,
    at,
    cron,
    describe_cron,
    every,
    parse_cron,
)
from asyncron.errors import CronParseError, DependencyCycleError, InvalidJobError

ORIGINAL_ALL = [
    "Scheduler", "Job", "JobStatus", "Trigger", "TriggerType", "OnceTrigger", "IntervalTrigger",
    "CronTrigger", "every", "at", "cron", "DependencyScheduler", "PersistentScheduler",
    "JobPipeline", "ScheduledRecurrence", "cli_commands",
]  # fmt: skip


def wait_until(predicate: Callable[[], bool], seconds: float = 10.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.01)
    return False


@pytest.fixture
def scheduler() -> Any:
    s = Scheduler()
    yield s
    s.stop()


# -- names ------------------------------------------------------------------------------------


def test_every_name_the_original_exports_is_importable() -> None:
    for name in ORIGINAL_ALL:
        assert name in compat.__all__ and getattr(compat, name) is not None
    from asyncron.compat.advanced import DependencyStatus as DS  # the original's submodules
    from asyncron.compat.models import Job as J
    from asyncron.compat.scheduler import at as at_
    from asyncron.compat.triggers import TriggerType as TT

    assert (DS, J, at_, TT) == (DependencyStatus, Job, at, TriggerType)


def test_signatures_and_defaults_match_the_original() -> None:
    def params(obj: Any) -> list[tuple[str, Any]]:
        return [(p.name, p.default) for p in inspect.signature(obj).parameters.values()]

    empty = inspect.Parameter.empty
    assert params(Scheduler) == [("max_workers", 4)]
    assert params(PersistentScheduler) == [
        ("max_workers", 4), ("state_path", None), ("auto_save", True)
    ]  # fmt: skip
    assert params(Scheduler.schedule)[1:] == [
        ("func", empty), ("name", None), ("trigger", None), ("args", ()), ("kwargs", None),
        ("max_runs", None),
    ]  # fmt: skip
    assert params(IntervalTrigger) == [
        ("seconds", 0), ("minutes", 0), ("hours", 0), ("days", 0), ("start_time", None),
        ("end_time", None),
    ]  # fmt: skip
    assert params(CronTrigger) == [
        ("minute", "*"), ("hour", "*"), ("day_of_month", "*"), ("month", "*"),
        ("day_of_week", "*"),
    ]  # fmt: skip
    assert params(every) == [("seconds", 0), ("minutes", 0), ("hours", 0), ("days", 0)]
    assert params(PersistentScheduler.schedule) == [
        ("self", empty), ("func", empty), ("function_name", None), ("kwargs", empty)
    ]  # fmt: skip
    assert params(DependencyScheduler.schedule_with_deps) == [
        ("self", empty), ("func", empty), ("depends_on", None), ("kwargs", empty)
    ]  # fmt: skip
    assert params(DependencyScheduler.add_dependency)[1:] == [
        ("job_id", empty), ("depends_on", empty)
    ]  # fmt: skip
    assert params(JobPipeline.add_stage)[1:] == [("funcs", empty)]
    assert [f.name for f in dataclasses.fields(Job)] == [
        "id", "name", "func", "args", "kwargs", "trigger", "status", "created_at", "last_run",
        "next_run", "run_count", "max_runs", "result", "error",
    ]  # fmt: skip
    assert {s.value for s in JobStatus} >= {
        "pending",
        "running",
        "completed",
        "failed",
        "cancelled",
    }
    assert [t.value for t in TriggerType] == ["once", "interval", "cron"]
    assert [s.value for s in DependencyStatus] == ["waiting", "ready", "blocked", "satisfied"]


# -- triggers ---------------------------------------------------------------------------------


def test_once_trigger_speaks_naive_local_time() -> None:
    run_at = datetime.now() + timedelta(hours=1)
    trigger = OnceTrigger(run_at)
    assert trigger.get_next_run() == run_at and trigger.get_next_run().tzinfo is None
    assert trigger.get_next_run(run_at - timedelta(minutes=1)) == run_at
    assert trigger.get_next_run(run_at) is None
    assert OnceTrigger(datetime.now() - timedelta(hours=1)).get_next_run() is None
    assert trigger.get_type() is TriggerType.ONCE


def test_aware_datetimes_stay_aware() -> None:
    run_at = datetime(2030, 1, 1, 12, tzinfo=UTC)
    assert OnceTrigger(run_at).get_next_run(datetime(2030, 1, 1, tzinfo=UTC)) == run_at
    nxt = CronTrigger(minute="0").get_next_run(datetime(2030, 1, 1, 10, 30, tzinfo=UTC))
    assert nxt is not None and nxt.tzinfo is not None


def test_interval_trigger_grid_start_and_end() -> None:
    assert IntervalTrigger(hours=1, minutes=30, seconds=15).interval_seconds == 5415
    assert IntervalTrigger(days=1).interval_seconds == 86400
    start = datetime(2030, 1, 1, 8)
    t = IntervalTrigger(minutes=30, start_time=start, end_time=start + timedelta(hours=1))
    assert t.get_next_run(start - timedelta(days=1)) == start
    assert t.get_next_run(start) == start + timedelta(minutes=30)
    assert t.get_next_run(start + timedelta(minutes=31)) == start + timedelta(hours=1)
    assert t.get_next_run(start + timedelta(hours=1)) is None
    free = IntervalTrigger(seconds=60).get_next_run()
    assert free is not None and 59 < (free - datetime.now()).total_seconds() <= 60
    assert t.get_type() is TriggerType.INTERVAL


def test_a_zero_interval_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="interval"):
        every()
    with pytest.raises(ValueError, match="interval"):
        IntervalTrigger().get_next_run()
    with pytest.raises(ValueError):
        Scheduler().schedule(lambda: None, trigger=IntervalTrigger())


def test_cron_trigger_fields_and_expression() -> None:
    t = CronTrigger.from_expression("30 8 * * 1")
    assert (t.minute, t.hour, t.day_of_month, t.month, t.day_of_week) == ("30", "8", "*", "*", "1")
    assert CronTrigger().expression == "* * * * *"
    assert t.get_type() is TriggerType.CRON
    assert cron("*/5 * * * *") == CronTrigger(minute="*/5")


@pytest.mark.parametrize("expr", ["30 8 *", "* * * * * *", ""])
def test_cron_needs_five_fields(expr: str) -> None:
    with pytest.raises(ValueError, match="Invalid cron expression"):
        CronTrigger.from_expression(expr)


def test_cron_bad_field_names_the_field() -> None:
    with pytest.raises(CronParseError, match="Invalid cron expression") as info:
        CronTrigger.from_expression("61 * * * *")
    assert info.value.field == "minute" and info.value.token == "61"
    with pytest.raises(CronParseError, match="hour"):
        CronTrigger(hour="24")


def test_cron_weekdays_count_from_sunday_as_in_every_cron() -> None:
    # The original read day_of_week as Python's weekday() (Monday = 0): "1" meant Tuesday.
    sunday = datetime(2030, 6, 16, 12, 0)
    monday_9 = CronTrigger.from_expression("0 9 * * 1").get_next_run(sunday)
    assert monday_9 == datetime(2030, 6, 17, 9, 0) and monday_9.strftime("%A") == "Monday"
    assert describe_cron("0 0 * * 0") == "Every Sunday at midnight"
    assert CronTrigger.from_expression("0 0 * * 0").get_next_run(
        datetime(2030, 6, 14)
    ) == sunday.replace(hour=0)


def test_cron_finds_rare_fires_beyond_a_year() -> None:
    # The original scanned minute by minute for one year and gave up (None) on a leap day.
    leap = CronTrigger.from_expression("0 0 29 2 *").get_next_run(datetime(2030, 3, 1))
    assert leap == datetime(2032, 2, 29)


def test_cron_match_field() -> None:
    t = CronTrigger()
    assert t._match_field("*", 7, 59) and t._match_field("5", 5, 59)
    assert not t._match_field("5", 6, 59)
    assert t._match_field("10-20", 20, 59) and not t._match_field("10-20", 21, 59)
    assert t._match_field("*/5", 10, 59) and not t._match_field("*/5", 7, 59)
    assert t._match_field("1,3,5", 3, 59) and not t._match_field("1,3,5", 2, 59)


def test_helpers_every_at_cron() -> None:
    assert every(hours=1, minutes=30).interval_seconds == 5400
    trigger = at("23:59")
    assert (trigger.run_at.hour, trigger.run_at.minute, trigger.run_at.second) == (23, 59, 0)
    assert datetime.now() < trigger.run_at <= datetime.now() + timedelta(days=1)
    for bad in ("25:00", "12:60", "noon", "12", "1:2:3"):
        with pytest.raises(ValueError, match="HH:MM"):
            at(bad)


def test_a_trigger_of_your_own_still_works(scheduler: Any) -> None:
    @dataclasses.dataclass
    class InTenMinutes(compat.Trigger):
        def get_next_run(self, from_time: datetime | None = None) -> datetime | None:
            return (from_time or datetime.now()) + timedelta(minutes=10)

        def get_type(self) -> TriggerType:
            return TriggerType.INTERVAL

    job = scheduler.get_job(scheduler.schedule(lambda: None, trigger=InTenMinutes()))
    assert 9 * 60 < (job.next_run - datetime.now()).total_seconds() <= 600


# -- Job --------------------------------------------------------------------------------------


def test_job_built_by_hand_executes_in_the_caller() -> None:
    job = Job(id="j", name="add", func=lambda a, b, k=1: (a + b) * k, args=(3, 4), kwargs={"k": 2})
    assert job.status is JobStatus.PENDING and job.created_at <= datetime.now()
    assert job.execute() == 14
    assert (job.status, job.result, job.run_count, job.error) == (JobStatus.COMPLETED, 14, 1, None)
    assert job.last_run is not None and job.next_run is None  # its "once, now" trigger is spent


def test_a_failed_execute_records_the_error_and_reraises() -> None:
    def boom() -> None:
        raise KeyError("nope")  # the original caught only five exception types

    job = Job(id="j", name="boom", func=boom, trigger=IntervalTrigger(minutes=5))
    with pytest.raises(KeyError):
        job.execute()
    assert job.status is JobStatus.FAILED and job.error == "'nope'" and job.run_count == 0
    assert job.next_run is not None and job.next_run > datetime.now()


def test_jobs_order_by_next_run_and_none_sorts_last() -> None:
    now = datetime.now()
    a = Job(id="a", name="a", func=print, trigger=OnceTrigger(now + timedelta(hours=2)))
    b = Job(id="b", name="b", func=print, trigger=OnceTrigger(now + timedelta(hours=1)))
    c = Job(id="c", name="c", func=print, trigger=OnceTrigger(now - timedelta(hours=1)))
    assert c.next_run is None
    assert [j.id for j in sorted([a, c, b])] == ["b", "a", "c"]
    assert b < a and not a < b and not c < a


def test_max_runs_ends_a_hand_built_job() -> None:
    job = Job(id="j", name="j", func=print, trigger=IntervalTrigger(seconds=5), max_runs=1)
    job.execute()
    assert job.next_run is None


# -- Scheduler --------------------------------------------------------------------------------


def test_ids_start_with_job_and_are_unique(scheduler: Any) -> None:
    ids = [scheduler.schedule(lambda: None) for _ in range(20)]
    assert all(i.startswith("job_") for i in ids) and len(set(ids)) == 20
    assert len(scheduler.list_jobs()) == 20


def test_get_cancel_list(scheduler: Any) -> None:
    a = scheduler.schedule(lambda: None, name="a", trigger=every(hours=1))
    b = scheduler.schedule(lambda: None, name="b", trigger=every(hours=1))
    assert scheduler.get_job(a).name == "a" and scheduler.get_job("ghost") is None
    assert scheduler.cancel(a) is True and scheduler.cancel("ghost") is False
    job = scheduler.get_job(a)
    assert job.status is JobStatus.CANCELLED and job.next_run is None
    assert [j.id for j in scheduler.list_jobs(status=JobStatus.CANCELLED)] == [a]
    assert [j.id for j in scheduler.list_jobs(status=JobStatus.PENDING)] == [b]
    assert scheduler.get_job(b).next_run > datetime.now() + timedelta(minutes=59)


def test_run_now_returns_and_unknown_raises_value_error(scheduler: Any) -> None:
    job_id = scheduler.schedule(lambda a, b: a + b, args=(1, 2))
    assert scheduler.run_now(job_id) == 3
    with pytest.raises(ValueError, match="Job not found: ghost"):
        scheduler.run_now("ghost")
    with pytest.raises(KeyError):  # also asyncron's JobLookupError
        scheduler.run_now("ghost")


def test_scheduled_job_is_a_live_view(scheduler: Any) -> None:
    job_id = scheduler.schedule(lambda: "done", name="live", trigger=every(hours=1))
    job = scheduler.get_job(job_id)
    assert job.run_count == 0 and job.last_run is None
    scheduler.run_now(job_id)
    assert (job.run_count, job.result, job.status) == (1, "done", JobStatus.COMPLETED)
    assert job.execute() == "done" and job.run_count == 2
    with pytest.raises(AttributeError, match="cancel"):
        job.status = JobStatus.CANCELLED


def test_failed_run_now_shows_failed_until_the_next_fire(scheduler: Any) -> None:
    calls = []

    def sync_inventory() -> str:
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("inventory service unavailable")
        return "synced"

    job_id = scheduler.schedule(sync_inventory, trigger=every(seconds=1))
    with pytest.raises(RuntimeError):
        scheduler.run_now(job_id)
    job = scheduler.get_job(job_id)
    assert job.status is JobStatus.FAILED and job.error == "inventory service unavailable"
    assert job.next_run is not None
    assert scheduler.facade.get_job(job_id).last_outcome == "failed"
    scheduler.start()
    assert wait_until(lambda: job.run_count == 1)
    assert job.status in (JobStatus.PENDING, JobStatus.RUNNING) and job.error is None


def test_a_job_without_trigger_runs_once_even_after_run_now(scheduler: Any) -> None:
    calls: list[int] = []
    job_id = scheduler.schedule(lambda: calls.append(1))
    scheduler.run_now(job_id)
    scheduler.start()
    other = scheduler.schedule(lambda: calls.append(2))
    assert wait_until(lambda: scheduler.get_job(other).status is JobStatus.COMPLETED)
    assert calls == [1, 2] and scheduler.get_job(job_id).status is JobStatus.COMPLETED


def test_start_stop_and_reading_jobs_after_stop(
    loop_threads: Callable[[], list[threading.Thread]],
) -> None:
    s = Scheduler(max_workers=2)
    job_id = s.schedule(lambda: 7)
    s.start()
    thread = s.facade.loop_thread
    s.start()  # a second start changes nothing: still running, on the same loop thread
    assert s.facade.running and s.facade.loop_thread is thread
    assert thread is not None and thread in loop_threads()
    assert wait_until(lambda: s.get_job(job_id).status is JobStatus.COMPLETED)
    s.stop()
    s.stop()
    assert not s.facade.running and not thread.is_alive() and thread not in loop_threads()
    assert s.get_job(job_id).result == 7 and s.list_jobs(status=JobStatus.COMPLETED)


def test_the_asyncron_facade_is_underneath(scheduler: Any) -> None:
    assert isinstance(scheduler.facade, asyncron.Scheduler)
    job_id = scheduler.schedule(lambda: None, trigger="*/10 * * * *")  # asyncron shorthand too
    assert scheduler.facade.pause(job_id) is True
    assert scheduler.get_job(job_id).status is JobStatus.PAUSED


# -- dependencies -----------------------------------------------------------------------------


def test_dependencies_run_in_order_with_forward_references() -> None:
    order: list[str] = []
    s = DependencyScheduler(max_workers=2)
    s.add_dependency("load", ["transform"])  # neither job exists yet: names work too
    load = s.schedule(lambda: order.append("load"), name="load")
    transform = s.schedule_with_deps(lambda: order.append("transform"), name="transform")
    assert s._check_dependencies("load") is DependencyStatus.WAITING
    s.add_dependency(transform, ["extract"])
    s.schedule(lambda: order.append("extract"), name="extract")
    s.start()
    try:
        assert wait_until(lambda: s.get_job(load).status is JobStatus.COMPLETED)
    finally:
        s.stop()
    assert order == ["extract", "transform", "load"]
    assert s._check_dependencies("load") is DependencyStatus.SATISFIED


def test_dependency_bookkeeping() -> None:
    s = DependencyScheduler()
    assert s._check_dependencies("job1") is DependencyStatus.READY
    s.add_dependency("job2", depends_on=["job1"])
    assert "job2" in s._dependencies
    assert s._check_dependencies("job2") is DependencyStatus.WAITING
    s._completed_jobs.add("job1")
    assert s._check_dependencies("job2") is DependencyStatus.SATISFIED
    s._failed_jobs.add("job1")  # a recorded failure wins, as in the original
    assert s._check_dependencies("job2") is DependencyStatus.BLOCKED
    s._on_job_complete("job2", success=True)
    assert "job2" in s._completed_jobs and "job2" not in s._dependencies
    with_deps = s.schedule_with_deps(print, depends_on=["other_job"])
    assert with_deps in s._dependencies
    without = s.schedule_with_deps(print)
    assert without not in s._dependencies and s.get_job(without) is not None


def test_a_failed_dependency_blocks_and_skips() -> None:
    s = DependencyScheduler()

    def extract() -> None:
        raise OSError("disk full")

    up = s.schedule(extract, name="extract")
    down = s.schedule_with_deps(print, depends_on=[up], name="report")
    s.start()
    try:
        assert wait_until(lambda: s.get_job(down).status is JobStatus.SKIPPED)
    finally:
        s.stop()
    assert s.get_job(up).status is JobStatus.FAILED and s.get_job(up).error == "disk full"
    assert s._check_dependencies(down) is DependencyStatus.BLOCKED


def test_dependency_errors() -> None:
    s = DependencyScheduler()
    a = s.schedule(print, trigger=every(hours=1))
    b = s.schedule_with_deps(print, depends_on=[a], trigger=every(hours=1))
    with pytest.raises(DependencyCycleError):
        s.add_dependency(a, [b])
    s.schedule(print)  # the refused edge is not tried again
    assert s._dependencies[a].depends_on == []
    s.add_dependency("late", ["early"])
    s.add_dependency("early", ["late"])  # a cycle between jobs that do not exist yet
    s.schedule(print, name="early", trigger=every(hours=1))
    with pytest.raises(DependencyCycleError):
        s.schedule(print, name="late", trigger=every(hours=1))
    s.schedule(print)
    with pytest.raises(InvalidJobError, match="depends_on"):
        s.add_dependency(a, "job_1")  # type: ignore[arg-type]
    with pytest.raises(InvalidJobError, match="unexpected keyword"):
        s.schedule_with_deps(print, depends_on=[a], priority=3)


# -- persistence ------------------------------------------------------------------------------


def sample_job(a: int = 1, b: int = 2) -> int:
    return a + b


ORIGINAL_FILE = {
    "saved_at": "2026-11-30T22:14:05.118213",
    "jobs": [
        {"id": "job_1_1764540845", "name": "sum", "function": "sample", "status": "pending",
         "args": [3, 4], "kwargs": {}},
        {"id": "job_2_1764540845", "name": "old", "function": "sample", "status": "pending"},
        {"id": "job_3_1764540846", "name": "later", "function": "unknown", "status": "pending"},
    ],
}  # fmt: skip


def test_persistent_scheduler_without_a_path_writes_nothing(tmp_path: Path) -> None:
    s = PersistentScheduler()
    assert s._state_path is None
    job_id = s.schedule(sample_job, "sample")  # function_name is the second parameter
    assert s._job_functions[job_id] == "sample" and s.schedule(sample_job) not in s._job_functions
    s.stop()
    assert list(tmp_path.iterdir()) == []


def test_reads_the_file_the_original_wrote(tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    path.write_text(json.dumps(ORIGINAL_FILE, indent=2))
    s = PersistentScheduler(state_path=str(path), auto_save=False)
    assert s.list_jobs() == []  # no function registered yet
    s.register_function("sample", sample_job)
    s._load_state()
    s._load_state()  # loading again does not duplicate
    jobs = {j.name: j for j in s.list_jobs()}
    assert sorted(jobs) == ["old", "sum"] and jobs["sum"].args == (3, 4)
    assert jobs["sum"].id == "job_1_1764540845"  # the stored id is kept
    assert s.run_now(jobs["sum"].id) == 7 and s.run_now(jobs["old"].id) == 3
    s.stop()
    saved = json.loads(path.read_text())
    assert {j["name"] for j in saved["jobs"]} == {"later"}  # the unknown one is kept untouched
    assert saved["jobs"][0] == ORIGINAL_FILE["jobs"][2]


def test_schedules_survive_a_restart(tmp_path: Path) -> None:
    path = str(tmp_path / "nested" / "state.json")
    first = PersistentScheduler(state_path=path)
    first.register_function("sample", sample_job)
    ids = [
        first.schedule(sample_job, function_name="sample", name="cron", trigger=cron("0 3 * * 1")),
        first.schedule(sample_job, function_name="sample", name="every", trigger=every(minutes=5),
                       kwargs={"b": 10}, max_runs=3),
        first.schedule(sample_job, function_name="sample", name="once",
                       trigger=OnceTrigger(datetime(2031, 5, 1, 12, 0))),
    ]  # fmt: skip
    saved = json.loads(Path(path).read_text())
    assert [j["id"] for j in saved["jobs"]] == ids
    assert saved["jobs"][1] | {"status": "x"} == {
        "id": ids[1], "name": "every", "function": "sample", "status": "x", "args": [],
        "kwargs": {"b": 10}, "max_runs": 3,
        "trigger": {"type": "interval", "seconds": 0, "minutes": 5, "hours": 0, "days": 0,
                    "start_time": None, "end_time": None},
    }  # fmt: skip
    first.stop()
    second = PersistentScheduler(state_path=path)
    assert second.list_jobs() == []
    second.register_function("sample", sample_job)
    second._load_state()
    jobs = {j.name: j for j in second.list_jobs()}
    assert [j.id for j in second.list_jobs()] == ids
    assert jobs["cron"].trigger == CronTrigger.from_expression("0 3 * * 1")
    assert jobs["every"].kwargs == {"b": 10} and jobs["every"].max_runs == 3
    assert jobs["once"].next_run == datetime(2031, 5, 1, 12, 0)
    second.stop()
    assert not [p for p in Path(path).parent.iterdir() if p.name.endswith(".tmp")]


def test_a_job_without_trigger_is_stored_without_one(tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    s = PersistentScheduler(state_path=str(path))
    s.schedule(sample_job, function_name="sample", args=(1, 1))
    s.stop()
    (record,) = json.loads(path.read_text())["jobs"]
    assert "trigger" not in record and record["args"] == [1, 1]


def test_an_empty_or_missing_file_is_no_state(tmp_path: Path) -> None:
    empty = tmp_path / "empty.json"
    empty.write_text("")
    assert PersistentScheduler(state_path=str(empty)).list_jobs() == []
    assert PersistentScheduler(state_path=str(tmp_path / "missing.json")).list_jobs() == []


@pytest.mark.parametrize("content", ["{not json", "[1, 2]", '{"jobs": {"a": 1}}', '{"jobs": [1]}'])
def test_a_corrupt_file_is_kept_aside_and_reported(
    tmp_path: Path, content: str, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "state.json"
    path.write_text(content)
    with caplog.at_level(logging.ERROR, logger="asyncron.compat"):
        s = PersistentScheduler(state_path=str(path))
    assert "not valid" in caplog.text and "state.json.corrupt" in caplog.text
    assert (tmp_path / "state.json.corrupt").read_text() == content
    s.schedule(sample_job, function_name="sample")
    s.stop()
    assert json.loads(path.read_text())["jobs"][0]["function"] == "sample"


def test_a_bad_record_is_logged_and_kept(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    path = tmp_path / "state.json"
    bad = {"id": "x", "name": "x", "function": "sample", "status": "pending", "args": "oops"}
    bad_trigger = {"id": "y", "name": "y", "function": "sample", "trigger": {"type": "weekly"}}
    path.write_text(json.dumps({"saved_at": "", "jobs": [bad, bad_trigger]}))
    s = PersistentScheduler(state_path=str(path))
    s.register_function("sample", sample_job)
    with caplog.at_level(logging.ERROR, logger="asyncron.compat"):
        s._load_state()
    assert s.list_jobs() == [] and "'x' could not be loaded" in caplog.text
    s.stop()
    assert json.loads(path.read_text())["jobs"] == [bad, bad_trigger]


def test_stored_arguments_must_be_json(tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    s = PersistentScheduler(state_path=str(path))
    with pytest.raises(InvalidJobError, match="JSON"):
        s.schedule(sample_job, function_name="sample", args=(object(),))
    with pytest.raises(InvalidJobError, match="function_name"):
        s.schedule(sample_job, function_name="")
    assert not path.exists() and s.list_jobs() == []
    s.schedule(sample_job, args=(object(),))  # not stored: any arguments
    s.stop()
    assert "args" not in json.loads(path.read_text())["jobs"][0]


def test_auto_save_false_writes_at_stop(tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    s = PersistentScheduler(state_path=str(path), auto_save=False)
    s.schedule(sample_job, function_name="sample", name="test_job")
    assert not path.exists()
    s._save_state()
    data = json.loads(path.read_text())
    assert "saved_at" in data and data["jobs"][0]["name"] == "test_job"


# -- pipelines --------------------------------------------------------------------------------


def test_pipeline_runs_stages_in_order_each_stage_concurrently() -> None:
    s = Scheduler()
    barrier = threading.Barrier(2, timeout=5)
    seen: list[str] = []

    def both(name: str) -> Callable[[], str]:
        def run() -> str:
            barrier.wait()  # only returns if both functions of the stage run at once
            seen.append(name)
            return name

        return run

    def fails() -> None:
        raise ValueError("bad row")

    pipeline = JobPipeline(s)
    assert pipeline.add_stage(lambda: 1) is pipeline and pipeline._stages != []
    pipeline.add_stage(both("x"), both("y")).add_stage(fails, lambda: seen[:])
    results = asyncio.run(pipeline.run())
    assert results[0] == [1] and sorted(results[1]) == ["x", "y"]
    assert results[2][0] is None and sorted(results[2][1]) == ["x", "y"]
    failed = s.list_jobs(status=JobStatus.FAILED)
    assert len(failed) == 1 and failed[0].error == "bad row"
    assert len(s.list_jobs()) == 5
    s.stop()


def test_pipeline_on_a_started_scheduler() -> None:
    s = Scheduler()
    s.start()
    try:
        pipeline = JobPipeline(s).add_stage(lambda: "a").add_stage(lambda: "b")
        assert asyncio.run(pipeline.run()) == [["a"], ["b"]]
    finally:
        s.stop()
    with pytest.raises(InvalidJobError):
        JobPipeline(s).add_stage("not callable")  # type: ignore[arg-type]


# -- small helpers ----------------------------------------------------------------------------


def test_scheduled_recurrence_defaults() -> None:
    r = ScheduledRecurrence()
    assert (r.every, r.unit, r.at_time, r.on_days, r.until) == (1, "days", None, [], None)
    assert ScheduledRecurrence(on_days=["mon"]).on_days == ["mon"] and r.on_days == []


def test_parse_and_describe_cron() -> None:
    assert parse_cron("30 14 1 6 3") == {
        "minute": "30", "hour": "14", "day_of_month": "1", "month": "6", "day_of_week": "3",
    }  # fmt: skip
    with pytest.raises(ValueError, match="5 parts"):
        parse_cron("* * *")
    with pytest.raises(ValueError, match="day-of-month"):
        parse_cron("0 0 32 * *")
    assert describe_cron("* * * * *") == "Every minute"
    assert describe_cron("0 * * * *") == "Every hour"
    assert describe_cron("0 0 * * *") == "Every day at midnight"
    assert describe_cron("0 0 1 * *") == "First day of every month"
    assert describe_cron("30 14 1 6 3") == "Custom: 30 14 1 6 3"


def test_cli_commands(capsys: pytest.CaptureFixture[str]) -> None:
    commands = compat.cli_commands()
    assert sorted(commands) == ["jobs", "status"]
    commands["jobs"]()  # type: ignore[operator]
    commands["status"]()  # type: ignore[operator]
    out = capsys.readouterr().out
    assert "No scheduled jobs." in out and "Trigger types: once, interval, cron" in out


def test_a_restart_within_the_same_second_makes_no_duplicate_id(tmp_path: Path) -> None:
    path = str(tmp_path / "state.json")
    first = PersistentScheduler(state_path=path)
    stored = first.schedule(sample_job, function_name="sample", args=(3, 4))
    second = PersistentScheduler(state_path=path, auto_save=False)
    second.register_function("sample", sample_job)
    second._load_state()
    fresh = second.schedule(sample_job)
    assert stored in second._jobs and fresh != stored and len(second.list_jobs()) == 2
    first.stop()
    second.stop()


def test_hostile_records_are_kept_not_run(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    path = tmp_path / "state.json"
    base = {"function": "sample", "status": "pending"}
    hostile = [
        {**base, "id": "a", "name": 123},
        {**base, "id": "b", "max_runs": "x"},
        {**base, "id": "c", "trigger": {"type": "once", "run_at": 5}},
        {**base, "id": "d", "trigger": {"type": "interval", "seconds": 1e400}},
        {**base, "id": "e", "trigger": {"type": "interval", "seconds": [1]}},
        {**base, "id": "f", "trigger": {"type": "cron", "expression": "61 * * * *"}},
        {**base, "id": "g", "trigger": "every day"},
        {**base, "id": "h", "kwargs": {"1": 2}, "args": [{"nested": [1, 2]}]},
        {"id": "i", "function": 7},
    ]
    path.write_text(json.dumps({"jobs": hostile}))
    s = PersistentScheduler(state_path=str(path), auto_save=False)
    s.register_function("sample", lambda *a, **k: (a, k))
    with caplog.at_level(logging.ERROR, logger="asyncron.compat"):
        s._load_state()
    assert [j.id for j in s.list_jobs()] == ["h"]  # the one well-formed record
    assert caplog.text.count("could not be loaded") == 7
    s.stop()
    assert [j["id"] for j in json.loads(path.read_text())["jobs"]] == list("habcdefgi")


def test_a_stored_job_needs_a_trigger_the_file_can_hold(tmp_path: Path) -> None:
    s = PersistentScheduler(state_path=str(tmp_path / "state.json"))
    with pytest.raises(InvalidJobError, match="needs a OnceTrigger"):
        s.schedule(sample_job, function_name="sample", trigger="*/10 * * * * *")
    assert s.list_jobs() == []
    s.schedule(sample_job, trigger="*/10 * * * * *")  # not stored: any asyncron trigger
    s.stop()


def test_a_recurring_job_run_by_hand_stays_in_the_file(tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    s = PersistentScheduler(state_path=str(path))
    job_id = s.schedule(sample_job, function_name="sample", trigger=every(hours=1))
    once = s.schedule(sample_job, function_name="sample")
    s.run_now(job_id)
    s.run_now(once)
    assert s.get_job(job_id).status is JobStatus.COMPLETED  # until its next fire
    s.stop()
    saved = json.loads(path.read_text())["jobs"]
    assert [(j["id"], j["status"]) for j in saved] == [(job_id, "completed")]


def test_cron_match_field_other_fields() -> None:
    t = CronTrigger()
    assert t._match_field("9-17", 12, 23) and not t._match_field("9-17", 18, 23)
    assert t._match_field("L", 31, 31) and t._match_field("1,15", 15, 31)
    assert t._match_field("jun-aug", 7, 12) and not t._match_field("jun-aug", 9, 12)
    assert t._match_field("mon-fri", 1, 6) and not t._match_field("mon-fri", 0, 6)
    assert t._match_field("0", 7, 6)  # 7 is Sunday too
    assert not t._match_field("*", 99, 59)
    with pytest.raises(CronParseError, match="Invalid cron expression"):
        t._match_field("99", 5, 59)
