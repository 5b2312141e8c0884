"""JobPipeline as a user writes it: signature, chaining, stage forms, run_sync, errors."""

from __future__ import annotations

import asyncio
import time

import pytest

from asyncron import JobPipeline, Scheduler
from helpers import WAIT, Boom, signature_params


def test_pipeline_signature_and_chaining() -> None:
    assert signature_params(JobPipeline.__init__)[0] == ("stages", None)
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


def test_pipeline_given_a_flat_list_of_callables_says_how_to_write_it() -> None:
    def extract() -> None: ...

    def load() -> None: ...

    with pytest.raises(ValueError) as info:
        JobPipeline(stages=[extract, load])  # type: ignore[list-item]
    assert "stages=[[extract], [load]]" in str(info.value)
    assert "stages=[[extract, load]]" in str(info.value)
