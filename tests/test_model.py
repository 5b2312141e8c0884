"""Job and JobStatus: the documented fields, read-only snapshots, statuses compared to text."""

from __future__ import annotations

import dataclasses
import threading
from datetime import UTC, datetime, timedelta

import pytest

from asyncron import IntervalTrigger, Job, JobStatus, Scheduler
from helpers import WAIT, wait_until


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
        wait_until(
            lambda: (j := sched.get_job(job_id)) is not None and j.status is JobStatus.RUNNING
        )
        assert [j.id for j in sched.list_jobs(JobStatus.RUNNING)] == [job_id]
        assert [j.id for j in sched.list_jobs("running")] == [job_id]
    finally:
        release.set()
    sched.wait_job(job_id, timeout=WAIT)


def test_job_snapshot_can_be_deep_copied_and_pickled(sched: Scheduler) -> None:
    import copy
    import pickle

    job = sched.get_job(sched.schedule(print, trigger=IntervalTrigger(hours=1)))
    assert job is not None
    assert copy.deepcopy(job) == job
    assert pickle.loads(pickle.dumps(job)) == job
