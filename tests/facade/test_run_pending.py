"""The classic ``Scheduler`` driven by hand: register_task and run_pending."""

from __future__ import annotations

import threading

import pytest

from asyncron import CronTrigger, Scheduler
from asyncron.testing import VirtualClock
from helpers import wait_until


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
        wait_until(lambda: s.run_pending() > 0, timeout=2.5)
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
