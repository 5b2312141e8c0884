"""Cron in time zones: plain-English descriptions, next fire times across a DST change, and a
week of fires run in milliseconds with the virtual clock.

Run it:  python examples/cron_time_zones.py      (finishes at once: no real waiting)
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from datetime import UTC, datetime

from asyncron import AsyncScheduler, CronTrigger
from asyncron.errors import CronParseError
from asyncron.testing import VirtualClock


def next_fires(trigger: CronTrigger, after: datetime, count: int) -> list[datetime]:
    fires: list[datetime] = []
    current: datetime | None = after
    for _ in range(count):
        current = trigger.get_next_run(current)  # strictly after `current`; None when exhausted
        if current is None:
            break
        fires.append(current)
    return fires


def explain() -> None:
    # The same expression in two zones: matched against each zone's wall clock.
    # Europe switches to summer time on 2025-03-30, the US on 2025-03-09: 09:00 stays 09:00
    # local time, so the UTC instant moves by an hour after each zone's own switch.
    for zone, before_switch in (("Europe/Berlin", 27), ("America/New_York", 6)):
        trigger = CronTrigger.from_expression("0 9 * * 1-5", timezone=zone)
        print(f"{trigger.describe()} ({zone})")
        for fire in next_fires(trigger, datetime(2025, 3, before_switch, tzinfo=UTC), 3):
            print(f"  {fire.isoformat()}  = {fire.astimezone(UTC):%H:%M} UTC  {fire:%a}")

    # 02:30 does not exist in Berlin on 2025-03-30 (02:00 -> 03:00): a fixed-time job runs once,
    # at the first instant after the gap, as Debian/Vixie cron does.
    nightly = CronTrigger.from_expression("30 2 * * *", timezone="Europe/Berlin")
    print(nightly.describe(), "(Europe/Berlin) around the spring-forward gap:")
    for fire in next_fires(nightly, datetime(2025, 3, 28, 12, tzinfo=UTC), 4):
        print(f"  {fire.isoformat()}")

    # Invalid input is a ValueError that names the field, the token and what is allowed.
    try:
        CronTrigger.from_expression("0 25 * * *")
    except CronParseError as exc:
        print("error:", exc)


async def simulate_a_week() -> None:
    """Test a schedule without waiting: the virtual clock jumps from deadline to deadline."""
    clock = VirtualClock(datetime(2025, 3, 24, tzinfo=UTC))  # a Monday
    ran: Counter[str] = Counter()
    started = time.perf_counter()
    async with AsyncScheduler(clock=clock) as scheduler:

        @scheduler.cron("0 9 * * 1-5", timezone="Europe/Berlin")
        def standup() -> None:
            ran["standup"] += 1

        @scheduler.cron("*/15 * * * *", timezone="UTC")
        async def sync_inventory() -> None:
            ran["sync_inventory"] += 1

        await clock.advance(7 * 24 * 3600)  # every fire of the week runs, in order
    elapsed = (time.perf_counter() - started) * 1000
    print(f"a simulated week: {dict(ran)} in {elapsed:.0f} ms of real time")
    assert ran == {"standup": 5, "sync_inventory": 7 * 24 * 4}


if __name__ == "__main__":
    explain()
    asyncio.run(simulate_a_week())
