"""Cron next-fire speed: asyncron against croniter, cronsim and APScheduler 3, side by side.

Run:  PYTHONPATH=src python benchmarks/bench_cron.py [--fires 1000] [--repeat 5] [--tz UTC]

A second table times the combination and calendar triggers (Or, And, exclusion, calendar
interval, business calendars) beside APScheduler 3's OrTrigger, AndTrigger and
CalendarIntervalTrigger where it has one (``--no-combinations`` leaves it out).

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
from datetime import UTC, date, datetime, timedelta, tzinfo
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from asyncron.abc import Trigger
from asyncron.triggers import (
    AndTrigger,
    BusinessCalendar,
    BusinessDayTrigger,
    CalendarIntervalTrigger,
    CronTrigger,
    OrTrigger,
)

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


# -- combination and calendar triggers ---------------------------------------------------------

Build = Callable[[tzinfo], Trigger]
ApsBuild = Callable[[tzinfo], Any]


def _combination_cases() -> list[tuple[str, Build, ApsBuild | None]]:
    """(label, asyncron trigger, APScheduler 3 equivalent or None)."""
    try:
        from apscheduler.triggers.calendarinterval import CalendarIntervalTrigger as APSCalendar
        from apscheduler.triggers.combining import AndTrigger as APSAnd
        from apscheduler.triggers.combining import OrTrigger as APSOr
        from apscheduler.triggers.cron import CronTrigger as APSCron
    except ImportError:
        APSCalendar = APSAnd = APSOr = APSCron = None

    def aps(build: ApsBuild) -> ApsBuild | None:
        return build if APSCron is not None else None

    def cron(expr: str) -> Build:
        return lambda tz: CronTrigger(expr, tz)

    def aps_cron(expr: str, tz: tzinfo) -> Any:
        return APSCron.from_crontab(expr, timezone=tz)

    hesse = BusinessCalendar("DE", "HE")
    return [
        ("or: weekdays 9 | sat 12",
         lambda tz: cron("0 9 * * 1-5")(tz) | cron("0 12 * * 6")(tz),
         aps(lambda tz: APSOr([aps_cron("0 9 * * 1-5", tz), aps_cron("0 12 * * 6", tz)]))),
        ("or: 3 cron members",
         lambda tz: OrTrigger(cron("*/20 * * * *")(tz), cron("5 * * * *")(tz), cron("0 0 * * *")(tz)),
         aps(lambda tz: APSOr([aps_cron("*/20 * * * *", tz), aps_cron("5 * * * *", tz),
                               aps_cron("0 0 * * *", tz)]))),
        ("and: friday 13th",
         lambda tz: cron("0 0 13 * *")(tz) & cron("0 0 * * 5")(tz),
         aps(lambda tz: APSAnd([aps_cron("0 0 13 * *", tz), aps_cron("0 0 * * 5", tz)]))),
        ("and: */6 h & */4 h",
         lambda tz: AndTrigger(cron("0 */6 * * *")(tz), cron("0 */4 * * *")(tz)),
         aps(lambda tz: APSAnd([aps_cron("0 */6 * * *", tz), aps_cron("0 */4 * * *", tz)]))),
        ("calendar: months=2 @10",
         lambda tz: CalendarIntervalTrigger(months=2, hour=10, timezone=tz, start=date(2000, 1, 31)),
         aps(lambda tz: APSCalendar(months=2, hour=10, timezone=tz, start_date=date(2000, 1, 31)))),
        ("calendar: days=1 @02:30",
         lambda tz: CalendarIntervalTrigger(days=1, hour=2, minute=30, timezone=tz,
                                            start=date(2000, 1, 1)),
         aps(lambda tz: APSCalendar(days=1, hour=2, minute=30, timezone=tz,
                                    start_date=date(2000, 1, 1)))),
        ("exclude: weekdays - DE-HE",
         lambda tz: cron("0 9 * * 1-5")(tz).exclude(hesse), None),
        ("shift next: 3rd, DE-HE",
         lambda tz: cron("0 18 3 * *")(tz).exclude(hesse, shift="next"), None),
        ("last business day",
         lambda tz: BusinessDayTrigger(hesse, -1, hour=18, timezone=tz), None),
    ]  # fmt: skip


def _time_next(trigger: Trigger, tz: tzinfo, fires: int, repeat: int) -> float:
    best = math.inf
    for _ in range(repeat):
        current: datetime | None = datetime(2000, 1, 1, tzinfo=tz)
        t0 = time.perf_counter()
        for _ in range(fires):
            current = trigger.get_next_run(current)
        best = min(best, time.perf_counter() - t0)
    return best / fires * 1e6


def _time_aps(trigger: Any, tz: tzinfo, fires: int, repeat: int) -> float:
    # APScheduler 3's calendar interval steps from previous_fire_time; its cron-based triggers
    # must be asked with previous_fire_time=None and now = just after the last fire (given the
    # previous fire, its AndTrigger asks each cron member again from that fire and never moves).
    calendar = type(trigger).__name__ == "CalendarIntervalTrigger"
    tick = timedelta(microseconds=1)
    best = math.inf
    for _ in range(repeat):
        current = datetime(2000, 1, 1, tzinfo=tz)
        t0 = time.perf_counter()
        for _ in range(fires):
            current = trigger.get_next_fire_time(current if calendar else None, current + tick)
        best = min(best, time.perf_counter() - t0)
    return best / fires * 1e6


def combinations_table(tz: tzinfo, tz_name: str, fires: int, repeat: int) -> None:
    fires = min(fires, 300)  # calendar triggers run to a few centuries; keep within year 9999
    print()
    print(f"µs per consecutive next fire, combination and calendar triggers ({fires} fires, "
          f"best of {repeat}, tz={tz_name})")  # fmt: skip
    print(f"{'trigger':<28}{'asyncron':>12}{'apscheduler3':>14}{'x apscheduler3':>16}")
    ratios = []
    for label, build, aps_build in _combination_cases():
        ours = _time_next(build(tz), tz, fires, repeat)
        line = f"{label:<28}{ours:>12.2f}"
        if aps_build is not None:
            theirs = _time_aps(aps_build(tz), tz, fires, repeat)
            ratios.append(math.log(theirs / ours))
            line += f"{theirs:>14.2f}{theirs / ours:>15.1f}x"
        else:
            line += f"{'(none)':>14}"
        print(line)
    if ratios:
        print(f"{'geometric mean ratio':<54}{math.exp(sum(ratios) / len(ratios)):>15.1f}x")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fires", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--tz", default="UTC")
    parser.add_argument("--no-combinations", action="store_true",
                        help="leave out the combination and calendar trigger table")  # fmt: skip
    parser.add_argument("--only-combinations", action="store_true",
                        help="print only the combination and calendar trigger table")  # fmt: skip
    args = parser.parse_args(argv)
    if args.only_combinations:
        zone: tzinfo = UTC if args.tz.upper() == "UTC" else ZoneInfo(args.tz)
        combinations_table(zone, args.tz, args.fires, args.repeat)
        return 0
    # 1500 fires of "0 0 29 2 *" reach year 8000; peers fail near datetime's year 9999.
    fires = min(args.fires, 1500)
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
    if not args.no_combinations:
        combinations_table(tz, args.tz, args.fires, args.repeat)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
