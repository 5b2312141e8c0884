"""Memory: bytes per pending interval job, at 100,000 jobs.

Each (candidate, metric) pair is measured in a fresh Python process: a running scheduler is set up
and warmed up with one job, then N interval jobs (hourly, so none fires) are added, each with its
own trigger, and the growth is divided by N:

* RSS: resident set size from ``/proc/self/statm`` (psutil where there is no /proc) - what the
  operating system charges for the jobs, allocator slack included;
* tracemalloc: bytes Python allocated and still holds - the objects themselves.

The bare event loop has no notion of a pending job, so there is no ceiling here; the reference is
the target of issue 2: at most 600 B of RSS per pending job.

Usage::

    .venv/bin/python benchmarks/bench_memory.py
    .venv/bin/python benchmarks/bench_memory.py --n 10000 --peers aps3
"""

from __future__ import annotations

import asyncio
import gc
import linecache
import sys
import tracemalloc
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path
from typing import Any

import _common as common

RSS_TARGET = 600
METRICS = ("rss", "tracemalloc")
TOP_SITES = 15

AddJob = Callable[[], Awaitable[object]]


async def job() -> None:
    """The job body (never runs: every job's first fire is an hour away)."""


# -- the candidates, each a running scheduler and a way to add one pending interval job -----------


@asynccontextmanager
async def asyncron_scheduler() -> AsyncIterator[AddJob]:
    from asyncron import AsyncScheduler, IntervalTrigger

    async with AsyncScheduler() as scheduler:

        async def add() -> object:
            return await scheduler.schedule(job, trigger=IntervalTrigger(hours=1))

        yield add


@asynccontextmanager
async def aps3_scheduler() -> AsyncIterator[AddJob]:
    from apscheduler.schedulers.asyncio import AsyncIOScheduler
    from apscheduler.triggers.interval import IntervalTrigger

    scheduler = AsyncIOScheduler(event_loop=asyncio.get_running_loop())
    scheduler.start()

    async def add() -> object:
        return scheduler.add_job(job, IntervalTrigger(hours=1))

    try:
        yield add
    finally:
        scheduler.shutdown(wait=False)
        await asyncio.sleep(0.01)


@asynccontextmanager
async def aps4_scheduler() -> AsyncIterator[AddJob]:
    from apscheduler import AsyncScheduler
    from apscheduler.triggers.interval import IntervalTrigger

    async with AsyncScheduler(cleanup_interval=None) as scheduler:
        await scheduler.start_in_background()

        async def add() -> object:
            return await scheduler.add_schedule(job, IntervalTrigger(hours=1))

        yield add
        await scheduler.stop()


SCHEDULERS: dict[str, Callable[[], AbstractAsyncContextManager[AddJob]]] = {
    "asyncron": asyncron_scheduler,
    "aps3": aps3_scheduler,
    "aps4": aps4_scheduler,
}


# -- one measurement (child process) ------------------------------------------------------------


def top_sites(snapshot: tracemalloc.Snapshot, n: int) -> list[tuple[str, str, float]]:
    """The allocation sites holding the most memory: ("file:line", source line, bytes per job)."""
    sites: list[tuple[str, str, float]] = []
    for stat in snapshot.statistics("lineno")[:TOP_SITES]:
        if stat.size < n:  # less than a byte per job: not the job's
            break
        frame = stat.traceback[0]
        source = linecache.getline(frame.filename, frame.lineno).strip()
        filename = frame.filename
        for marker in ("site-packages/", "/src/", "/lib/python3.11/"):
            if marker in filename:
                filename = filename.split(marker, 1)[1]
                break
        sites.append((f"{filename}:{frame.lineno}", source[:70], stat.size / n))
    return sites


async def measure_child(candidate: str, metric: str, n: int) -> dict[str, Any]:
    async with SCHEDULERS[candidate]() as add:
        await add()  # warm-up: imports, first-use paths
        await asyncio.sleep(0.05)
        gc.collect()
        if metric == "tracemalloc":
            tracemalloc.start()
            before = tracemalloc.get_traced_memory()[0]
        else:
            before = common.rss_bytes()
        for _ in range(n):
            await add()
        await asyncio.sleep(0.2)  # let the scheduler react to the additions (wake-ups, events)
        gc.collect()
        sites: list[tuple[str, str, float]] = []
        if metric == "tracemalloc":
            after = tracemalloc.get_traced_memory()[0]
            sites = top_sites(tracemalloc.take_snapshot(), n)
            tracemalloc.stop()
        else:
            after = common.rss_bytes()
    version = "" if candidate == "asyncron" else common.installed_version("apscheduler")
    return {"bytes_per_job": (after - before) / n, "sites": sites, "version": version}


# -- driver ---------------------------------------------------------------------------------------


def run_all(n: int, peers: list[str]) -> dict[str, dict[str, Any]]:
    """candidate -> {metric: child result, or None}, plus a note when skipped."""
    script = str(Path(__file__))
    results: dict[str, dict[str, Any]] = {}
    for candidate in ["asyncron", *peers]:
        python: Path | str = sys.executable
        label = "asyncron"
        if candidate != "asyncron":
            python, label = common.peer_python(candidate), common.PEERS[candidate][0]
            if not Path(python).exists():
                results[candidate] = {
                    "note": f"skipped: no venv (create it: {common.venv_hint(candidate)})"
                }
                continue
        entry: dict[str, Any] = {}
        for metric in METRICS:
            argv = [script, "--child", candidate, "--metric", metric, "--n", str(n)]
            result, note = common.run_child(python, argv, label)
            entry[metric] = result
            if note:
                entry["note"] = note
        results[candidate] = entry
    return results


def report(results: dict[str, dict[str, Any]], n: int) -> None:
    print(f"\n## Memory: bytes per pending interval job at {n:,} jobs ({common.machine_line()})")
    print("each figure from a fresh process; growth / N (lower is better)\n")
    headers = ["candidate", "RSS B/job", "tracemalloc B/job", "target (RSS)"]
    rows: list[list[str]] = []
    for candidate, entry in results.items():
        label = "asyncron" if candidate == "asyncron" else common.PEERS[candidate][0]
        cells = [label]
        for metric in METRICS:
            result = entry.get(metric)
            cells.append("—" if result is None else common.fmt_int(result["bytes_per_job"]))
        target = ""
        rss = entry.get("rss")
        if candidate == "asyncron" and rss is not None:
            ok = rss["bytes_per_job"] <= RSS_TARGET
            target = f"<= {RSS_TARGET} B: {common.verdict(ok)}"
        rows.append([*cells, target])
    print(common.table(headers, rows))

    traced = results.get("asyncron", {}).get("tracemalloc")
    if traced is not None:
        print("\nasyncron: where the bytes of a pending job are (tracemalloc, top sites)\n")
        site_rows = [[site, f"`{code}`", f"{size:.0f}"] for site, code, size in traced["sites"]]
        print(common.table(["allocation site", "code", "B/job"], site_rows))
    notes = [
        (candidate, entry["note"]) for candidate, entry in results.items() if entry.get("note")
    ]
    if notes:
        print()
    for candidate, note in notes:
        print(f"- {common.PEERS[candidate][0]}: {note}")


def main() -> None:
    parser = common.base_parser(__doc__.splitlines()[0], peer_flag=False)
    parser.add_argument("--n", type=int, default=100_000, help="pending jobs (default: %(default)s)")
    parser.add_argument("--child", choices=sorted(SCHEDULERS), help="internal: measure one")
    parser.add_argument("--metric", choices=METRICS, default="rss", help="internal: with --child")
    args = parser.parse_args()

    if args.child:
        common.emit_result(asyncio.run(measure_child(args.child, args.metric, args.n)))
        return
    results = run_all(args.n, common.selected_peers(args.peers))
    report(results, args.n)


if __name__ == "__main__":
    sys.exit(main())
