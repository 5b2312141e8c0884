"""Scaling: time per fire with 1,000, 100,000 and 1,000,000 jobs pending.

For each size P a running scheduler is given P far-future interval jobs (daily, first fire a day
away, one millisecond apart), then, in each of a few rounds, K near jobs (hourly) whose first fire
is one shared instant ``due`` a moment ahead. Time per fire = (wall time when the K-th near job
body ran - ``due``) / K. A fire includes taking the job off the pending structure, starting the job
as a task, and putting the job back for its next fire an hour later - in front of the P far jobs,
the costly spot for a sorted list and the deepest climb for a heap. The near jobs are removed
after each round, so the pending count stays P (+ K during a round).

Ceiling, measured in the same process: P far ``loop.call_at`` handles, and K ``call_at`` chains
that start the job as a task and re-arm themselves an hour later.

Target (issue 2): time per fire stays flat from 1,000 to 1,000,000 pending jobs (O(log n) heap);
checked here as "per fire at 1,000,000 <= 1.5 x per fire at 1,000".

Usage::

    .venv/bin/python benchmarks/bench_scaling.py
    .venv/bin/python benchmarks/bench_scaling.py --sizes 1000,100000 --peers aps3
"""

from __future__ import annotations

import asyncio
import gc
import itertools
import sys
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

import _common as common

NEAR = 2_000  # near jobs fired per round
ROUNDS = 3
FLAT_TARGET = 1.5
DAY = 86_400.0
HOUR = 3_600.0


class _Finish:
    """Counts near-job bodies and wakes the measurer when the K-th has run.

    The measurer reads the clock when it wakes, after the callbacks already queued by then (the
    schedulers' bookkeeping of the earlier runs), as in bench_dispatch.
    """

    def __init__(self) -> None:
        self.reset(0)

    def reset(self, target: int) -> asyncio.Event:
        self.counter = itertools.count(1)
        self.target = target
        self.event = asyncio.Event()
        return self.event


FINISH = _Finish()


async def near_job() -> None:
    if next(FINISH.counter) == FINISH.target:
        FINISH.event.set()


async def far_job() -> None:
    """Never runs within the benchmark: its first fire is a day away."""


class Harness(Protocol):
    """One running scheduler (or the bare loop) driven by the benchmark."""

    async def add_far(self, when: float) -> None: ...

    async def add_near(self, due: float) -> object: ...

    async def remove(self, handle: object) -> None: ...

    async def close(self) -> None: ...


def utc(ts: float) -> datetime:
    return datetime.fromtimestamp(ts, UTC)


# -- the bare event loop --------------------------------------------------------------------------


class BareHarness:
    """``loop.call_at`` handles: far ones do nothing, near ones are chains that start the job."""

    def __init__(self) -> None:
        self.loop = asyncio.get_running_loop()
        self.far: list[asyncio.TimerHandle] = []

    @classmethod
    async def open(cls) -> BareHarness:
        return cls()

    def _at(self, when: float, callback: Callable[..., object], *args: Any) -> asyncio.TimerHandle:
        return self.loop.call_at(self.loop.time() + (when - time.time()), callback, *args)

    async def add_far(self, when: float) -> None:
        self.far.append(self._at(when, far_job))

    async def add_near(self, due: float) -> object:
        chain: list[asyncio.TimerHandle] = []

        def link(when: float) -> None:
            self.loop.create_task(near_job())  # the ready queue holds it until it has run
            chain[0] = self._at(when + HOUR, link, when + HOUR)

        chain.append(self._at(due, link, due))
        return chain

    async def remove(self, handle: object) -> None:
        assert isinstance(handle, list)
        handle[0].cancel()

    async def close(self) -> None:
        for h in self.far:
            h.cancel()


# -- asyncron -------------------------------------------------------------------------------------


class AsyncronHarness:
    def __init__(self, scheduler: Any) -> None:
        from asyncron import IntervalTrigger

        self.scheduler = scheduler
        self.trigger = IntervalTrigger

    @classmethod
    async def open(cls) -> AsyncronHarness:
        from asyncron import AsyncScheduler

        scheduler = AsyncScheduler()
        await scheduler.start()
        return cls(scheduler)

    async def add_far(self, when: float) -> None:
        await self.scheduler.schedule(far_job, trigger=self.trigger(days=1, start=utc(when)))

    async def add_near(self, due: float) -> object:
        return await self.scheduler.schedule(near_job, trigger=self.trigger(hours=1, start=utc(due)))

    async def remove(self, handle: object) -> None:
        await self.scheduler.cancel(handle)

    async def close(self) -> None:
        await self.scheduler.stop()


# -- APScheduler 3 --------------------------------------------------------------------------------


class Aps3Harness:
    def __init__(self, scheduler: Any) -> None:
        from apscheduler.triggers.interval import IntervalTrigger

        self.scheduler = scheduler
        self.trigger = IntervalTrigger

    @classmethod
    async def open(cls) -> Aps3Harness:
        from apscheduler.schedulers.asyncio import AsyncIOScheduler

        scheduler = AsyncIOScheduler(
            event_loop=asyncio.get_running_loop(),
            job_defaults={"misfire_grace_time": None, "coalesce": True, "max_instances": 1},
        )
        scheduler.start()
        return cls(scheduler)

    async def add_far(self, when: float) -> None:
        self.scheduler.add_job(far_job, self.trigger(days=1, start_date=utc(when), timezone=UTC))

    async def add_near(self, due: float) -> object:
        trigger = self.trigger(hours=1, start_date=utc(due), timezone=UTC)
        return self.scheduler.add_job(near_job, trigger).id

    async def remove(self, handle: object) -> None:
        self.scheduler.remove_job(handle)

    async def close(self) -> None:
        self.scheduler.shutdown(wait=False)
        await asyncio.sleep(0.05)


# -- APScheduler 4 --------------------------------------------------------------------------------


class Aps4Harness:
    def __init__(self, scheduler: Any) -> None:
        from apscheduler.triggers.interval import IntervalTrigger

        self.scheduler = scheduler
        self.trigger = IntervalTrigger

    @classmethod
    async def open(cls) -> Aps4Harness:
        from apscheduler import AsyncScheduler, TaskDefaults

        scheduler = AsyncScheduler(
            # One task backs all near schedules: let their jobs run side by side.
            task_defaults=TaskDefaults(job_executor="async", max_running_jobs=None),
            cleanup_interval=None,
        )
        await scheduler.__aenter__()
        await scheduler.start_in_background()
        return cls(scheduler)

    async def add_far(self, when: float) -> None:
        await self.scheduler.add_schedule(far_job, self.trigger(days=1, start_time=utc(when)))

    async def add_near(self, due: float) -> object:
        return await self.scheduler.add_schedule(
            near_job, self.trigger(hours=1, start_time=utc(due))
        )

    async def remove(self, handle: object) -> None:
        assert isinstance(handle, str)
        await self.scheduler.remove_schedule(handle)

    async def close(self) -> None:
        await self.scheduler.stop()
        await self.scheduler.__aexit__(None, None, None)


OPENERS: dict[str, Callable[[], Awaitable[Harness]]] = {
    "bare": BareHarness.open,
    "asyncron": AsyncronHarness.open,
    "aps3": Aps3Harness.open,
    "aps4": Aps4Harness.open,
}


# -- driver ---------------------------------------------------------------------------------------


async def calibrate_lead(harness: Harness) -> float:
    """Seconds to leave between the first near job added and ``due``: twice what adding
    ``NEAR`` near jobs should take, judged from adding a few (in front of the far jobs, where a
    sorted list pays the most)."""
    sample = 50
    t0 = time.perf_counter()
    handles = [await harness.add_near(time.time() + 1_000) for _ in range(sample)]
    per_add = (time.perf_counter() - t0) / sample
    for handle in handles:
        await harness.remove(handle)
    return max(0.2, 2 * per_add * NEAR)


async def one_round(harness: Harness, lead: float) -> float | None:
    """Seconds per fire of one burst of ``NEAR`` near jobs, or None if adding them outlasted
    ``lead`` (jobs added after ``due`` would first fire an hour later)."""
    done = FINISH.reset(NEAR)
    due = time.time() + lead
    handles = [await harness.add_near(due) for _ in range(NEAR)]
    on_time = time.time() < due - 0.01
    finished = due
    if on_time:
        await asyncio.wait_for(done.wait(), timeout=max(60.0, 2 * lead))
        finished = time.time()
    for handle in handles:
        await harness.remove(handle)
    await asyncio.sleep(0.05)
    gc.collect()
    return (finished - due) / NEAR if on_time else None


async def one_size(candidate: str, pending: int) -> dict[str, Any]:
    """Per-fire cost (best of ``ROUNDS``) and per-add cost with ``pending`` far jobs."""
    harness = await OPENERS[candidate]()
    try:
        far_start = time.time() + DAY
        t0 = time.perf_counter()
        for i in range(pending):
            await harness.add_far(far_start + i * 1e-3)
        add_s = (time.perf_counter() - t0) / pending
        await asyncio.sleep(0.1)
        gc.collect()
        lead = await calibrate_lead(harness)
        per_fire: list[float] = []
        for _ in range(ROUNDS * 3):
            result = await one_round(harness, lead)
            if result is None:
                lead *= 2
                common.progress(f"{candidate}: lead too short, retrying with {lead:.2f} s")
                continue
            per_fire.append(result)
            if len(per_fire) == ROUNDS:
                break
    finally:
        await harness.close()
    if not per_fire:
        raise RuntimeError(f"{candidate}: could not add {NEAR:,} jobs ahead of their due time")
    best = min(per_fire)
    common.progress(
        f"{candidate} pending={pending:,}: {best * 1e6:.1f} µs/fire, {add_s * 1e6:.1f} µs/add"
    )
    return {"pending": pending, "per_fire": best, "add": add_s}


async def measure(candidates: list[str], sizes: list[int]) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {c: [] for c in candidates}
    for pending in sizes:
        for candidate in candidates:
            out[candidate].append(await one_size(candidate, pending))
            gc.collect()
    return out


def report(
    own: dict[str, list[dict[str, Any]]], outcomes: list[common.PeerOutcome], sizes: list[int]
) -> None:
    print(f"\n## Scaling: time per fire vs pending jobs ({common.machine_line()})")
    print(
        f"{NEAR:,} near jobs due at one instant per round, best of {ROUNDS} rounds; µs per fire"
        " (lower is better)\nratio = per fire / bare loop per fire in the same process;"
        " growth = per fire / per fire at the smallest size\n"
    )
    groups: list[tuple[str, dict[str, list[dict[str, Any]]]]] = [("asyncron", own)]
    groups += [(o.label, o.result["rows"]) for o in outcomes if o.result is not None]
    headers = ["pending", "bare loop"]
    for label, _ in groups:
        headers += [label, "ratio", "growth"]
    headers.append("add µs/job (asyncron, peers)")
    rows: list[list[str]] = []
    for pending in sizes:
        cells = [common.fmt_int(pending)]
        bare_all = {r["pending"]: r for r in own["bare"]}
        cells.append(common.fmt_us(bare_all[pending]["per_fire"]))
        adds: list[str] = []
        for _label, result in groups:
            name = next(k for k in result if k != "bare")
            by_p = {r["pending"]: r for r in result[name]}
            bare = {r["pending"]: r for r in result["bare"]}
            r = by_p.get(pending)
            if r is None:
                cells += ["—", "—", "—"]
                adds.append("—")
                continue
            first = by_p[min(by_p)]
            cells += [
                common.fmt_us(r["per_fire"]),
                f"{r['per_fire'] / bare[pending]['per_fire']:.1f}x",
                f"{r['per_fire'] / first['per_fire']:.2f}x",
            ]
            adds.append(f"{r['add'] * 1e6:.1f}")
        cells.append(" / ".join(adds))
        rows.append(cells)
    print(common.table(headers, rows))
    ours = {r["pending"]: r["per_fire"] for r in own["asyncron"]}
    if len(ours) > 1:
        growth = ours[max(ours)] / ours[min(ours)]
        print(
            f"\nasyncron growth {min(ours):,} -> {max(ours):,} pending: {growth:.2f}x "
            f"(target <= {FLAT_TARGET}x: {common.verdict(growth <= FLAT_TARGET)})"
        )
    print()
    common.print_notes(outcomes)


#: The most pending jobs a peer is run with unless --full: adding 1,000,000 schedules to
#: APScheduler 4 alone takes about 95 s here.
PEER_MAX_PENDING: dict[str, int] = {"aps3": 1_000_000, "aps4": 100_000}


def main() -> None:
    parser = common.base_parser(__doc__.splitlines()[0])
    parser.add_argument(
        "--sizes", default="1000,100000,1000000", help="comma-separated pending-job counts"
    )
    parser.add_argument(
        "--full", action="store_true", help="run the peers at every size too (slow)"
    )
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",") if s]

    if args.peer:
        limit = sys.maxsize if args.full else PEER_MAX_PENDING[args.peer]
        capped = [p for p in sizes if p <= limit]
        rows = asyncio.run(measure(["bare", args.peer], capped))
        note = ""
        if capped != sizes:
            note = f"run only up to {limit:,} pending jobs (too slow beyond; --full runs all)"
        common.emit_result(
            {"version": common.installed_version("apscheduler"), "rows": rows, "note": note}
        )
        return

    own = asyncio.run(measure(["bare", "asyncron"], sizes))
    passthrough = ["--sizes", args.sizes, *(["--full"] if args.full else [])]
    outcomes = [
        common.run_peer(Path(__file__), peer, passthrough)
        for peer in common.selected_peers(args.peers)
    ]
    report(own, outcomes, sizes)


if __name__ == "__main__":
    sys.exit(main())
