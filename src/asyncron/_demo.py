"""The README demo: once, interval and cron jobs, async and sync, each fire with its lateness."""

from __future__ import annotations

import asyncio
import statistics
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from ._scheduler import AsyncScheduler
from .triggers.cron import CronTrigger
from .triggers.interval import IntervalTrigger
from .triggers.once import OnceTrigger


async def run_demo(duration: float = 10.0, out: object = print) -> dict[str, int]:
    """Run the demo for ``duration`` seconds and return the number of fires per job."""
    emit = out if callable(out) else print
    lateness: dict[str, list[float]] = {}
    started = time.time()

    lock = threading.Lock()  # sync jobs print from worker threads

    def record(name: str, due: float) -> None:
        late_ms = (time.time() - due) * 1000
        with lock:
            lateness.setdefault(name, []).append(late_ms)
            emit(f"{time.time() - started:6.2f}s  {name:<26} late {late_ms:6.2f} ms")

    def make(
        name: str, period: float | None, first_due: float, is_async: bool
    ) -> Callable[[], Any]:
        count = 0

        def due() -> float:
            return first_due + count * period if period else first_due

        if is_async:

            async def job() -> None:
                nonlocal count
                record(name, due())
                count += 1
                await asyncio.sleep(0)

            return job

        def sync_job() -> None:
            nonlocal count
            record(name, due())
            count += 1

        return sync_job

    async with AsyncScheduler() as scheduler:
        now = time.time()
        once_at = now + 1.5
        interval_start = now + 0.5
        cron = CronTrigger.from_expression("* * * * * *", timezone="UTC")  # every second
        cron_first = cron.get_next_run(datetime.fromtimestamp(now, UTC))
        assert cron_first is not None
        jobs = [
            (
                "once (async)",
                OnceTrigger(datetime.fromtimestamp(once_at, UTC)),
                None,
                once_at,
                True,
            ),
            (
                "every 0.7 s (async)",
                IntervalTrigger(seconds=0.7, start=datetime.fromtimestamp(interval_start, UTC)),
                0.7,
                interval_start,
                True,
            ),
            (
                "every 1.3 s (sync)",
                IntervalTrigger(seconds=1.3, start=datetime.fromtimestamp(interval_start, UTC)),
                1.3,
                interval_start,
                False,
            ),
            ("cron every second (sync)", cron, 1.0, cron_first.timestamp(), False),
        ]
        for name, trigger, period, first, is_async in jobs:
            await scheduler.schedule(
                make(name, period, first, is_async), name=name, trigger=trigger
            )
        emit(f"asyncron demo: {len(jobs)} jobs for {duration:.0f} s (Ctrl-C to stop early)")
        try:
            await asyncio.sleep(duration)
        except asyncio.CancelledError:
            pass
        snapshot = await scheduler.list_jobs()
    emit("")
    emit(f"{'job':<26}{'runs':>5}{'p50 late ms':>13}{'max late ms':>13}  status")
    counts: dict[str, int] = {}
    for job in snapshot:
        lates = lateness.get(job.name, [0.0])
        counts[job.name] = job.run_count
        emit(
            f"{job.name:<26}{job.run_count:>5}{statistics.median(lates):>13.2f}"
            f"{max(lates):>13.2f}  {job.status.value}"
        )
    return counts


def main(duration: float = 10.0) -> int:
    try:
        asyncio.run(run_demo(duration))
    except KeyboardInterrupt:
        pass
    return 0
