"""The combination and calendar triggers persist as tagged JSON and survive a restart."""

from __future__ import annotations

import json
import sqlite3
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import trigger_jobs

from asyncron import (
    AndTrigger,
    AsyncScheduler,
    BusinessCalendar,
    BusinessDayTrigger,
    CalendarIntervalTrigger,
    CronTrigger,
    IntervalTrigger,
    OnceTrigger,
    OrTrigger,
)
from asyncron._serialize import ArgumentDecodeError, dumps, trigger_from_doc, trigger_to_doc
from asyncron.abc import Trigger
from asyncron.errors import InvalidTriggerError
from asyncron.testing import VirtualClock

T0 = datetime(2026, 3, 25, tzinfo=UTC)
HESSE = BusinessCalendar("DE", "HE", extra_holidays=["2026-12-24"], extra_workdays=["2026-05-02"])
WEEKDAYS_9 = CronTrigger("0 9 * * 1-5", "Europe/Berlin")


def all_kinds() -> dict[str, Trigger]:
    return {
        "or": WEEKDAYS_9 | IntervalTrigger(hours=7, start=T0),
        "and": AndTrigger(
            CronTrigger("0 0 13 * *", "UTC"),
            CronTrigger("0 0 * * 5", "UTC"),
            threshold=timedelta(seconds=2),
            search_limit=500,
        ),
        "exclude": WEEKDAYS_9.exclude(CronTrigger("0 9 * * 1", "Europe/Berlin")),
        "exclude_calendar": WEEKDAYS_9.exclude(HESSE),
        "shift": CronTrigger("0 9 3 * *", "Europe/Berlin").exclude(HESSE, shift="previous"),
        "market": CronTrigger("30 9 * * 1-5", "America/New_York").exclude(
            BusinessCalendar(
                "US",
                categories=["public", "government"],
                market="XNYS",
                timezone="America/New_York",
            )
        ),
        "calendar_interval": CalendarIntervalTrigger(
            months=2,
            hour=10,
            timezone="Europe/Berlin",
            start=date(2026, 1, 31),
            end=date(2030, 1, 1),
            missing_day="clamp",
        ),
        "calendar_interval_dt": CalendarIntervalTrigger(
            weeks=1, hour=8, timezone="America/New_York", start=datetime(2026, 3, 2, 12, tzinfo=UTC)
        ),
        "business_day": BusinessDayTrigger(
            HESSE, -1, hour=18, timezone="Europe/Berlin", start=T0, end=T0 + timedelta(days=999)
        ),
        "nested": OrTrigger(
            AndTrigger(CronTrigger("*/30 * * * *", "UTC"), IntervalTrigger(minutes=45, start=T0)),
            OnceTrigger(T0 + timedelta(days=3)),
            BusinessDayTrigger(BusinessCalendar("US"), 1, timezone="America/New_York"),
        ).exclude(BusinessCalendar(weekend=(6,))),
    }


@pytest.mark.parametrize("name", list(all_kinds()))
def test_round_trip_through_json_is_equal_and_fires_the_same(name: str) -> None:
    trigger = all_kinds()[name]
    doc = json.loads(dumps(trigger_to_doc(trigger)))
    back = trigger_from_doc(doc)
    assert back == trigger and type(back) is type(trigger)
    assert back.describe() == trigger.describe()  # type: ignore[attr-defined]
    t: datetime | None = T0
    for _ in range(5):
        a, b = trigger.get_next_run(t), back.get_next_run(t)
        assert a == b
        t = a
        if t is None:
            break


@pytest.mark.parametrize(
    ("doc", "message"),
    [
        ({"type": "or", "triggers": "nope"}, "trigger.triggers: expected a list"),
        ({"type": "or", "triggers": [{"type": "cron"}]}, "missing field 'expression'"),
        ({"type": "or", "triggers": [{"type": "pickle", "v": "x"}, {"type": "once"}]},
         "unknown trigger type 'pickle'"),
        ({"type": "and", "triggers": [], "search_limit": 5}, "needs at least two triggers"),
        ({"type": "and", "triggers": [], "search_limit": True}, "search_limit: expected a whole number"),
        ({"type": "exclude", "base": {"type": "once", "run_at": "2026-01-01T00:00:00+00:00"},
          "excluded": {"type": "business_calendar", "country": "XX", "subdiv": None, "weekend": [5, 6],
                       "extra_holidays": [], "extra_workdays": [], "timezone": None},
          "shift": "skip", "search_limit": 10}, "country: 'XX' is not a country"),
        ({"type": "calendar_interval", "years": 0, "months": 0, "weeks": 0, "days": 0, "hour": 0,
          "minute": 0, "second": 0, "timezone": "UTC", "start": {"date": "2026-01-01"},
          "missing_day": "skip"}, "all 0"),
        ({"type": "calendar_interval", "years": 0, "months": 1, "weeks": 0, "days": 0, "hour": 0,
          "minute": 0, "second": 0, "timezone": "UTC", "start": {"eval": "os.system"},
          "missing_day": "skip"}, "expected {'date': ...}"),
        ({"type": "business_day", "calendar": [], "day": 1, "hour": 0, "minute": 0, "second": 0,
          "timezone": "UTC"}, "expected a calendar object"),
    ],
)  # fmt: skip
def test_hostile_or_broken_documents_are_refused_with_the_path(
    doc: dict[str, Any], message: str
) -> None:
    with pytest.raises(ArgumentDecodeError, match=message):
        trigger_from_doc(doc)


def test_deep_nesting_is_refused_not_a_recursion_error() -> None:
    doc: dict[str, Any] = {"type": "once", "run_at": "2026-01-01T00:00:00+00:00"}
    for _ in range(200):
        doc = {"type": "or", "triggers": [doc, doc]}
    with pytest.raises(ArgumentDecodeError, match="nested more than 32 deep"):
        trigger_from_doc(doc)


@pytest.mark.asyncio
async def test_jobs_with_new_triggers_survive_a_sqlite_restart(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'jobs.db'}"
    kinds = all_kinds()
    clock = VirtualClock(start=T0)
    async with AsyncScheduler(clock=clock, store=url) as s:
        ids = {name: await s.schedule(trigger_jobs.note, trigger=trig, args=(name,), name=name)
               for name, trig in kinds.items()}  # fmt: skip
        before = {name: (await s.get_job(jid)).next_run for name, jid in ids.items()}  # type: ignore[union-attr]
    with sqlite3.connect(tmp_path / "jobs.db") as conn:
        rows = dict(conn.execute("SELECT id, doc FROM asyncron_jobs").fetchall())
    stored = json.loads(rows[ids["exclude_calendar"]])
    assert stored["trigger"]["type"] == "exclude"
    assert stored["trigger"]["excluded"]["country"] == "DE"
    clock = VirtualClock(start=T0 + timedelta(minutes=1))
    async with AsyncScheduler(clock=clock, store=url) as s:
        for name, jid in ids.items():
            job = await s.get_job(jid)
            assert job is not None, name
            assert job.trigger == kinds[name], name
            assert job.next_run == before[name], name
        trigger_jobs.FIRES.clear()
        await clock.advance(8.5 * 86400)  # to Thursday 2026-04-02 12:01 UTC, before Easter
        fired = {tag for tag, _ in trigger_jobs.FIRES}
        assert {"or", "exclude", "exclude_calendar", "nested"} <= fired
        job = await s.get_job(ids["exclude_calendar"])
        assert job is not None and job.next_run is not None
        assert job.next_run.isoformat() == "2026-04-07T09:00:00+02:00"  # after Easter in Hesse


@pytest.mark.parametrize("name", list(all_kinds()))
def test_edges_of_time_end_the_schedule_and_bad_input_is_named(name: str) -> None:
    trigger = all_kinds()[name]
    for edge in (datetime(9999, 12, 31, 23, tzinfo=UTC), datetime(1, 1, 2, tzinfo=UTC)):
        result = trigger.get_next_run(edge)  # never an OverflowError
        assert result is None or result.astimezone(UTC) > edge
    with pytest.raises(InvalidTriggerError, match="from_time"):
        trigger.get_next_run("2026-01-01")  # type: ignore[arg-type]
