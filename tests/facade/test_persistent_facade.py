"""The classic ``PersistentScheduler``: a state file, named functions, reload in a new instance."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from asyncron import IntervalTrigger, JobStatus, PersistentScheduler, Scheduler


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
