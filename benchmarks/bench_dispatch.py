"""Dispatch throughput: N no-op jobs, all due now, async and sync.

For each candidate the N jobs are scheduled *before* the scheduler starts (that cost is reported
separately, per ``schedule()`` call); the clock then runs from the moment the scheduler is started
to the moment the last of the N job bodies has run. The job bodies are the same functions for every
candidate: they count themselves and wake the measuring coroutine when the N-th one runs.

Ceilings, measured in the same process as each candidate, alternating with it:

* async: ``loop.create_task(noop())`` N times, then wait until all N ran;
* sync:  ``loop.run_in_executor(pool, noop)`` N times with a ``ThreadPoolExecutor`` of the same
  size as the scheduler's pool, then wait until all N ran.

Targets (issue 2): async >= 50% of the bare ``create_task`` rate, sync >= 70% of the bare
``run_in_executor`` rate.

Usage::

    .venv/bin/python benchmarks/bench_dispatch.py            # asyncron + every peer with a venv
    .venv/bin/python benchmarks/bench_dispatch.py --peers '' # asyncron only
"""

from __future__ import annotations

import asyncio
import gc
import itertools
import os
import sys
import time
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import _common as common

KINDS = ("async", "sync")
ASYNC_TARGET = 0.50
SYNC_TARGET = 0.70
#: The largest N a peer is run with: APScheduler 4 needs minutes per 100,000 jobs (see README).
PEER_MAX_N: dict[str, int] = {"aps3": 100_000, "aps4": 100_000}
LARGE = 100_000

#: The clock of the timed sections: wall-clock time, or (``--cpu``) the CPU time of the loop's
#: thread, which other work on a shared machine does not inflate (the job bodies of sync runs
#: and the pools' threads are not counted, for the bare loop and every candidate alike).
clock: Callable[[], float] = time.perf_counter


class _Finish:
    """Counts job bodies and wakes the measuring coroutine when the N-th one has run.

    ``next()`` on an ``itertools.count`` is atomic in CPython, so sync bodies running in several
    worker threads need no lock.
    """

    def __init__(self) -> None:
        self.reset(0)

    def reset(self, target: int) -> asyncio.Event:
        self.counter = itertools.count(1)
        self.target = target
        self.event = asyncio.Event()
        self.loop: asyncio.AbstractEventLoop | None = None
        return self.event

    def bind(self, loop: asyncio.AbstractEventLoop, target: int) -> asyncio.Event:
        event = self.reset(target)
        self.loop = loop
        return event


FINISH = _Finish()


async def noop_async() -> None:
    if next(FINISH.counter) == FINISH.target:
        FINISH.event.set()


def noop_sync() -> None:
    if next(FINISH.counter) == FINISH.target:
        assert FINISH.loop is not None
        FINISH.loop.call_soon_threadsafe(FINISH.event.set)


@dataclass(frozen=True, slots=True)
class Sample:
    """One timed run: seconds spent in N schedule calls, and from start to the N-th body."""

    schedule_s: float
    run_s: float


Runner = Callable[[int, str, int], Awaitable[Sample]]


# -- the bare event loop --------------------------------------------------------------------------


async def run_bare(n: int, kind: str, workers: int) -> Sample:
    """The ceiling: the least work the loop can do for N runs. No reference to the tasks or
    futures is kept (the loop's ready queue, or the pool's work queue, holds each until it has
    run), so the bare loop pays for no bookkeeping at all."""
    loop = asyncio.get_running_loop()
    done = FINISH.bind(loop, n)
    gc.collect()
    if kind == "async":
        t0 = clock()
        for _ in range(n):
            loop.create_task(noop_async())  # noqa: RUF006 - held by the ready queue until run
        await done.wait()
        elapsed = clock() - t0
        await asyncio.sleep(0)  # the last task's completion
        return Sample(0.0, elapsed)
    pool = ThreadPoolExecutor(workers)
    t0 = clock()
    for _ in range(n):
        loop.run_in_executor(pool, noop_sync)
    await done.wait()
    elapsed = clock() - t0
    pool.shutdown(wait=True)  # not timed: every job has ended in its thread,
    await asyncio.sleep(0.01)  # and its result has been passed back to the loop
    return Sample(0.0, elapsed)


# -- asyncron ------------------------------------------------------------------------------------


async def run_asyncron(n: int, kind: str, workers: int) -> Sample:
    from asyncron import AsyncScheduler

    func: Callable[[], Any] = noop_async if kind == "async" else noop_sync
    done = FINISH.bind(asyncio.get_running_loop(), n)
    scheduler = AsyncScheduler(max_workers=workers)
    gc.collect()
    t0 = clock()
    for _ in range(n):
        await scheduler.schedule(func)
    t1 = clock()
    await scheduler.start()
    await done.wait()
    t2 = clock()
    # Not timed: every run must also have been recorded by the scheduler.
    for _ in range(10_000):
        stats = scheduler.statistics()
        if _stat(stats, "running") == 0:
            break
        await asyncio.sleep(0.001)
    await scheduler.stop()
    completed = _stat(stats, "jobs_by_status").get("completed", 0)
    if completed != n:
        raise RuntimeError(f"asyncron recorded {completed} completed jobs out of {n}: {stats}")
    return Sample(t1 - t0, t2 - t1)


def _stat(stats: Any, name: str) -> Any:
    """A field of ``statistics()``: an attribute of the snapshot (or a key, in older versions)."""
    return stats[name] if isinstance(stats, dict) else getattr(stats, name)


# -- APScheduler 3 (AsyncIOScheduler) -------------------------------------------------------------


async def run_aps3(n: int, kind: str, workers: int) -> Sample:
    from apscheduler.executors.asyncio import AsyncIOExecutor
    from apscheduler.schedulers.asyncio import AsyncIOScheduler

    loop = asyncio.get_running_loop()
    # AsyncIOExecutor runs coroutine functions as tasks and plain functions in the loop's default
    # executor: give that the same size as everyone else's pool.
    pool = ThreadPoolExecutor(workers)
    loop.set_default_executor(pool)
    func: Callable[[], Any] = noop_async if kind == "async" else noop_sync
    done = FINISH.bind(loop, n)
    scheduler = AsyncIOScheduler(
        event_loop=loop,
        executors={"default": AsyncIOExecutor()},
        # No misfire grace limit: a job must run however long the batch takes.
        job_defaults={"misfire_grace_time": None, "coalesce": True, "max_instances": 1},
    )
    scheduler.start(paused=True)  # jobs go straight to the job store; nothing fires yet
    gc.collect()
    t0 = clock()
    for _ in range(n):
        scheduler.add_job(func)
    t1 = clock()
    scheduler.resume()
    await done.wait()
    t2 = clock()
    scheduler.shutdown(wait=False)
    await asyncio.sleep(0.05)
    pool.shutdown(wait=True)
    return Sample(t1 - t0, t2 - t1)


# -- APScheduler 4 (AsyncScheduler) ---------------------------------------------------------------


async def run_aps4(n: int, kind: str, workers: int) -> Sample:
    from apscheduler import AsyncScheduler, TaskDefaults
    from apscheduler.executors.async_ import AsyncJobExecutor
    from apscheduler.executors.thread import ThreadPoolJobExecutor

    func: Callable[[], Any] = noop_async if kind == "async" else noop_sync
    done = FINISH.bind(asyncio.get_running_loop(), n)
    scheduler = AsyncScheduler(
        job_executors={
            "async": AsyncJobExecutor(),
            "threadpool": ThreadPoolJobExecutor(max_workers=workers),
        },
        # The default max_running_jobs=1 per task would run the N jobs (one task) one by one.
        task_defaults=TaskDefaults(
            job_executor="async" if kind == "async" else "threadpool", max_running_jobs=None
        ),
        cleanup_interval=None,
    )
    async with scheduler:
        gc.collect()
        t0 = clock()
        for _ in range(n):
            await scheduler.add_job(func)
        t1 = clock()
        await scheduler.start_in_background()
        await done.wait()
        t2 = clock()
        await scheduler.stop()
    return Sample(t1 - t0, t2 - t1)


RUNNERS: dict[str, Runner] = {"asyncron": run_asyncron, "aps3": run_aps3, "aps4": run_aps4}


# -- driver ---------------------------------------------------------------------------------------


async def measure(
    candidate: str,
    sizes: list[int],
    repeats: tuple[int, int],
    workers: int,
    kinds: tuple[str, ...] = KINDS,
) -> list[dict[str, Any]]:
    """Best of ``repeats`` (small N, large N) for the candidate and for the bare loop,
    alternating, per (N, kind)."""
    runner = RUNNERS[candidate]
    rows: list[dict[str, Any]] = []
    for n in sizes:
        repeat = repeats[1] if n >= LARGE else repeats[0]
        for kind in kinds:
            bare: list[Sample] = []
            ours: list[Sample] = []
            for _ in range(repeat):
                bare.append(await run_bare(n, kind, workers))
                ours.append(await runner(n, kind, workers))
            best = min(ours, key=lambda s: s.run_s)
            best_bare = min(s.run_s for s in bare)
            row = {
                "n": n,
                "kind": kind,
                "bare_rate": n / best_bare,
                "rate": n / best.run_s,
                "schedule_us": min(s.schedule_s for s in ours) / n * 1e6,
                "repeat": repeat,
                "samples": [asdict(s) for s in ours],
            }
            common.progress(
                f"{candidate} n={n:,} {kind}: {row['rate']:,.0f} jobs/s, "
                f"bare {row['bare_rate']:,.0f} jobs/s"
            )
            rows.append(row)
    return rows


def report(own: list[dict[str, Any]], outcomes: list[common.PeerOutcome], workers: int) -> None:
    peer_rows = {
        o.peer: {(r["n"], r["kind"]): r for r in o.result["rows"]}
        for o in outcomes
        if o.result is not None
    }
    labels = [o.label for o in outcomes]
    print(f"\n## Dispatch: N no-op jobs all due now ({common.machine_line()})")
    repeats = ", ".join(f"N={r['n']:,}: {r['repeat']}" for r in own if r["kind"] == "async")
    print(f"thread pools: {workers} workers everywhere; best of ({repeats}) runs")
    gc_state = "on, as in production" if gc.isenabled() else "OFF (--no-gc diagnostic run)"
    timed = "the loop thread's CPU time (--cpu)" if clock is time.thread_time else "wall clock"
    print(f"jobs/s (higher is better), {timed}; the garbage collector is {gc_state}")
    print("ratio = rate / bare loop rate measured in the same process\n")
    headers = ["N", "kind", "bare loop", "asyncron", "ratio", "target"]
    for label in labels:
        headers += [label, "ratio"]
    rows: list[list[str]] = []
    for r in own:
        target = ASYNC_TARGET if r["kind"] == "async" else SYNC_TARGET
        ratio = r["rate"] / r["bare_rate"]
        cells = [
            common.fmt_int(r["n"]),
            r["kind"],
            common.fmt_int(r["bare_rate"]),
            common.fmt_int(r["rate"]),
            common.fmt_pct(ratio),
            f">= {target:.0%}: {common.verdict(ratio >= target)}",
        ]
        for o in outcomes:
            pr = peer_rows.get(o.peer, {}).get((r["n"], r["kind"]))
            if pr is None:
                cells += ["—", "—"]
            else:
                cells += [common.fmt_int(pr["rate"]), common.fmt_pct(pr["rate"] / pr["bare_rate"])]
        rows.append(cells)
    print(common.table(headers, rows))

    print("\n## schedule() cost: µs per call, N jobs added before start (lower is better)\n")
    headers = ["N", "kind", "asyncron", *labels]
    rows = []
    for r in own:
        cells = [common.fmt_int(r["n"]), r["kind"], f"{r['schedule_us']:.1f}"]
        for o in outcomes:
            pr = peer_rows.get(o.peer, {}).get((r["n"], r["kind"]))
            cells.append("—" if pr is None else f"{pr['schedule_us']:.1f}")
        rows.append(cells)
    print(common.table(headers, rows))
    print()
    common.print_notes(outcomes)


def main() -> None:
    parser = common.base_parser(__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,100000", help="comma-separated N values")
    parser.add_argument("--repeat", type=int, default=3, help="runs per N, best kept")
    parser.add_argument(
        "--repeat-large",
        type=int,
        default=2,
        help=f"runs per N for N >= {LARGE:,} (default: %(default)s; keeps a run under 3 minutes)",
    )
    parser.add_argument(
        "--no-gc",
        action="store_true",
        help="diagnostic: disable the garbage collector for the whole run (every candidate)",
    )
    parser.add_argument(
        "--workers",
        type=int,
        default=min(32, (os.cpu_count() or 1) + 4),
        help="thread pool size for sync jobs, the same for every candidate (default: %(default)s)",
    )
    parser.add_argument(
        "--kinds", default=",".join(KINDS), help="comma-separated job kinds (default: %(default)s)"
    )
    parser.add_argument(
        "--cpu",
        action="store_true",
        help="time the loop thread's CPU time (time.thread_time) instead of the wall clock",
    )
    args = parser.parse_args()
    if args.cpu:
        global clock
        clock = time.thread_time
    sizes = [int(s) for s in args.sizes.split(",") if s]
    kinds = tuple(k for k in args.kinds.split(",") if k)
    if not kinds or any(k not in KINDS for k in kinds):
        raise SystemExit(f"--kinds: expected some of {', '.join(KINDS)}, got {args.kinds!r}")
    repeats = (args.repeat, args.repeat_large)
    if args.no_gc:
        gc.disable()  # gc.collect() before each timed section still runs

    if args.peer:
        capped = [n for n in sizes if n <= PEER_MAX_N[args.peer]]
        rows = asyncio.run(measure(args.peer, capped, repeats, args.workers, kinds))
        note = ""
        if capped != sizes:
            note = f"run only for N <= {PEER_MAX_N[args.peer]:,} (too slow beyond)"
        common.emit_result(
            {"version": common.installed_version("apscheduler"), "rows": rows, "note": note}
        )
        return

    own = asyncio.run(measure("asyncron", sizes, repeats, args.workers, kinds))
    passthrough = ["--sizes", args.sizes, "--repeat", str(args.repeat)]
    passthrough += ["--repeat-large", str(args.repeat_large)]
    passthrough += ["--no-gc"] if args.no_gc else []
    passthrough += ["--cpu"] if args.cpu else []
    passthrough += ["--kinds", args.kinds]
    passthrough += ["--workers", str(args.workers)]
    outcomes = [
        common.run_peer(Path(__file__), peer, passthrough)
        for peer in common.selected_peers(args.peers)
    ]
    report(own, outcomes, args.workers)


if __name__ == "__main__":
    sys.exit(main())
