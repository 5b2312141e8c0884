"""The new triggers driven by the real engine on a virtual clock: a month of fires in ms."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from asyncron import (
    AsyncScheduler,
    BusinessCalendar,
    BusinessDayTrigger,
    CalendarIntervalTrigger,
    CronTrigger,
    current_run,
)
from asyncron.testing import VirtualClock

pytestmark = pytest.mark.asyncio
FIRED: list[tuple[str, datetime]] = []
BERLIN = ZoneInfo("Europe/Berlin")


async def job(tag: str) -> None:
    run = current_run()
    assert run is not None
    FIRED.append((tag, run.scheduled_at))


async def test_a_month_of_business_day_fires_across_easter_and_dst() -> None:
    FIRED.clear()
    hesse = BusinessCalendar("DE", "HE")
    clock = VirtualClock(start=datetime(2026, 3, 26, tzinfo=UTC))
    async with AsyncScheduler(clock=clock) as s:
        ids = {
            "standup": await s.schedule(job, args=("standup",), trigger=CronTrigger(
                "0 9 * * 1-5", "Europe/Berlin").exclude(hesse)),
            "report": await s.schedule(job, args=("report",), trigger=CronTrigger(
                "0 18 3 * *", "Europe/Berlin").exclude(hesse, shift="previous")),
            "month_end": await s.schedule(job, args=("month_end",), trigger=BusinessDayTrigger(
                hesse, -1, hour=18, timezone="Europe/Berlin")),
            "bimonthly": await s.schedule(job, args=("bimonthly",), trigger=CalendarIntervalTrigger(
                months=2, hour=2, minute=30, timezone="Europe/Berlin", start=date(2026, 3, 29))),
        }  # fmt: skip
        await clock.advance(timedelta(days=36).total_seconds())
        job_state = await s.get_job(ids["standup"])
        assert job_state is not None and job_state.run_count == len(
            [1 for tag, _ in FIRED if tag == "standup"]
        )
    got: dict[str, list[str]] = {}
    for tag, when in FIRED:
        got.setdefault(tag, []).append(when.astimezone(BERLIN).strftime("%m-%d %H:%M"))
    # No stand-up on Good Friday (04-03), Easter Monday (04-06) or May Day (05-01).
    assert got["standup"] == [
        "03-26 09:00", "03-27 09:00", "03-30 09:00", "03-31 09:00", "04-01 09:00",
        "04-02 09:00", "04-07 09:00", "04-08 09:00", "04-09 09:00", "04-10 09:00",
        "04-13 09:00", "04-14 09:00", "04-15 09:00", "04-16 09:00", "04-17 09:00",
        "04-20 09:00", "04-21 09:00", "04-22 09:00", "04-23 09:00", "04-24 09:00",
        "04-27 09:00", "04-28 09:00", "04-29 09:00", "04-30 09:00",
    ]  # fmt: skip
    assert got["report"] == ["04-02 18:00", "04-30 18:00"]  # 04-03 Good Friday; 05-03 Sunday
    assert got["month_end"] == ["03-31 18:00", "04-30 18:00"]
    assert got["bimonthly"] == ["03-29 03:00"]  # 02:30 is in the spring-forward gap that night
