"""Timer precision: N interval jobs every 0.2 s for 10 s; lateness p50 / p99 / max.

Every candidate runs the same async job body, ``tick(i)``, which records how late it runs. All N
jobs lie on one grid, ``start + k * 0.2 s`` (as with ``IntervalTrigger(seconds=0.2, start=...)``),
so every 0.2 s a burst of N jobs is due at the same instant: the benchmark measures both the timer
and how fast a burst is worked through.

Lateness of a fire = wall time when the job body runs - the grid instant it stands for. A job's
fire stands for the first grid instant it has not fired for yet; after a coalesced stall that is
the first instant after the stall, and the fires that were skipped are counted as missed.

Baselines, measured in the same process as each candidate, never at the same time as it: each
run of ``--duration`` seconds is cut into ``--slices`` slices that alternate between the candidates
of the process, so that a disturbance from outside (another process on the machine) falls on all of
them alike rather than on whichever ran at the time:

* ``call_at + task``: N ``loop.call_at`` chains; each link starts ``tick(i)`` as a task (the same
  work a scheduler does per fire) and arms the next link for the next grid instant;
* ``call_at callback`` (main process only): the same chains calling the body directly, no task:
  the floor of what the loop itself can do.

Target (issue 2): asyncron's p99 <= 1.5 x the bare ``loop.call_at`` p99 in the same process.

Usage::

    .venv/bin/python benchmarks/bench_precision.py                 # 10 s per run, ~2.5 minutes
    .venv/bin/python benchmarks/bench_precision.py --duration 3    # quicker, noisier
"""

from __future__ import annotations

import asyncio
import gc
import math
import statistics
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import _common as common

INTERVAL = 0.2
LEAD = 0.3  # seconds between the end of scheduling and the first fire
P99_TARGET = 1.5


class Recorder:
    """Lateness samples of one run; ``hit(i)`` is called by job ``i`` each time it runs."""

    def __init__(self, n: int, start: float, duration: float) -> None:
        self.start = start
        self.grid_points = math.ceil(duration / INTERVAL - 1e-9)
        self.expected = n * self.grid_points
        self.next_k = [0] * n
        self.samples: list[float] = []

    def hit(self, i: int) -> None:
        now = time.time()
        k = self.next_k[i]
        if k >= self.grid_points:
            return
        self.samples.append(now - (self.start + k * INTERVAL))
        # A scheduler that coalesces a stall fires next for the first grid instant after now.
        self.next_k[i] = max(k, math.floor((now - self.start) / INTERVAL)) + 1


RECORDER = Recorder(0, 0.0, 0.0)


async def tick(i: int) -> None:
    RECORDER.hit(i)


@dataclass(frozen=True, slots=True)
class Result:
    candidate: str
    n: int
    fires: int
    expected: int
    p50: float
    p99: float
    max: float
    slice_p99: list[float]


def summarize(candidate: str, n: int, recorders: list[Recorder]) -> Result:
    values = sorted(v for r in recorders for v in r.samples)
    return Result(
        candidate=candidate,
        n=n,
        fires=len(values),
        expected=sum(r.expected for r in recorders),
        p50=common.percentile(values, 0.50),
        p99=common.percentile(values, 0.99),
        max=values[-1] if values else float("nan"),
        slice_p99=[common.percentile(sorted(r.samples), 0.99) for r in recorders],
    )


def paired_ratio(ours: list[float], base: list[float]) -> float:
    """Median over slices of (our p99 / the baseline's p99 in the slice next to ours): one
    disturbed slice cannot move it, unlike the p99 of all samples."""
    return statistics.median(a / b for a, b in zip(ours, base, strict=True))


def new_recorder(n: int, duration: float) -> tuple[Recorder, float]:
    """Install a fresh recorder whose grid starts ``LEAD`` seconds from now."""
    global RECORDER
    start = time.time() + LEAD
    RECORDER = Recorder(n, start, duration)
    return RECORDER, start


async def sleep_until(wall: float) -> None:
    await asyncio.sleep(max(0.0, wall - time.time()))


Runner = Callable[[int, float], Awaitable[Recorder]]


# -- the bare event loop --------------------------------------------------------------------------


async def run_bare(n: int, duration: float, *, as_task: bool) -> Recorder:
    loop = asyncio.get_running_loop()
    recorder, start = new_recorder(n, duration)
    end = start + recorder.grid_points * INTERVAL

    def link(i: int, k: int) -> None:
        if as_task:
            loop.create_task(tick(i))  # noqa: RUF006 - held by the ready queue until run
        else:
            recorder.hit(i)
        arm(i, k + 1)

    def arm(i: int, k: int) -> None:
        due = start + k * INTERVAL
        if due < end:
            loop.call_at(loop.time() + (due - time.time()), link, i, k)

    for i in range(n):
        arm(i, 0)
    await sleep_until(end + INTERVAL / 2)
    return recorder


async def run_bare_task(n: int, duration: float) -> Recorder:
    return await run_bare(n, duration, as_task=True)


async def run_bare_callback(n: int, duration: float) -> Recorder:
    return await run_bare(n, duration, as_task=False)


# -- the candidates -------------------------------------------------------------------------------


async def run_asyncron(n: int, duration: float) -> Recorder:
    from asyncron import AsyncScheduler, IntervalTrigger

    recorder, start = new_recorder(n, duration)
    start_dt = datetime.fromtimestamp(start, UTC)
    async with AsyncScheduler() as scheduler:
        for i in range(n):
            trigger = IntervalTrigger(seconds=INTERVAL, start=start_dt)
            await scheduler.schedule(tick, trigger=trigger, args=(i,))
        await sleep_until(start + recorder.grid_points * INTERVAL + INTERVAL / 2)
    return recorder


async def run_aps3(n: int, duration: float) -> Recorder:
    from apscheduler.schedulers.asyncio import AsyncIOScheduler
    from apscheduler.triggers.interval import IntervalTrigger

    recorder, start = new_recorder(n, duration)
    start_dt = datetime.fromtimestamp(start, UTC)
    scheduler = AsyncIOScheduler(
        event_loop=asyncio.get_running_loop(),
        job_defaults={"misfire_grace_time": None, "coalesce": True, "max_instances": 1},
    )
    scheduler.start()
    for i in range(n):
        trigger = IntervalTrigger(seconds=INTERVAL, start_date=start_dt, timezone=UTC)
        scheduler.add_job(tick, trigger, args=(i,))
    await sleep_until(start + recorder.grid_points * INTERVAL + INTERVAL / 2)
    scheduler.shutdown(wait=False)
    await asyncio.sleep(0.05)
    return recorder


async def run_aps4(n: int, duration: float) -> Recorder:
    from apscheduler import AsyncScheduler, TaskDefaults
    from apscheduler.triggers.interval import IntervalTrigger

    recorder, start = new_recorder(n, duration)
    start_dt = datetime.fromtimestamp(start, UTC)
    scheduler = AsyncScheduler(
        # One task (``tick``) backs every schedule; the default max_running_jobs=1 would make
        # the N jobs of a burst wait for each other.
        task_defaults=TaskDefaults(job_executor="async", max_running_jobs=None),
        cleanup_interval=None,
    )
    async with scheduler:
        for i in range(n):
            trigger = IntervalTrigger(seconds=INTERVAL, start_time=start_dt)
            await scheduler.add_schedule(tick, trigger, args=(i,))
        await scheduler.start_in_background()
        await sleep_until(start + recorder.grid_points * INTERVAL + INTERVAL / 2)
        await scheduler.stop()
    return recorder


RUNNERS: dict[str, Runner] = {
    "call_at callback": run_bare_callback,
    "call_at + task": run_bare_task,
    "asyncron": run_asyncron,
    "aps3": run_aps3,
    "aps4": run_aps4,
}


# -- driver ---------------------------------------------------------------------------------------


async def measure(
    candidates: list[str], sizes: list[int], duration: float, slices: int
) -> list[dict[str, Any]]:
    """Each candidate runs ``duration`` seconds in all, cut into ``slices`` slices that alternate
    with the other candidates' (so that a disturbance from outside hits them all alike)."""
    out: list[dict[str, Any]] = []
    for n in sizes:
        recorders: dict[str, list[Recorder]] = {c: [] for c in candidates}
        for _ in range(slices):
            for candidate in candidates:
                gc.collect()
                recorders[candidate].append(await RUNNERS[candidate](n, duration / slices))
        for candidate in candidates:
            result = summarize(candidate, n, recorders[candidate])
            common.progress(
                f"{candidate} n={n:,}: p50 {result.p50 * 1e3:.2f} ms, p99 {result.p99 * 1e3:.2f} ms,"
                f" max {result.max * 1e3:.2f} ms, {result.fires:,}/{result.expected:,} fires"
            )
            out.append(asdict(result))
    return out


def report(
    own: list[dict[str, Any]], outcomes: list[common.PeerOutcome], duration: float, slices: int
) -> None:
    print(
        f"\n## Precision: N interval jobs every {INTERVAL} s for {duration:g} s "
        f"({common.machine_line()})"
    )
    print(
        "lateness in ms (lower is better). Baseline: bare call_at chains, each link starting the"
        " job as a task,\nin the same process. p99 ratio: p99 of all samples / baseline p99."
        f" Slice ratio: median over the\n{slices} alternating slices of the same ratio per slice"
        " (robust to one disturbed slice).\n"
    )
    headers = ["N", "candidate", "fires", "p50", "p99", "max", "p99 ratio", "slice ratio"]
    headers.append("target: p99 ratio <= 1.5")
    rows: list[list[str]] = []
    sizes = sorted({r["n"] for r in own})
    groups: list[tuple[str, list[dict[str, Any]]]] = [("", own)]
    groups += [(o.label, o.result["rows"]) for o in outcomes if o.result is not None]
    for n in sizes:
        for label, results in groups:
            by_name = {r["candidate"]: r for r in results if r["n"] == n}
            base = by_name.get("call_at + task")
            for name, r in by_name.items():
                shown = common.PEERS[name][0] if name in common.PEERS else name
                if name.startswith("call_at") and label:
                    shown = f"{name} (in {label} process)"
                ratio = slice_ratio = None
                if base is not None and name != "call_at + task":
                    ratio = r["p99"] / base["p99"]
                    slice_ratio = paired_ratio(r["slice_p99"], base["slice_p99"])
                target = ""
                if name == "asyncron" and ratio is not None and slice_ratio is not None:
                    target = f"{common.verdict(ratio <= P99_TARGET)}"
                    target += f" (slice ratio: {common.verdict(slice_ratio <= P99_TARGET)})"
                rows.append(
                    [
                        common.fmt_int(n),
                        shown,
                        f"{r['fires']:,}/{r['expected']:,}",
                        common.fmt_ms(r["p50"]),
                        common.fmt_ms(r["p99"]),
                        common.fmt_ms(r["max"]),
                        "—" if ratio is None else f"{ratio:.2f}x",
                        "—" if slice_ratio is None else f"{slice_ratio:.2f}x",
                        target,
                    ]
                )
    print(common.table(headers, rows))
    print()
    common.print_notes(outcomes)


def main() -> None:
    parser = common.base_parser(__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="100,1000", help="comma-separated job counts")
    parser.add_argument(
        "--duration", type=float, default=10.0, help="seconds per run (default: %(default)s)"
    )
    parser.add_argument(
        "--slices",
        type=int,
        default=5,
        help="slices each run is cut into, alternating between candidates (default: %(default)s)",
    )
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",") if s]

    if args.peer:
        rows = asyncio.run(
            measure(["call_at + task", args.peer], sizes, args.duration, args.slices)
        )
        common.emit_result({"version": common.installed_version("apscheduler"), "rows": rows})
        return

    own = asyncio.run(
        measure(
            ["call_at callback", "call_at + task", "asyncron"], sizes, args.duration, args.slices
        )
    )
    passthrough = ["--sizes", args.sizes, "--duration", str(args.duration)]
    passthrough += ["--slices", str(args.slices)]
    outcomes = [
        common.run_peer(Path(__file__), peer, passthrough)
        for peer in common.selected_peers(args.peers)
    ]
    report(own, outcomes, args.duration, args.slices)


if __name__ == "__main__":
    sys.exit(main())
