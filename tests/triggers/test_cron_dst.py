"""Cron across real DST transitions and rule changes.

Rules under test (docs/cron.md, "Time zones and DST"): a fixed-time fire in a spring-forward gap
runs once at the first instant after the gap; in a fall-back overlap it runs once, at the first
occurrence; wildcard/stepped times follow the wall times that really happen, so elapsed time
between fires stays regular (no double fire at one instant, no lost hour).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from itertools import pairwise
from zoneinfo import ZoneInfo

import pytest

from asyncron.triggers.cron import CronTrigger


def run(expr: str, zone: str, start: datetime, n: int) -> list[datetime]:
    trigger = CronTrigger(expr, zone)
    out: list[datetime] = []
    current: datetime | None = start
    for _ in range(n):
        current = trigger.get_next_run(current)
        assert current is not None
        out.append(current)
    return out


def iso(values: list[datetime]) -> list[str]:
    return [v.isoformat() for v in values]


def utc(values: list[datetime]) -> list[str]:
    return [v.astimezone(UTC).strftime("%m-%d %H:%M") for v in values]


def local(zone: str, *args: int, fold: int = 0) -> datetime:
    return datetime(*args, tzinfo=ZoneInfo(zone), fold=fold)  # type: ignore[misc]


# -- America/New_York: 2024-03-10 02:00 -> 03:00, 2024-11-03 02:00 -> 01:00 -------------


def test_cron_fire_skipped_by_dst_gap_runs_after_gap() -> None:
    fires = run("30 2 * * *", "America/New_York", local("America/New_York", 2024, 3, 9, 12), 3)
    assert iso(fires) == [
        "2024-03-10T03:00:00-04:00",  # 02:30 never happens: first instant after the gap
        "2024-03-11T02:30:00-04:00",
        "2024-03-12T02:30:00-04:00",
    ]


def test_cron_several_fixed_fires_in_gap_run_once_after_it() -> None:
    fires = run("0,30 2,3 * * *", "America/New_York", local("America/New_York", 2024, 3, 10), 3)
    assert iso(fires) == [
        "2024-03-10T03:00:00-04:00",  # 02:00, 02:30 and 03:00 collapse into one fire
        "2024-03-10T03:30:00-04:00",
        "2024-03-11T02:00:00-04:00",
    ]


def test_cron_fixed_fire_in_overlap_runs_once_at_first_occurrence() -> None:
    fires = run("30 1 * * *", "America/New_York", local("America/New_York", 2024, 11, 2, 12), 3)
    assert iso(fires) == [
        "2024-11-03T01:30:00-04:00",
        "2024-11-04T01:30:00-05:00",
        "2024-11-05T01:30:00-05:00",
    ]


def test_cron_wildcard_hours_follow_elapsed_time_through_overlap() -> None:
    fires = run("0 * * * *", "America/New_York", local("America/New_York", 2024, 11, 3), 4)
    assert iso(fires) == [
        "2024-11-03T01:00:00-04:00",
        "2024-11-03T01:00:00-05:00",  # same wall time, one real hour later (fold=1)
        "2024-11-03T02:00:00-05:00",
        "2024-11-03T03:00:00-05:00",
    ]
    assert [f.fold for f in fires] == [0, 1, 0, 0]
    gaps = {b.timestamp() - a.timestamp() for a, b in pairwise(fires)}
    assert gaps == {3600.0}


def test_cron_stepped_minutes_follow_elapsed_time_through_gap() -> None:
    fires = run("*/20 * * * *", "America/New_York", local("America/New_York", 2024, 3, 10, 1), 4)
    assert iso(fires) == [
        "2024-03-10T01:20:00-05:00",
        "2024-03-10T01:40:00-05:00",
        "2024-03-10T03:00:00-04:00",  # 20 real minutes after 01:40 EST
        "2024-03-10T03:20:00-04:00",
    ]


def test_cron_wildcard_minutes_in_fixed_hour_repeat_in_overlap() -> None:
    # Debian: the minute field starts with '*', so the job is a wildcard job and runs in both
    # passes of 01:xx.
    fires = run("*/30 1 * * *", "America/New_York", local("America/New_York", 2024, 11, 3), 5)
    assert utc(fires) == ["11-03 05:00", "11-03 05:30", "11-03 06:00", "11-03 06:30",
                          "11-04 06:00"]  # fmt: skip


def test_cron_fixed_fire_is_not_repeated_when_asked_from_second_pass() -> None:
    trigger = CronTrigger("30 1 * * *", "America/New_York")
    second_pass = local("America/New_York", 2024, 11, 3, 1, 10, fold=1)
    assert trigger.get_next_run(second_pass) == local("America/New_York", 2024, 11, 4, 1, 30)


def test_cron_previous_run_mirrors_next_run_around_overlap() -> None:
    trigger = CronTrigger("0 * * * *", "America/New_York")
    after = local("America/New_York", 2024, 11, 3, 2, 30)
    prev1 = trigger.get_previous_run(after)
    assert prev1 is not None and prev1.isoformat() == "2024-11-03T02:00:00-05:00"
    prev2 = trigger.get_previous_run(prev1)
    assert prev2 is not None and (prev2.isoformat(), prev2.fold) == ("2024-11-03T01:00:00-05:00", 1)
    prev3 = trigger.get_previous_run(prev2)
    assert prev3 is not None and (prev3.isoformat(), prev3.fold) == ("2024-11-03T01:00:00-04:00", 0)


def test_cron_previous_run_returns_gap_shifted_fire() -> None:
    trigger = CronTrigger("30 2 * * *", "America/New_York")
    fire = trigger.get_previous_run(local("America/New_York", 2024, 3, 10, 12))
    assert fire is not None and fire.isoformat() == "2024-03-10T03:00:00-04:00"


def test_cron_naive_from_time_inside_gap_is_read_as_after_gap() -> None:
    trigger = CronTrigger("45 3 * * *", "America/New_York")
    # 02:30 does not exist; PEP 495 reads it as 03:30 EDT (fold=0 uses the pre-gap offset).
    fire = trigger.get_next_run(datetime(2024, 3, 10, 2, 30))
    assert fire is not None and fire.isoformat() == "2024-03-10T03:45:00-04:00"


# -- Europe/London: 2024-03-31 01:00 -> 02:00, 2024-10-27 02:00 -> 01:00 ----------------


def test_cron_london_gap_and_overlap() -> None:
    spring = run("30 1 * * *", "Europe/London", local("Europe/London", 2024, 3, 30, 12), 2)
    assert iso(spring) == ["2024-03-31T02:00:00+01:00", "2024-04-01T01:30:00+01:00"]
    autumn = run("15 1 * * *", "Europe/London", local("Europe/London", 2024, 10, 26, 12), 2)
    assert iso(autumn) == ["2024-10-27T01:15:00+01:00", "2024-10-28T01:15:00+00:00"]
    hourly = run("15 * * * *", "Europe/London", local("Europe/London", 2024, 10, 27, 0, 30), 3)
    assert utc(hourly) == ["10-27 00:15", "10-27 01:15", "10-27 02:15"]


# -- Australia/Lord_Howe: a 30-minute shift ------------------------------------------------
# DST starts 2024-10-06 02:00 -> 02:30 (+10:30 -> +11) and ends 2024-04-07 02:00 -> 01:30.


def test_cron_lord_howe_half_hour_gap() -> None:
    fires = run("15 2 * * *", "Australia/Lord_Howe", local("Australia/Lord_Howe", 2024, 10, 6), 2)
    assert iso(fires) == ["2024-10-06T02:30:00+11:00", "2024-10-07T02:15:00+11:00"]
    steps = run("*/10 * * * *", "Australia/Lord_Howe",
                local("Australia/Lord_Howe", 2024, 10, 6, 1, 45), 3)  # fmt: skip
    assert iso(steps) == ["2024-10-06T01:50:00+10:30", "2024-10-06T02:30:00+11:00",
                          "2024-10-06T02:40:00+11:00"]  # fmt: skip


def test_cron_lord_howe_half_hour_overlap() -> None:
    once = run("45 1 * * *", "Australia/Lord_Howe", local("Australia/Lord_Howe", 2024, 4, 7), 2)
    assert iso(once) == ["2024-04-07T01:45:00+11:00", "2024-04-08T01:45:00+10:30"]
    steps = run("*/15 * * * *", "Australia/Lord_Howe",
                local("Australia/Lord_Howe", 2024, 4, 7, 1, 20), 5)  # fmt: skip
    assert [(f.isoformat(), f.fold) for f in steps] == [
        ("2024-04-07T01:30:00+11:00", 0),
        ("2024-04-07T01:45:00+11:00", 0),
        ("2024-04-07T01:30:00+10:30", 1),
        ("2024-04-07T01:45:00+10:30", 1),
        ("2024-04-07T02:00:00+10:30", 0),
    ]


# -- zones whose rules changed -------------------------------------------------------------


def test_cron_moscow_2011_permanent_summer_time_and_2014_return() -> None:
    # 2011-03-27 02:00 -> 03:00 (+03 -> +04), and no fall back that October.
    spring = run("30 2 * * *", "Europe/Moscow", local("Europe/Moscow", 2011, 3, 26, 12), 2)
    assert iso(spring) == ["2011-03-27T03:00:00+04:00", "2011-03-28T02:30:00+04:00"]
    october = run("30 2 * * *", "Europe/Moscow", local("Europe/Moscow", 2011, 10, 29, 12), 2)
    assert iso(october) == ["2011-10-30T02:30:00+04:00", "2011-10-31T02:30:00+04:00"]
    # 2014-10-26 02:00 -> 01:00 (+04 -> +03): a one-off overlap.
    back = run("0 1 * * *", "Europe/Moscow", local("Europe/Moscow", 2014, 10, 25, 12), 2)
    assert iso(back) == ["2014-10-26T01:00:00+04:00", "2014-10-27T01:00:00+03:00"]
    hourly = run("0 * * * *", "Europe/Moscow", local("Europe/Moscow", 2014, 10, 26, 0, 30), 3)
    assert utc(hourly) == ["10-25 21:00", "10-25 22:00", "10-25 23:00"]


def test_cron_sao_paulo_midnight_gap_then_no_dst_after_2019() -> None:
    # Brazil's DST started at midnight: 2018-11-04 00:00 -> 01:00, so "0 0" runs at 01:00.
    y2018 = run("0 0 * * *", "America/Sao_Paulo", local("America/Sao_Paulo", 2018, 11, 3, 12), 2)
    assert iso(y2018) == ["2018-11-04T01:00:00-02:00", "2018-11-05T00:00:00-02:00"]
    # DST was abolished in 2019: the same date in 2019 is an ordinary midnight.
    y2019 = run("0 0 * * *", "America/Sao_Paulo", local("America/Sao_Paulo", 2019, 11, 3, 12), 2)
    assert iso(y2019) == ["2019-11-04T00:00:00-03:00", "2019-11-05T00:00:00-03:00"]


def test_cron_samoa_skipped_day_runs_fixed_fire_after_it() -> None:
    # Pacific/Apia skipped 2011-12-30 entirely (crossing the date line).
    fires = run("0 12 * * *", "Pacific/Apia", local("Pacific/Apia", 2011, 12, 29, 13), 2)
    assert iso(fires) == ["2011-12-31T00:00:00+14:00", "2011-12-31T12:00:00+14:00"]


@pytest.mark.parametrize(
    "zone", ["America/New_York", "Europe/London", "Australia/Lord_Howe", "Europe/Moscow"]
)
def test_cron_every_minute_for_a_year_never_repeats_or_loses_time(zone: str) -> None:
    trigger = CronTrigger("*/7 * * * *", zone)
    current = datetime(2014, 1, 1, tzinfo=ZoneInfo(zone))
    seen = 0
    last = current.timestamp()
    end = datetime(2015, 1, 1, tzinfo=ZoneInfo(zone)).timestamp()
    while last < end:
        nxt = trigger.get_next_run(current)
        assert nxt is not None
        delta = nxt.timestamp() - last
        # Real time always moves on, and never by a lost hour: at most 7 wall minutes, plus
        # up to 7 more where an overlap restarts the wall clock off the 7-minute grid.
        assert 0 < delta <= 14 * 60 or seen == 0, (current, nxt)
        current, last, seen = nxt, nxt.timestamp(), seen + 1
    assert seen > 70_000


def test_cron_fires_are_equal_to_same_instant_in_any_zone() -> None:
    trigger = CronTrigger("0 9 * * *", "Europe/Berlin")
    from_utc = trigger.get_next_run(datetime(2024, 6, 1, 12, tzinfo=UTC))
    from_ny = trigger.get_next_run(datetime(2024, 6, 1, 8, tzinfo=ZoneInfo("America/New_York")))
    assert from_utc == from_ny
    assert from_utc is not None and from_utc.tzinfo is ZoneInfo("Europe/Berlin")
    assert from_utc - datetime(2024, 6, 2, 7, tzinfo=UTC) == timedelta(0)
