"""JobPipeline: ordering, concurrency, results flow, failure policies, timeouts, cancellation,
progress when scheduled, and the sync entry point."""

from __future__ import annotations

import asyncio
import contextvars
import functools
import inspect
import threading
import time
from collections.abc import Callable
from typing import Any

import pytest

from asyncron import AsyncScheduler, IntervalTrigger, JobPipeline, JobStatus, PipelineStatistics
from asyncron.errors import (
    AsyncronError,
    CallableCancelledError,
    DeadlockError,
    InvalidJobError,
    InvalidPipelineError,
    PipelineError,
    PipelineTimeoutError,
)

pytestmark = pytest.mark.asyncio

LIMIT = 5.0  # seconds: an upper bound for waits that normally take milliseconds


def _other_tasks() -> set[asyncio.Task[Any]]:
    current = asyncio.current_task()
    return {t for t in asyncio.all_tasks() if t is not current and not t.done()}


# -- order, concurrency, results ------------------------------------------------------------------


async def test_stages_run_in_order_each_starting_after_the_previous_ends() -> None:
    log: list[str] = []

    def step(tag: str, delay: float) -> Callable[[], Any]:
        async def run() -> str:
            log.append(f"start {tag}")
            await asyncio.sleep(delay)
            log.append(f"end {tag}")
            return tag

        return run

    pipeline = JobPipeline().add_stage([step("a1", 0.02), step("a2", 0.0)])
    pipeline.add_stage([step("b", 0.0)]).add_stage([step("c", 0.0)])
    results = await pipeline.run()
    assert results == [["a1", "a2"], ["b"], ["c"]]
    assert log.index("start b") > log.index("end a1")
    assert log.index("start c") > log.index("end b")


async def test_callables_of_a_stage_run_concurrently() -> None:
    started = 0
    all_in = asyncio.Event()

    async def wait_for_siblings() -> int:
        nonlocal started
        started += 1
        if started == 5:
            all_in.set()
        await asyncio.wait_for(all_in.wait(), LIMIT)  # deadlocks unless all 5 run at once
        return started

    results = await JobPipeline([[wait_for_siblings] * 5]).run()
    assert results == [[5] * 5]


async def test_sync_callables_of_a_stage_run_concurrently_in_threads() -> None:
    barrier = threading.Barrier(4, timeout=LIMIT)  # breaks unless all 4 threads run at once
    loop_thread = threading.get_ident()

    def in_thread() -> int:
        barrier.wait()
        return threading.get_ident()

    [idents] = await JobPipeline([[in_thread] * 4]).run()
    assert len(set(idents)) == 4 and loop_thread not in idents


async def test_stage_timing_three_stages_of_sleepers_take_about_three_sleeps() -> None:
    async def nap() -> None:
        await asyncio.sleep(0.03)

    def sync_nap() -> None:
        time.sleep(0.03)

    pipeline = JobPipeline([[nap] * 10, [sync_nap] * 10, [nap, sync_nap] * 5])
    t0 = time.perf_counter()
    await pipeline.run()
    elapsed = time.perf_counter() - t0
    assert 0.09 <= elapsed < 0.09 + 0.15  # generous band; a polling design would need 100 ms+/stage


async def test_first_stage_gets_initial_later_stages_get_previous_results_in_callable_order() -> (
    None
):
    async def slow_double(x: int) -> int:
        await asyncio.sleep(0.02)
        return 2 * x

    def triple(x: int) -> int:
        return 3 * x

    async def total(results: list[int]) -> int:
        return sum(results)

    def describe(results: list[int]) -> str:
        return ",".join(map(str, results))

    results = await JobPipeline([[slow_double, triple], [total, describe]]).run(10)
    # slow_double finishes last but stays first: results follow callable order, not finish order
    assert results == [[20, 30], [50, "20,30"]]


async def test_callables_without_a_required_parameter_are_called_without_arguments() -> None:
    seen: list[object] = []

    def optional(x: object = "default") -> object:
        seen.append(x)
        return x

    async def no_params() -> str:
        return "np"

    results = await JobPipeline([[optional, no_params], [optional]]).run("init")
    assert results == [["default", "np"], ["default"]]
    assert seen == ["default", "default"]


async def test_pass_input_true_and_false_override_the_signature_rule() -> None:
    def optional(x: object = "default") -> object:
        return x

    pipeline = JobPipeline()
    pipeline.add_stage([optional], pass_input=True)
    pipeline.add_stage([optional], pass_input=True)
    pipeline.add_stage([functools.partial(optional, "bound")], pass_input=False)
    assert await pipeline.run("init") == [["init"], [["init"]], ["bound"]]


async def test_stage_zero_input_defaults_to_none() -> None:
    def echo(x: object) -> object:
        return x

    assert await JobPipeline([[echo]]).run() == [[None]]


async def test_each_consumer_gets_its_own_list_of_the_previous_results() -> None:
    def make() -> int:
        return 1

    def mutate(rows: list[Any]) -> int:
        rows.append("mine")
        return len(rows)

    results = await JobPipeline([[make, make], [mutate, mutate, mutate], [mutate]]).run()
    assert results == [[1, 1], [3, 3, 3], [4]]  # and run()'s own lists are untouched


async def test_sync_and_async_callables_mix_and_see_the_callers_contextvars() -> None:
    var: contextvars.ContextVar[str] = contextvars.ContextVar("var", default="unset")
    var.set("caller")

    async def in_loop() -> tuple[str, str]:
        return "async", var.get()

    def in_thread() -> tuple[str, str]:
        return "sync", var.get()

    results = await JobPipeline([[in_loop, in_thread], [in_thread, in_loop]]).run()
    assert results == [
        [("async", "caller"), ("sync", "caller")],
        [("sync", "caller"), ("async", "caller")],
    ]


async def test_partials_callable_objects_and_awaitable_returning_lambdas_work() -> None:
    async def scale(factor: int, values: list[int]) -> list[int]:
        return [factor * v for v in values]

    class Summer:
        async def __call__(self, results: list[list[int]]) -> int:
            return sum(results[0]) + sum(results[1])

    pipeline = JobPipeline(
        [
            [lambda: 1, lambda: 2],
            # a sync lambda returning a coroutine: its coroutine is awaited on the loop
            [functools.partial(scale, 10), lambda values: scale(2, values)],
            [Summer()],
        ]
    )
    assert await pipeline.run() == [[1, 2], [[10, 20], [2, 4]], [36]]


async def test_empty_pipeline_returns_no_results() -> None:
    assert await JobPipeline().run() == []


async def test_stages_added_during_a_run_do_not_change_that_run() -> None:
    pipeline = JobPipeline()

    async def grow() -> str:
        pipeline.add_stage([lambda: "late"])
        return "first"

    pipeline.add_stage([grow])
    assert await pipeline.run() == [["first"]]
    assert len(pipeline) == 2


async def test_one_pipeline_can_run_several_times_at_once() -> None:
    async def echo(x: int) -> int:
        await asyncio.sleep(0.01)
        return x

    pipeline = JobPipeline([[echo], [lambda rows: rows[0] + 1]])
    results = await asyncio.gather(*(pipeline.run(i) for i in range(5)))
    assert results == [[[i], [i + 1]] for i in range(5)]
    stats = pipeline.statistics()
    assert stats.runs_started == stats.runs_completed == 5 and stats.running == 0


# -- failure policies -----------------------------------------------------------------------------


async def test_fail_fast_cancels_the_stage_skips_later_stages_and_groups_every_error() -> None:
    cancelled: list[str] = []
    later_ran: list[str] = []

    async def bad_value() -> None:
        await asyncio.sleep(0.01)
        raise ValueError("bad value")

    async def bad_key() -> None:
        try:
            await asyncio.sleep(LIMIT)
        except asyncio.CancelledError:
            raise KeyError("bad key") from None  # an error while being cancelled counts too

    async def slow() -> None:
        try:
            await asyncio.sleep(LIMIT)
        except asyncio.CancelledError:
            cancelled.append("slow")
            raise

    async def later() -> None:
        later_ran.append("later")

    pipeline = JobPipeline([[lambda: "ok"], [slow, bad_value, bad_key], [later]])
    t0 = time.perf_counter()
    with pytest.raises(PipelineError) as info:
        await pipeline.run()
    assert time.perf_counter() - t0 < 1.0
    err = info.value
    assert isinstance(err, ExceptionGroup) and isinstance(err, AsyncronError)
    assert [type(e) for e in err.exceptions] == [ValueError, KeyError]
    assert err.stage_index == 1 and err.callable_indices == (1, 2)
    assert err.results == [["ok"]]
    assert str(err).startswith(
        "pipeline stage 2 of 3 failed: 2 of 3 callable(s) raised (bad_value, bad_key); "
        "the rest of the stage was cancelled and 1 later stage(s) skipped"
    )
    assert err.exceptions[0].__notes__ == ["in pipeline stage 2 of 3, callable 2 of 3 (bad_value)"]
    assert cancelled == ["slow"] and later_ran == []
    assert pipeline.statistics().runs_failed == 1


async def test_fail_fast_error_group_works_with_except_star_and_keeps_its_attributes() -> None:
    def bad_value() -> None:
        raise ValueError("v")

    async def bad_type() -> None:
        try:
            await asyncio.sleep(LIMIT)
        except asyncio.CancelledError:
            raise TypeError("t") from None

    caught: list[PipelineError] = []
    try:
        await JobPipeline([[bad_type, bad_value]]).run()  # bad_type is waiting when bad_value fails
    except* ValueError as group:
        assert isinstance(group, PipelineError)
        caught.append(group)
    except* TypeError as group:
        assert isinstance(group, PipelineError)
        caught.append(group)
    assert [g.callable_indices for g in caught] == [(1,), (0,)]
    assert all(g.stage_index == 0 for g in caught)


async def test_fail_fast_waits_for_a_running_sync_callable_and_reports_its_error_too() -> None:
    started = threading.Event()

    def slow_bad() -> None:
        started.set()
        time.sleep(0.03)
        raise OSError("disk full")

    async def bad() -> None:
        assert await asyncio.to_thread(started.wait, LIMIT)  # slow_bad is running in its thread
        raise ValueError("v")

    with pytest.raises(PipelineError) as info:
        await JobPipeline([[slow_bad, bad]]).run()
    assert [type(e) for e in info.value.exceptions] == [OSError, ValueError]
    assert info.value.callable_indices == (0, 1)


async def test_continue_mode_records_errors_in_place_and_runs_every_stage() -> None:
    async def bad() -> None:
        raise ValueError("nope")

    def count_errors(results: list[object]) -> int:
        return sum(isinstance(r, Exception) for r in results)

    pipeline = JobPipeline([[lambda: 1, bad, lambda: 3], [count_errors]], failure="continue")
    results = await pipeline.run()
    first = results[0]
    assert first[0] == 1 and first[2] == 3
    assert isinstance(first[1], ValueError) and str(first[1]) == "nope"
    assert first[1].__notes__ == ["in pipeline stage 1 of 2, callable 2 of 3 (bad)"]
    assert results[1] == [1]
    stats = pipeline.statistics()
    assert stats.runs_completed == 1 and stats.callable_errors == 1


async def test_a_callable_cancelling_itself_is_reported_as_its_error() -> None:
    async def quits() -> None:
        raise asyncio.CancelledError

    results = await JobPipeline([[quits, lambda: 2]], failure="continue").run()
    assert isinstance(results[0][0], CallableCancelledError)
    assert results[0][1] == 2
    with pytest.raises(PipelineError) as info:
        await JobPipeline([[quits]]).run()
    assert isinstance(info.value.exceptions[0], CallableCancelledError)


async def test_a_callable_whose_task_is_cancelled_from_outside_fails_alone() -> None:
    async def cancelled_by_someone() -> None:
        task = asyncio.current_task()
        assert task is not None
        task.cancel()  # as if some other code held the task and cancelled it
        await asyncio.sleep(LIMIT)

    async def sibling() -> str:
        await asyncio.sleep(0.01)
        return "fine"

    results = await JobPipeline([[cancelled_by_someone, sibling]], failure="continue").run()
    assert isinstance(results[0][0], CallableCancelledError) and results[0][1] == "fine"
    assert "was cancelled, but not by the pipeline" in str(results[0][0])


# -- timeouts -------------------------------------------------------------------------------------


async def test_stage_timeout_raises_a_timeout_error_naming_the_stage() -> None:
    cancelled: list[bool] = []

    async def stuck() -> None:
        try:
            await asyncio.sleep(LIMIT)
        except asyncio.CancelledError:
            cancelled.append(True)
            raise

    pipeline = JobPipeline(stage_timeout=LIMIT)
    pipeline.add_stage([lambda: 1]).add_stage([stuck, lambda: 2], timeout=0.05, name="load")
    t0 = time.perf_counter()
    with pytest.raises(PipelineTimeoutError) as info:
        await pipeline.run()
    assert 0.04 <= time.perf_counter() - t0 < 1.0
    err = info.value
    assert isinstance(err, TimeoutError) and isinstance(err, AsyncronError)
    assert str(err) == "pipeline stage 2 of 2 (load) timed out after 0.05 s (still running: stuck)"
    assert (err.stage_index, err.timeout, err.scope, err.results) == (1, 0.05, "stage", [[1]])
    assert cancelled == [True]


async def test_default_stage_timeout_applies_to_every_stage() -> None:
    async def stuck() -> None:
        await asyncio.sleep(LIMIT)

    with pytest.raises(PipelineTimeoutError, match=r"stage 1 of 1 timed out after 0\.03 s"):
        await JobPipeline([[stuck]], stage_timeout=0.03).run()


async def test_pipeline_timeout_covers_the_whole_run_and_names_the_running_stage() -> None:
    async def nap() -> str:
        await asyncio.sleep(0.04)
        return "nap"

    pipeline = JobPipeline([[nap], [nap], [nap]], timeout=0.1, stage_timeout=LIMIT)
    with pytest.raises(PipelineTimeoutError) as info:
        await pipeline.run()
    err = info.value
    assert err.scope == "pipeline" and err.stage_index == 2 and err.timeout == 0.1
    assert str(err) == ("pipeline timed out after 0.1 s, during stage 3 of 3 (still running: nap)")
    assert err.results == [["nap"], ["nap"]]


async def test_continue_mode_stage_timeout_fills_unfinished_slots_and_goes_on() -> None:
    async def stuck() -> None:
        await asyncio.sleep(LIMIT)

    def inspect_input(results: list[object]) -> list[str]:
        return [type(r).__name__ for r in results]

    pipeline = JobPipeline(failure="continue")
    pipeline.add_stage([lambda: "fast", stuck], timeout=0.03).add_stage([inspect_input])
    results = await pipeline.run()
    assert results[0][0] == "fast"
    timeout = results[0][1]
    assert isinstance(timeout, PipelineTimeoutError)
    assert timeout.callable_index == 1 and timeout.scope == "stage"
    assert str(timeout) == (
        "pipeline stage 1 of 2, callable 2 of 2 (stuck) did not finish within the stage "
        "timeout of 0.03 s"
    )
    assert results[1] == [["str", "PipelineTimeoutError"]]


async def test_continue_mode_pipeline_timeout_still_raises() -> None:
    async def stuck() -> None:
        await asyncio.sleep(LIMIT)

    with pytest.raises(PipelineTimeoutError, match=r"pipeline timed out after 0\.03 s"):
        await JobPipeline([[stuck]], failure="continue", timeout=0.03).run()


async def test_timeout_waits_for_a_sync_callable_unless_threads_are_abandoned() -> None:
    release = threading.Event()
    finished: list[str] = []

    def blocking(tag: str) -> None:
        release.wait(LIMIT)
        finished.append(tag)

    waiting = JobPipeline([[functools.partial(blocking, "waited")]], timeout=0.03)
    loop = asyncio.get_running_loop()
    loop.call_later(0.1, release.set)
    t0 = time.perf_counter()
    with pytest.raises(PipelineTimeoutError):
        await waiting.run()
    assert time.perf_counter() - t0 >= 0.09  # it waited for the thread ...
    assert finished == ["waited"]  # ... so nothing is left running

    release.clear()
    abandoning = JobPipeline(
        [[functools.partial(blocking, "abandoned")]], timeout=0.03, abandon_threads=True
    )
    t0 = time.perf_counter()
    with pytest.raises(PipelineTimeoutError):
        await abandoning.run()
    assert time.perf_counter() - t0 < 0.09 and finished == ["waited"]
    release.set()
    for _ in range(100):  # let the abandoned thread end before the test does
        if len(finished) == 2:
            break
        await asyncio.sleep(0.01)
    assert finished == ["waited", "abandoned"]


# -- cancellation ---------------------------------------------------------------------------------


async def test_cancelling_run_cancels_every_stage_task_and_leaves_no_task_or_thread() -> None:
    before = _other_tasks()
    entered = asyncio.Event()
    thread_done = threading.Event()
    async_cancelled: list[bool] = []
    later: list[bool] = []

    async def waits() -> None:
        entered.set()
        try:
            await asyncio.sleep(LIMIT)
        except asyncio.CancelledError:
            async_cancelled.append(True)
            raise

    def blocks() -> None:
        time.sleep(0.05)
        thread_done.set()

    pipeline = JobPipeline([[waits, waits, blocks], [lambda: later.append(True)]])
    task = asyncio.create_task(pipeline.run())
    await asyncio.wait_for(entered.wait(), LIMIT)
    assert pipeline.progress == "stage 1 of 2"
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert async_cancelled == [True, True]
    assert thread_done.is_set()  # run() returned only after the sync callable had
    assert later == []
    assert _other_tasks() == before
    stats = pipeline.statistics()
    assert stats.runs_cancelled == 1 and stats.running == 0 and pipeline.progress is None


async def test_cancel_scope_around_run_cancels_it_cleanly() -> None:
    import anyio

    before = _other_tasks()

    async def stuck() -> None:
        await anyio.sleep(LIMIT)

    with anyio.move_on_after(0.03) as scope:
        await JobPipeline([[stuck, stuck]]).run()
    assert scope.cancelled_caught
    assert _other_tasks() == before


# -- observing ------------------------------------------------------------------------------------


async def test_progress_and_statistics_follow_the_running_stage() -> None:
    gate = asyncio.Event()
    seen: list[str | None] = []
    pipeline = JobPipeline()

    async def look() -> None:
        seen.append(pipeline.progress)
        await gate.wait()

    pipeline.add_stage([look]).add_stage([look], name="transform")
    assert pipeline.progress is None
    task = asyncio.create_task(pipeline.run())
    await asyncio.sleep(0.01)
    stats = pipeline.statistics()
    assert isinstance(stats, PipelineStatistics)
    assert (stats.stages, stats.running, stats.current_stage) == (2, 1, 0)
    gate.set()
    await asyncio.wait_for(task, LIMIT)
    assert seen == ["stage 1 of 2", "stage 2 of 2 (transform)"]
    stats = pipeline.statistics()
    assert (stats.runs_started, stats.runs_completed, stats.current_stage) == (1, 1, None)
    assert stats.last_duration is not None and len(stats.last_stage_durations) == 2
    assert repr(pipeline) == "JobPipeline(stages=2, callables=[1, 1], failure='fail_fast')"


async def test_scheduled_pipeline_shows_stage_progress_in_list_jobs_and_returns_results() -> None:
    entered = [asyncio.Event() for _ in range(3)]
    release = [asyncio.Event() for _ in range(3)]

    def gate(k: int) -> Callable[[], Any]:
        async def step() -> int:
            entered[k].set()
            await release[k].wait()
            return k

        return step

    pipeline = JobPipeline([[gate(0)], [gate(1), gate(1)], [gate(2)]])
    async with AsyncScheduler() as scheduler:
        job_id = await scheduler.schedule(pipeline.run, name="etl", args=("input",))
        for k in range(3):
            await asyncio.wait_for(entered[k].wait(), LIMIT)
            [job] = await scheduler.list_jobs()
            assert (job.name, job.status, job.progress) == (
                "etl",
                JobStatus.RUNNING,
                f"stage {k + 1} of 3",
            )
            release[k].set()
        job = await scheduler.wait_job(job_id, timeout=LIMIT)
    assert job.status is JobStatus.COMPLETED
    assert job.result == [[0], [1, 1], [2]]
    assert job.progress is None


async def test_pipeline_fired_by_a_trigger_runs_whole_each_time() -> None:
    runs: list[int] = []

    def count() -> int:
        runs.append(1)
        return len(runs)

    pipeline = JobPipeline([[count], [lambda results: results[0] * 10]])
    async with AsyncScheduler() as scheduler:
        job_id = await scheduler.schedule(
            pipeline.run, trigger=IntervalTrigger(seconds=0.01), max_runs=3
        )
        job = await scheduler.wait_job(job_id, timeout=LIMIT)
    assert job.run_count == 3 and job.result == [[3], [30]]


async def test_failing_scheduled_pipeline_records_the_stage_in_the_job_error() -> None:
    def bad() -> None:
        raise ValueError("bad row")

    async with AsyncScheduler() as scheduler:
        job = await scheduler.wait_job(
            await scheduler.schedule(JobPipeline([[lambda: 1], [bad]]).run), timeout=LIMIT
        )
    assert job.status is JobStatus.FAILED
    assert job.error is not None and job.error.startswith("PipelineError: pipeline stage 2 of 2")


async def test_run_sync_in_a_sync_scheduled_job_publishes_its_progress_on_the_job() -> None:
    entered = threading.Event()
    release = threading.Event()

    def step() -> int:
        entered.set()
        release.wait(LIMIT)
        return 1

    pipeline = JobPipeline([[lambda: 0], [step]])
    async with AsyncScheduler() as scheduler:
        job_id = await scheduler.schedule(pipeline.run_sync, name="threaded")
        assert await asyncio.to_thread(entered.wait, LIMIT)
        job = await scheduler.get_job(job_id)
        assert job is not None and job.progress == "stage 2 of 2"
        release.set()
        job = await scheduler.wait_job(job_id, timeout=LIMIT)
    assert job.status is JobStatus.COMPLETED and job.result == [[0], [1]]


async def test_a_pipeline_run_inside_a_stage_nests_its_progress_and_restores_the_outer() -> None:
    inner_entered, inner_release = asyncio.Event(), asyncio.Event()
    after_inner, outer_release = asyncio.Event(), asyncio.Event()

    async def inner_step() -> str:
        inner_entered.set()
        await inner_release.wait()
        return "inner"

    inner = JobPipeline([[inner_step]])

    async def outer_step() -> list[list[Any]]:
        results = await inner.run()
        after_inner.set()
        await outer_release.wait()
        return results

    outer = JobPipeline([[lambda: 0], [outer_step]])
    async with AsyncScheduler() as scheduler:
        job_id = await scheduler.schedule(outer.run)
        await asyncio.wait_for(inner_entered.wait(), LIMIT)
        job = await scheduler.get_job(job_id)
        assert job is not None and job.progress == "stage 2 of 2 > stage 1 of 1"
        inner_release.set()
        await asyncio.wait_for(after_inner.wait(), LIMIT)
        job = await scheduler.get_job(job_id)
        assert job is not None and job.progress == "stage 2 of 2"
        outer_release.set()
        job = await scheduler.wait_job(job_id, timeout=LIMIT)
    assert job.result == [[0], [[["inner"]]]] and job.progress is None


async def test_set_progress_outside_a_job_is_harmless() -> None:
    assert await JobPipeline([[lambda: 1]]).run() == [[1]]


# -- run_sync ---------------------------------------------------------------------------------------


async def test_run_sync_runs_the_pipeline_in_the_calling_thread() -> None:
    async def double(x: int) -> int:
        await asyncio.sleep(0)
        return 2 * x

    pipeline = JobPipeline([[double], [lambda rows: rows[0] + 1]])
    outcome: list[object] = []
    thread = threading.Thread(target=lambda: outcome.append(pipeline.run_sync(20)))
    thread.start()
    await asyncio.to_thread(thread.join, LIMIT)
    assert outcome == [[[40], [41]]]


async def test_run_sync_is_refused_on_a_thread_running_an_event_loop() -> None:
    pipeline = JobPipeline([[lambda: 1]])
    with pytest.raises(DeadlockError, match=r"await pipeline\.run"):
        pipeline.run_sync()
    assert pipeline.statistics().runs_started == 0


async def test_run_sync_raises_the_pipeline_error() -> None:
    def bad() -> None:
        raise ValueError("x")

    pipeline = JobPipeline([[bad]])
    errors: list[BaseException] = []

    def target() -> None:
        try:
            pipeline.run_sync()
        except PipelineError as exc:
            errors.append(exc)

    await asyncio.to_thread(target)
    assert len(errors) == 1 and isinstance(errors[0], PipelineError)


# -- ETL -------------------------------------------------------------------------------------------


async def test_etl_extract_in_parallel_transform_then_load() -> None:
    sources = {"users": [{"id": 1}, {"id": 2}], "orders": [{"id": 10}], "events": []}
    loaded: list[tuple[str, int]] = []
    extract_starts: list[float] = []

    def extractor(name: str) -> Callable[[], Any]:
        async def extract() -> tuple[str, list[dict[str, int]]]:
            extract_starts.append(time.perf_counter())
            await asyncio.sleep(0.02)
            return name, sources[name]

        return extract

    def transform(extracted: list[tuple[str, list[dict[str, int]]]]) -> dict[str, int]:
        return {name: len(rows) for name, rows in extracted}

    async def load(transformed: list[dict[str, int]]) -> int:
        [counts] = transformed
        loaded.extend(sorted(counts.items()))
        return sum(counts.values())

    pipeline = (
        JobPipeline(timeout=LIMIT)
        .add_stage([extractor(n) for n in sources], name="extract")
        .add_stage([transform], name="transform")
        .add_stage([load], name="load")
    )
    results = await pipeline.run()
    assert results[1] == [{"users": 2, "orders": 1, "events": 0}]
    assert results[2] == [3]
    assert loaded == [("events", 0), ("orders", 1), ("users", 2)]
    assert max(extract_starts) - min(extract_starts) < 0.015  # extracted in parallel


# -- thread bound --------------------------------------------------------------------------------


async def test_max_workers_bounds_the_threads_of_a_run() -> None:
    lock = threading.Lock()
    active = 0
    peak = 0

    def work() -> None:
        nonlocal active, peak
        with lock:
            active += 1
            peak = max(peak, active)
        time.sleep(0.01)
        with lock:
            active -= 1

    await JobPipeline([[work] * 6], max_workers=2).run()
    assert peak == 2


# -- validation --------------------------------------------------------------------------------


def _two_args(a: int, b: int) -> int:
    return a + b


def _kw_only(*, key: str) -> str:
    return key


async def _agen() -> Any:
    yield 1


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (
            lambda: JobPipeline(failure="retry"),  # type: ignore[arg-type]
            "failure: expected 'fail_fast' or 'continue', got 'retry'",
        ),
        (lambda: JobPipeline(timeout=0), "timeout: expected a number of seconds > 0"),
        (lambda: JobPipeline(stage_timeout=-1), "stage_timeout: expected a number of seconds > 0"),
        (lambda: JobPipeline(timeout=float("nan")), "timeout: expected a number of seconds > 0"),
        (lambda: JobPipeline(max_workers=0), "max_workers: expected a positive int or None, got 0"),
        (lambda: JobPipeline(abandon_threads=1), "abandon_threads: expected a bool"),  # type: ignore[arg-type]
        (lambda: JobPipeline(stages="ab"), "stages: expected a list of stages"),  # type: ignore[arg-type]
        (
            lambda: JobPipeline().add_stage(print),  # type: ignore[arg-type]
            "add_stage (stage index 0): callables: expected a list of callables, got "
            "builtin_function_or_method <built-in function print>; for a one-callable stage "
            "pass a list: add_stage([print])",
        ),
        (
            lambda: JobPipeline([[lambda: 1]]).add_stage([]),
            "add_stage (stage index 1): callables: a stage needs at least one callable",
        ),
        (
            lambda: JobPipeline().add_stage([lambda: 1, 42]),  # type: ignore[list-item]
            "add_stage (stage index 0), callable 1: expected a callable, got int 42",
        ),
        (
            lambda: JobPipeline().add_stage([lambda: 1], timeout="1"),  # type: ignore[arg-type]
            "add_stage (stage index 0): timeout: expected a number of seconds > 0",
        ),
        (
            lambda: JobPipeline().add_stage([lambda: 1], name=3),  # type: ignore[arg-type]
            "add_stage (stage index 0): name: expected a str or None, got int 3",
        ),
        (
            lambda: JobPipeline().add_stage([lambda: 1], pass_input=1),  # type: ignore[arg-type]
            "add_stage (stage index 0): pass_input: expected True, False or None, got 1",
        ),
        (
            lambda: JobPipeline().add_stage([_two_args]),
            "add_stage (stage index 0), callable 0 (_two_args): its signature (a: 'int', b: "
            "'int') -> 'int' does not allow one positional argument (the stage input)",
        ),
        (
            lambda: JobPipeline().add_stage([_kw_only]),
            "add_stage (stage index 0), callable 0 (_kw_only): its signature (*, key: 'str') -> "
            "'str' does not allow being called without arguments",
        ),
        (
            lambda: JobPipeline().add_stage([_two_args], pass_input=False),
            "does not allow being called without arguments",
        ),
        (
            lambda: JobPipeline().add_stage([_kw_only], pass_input=True),
            "does not allow one positional argument",
        ),
        (
            lambda: JobPipeline().add_stage([_agen]),
            "add_stage (stage index 0), callable 0 (_agen): an async generator function cannot "
            "be awaited",
        ),
    ],
)
async def test_invalid_arguments_are_refused_with_a_message_naming_them(
    build: Callable[[], object], message: str
) -> None:
    with pytest.raises(InvalidPipelineError) as info:
        build()
    assert message in str(info.value)
    assert isinstance(info.value, ValueError | TypeError)
    assert isinstance(info.value, InvalidJobError) and isinstance(info.value, TypeError)


async def test_a_coroutine_object_instead_of_a_function_is_refused_and_closed() -> None:
    async def fetch() -> None:
        return None

    coro = fetch()
    with pytest.raises(InvalidPipelineError, match="got a coroutine object") as info:
        JobPipeline().add_stage([coro])  # type: ignore[list-item]
    assert "pass the function itself" in str(info.value)
    assert inspect.getcoroutinestate(coro) == inspect.CORO_CLOSED  # no "never awaited" warning


async def test_add_stage_returns_the_pipeline_for_chaining() -> None:
    pipeline = JobPipeline()
    assert pipeline.add_stage([print], pass_input=False) is pipeline
    assert len(pipeline) == 1


async def test_uninspectable_signature_needs_pass_input() -> None:
    class Opaque:
        __signature__ = "not a signature"

        def __call__(self, *args: object) -> int:
            return 1

    with pytest.raises(InvalidPipelineError, match="cannot be inspected"):
        JobPipeline().add_stage([Opaque()])
    assert len(JobPipeline().add_stage([Opaque()], pass_input=False)) == 1
