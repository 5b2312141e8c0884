"""JobPipeline: three stages of ten jobs that each sleep 50 ms.

Target (issue 4): the pipeline finishes in 150 ms plus under 5 ms of overhead, with no polling: a
stage starts the moment the previous one ends.

Candidates, measured in this process one after the other, interleaved round by round:

* ``JobPipeline`` with coroutine jobs (``await asyncio.sleep(0.05)``), and the bare equivalent:
  ``await asyncio.gather(...)`` of ten coroutines, three times in a row;
* ``JobPipeline`` with sync jobs (``time.sleep(0.05)`` in worker threads), and the bare
  equivalent: ``asyncio.gather`` of ten ``loop.run_in_executor`` calls on a 10-thread pool.

Each ``JobPipeline`` is measured twice: built once and run every round (the usual case: a
scheduled pipeline), and built anew for each run, which puts ``add_stage``'s signature checks and,
for sync jobs, the start of the pipeline's worker threads inside the measured time.

For each: the total time of a run (median and worst over the rounds), its overhead over the ideal
150 ms, its overhead over the bare loop's median, and the stage hand-off: the time from the end of
the last job of a stage to the start of the first job of the next one (median over all hand-offs).
``asyncio.sleep`` itself wakes a little late, so the bare loop's overhead is the floor.

Usage::

    .venv/bin/python benchmarks/bench_pipeline.py               # 30 rounds, ~20 s
    .venv/bin/python benchmarks/bench_pipeline.py --rounds 10 --uvloop
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import gc
import statistics
import time
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import _common as common

STAGES = 3
WIDTH = 10
SLEEP = 0.05
IDEAL = STAGES * SLEEP
TARGET_OVERHEAD = 0.005


@dataclass
class Trace:
    """Start and end instants of each job, by stage."""

    starts: list[list[float]] = field(default_factory=lambda: [[] for _ in range(STAGES)])
    ends: list[list[float]] = field(default_factory=lambda: [[] for _ in range(STAGES)])

    def handoffs(self) -> list[float]:
        return [min(self.starts[k + 1]) - max(self.ends[k]) for k in range(STAGES - 1)]


TRACE = Trace()  # the current run's trace; each job records into it


async def async_job(stage: int) -> None:
    TRACE.starts[stage].append(time.perf_counter())
    await asyncio.sleep(SLEEP)
    TRACE.ends[stage].append(time.perf_counter())


def sync_job(stage: int) -> None:
    TRACE.starts[stage].append(time.perf_counter())
    time.sleep(SLEEP)
    TRACE.ends[stage].append(time.perf_counter())


def build(job: Callable[[int], Any]) -> Any:
    from asyncron._pipeline import JobPipeline

    pipeline = JobPipeline()
    for k in range(STAGES):
        pipeline.add_stage([functools.partial(job, k) for _ in range(WIDTH)])
    return pipeline


Runner = Callable[[], Awaitable[Any]]


def built_once(job: Callable[[int], Any]) -> Runner:
    """A pipeline built once, run every round: the usual case (a scheduled pipeline)."""
    pipeline = build(job)
    return lambda: pipeline.run()


def built_each_run(job: Callable[[int], Any]) -> Runner:
    """A new pipeline per run: building it (signature checks) and, for sync jobs, starting its
    thread pool's threads are inside the measured time."""

    async def run() -> Any:
        return await build(job).run()

    return run


async def gather_async() -> None:
    for k in range(STAGES):
        await asyncio.gather(*(async_job(k) for _ in range(WIDTH)))


POOL: ThreadPoolExecutor | None = None


async def gather_sync() -> None:
    loop = asyncio.get_running_loop()
    assert POOL is not None
    for k in range(STAGES):
        await asyncio.gather(*(loop.run_in_executor(POOL, sync_job, k) for _ in range(WIDTH)))


def candidates() -> list[tuple[str, str, Runner]]:
    return [
        ("async", "JobPipeline", built_once(async_job)),
        ("async", "JobPipeline, new each run", built_each_run(async_job)),
        ("async", "asyncio.gather", gather_async),
        ("sync", "JobPipeline", built_once(sync_job)),
        ("sync", "JobPipeline, new each run", built_each_run(sync_job)),
        ("sync", "asyncio.gather + 10-thread pool", gather_sync),
    ]


@dataclass(frozen=True, slots=True)
class Result:
    kind: str
    name: str
    totals: tuple[float, ...]
    handoffs: tuple[float, ...]

    @property
    def median(self) -> float:
        return statistics.median(self.totals)

    @property
    def worst(self) -> float:
        return max(self.totals)


async def measure(rounds: int) -> list[Result]:
    global POOL, TRACE
    POOL = ThreadPoolExecutor(WIDTH, thread_name_prefix="bare-pool")
    cands = candidates()
    totals: dict[int, list[float]] = {i: [] for i in range(len(cands))}
    handoffs: dict[int, list[float]] = {i: [] for i in range(len(cands))}
    try:
        for _, _, runner in cands:  # warm-up: imports, worker threads
            await runner()
        for r in range(rounds):
            for i, (_, _, runner) in enumerate(cands):
                TRACE = Trace()
                gc.collect()
                t0 = time.perf_counter()
                await runner()
                totals[i].append(time.perf_counter() - t0)
                handoffs[i].extend(TRACE.handoffs())
            if (r + 1) % 10 == 0:
                common.progress(f"{r + 1}/{rounds} rounds")
    finally:
        POOL.shutdown()
    return [
        Result(kind, name, tuple(totals[i]), tuple(handoffs[i]))
        for i, (kind, name, _) in enumerate(cands)
    ]


def report(results: list[Result], rounds: int, loop_name: str) -> None:
    print(
        f"# JobPipeline: {STAGES} stages x {WIDTH} jobs x {SLEEP * 1e3:.0f} ms "
        f"(ideal {IDEAL * 1e3:.0f} ms), {rounds} rounds"
    )
    print(common.machine_line().replace("default asyncio loop", f"{loop_name} loop"))
    print()
    bare = {r.kind: r for r in results if not r.name.startswith("JobPipeline")}
    rows = []
    for r in results:
        base = bare[r.kind]
        rows.append(
            [
                r.kind,
                r.name,
                common.fmt_ms(r.median),
                common.fmt_ms(r.worst),
                common.fmt_ms(r.median - IDEAL),
                "—" if r is base else common.fmt_ms(r.median - base.median),
                common.fmt_ratio(r.median / base.median),
                common.fmt_us(statistics.median(r.handoffs)),
            ]
        )
    print(
        common.table(
            [
                "jobs",
                "candidate",
                "total ms (median)",
                "total ms (worst)",
                "overhead ms vs 150",
                "overhead ms vs bare",
                "ratio to bare",
                "stage hand-off µs",
            ],
            rows,
        )
    )
    print()
    for r in results:
        if r.name.startswith("JobPipeline"):
            overhead = r.median - IDEAL
            print(
                f"- {r.kind} {r.name}: {r.median * 1e3:.2f} ms median, overhead "
                f"{overhead * 1e3:.2f} ms over 150 ms (target < {TARGET_OVERHEAD * 1e3:.0f} ms): "
                f"{common.verdict(overhead < TARGET_OVERHEAD)}"
            )
    print(
        "- 'new each run' builds the pipeline inside the measured time: add_stage's signature "
        "checks and, for sync jobs, starting its thread pool's 10 threads (a pipeline's pool is "
        "reused by its later runs; the usual case is a pipeline built once and run many times)."
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--rounds", type=int, default=30, help="runs of each candidate")
    parser.add_argument("--uvloop", action="store_true", help="run on uvloop")
    args = parser.parse_args()
    if args.uvloop:
        import uvloop

        results = uvloop.run(measure(args.rounds))
    else:
        results = asyncio.run(measure(args.rounds))
    report(results, args.rounds, "uvloop" if args.uvloop else "default asyncio")


if __name__ == "__main__":
    main()
