"""Cron next-fire speed: asyncron against croniter, cronsim and APScheduler 3, side by side.

Run:  PYTHONPATH=src python benchmarks/bench_cron.py [--fires 1000] [--repeat 5] [--tz UTC]

Prints microseconds per consecutive next fire (best of ``--repeat`` runs, each iterating
``--fires`` successive fires from 2000-01-01), the ratio peer/asyncron for each peer, and the
geometric means. Peers that are not installed are skipped with a note; this script installs
nothing.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from collections.abc import Callable
from datetime import datetime, timedelta, tzinfo
from pathlib import Path
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from asyncron.triggers.cron import CronTrigger

EXPRESSIONS = [
    "* * * * *",
    "*/5 * * * *",
    "0 9 * * 1-5",
    "30 2 1,15 * *",
    "0 0 29 2 *",
    "0 12 * * 5L",
    "15 14 1 * *",
]

Runner = Callable[[str, tzinfo, datetime, int], None]


def run_asyncron(expr: str, tz: tzinfo, start: datetime, n: int) -> None:
    trigger = CronTrigger(expr, tz)
    current: datetime | None = start
    for _ in range(n):
        current = trigger.get_next_run(current)


def peers() -> tuple[dict[str, Runner], list[str]]:
    found: dict[str, Runner] = {}
    notes: list[str] = []
    try:
        from croniter import croniter

        def run_croniter(expr: str, tz: tzinfo, start: datetime, n: int) -> None:
            # croniter spells "last Friday" L5 rather than 5L.
            it = croniter(expr.replace("5L", "L5"), start)
            for _ in range(n):
                it.get_next(datetime)

        found["croniter"] = run_croniter
    except ImportError:
        notes.append("croniter not installed: skipped (pip install croniter)")
    try:
        from cronsim import CronSim

        def run_cronsim(expr: str, tz: tzinfo, start: datetime, n: int) -> None:
            it = CronSim(expr, start)
            for _ in range(n):
                next(it)

        found["cronsim"] = run_cronsim
    except ImportError:
        notes.append("cronsim not installed: skipped (pip install cronsim)")
    try:
        from apscheduler.triggers.cron import CronTrigger as APSCronTrigger

        def run_apscheduler(expr: str, tz: tzinfo, start: datetime, n: int) -> None:
            fields = expr.split()
            if fields[4] == "5L":
                # APScheduler spells "last Friday" in the day field, not day-of-week.
                trigger = APSCronTrigger(minute=fields[0], hour=fields[1], day="last fri",
                                         month=fields[3], timezone=tz)  # fmt: skip
            else:
                trigger = APSCronTrigger.from_crontab(expr, timezone=tz)
            current = start
            # APScheduler's API is "next fire at or after now": ask from one microsecond later.
            tick = timedelta(microseconds=1)
            for _ in range(n):
                current = trigger.get_next_fire_time(None, current + tick)

        found["apscheduler3"] = run_apscheduler
    except ImportError:
        notes.append("APScheduler 3 not installed: skipped (pip install 'apscheduler<4')")
    return found, notes


def measure(run: Runner, expr: str, tz: tzinfo, fires: int, repeat: int) -> float:
    start = datetime(2000, 1, 1, tzinfo=tz)
    best = math.inf
    for _ in range(repeat):
        t0 = time.perf_counter()
        run(expr, tz, start, fires)
        best = min(best, time.perf_counter() - t0)
    return best / fires * 1e6


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fires", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--tz", default="UTC")
    args = parser.parse_args(argv)
    # 1500 fires of "0 0 29 2 *" reach year 8000; peers fail near datetime's year 9999.
    fires = min(args.fires, 1500)
    from datetime import UTC

    tz: tzinfo = UTC if args.tz.upper() == "UTC" else ZoneInfo(args.tz)
    others, notes = peers()
    names = ["asyncron", *others]
    runners: dict[str, Runner] = {"asyncron": run_asyncron, **others}
    print(f"µs per consecutive next fire ({fires} fires, best of {args.repeat}, tz={args.tz}, "
          f"Python {sys.version.split()[0]})")  # fmt: skip
    for note in notes:
        print(f"note: {note}")
    header = f"{'expression':<16}" + "".join(f"{n:>14}" for n in names)
    header += "".join(f"{'x ' + n:>16}" for n in others)
    print(header)
    logs: dict[str, list[float]] = {n: [] for n in names}
    ratio_logs: dict[str, list[float]] = {n: [] for n in others}
    for expr in EXPRESSIONS:
        row = {n: measure(runners[n], expr, tz, fires, args.repeat) for n in names}
        line = f"{expr:<16}" + "".join(f"{row[n]:>14.2f}" for n in names)
        for n in others:
            ratio = row[n] / row["asyncron"]
            ratio_logs[n].append(math.log(ratio))
            line += f"{ratio:>15.1f}x"
        for n in names:
            logs[n].append(math.log(row[n]))
        print(line)
    geo = f"{'geometric mean':<16}" + "".join(
        f"{math.exp(sum(logs[n]) / len(logs[n])):>14.2f}" for n in names
    )
    geo += "".join(f"{math.exp(sum(r) / len(r)):>15.1f}x" for r in ratio_logs.values())
    print(geo)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
