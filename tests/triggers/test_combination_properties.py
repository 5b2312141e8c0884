"""Property tests: combinations are the set algebra of their members' fires.

Over random cron expressions, zones and windows that include DST transitions: an OrTrigger's
fires are the sorted union of its members' fires, an AndTrigger's their intersection, an
exclusion their difference, a calendar exclusion the fires on business days, and a shifted
exclusion the sorted set of moved fires. The reference enumerates each member on its own and
does the set arithmetic on UTC instants.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from asyncron import (
    AndTrigger,
    BusinessCalendar,
    CronTrigger,
    ExcludeTrigger,
    IntervalTrigger,
    OrTrigger,
)
from asyncron.abc import Trigger

ZONES = ["UTC", "Europe/Berlin", "America/New_York", "Australia/Lord_Howe", "America/Sao_Paulo"]
# Windows start near DST transitions (spring and autumn, both hemispheres) and on plain days.
STARTS = [
    datetime(2024, 3, 9, tzinfo=UTC), datetime(2024, 3, 30, tzinfo=UTC),
    datetime(2024, 10, 26, tzinfo=UTC), datetime(2024, 11, 2, tzinfo=UTC),
    datetime(2024, 4, 6, tzinfo=UTC), datetime(2024, 10, 5, tzinfo=UTC),
    datetime(2018, 11, 3, tzinfo=UTC), datetime(2026, 6, 14, tzinfo=UTC),
    datetime(2025, 12, 30, tzinfo=UTC),
]  # fmt: skip
WINDOW = timedelta(days=4)


@st.composite
def window_starts(draw: st.DrawFn) -> datetime:
    """Either a known transition week, or a random year's March/April/October/November
    (where most zones change), so every run also sees years it has not seen before."""
    if draw(st.booleans()):
        return draw(st.sampled_from(STARTS))
    year = draw(st.integers(1975, 2037))
    month = draw(st.sampled_from([3, 4, 10, 11]))
    return datetime(year, month, draw(st.integers(1, 27)), draw(st.integers(0, 23)), tzinfo=UTC)


SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@st.composite
def cron_expressions(draw: st.DrawFn) -> str:
    minute = draw(st.sampled_from(["0", "30", "0,30", "*/20", "15", "0-10/5", "*/45"]))
    hour = draw(st.sampled_from(["*", "2", "1-3", "9-17", "*/3", "0,12", "2,3", "*/5"]))
    dom = draw(st.sampled_from(["*", "*", "1-15", "*/2", "L", "13"]))
    dow = draw(st.sampled_from(["*", "*", "1-5", "0,6", "5", "1"]))
    return f"{minute} {hour} {dom} * {dow}"


def fires_in(trigger: Trigger, start: datetime, end: datetime) -> list[datetime]:
    """Fire instants (UTC) strictly after ``start`` and at or before ``end``."""
    out = []
    t = trigger.get_next_run(start)
    while t is not None and t.astimezone(UTC) <= end:
        out.append(t.astimezone(UTC))
        t = trigger.get_next_run(t)
    return out


def window(trigger: Trigger, start: datetime) -> list[datetime]:
    return fires_in(trigger, start, start + WINDOW)


members = st.lists(st.tuples(cron_expressions(), st.sampled_from(ZONES)), min_size=2, max_size=3)


@SETTINGS
@given(specs=members, start=window_starts())
def test_or_is_the_sorted_union_of_member_fires(
    specs: list[tuple[str, str]], start: datetime
) -> None:
    triggers = [CronTrigger(e, z) for e, z in specs]
    union = sorted(set().union(*(window(t, start) for t in triggers)))
    assert window(OrTrigger(*triggers), start) == union
    operator = triggers[0]
    for other in triggers[1:]:
        operator = operator | other
    assert window(operator, start) == union


@SETTINGS
@given(specs=members, start=window_starts())
def test_and_is_the_intersection_of_member_fires(
    specs: list[tuple[str, str]], start: datetime
) -> None:
    triggers = [CronTrigger(e, z) for e, z in specs]
    sets = [set(window(t, start)) for t in triggers]
    both = sorted(set.intersection(*sets))
    combined = AndTrigger(*triggers, search_limit=2000)
    assert fires_in(combined, start, start + WINDOW) == both


@SETTINGS
@given(
    base=st.tuples(cron_expressions(), st.sampled_from(ZONES)),
    excluded=st.tuples(cron_expressions(), st.sampled_from(ZONES)),
    start=window_starts(),
)
def test_exclusion_is_the_difference_of_member_fires(
    base: tuple[str, str], excluded: tuple[str, str], start: datetime
) -> None:
    a, b = CronTrigger(*base), CronTrigger(*excluded)
    expected = sorted(set(window(a, start)) - set(window(b, start)))
    got = fires_in(ExcludeTrigger(a, b, search_limit=500), start, start + WINDOW)
    assert got == expected
    assert fires_in(a.exclude(b, shift="skip"), start, start + WINDOW) == got or not expected


@SETTINGS
@given(
    step=st.integers(1, 200),
    offset=st.integers(0, 3600),
    expr=cron_expressions(),
    zone=st.sampled_from(ZONES),
    start=window_starts(),
)
def test_interval_and_cron_union_and_intersection(
    step: int, offset: int, expr: str, zone: str, start: datetime
) -> None:
    interval = IntervalTrigger(minutes=step, start=start - timedelta(seconds=offset * 60))
    cron = CronTrigger(expr, zone)
    a, b = set(window(interval, start)), set(window(cron, start))
    assert window(interval | cron, start) == sorted(a | b)
    assert fires_in(AndTrigger(interval, cron, search_limit=3000), start, start + WINDOW) == sorted(
        a & b
    )


# -- business calendars ------------------------------------------------------------------------

CALENDARS = [
    BusinessCalendar("DE", "HE"),
    BusinessCalendar("US"),
    BusinessCalendar(weekend=(4, 5), extra_holidays=["2024-03-31", "2024-11-04"]),
    BusinessCalendar("GB", extra_workdays=["2024-03-30"]),
]
CAL_STARTS = [datetime(2024, 3, 27, tzinfo=UTC), datetime(2024, 10, 30, tzinfo=UTC),
              datetime(2025, 12, 22, tzinfo=UTC), datetime(2024, 12, 20, tzinfo=UTC)]  # fmt: skip
CAL_WINDOW = timedelta(days=9)


@SETTINGS
@given(
    expr=cron_expressions(),
    zone=st.sampled_from(ZONES),
    calendar=st.sampled_from(CALENDARS),
    start=st.sampled_from(CAL_STARTS),
)
def test_calendar_exclusion_keeps_exactly_the_fires_on_business_days(
    expr: str, zone: str, calendar: BusinessCalendar, start: datetime
) -> None:
    cron = CronTrigger(expr, zone)
    tz = ZoneInfo(zone) if zone != "UTC" else UTC
    end = start + CAL_WINDOW
    expected = [f for f in fires_in(cron, start, end)
                if calendar.is_business_day(f.astimezone(tz).date())]  # fmt: skip
    assert fires_in(cron.exclude(calendar), start, end) == expected


def _moved(
    fire: datetime, calendar: BusinessCalendar, tz: ZoneInfo | type[UTC], way: str
) -> datetime:
    local = fire.astimezone(tz)  # type: ignore[arg-type]
    day = local.date()
    if calendar.is_business_day(day):
        return fire
    target = (
        calendar.next_business_day(day) if way == "next" else calendar.previous_business_day(day)
    )
    assert target is not None
    wall = datetime.combine(target, local.time())
    # Same wall time on the target day; a gap moves to the first instant after it.
    aware = wall.replace(tzinfo=tz)  # type: ignore[arg-type]
    roundtrip = aware.astimezone(UTC).astimezone(tz).replace(tzinfo=None)  # type: ignore[arg-type]
    if roundtrip != wall:  # in a gap: find the first real instant after it, minute by minute
        probe = aware.astimezone(UTC).replace(second=0, microsecond=0) - timedelta(hours=3)
        while probe.astimezone(tz).replace(tzinfo=None) < wall:  # type: ignore[arg-type]
            probe += timedelta(minutes=1)
        # then back to the exact transition second
        while (probe - timedelta(seconds=1)).astimezone(tz).replace(tzinfo=None) >= wall:  # type: ignore[arg-type]
            probe -= timedelta(seconds=1)
        return probe
    return aware.astimezone(UTC)


@SETTINGS
@given(
    expr=cron_expressions(),
    zone=st.sampled_from(ZONES),
    calendar=st.sampled_from(CALENDARS),
    start=st.sampled_from(CAL_STARTS),
    way=st.sampled_from(["next", "previous"]),
)
def test_shifted_fires_are_the_sorted_set_of_moved_base_fires(
    expr: str, zone: str, calendar: BusinessCalendar, start: datetime, way: str
) -> None:
    cron = CronTrigger(expr, zone)
    tz = ZoneInfo(zone) if zone != "UTC" else UTC
    end = start + CAL_WINDOW
    margin = timedelta(days=12)  # longer than any run of non-business days here
    base = fires_in(cron, start - margin, end + margin)
    moved = sorted({m for f in base if start < (m := _moved(f, calendar, tz, way)) <= end})
    assert fires_in(cron.exclude(calendar, shift=way), start, end) == moved


def test_business_day_shift_example_good_friday_moves_to_thursday_or_tuesday() -> None:
    hesse = BusinessCalendar("DE", "HE")
    yearly = CronTrigger("0 9 3 4 *", "Europe/Berlin")  # 2026-04-03 is Good Friday
    t = datetime(2026, 3, 1, tzinfo=UTC)
    nxt = yearly.exclude(hesse, shift="next").get_next_run(t)
    prev = yearly.exclude(hesse, shift="previous").get_next_run(t)
    skip = yearly.exclude(hesse).get_next_run(t)
    assert nxt is not None and prev is not None and skip is not None
    assert nxt.isoformat() == "2026-04-07T09:00:00+02:00"  # Easter Monday is a holiday too
    assert prev.isoformat() == "2026-04-02T09:00:00+02:00"
    # Skipped: 2027-04-03 is a Saturday, so the next kept fire is Monday 2028-04-03.
    assert skip.isoformat() == "2028-04-03T09:00:00+02:00"


def test_calendar_dates_match_the_holidays_package() -> None:
    import holidays

    cal = BusinessCalendar("US", "CA")
    source = holidays.country_holidays("US", subdiv="CA", years=2026)
    day = date(2026, 1, 1)
    while day.year == 2026:
        assert cal.is_business_day(day) == (day.weekday() < 5 and day not in source), day
        day += timedelta(days=1)
