"""The cron edges of docs/cron.md "Where asyncron differs", each against cronsim or croniter."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
from croniter import croniter
from cronsim import CronSim, CronSimError

from asyncron import CronTrigger
from asyncron.errors import CronParseError

START = datetime(2024, 1, 1)


def ours(expr: str, n: int = 8, tz: str = "UTC", start: datetime = START) -> list[datetime]:
    trigger = CronTrigger(expr, tz)
    zone = UTC if tz == "UTC" else ZoneInfo(tz)
    t: datetime | None = start.replace(tzinfo=zone)
    out = []
    for _ in range(n):
        t = trigger.get_next_run(t)
        assert t is not None
        out.append(t.replace(tzinfo=None))
    return out


def cronsim(expr: str, n: int = 8) -> list[datetime]:
    it = CronSim(expr, START)
    return [next(it) for _ in range(n)]


def croniter_fires(expr: str, n: int = 8) -> list[datetime]:
    it = croniter(expr, START)
    return [it.get_next(datetime) for _ in range(n)]


@pytest.mark.parametrize(
    ("expr", "same_as"),
    [("0 0 L/2 * *", "0 0 L * *"), ("0 0 LW/3 * *", "0 0 LW * *"), ("0 0 L/1 * *", "0 0 L * *")],
)
def test_last_day_with_a_step_matches_cronsim(expr: str, same_as: str) -> None:
    assert ours(expr) == cronsim(expr) == ours(same_as)


@pytest.mark.parametrize(
    "expr", ["0 0 */100 * *", "*/100 * * * *", "0 */30 * * *", "0 0 1 * */10", "0 0 1 */13 *",
             "*/60 * * * *", "0 0 5/40 * *"],
)  # fmt: skip
def test_a_step_wider_than_its_field_selects_the_first_value_like_cronsim(expr: str) -> None:
    assert ours(expr) == cronsim(expr)


@pytest.mark.parametrize(
    ("expr", "n"),
    [("0 0 31W * *", 14), ("0 0 30W * *", 14), ("0 0 W15 * *", 8), ("0 0 29W 2 *", 4)],
)
def test_nearest_weekday_in_short_months_and_prefix_form_match_croniter(expr: str, n: int) -> None:
    assert ours(expr, n) == croniter_fires(expr, n)


def test_31w_in_february_is_the_weekday_nearest_its_last_day() -> None:
    assert ours("0 0 31W 2 *", 3) == [datetime(2024, 2, 29), datetime(2025, 2, 28),
                                       datetime(2026, 2, 27)]  # fmt: skip


@pytest.mark.parametrize(
    ("expr", "message", "position"),
    [
        ("0 0 15W,16 * *", "nearest-weekday item '15W' at position 4 must stand alone", 4),
        ("0 0 1,15W * *", "nearest-weekday item '15W' at position 6 must stand alone", 6),
        ("0 0 1,W15 * *", "nearest-weekday item 'W15' at position 6 must stand alone", 6),
        ("0 0 ?,* * *", "'?' at position 4 must stand alone in its field", 4),
        ("0 0 * * *,?", "'?' at position 10 must stand alone in its field", 10),
        ("0 0 ?/2 * *", "token '?/2' at position 4 cannot be parsed", 4),
        ("0 0 L-2/3 * *", "day-of-month field", 4),
    ],
)
def test_items_that_must_stand_alone_are_refused_like_croniter_and_cronsim(
    expr: str, message: str, position: int
) -> None:
    with pytest.raises(CronParseError, match=re.escape(message)) as info:
        CronTrigger(expr, "UTC")
    assert info.value.position == position
    with pytest.raises(CronSimError):
        CronSim(expr, START)


def test_name_with_l_is_kept_as_last_weekday_where_cronsim_refuses() -> None:
    with pytest.raises(CronSimError):
        CronSim("0 0 * * MONL", START)
    assert ours("0 0 * * MONL") == ours("0 0 * * 1L") == cronsim("0 0 * * 1L")


def test_seconds_first_fixed_time_follows_the_same_dst_rule_as_five_fields() -> None:
    ny = "America/New_York"
    spring = datetime(2024, 3, 9, 12)
    # cronsim skips the 6-field fire in the gap; we run it after the gap, like the 5-field form.
    assert ours("0 30 2 * * *", 2, ny, spring) == ours("30 2 * * *", 2, ny, spring) == [
        datetime(2024, 3, 10, 3, 0), datetime(2024, 3, 11, 2, 30)]  # fmt: skip
    it = CronSim("0 30 2 * * *", spring.replace(tzinfo=ZoneInfo(ny)))
    assert next(it).replace(tzinfo=None) == datetime(2024, 3, 11, 2, 30)
    autumn = datetime(2024, 11, 2, 12)
    six = CronTrigger("0 30 1 * * *", ny)
    t = six.get_next_run(autumn.replace(tzinfo=ZoneInfo(ny)))
    assert t is not None and t.isoformat() == "2024-11-03T01:30:00-04:00"
    t2 = six.get_next_run(t)
    assert t2 is not None and t2.isoformat() == "2024-11-04T01:30:00-05:00"  # once, not twice
    it = CronSim("0 30 1 * * *", autumn.replace(tzinfo=ZoneInfo(ny)))
    assert [next(it).isoformat() for _ in range(2)] == [
        "2024-11-03T01:30:00-04:00", "2024-11-03T01:30:00-05:00"]  # fmt: skip
    # Wildcard seconds-first expressions still follow real elapsed time in the overlap.
    wild = CronTrigger("0 */30 1 * * *", ny)
    first = wild.get_next_run(datetime(2024, 11, 3, 0, 59, tzinfo=ZoneInfo(ny)))
    fires = [first]
    for _ in range(3):
        fires.append(wild.get_next_run(fires[-1]))
    assert [f.isoformat() for f in fires if f is not None] == [
        "2024-11-03T01:00:00-04:00", "2024-11-03T01:30:00-04:00",
        "2024-11-03T01:00:00-05:00", "2024-11-03T01:30:00-05:00",
    ]  # fmt: skip


def test_huge_or_zero_steps_are_refused_with_the_range() -> None:
    for expr, token in (("*/0 * * * *", "0"), ("*/10000000000 * * * *", "10000000000")):
        with pytest.raises(CronParseError, match=re.escape(f"step {token} at position 2 is out of "
                                                           "range; allowed 1-999999999")):  # fmt: skip
            CronTrigger(expr, "UTC")
