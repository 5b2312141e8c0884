"""The classic ``DependencyScheduler``: schedule_with_deps, add_dependency, cycles, failures."""

from __future__ import annotations

import inspect
import threading
import time
from typing import Any

import pytest

from asyncron import DependencyScheduler, IntervalTrigger, JobStatus, Scheduler
from asyncron import errors as E
from helpers import WAIT, Boom, signature_params


@pytest.fixture
def dsched() -> Any:
    s = DependencyScheduler(max_workers=4, stop_timeout=2)
    yield s
    s.stop()


def test_dependency_signatures() -> None:
    assert signature_params(DependencyScheduler.add_dependency) == [
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


def test_dependency_cycle_message_also_names_the_jobs(dsched: DependencyScheduler) -> None:
    a = dsched.schedule(print, name="extract", trigger=IntervalTrigger(hours=1))
    b = dsched.schedule(print, name="load", trigger=IntervalTrigger(hours=1))
    dsched.add_dependency(a, [b])
    with pytest.raises(E.DependencyCycleError) as info:
        dsched.add_dependency(b, [a])
    assert info.value.cycle == [b, a, b]
    assert f"{b} -> {a} -> {b}" in str(info.value)
    assert "load -> extract -> load" in str(info.value)
