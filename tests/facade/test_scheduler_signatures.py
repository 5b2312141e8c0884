"""The classic ``Scheduler``: exact signatures, as a user of ``schedule`` or APScheduler reads them."""

from __future__ import annotations

import inspect

from asyncron import IntervalTrigger, Scheduler
from helpers import signature_params


def test_schedule_signature_is_exact() -> None:
    assert signature_params(Scheduler.schedule) == [
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
    assert signature_params(Scheduler.cancel) == [("job_id", inspect.Parameter.empty)]
    assert signature_params(Scheduler.get_job) == [("job_id", inspect.Parameter.empty)]
    assert signature_params(Scheduler.list_jobs) == [("status", None)]
    assert signature_params(Scheduler.run_now) == [("job_id", inspect.Parameter.empty)]
    assert signature_params(Scheduler.start) == []
    assert signature_params(Scheduler.stop) == []
    assert signature_params(Scheduler.run_pending) == []


def test_register_task_signature() -> None:
    assert signature_params(Scheduler.register_task) == [
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
