"""CalendarIntervalTrigger, BusinessCalendar and BusinessDayTrigger: behaviour, errors, text."""

from __future__ import annotations

import calendar as pycal
import copy
import logging
import pickle
import time
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import holidays
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from asyncron import (
    AndTrigger,
    BusinessCalendar,
    BusinessDayTrigger,
    CalendarIntervalTrigger,
    CronTrigger,
    ExcludeTrigger,
    IntervalTrigger,
    OnceTrigger,
    OrTrigger,
)
from asyncron.errors import InvalidTriggerError

BERLIN = ZoneInfo("Europe/Berlin")
ZONES = ["UTC", "Europe/Berlin", "America/New_York", "Australia/Lord_Howe", "Pacific/Apia",
         "America/Sao_Paulo"]  # fmt: skip


def take(trigger: object, n: int, start: datetime) -> list[str]:
    out = []
    t: datetime | None = start
    for _ in range(n):
        t = trigger.get_next_run(t)  # type: ignore[attr-defined]
        if t is None:
            break
        out.append(t.isoformat())
    return out


# -- CalendarIntervalTrigger -------------------------------------------------------------------


def test_every_two_months_on_the_31st_skips_or_clamps_missing_days() -> None:
    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    skip = CalendarIntervalTrigger(
        months=1, hour=10, timezone="Europe/Berlin", start=date(2026, 1, 31)
    )
    assert take(skip, 4, t0) == [
        "2026-01-31T10:00:00+01:00", "2026-03-31T10:00:00+02:00",
        "2026-05-31T10:00:00+02:00", "2026-07-31T10:00:00+02:00",
    ]  # fmt: skip
    clamp = CalendarIntervalTrigger(months=1, hour=10, timezone="Europe/Berlin",
                                    start=date(2026, 1, 31), missing_day="clamp")  # fmt: skip
    assert take(clamp, 4, t0) == [
        "2026-01-31T10:00:00+01:00", "2026-02-28T10:00:00+01:00",
        "2026-03-31T10:00:00+02:00", "2026-04-30T10:00:00+02:00",
    ]  # fmt: skip


def test_feb_29_yearly_fires_in_leap_years_only_when_skipping() -> None:
    trig = CalendarIntervalTrigger(years=1, timezone="UTC", start=date(2096, 2, 29))
    assert [d[:10] for d in take(trig, 3, datetime(2096, 1, 1, tzinfo=UTC))] == [
        "2096-02-29", "2104-02-29", "2108-02-29",  # 2100 is not a leap year
    ]  # fmt: skip


def test_dst_gap_runs_after_the_gap_and_overlap_runs_once() -> None:
    daily = CalendarIntervalTrigger(days=1, hour=2, minute=30, timezone="Europe/Berlin",
                                    start=date(2024, 3, 30))  # fmt: skip
    assert take(daily, 3, datetime(2024, 3, 1, tzinfo=UTC)) == [
        "2024-03-30T02:30:00+01:00", "2024-03-31T03:00:00+02:00", "2024-04-01T02:30:00+02:00",
    ]  # fmt: skip
    autumn = CalendarIntervalTrigger(days=1, hour=2, minute=30, timezone="Europe/Berlin",
                                     start=date(2024, 10, 26))  # fmt: skip
    fires = take(autumn, 3, datetime(2024, 10, 1, tzinfo=UTC))
    assert fires == ["2024-10-26T02:30:00+02:00", "2024-10-27T02:30:00+02:00",
                     "2024-10-28T02:30:00+01:00"]  # fmt: skip
    # Asked from inside the second pass: the day's fire (the first pass) is already gone.
    second_pass = datetime(2024, 10, 27, 2, 45, tzinfo=BERLIN, fold=1)
    assert autumn.get_next_run(second_pass) == datetime(2024, 10, 28, 2, 30, tzinfo=BERLIN)


def test_apia_skipped_day_fires_at_the_first_instant_after_it() -> None:
    trig = CalendarIntervalTrigger(
        days=1, hour=12, timezone="Pacific/Apia", start=date(2011, 12, 29)
    )
    assert take(trig, 3, datetime(2011, 12, 1, tzinfo=UTC)) == [
        "2011-12-29T12:00:00-10:00", "2011-12-31T00:00:00+14:00", "2011-12-31T12:00:00+14:00",
    ]  # fmt: skip


def test_start_datetime_end_and_naive_from_time() -> None:
    trig = CalendarIntervalTrigger(weeks=2, hour=9, timezone="Europe/Berlin",
                                   start=datetime(2026, 1, 5, 12, 0), end=date(2026, 2, 16))  # fmt: skip
    # The anchor date's 09:00 is before start (12:00), so the first fire is two weeks later.
    assert take(trig, 5, datetime(2026, 1, 1)) == [
        "2026-01-19T09:00:00+01:00", "2026-02-02T09:00:00+01:00", "2026-02-16T09:00:00+01:00",
    ]  # fmt: skip


def test_far_from_time_jumps_straight_there_and_year_9999_ends() -> None:
    trig = CalendarIntervalTrigger(months=1, hour=1, timezone="UTC", start=date(2000, 1, 15))
    t0 = time.perf_counter()
    assert take(trig, 1, datetime(9000, 6, 20, tzinfo=UTC)) == ["9000-07-15T01:00:00+00:00"]
    assert trig.get_next_run(datetime(9999, 12, 16, tzinfo=UTC)) is None
    assert time.perf_counter() - t0 < 0.5


@settings(max_examples=80, deadline=None)
@given(
    years=st.integers(0, 2), months=st.integers(0, 13), weeks=st.integers(0, 3),
    days=st.integers(0, 40), hour=st.integers(0, 23), minute=st.sampled_from([0, 15, 30, 59]),
    zone=st.sampled_from(ZONES),
    anchor=st.dates(min_value=date(1995, 1, 1), max_value=date(2035, 12, 31)),
    missing=st.sampled_from(["skip", "clamp"]),
)  # fmt: skip
def test_calendar_interval_never_drifts_in_wall_clock_time(
    years: int, months: int, weeks: int, days: int, hour: int, minute: int, zone: str,
    anchor: date, missing: str,
) -> None:  # fmt: skip
    if not (years or months or weeks or days):
        days = 1
    trig = CalendarIntervalTrigger(years=years, months=months, weeks=weeks, days=days, hour=hour,
                                   minute=minute, timezone=zone, start=anchor,
                                   missing_day=missing)  # fmt: skip
    tz = UTC if zone == "UTC" else ZoneInfo(zone)
    # The reference: fire k's date from the anchor by plain calendar arithmetic.
    expected_dates = []
    step_months = years * 12 + months
    for k in range(40):
        total = anchor.month - 1 + k * step_months
        y, m = anchor.year + total // 12, total % 12 + 1
        last = pycal.monthrange(y, m)[1]
        if anchor.day > last and missing == "skip":
            continue
        d = date(y, m, min(anchor.day, last)) + timedelta(days=k * (weeks * 7 + days))
        expected_dates.append(d)
    t: datetime | None = datetime.combine(anchor, datetime.min.time(), tz) - timedelta(days=2)
    previous = None
    for expected in expected_dates[:12]:
        t = trig.get_next_run(t)
        assert t is not None
        local = t.astimezone(tz)
        wall = datetime.combine(expected, datetime.min.time()).replace(hour=hour, minute=minute)
        real = wall.replace(tzinfo=tz).astimezone(UTC).astimezone(tz).replace(tzinfo=None)
        if real == wall:
            assert local.replace(tzinfo=None) == wall  # exactly the wall time, no drift
            assert t.utcoffset() == wall.replace(tzinfo=tz, fold=0).utcoffset()  # overlap: first
        else:  # a gap: the first instant after it, on that day or the next (Apia)
            assert local.replace(tzinfo=None) > wall
            just_before = (
                (t.astimezone(UTC) - timedelta(seconds=1)).astimezone(tz).replace(tzinfo=None)
            )
            assert just_before < wall
        if previous is not None:
            assert t > previous
        previous = t


def test_calendar_interval_errors_name_the_field() -> None:
    cases = [
        ({}, "years, months, weeks and days are all 0"),
        ({"days": -1}, "days: expected a whole number 0-3650000, got int -1"),
        ({"months": 1.5}, "months: expected a whole number 0-120000, got float 1.5"),
        ({"days": 1, "hour": 24}, "hour: expected a whole number 0-23, got int 24"),
        ({"days": 1, "missing_day": "wrap"}, "missing_day: 'wrap' is not allowed"),
        ({"days": 1, "timezone": "Mars/Olympus"}, "unknown time zone 'Mars/Olympus'"),
        ({"days": 1, "start": "2026-01-01"}, "start: expected a date or a datetime, got str"),
        ({"days": 1, "start": date(2026, 2, 1), "end": date(2026, 1, 1)},
         "end (2026-01-01) is before start (2026-02-01)"),
    ]  # fmt: skip
    for kwargs, message in cases:
        with pytest.raises(
            InvalidTriggerError, match=message.replace("(", r"\(").replace(")", r"\)")
        ):
            CalendarIntervalTrigger(**kwargs)  # type: ignore[arg-type]


def test_calendar_interval_is_a_value() -> None:
    a = CalendarIntervalTrigger(
        months=2, hour=10, timezone="Europe/Berlin", start=date(2026, 1, 31)
    )
    b = CalendarIntervalTrigger(
        months=2, hour=10, timezone="Europe/Berlin", start=date(2026, 1, 31)
    )
    assert a == b and hash(a) == hash(b) and pickle.loads(pickle.dumps(a)) == a == copy.copy(a)
    assert str(a) == "at 10:00 every 2 months from 2026-01-31 (a month without day 31 is skipped)"
    assert "months=2" in repr(a) and "start='2026-01-31'" in repr(a)
    with pytest.raises(AttributeError):
        a.timezone = UTC  # type: ignore[misc]
    with pytest.raises(AttributeError):
        a.anchor = date(2026, 2, 1)  # type: ignore[misc]
    assert a == b and a.timezone.key == "Europe/Berlin"  # type: ignore[attr-defined]


# -- BusinessCalendar --------------------------------------------------------------------------


def test_business_calendar_hesse_knows_corpus_christi_and_weekends() -> None:
    hesse = BusinessCalendar("DE", "HE")
    berlin = BusinessCalendar("DE", "BE")
    corpus_christi = date(2026, 6, 4)
    assert not hesse.is_business_day(corpus_christi)
    assert berlin.is_business_day(corpus_christi)
    assert not hesse.is_business_day(date(2026, 6, 6))  # Saturday
    assert (
        hesse.holiday_name(corpus_christi)
        == holidays.country_holidays("DE", subdiv="HE", years=2026)[corpus_christi]
    )
    assert hesse.next_business_day(date(2026, 4, 2)) == date(2026, 4, 7)  # Easter
    assert hesse.previous_business_day(date(2026, 4, 7)) == date(2026, 4, 2)
    assert hesse.describe() == "Germany (Hessen) holidays and weekends"
    assert str(hesse) == hesse.describe() and repr(hesse) == "BusinessCalendar('DE', 'HE')"


def test_extra_holidays_workdays_and_custom_weekend() -> None:
    cal = BusinessCalendar("DE", weekend=(4, 5), extra_holidays=[date(2026, 12, 24), "2026-12-31"],
                           extra_workdays=["2026-12-26"])  # fmt: skip
    assert not cal.is_business_day(date(2026, 12, 24))
    assert not cal.is_business_day(date(2026, 12, 31))
    assert cal.is_business_day(date(2026, 12, 26))  # a holiday and a Saturday, worked anyway
    assert not cal.is_business_day(date(2026, 12, 25))  # holiday
    assert not cal.is_business_day(date(2027, 1, 8))  # Friday is a weekend day here
    assert cal.is_business_day(date(2027, 1, 10))  # Sunday is not
    assert cal.describe() == (
        "Germany holidays, Fridays, Saturdays and 2 extra holidays (except 1 extra working day)"
    )
    plain = BusinessCalendar()
    assert plain.is_business_day(date(2026, 12, 25)) and plain.describe() == "weekends"


def test_business_calendar_errors_are_specific() -> None:
    cases = [
        (lambda: BusinessCalendar("XX"), "country: 'XX' is not a country the holidays package knows"),
        (lambda: BusinessCalendar("DE", "ZZ"), "subdiv: 'ZZ' is not a subdivision of DE; allowed BB, BE"),
        (lambda: BusinessCalendar(subdiv="HE"), "subdiv: 'HE' given without a country"),
        (lambda: BusinessCalendar(weekend=(7,)), "weekend: 7 is not a weekday number"),
        (lambda: BusinessCalendar(weekend=range(7)), "all seven days are weekend days"),
        (lambda: BusinessCalendar(extra_holidays="2026-01-01"), "expected a list of dates"),
        (lambda: BusinessCalendar(extra_holidays=["2026-13-01"]), r"extra_holidays\[0\]: '2026-13-01' is not an ISO date"),
        (lambda: BusinessCalendar(extra_workdays=[datetime(2026, 1, 1)]), "expected a date, got the datetime"),
        (lambda: BusinessCalendar(5), "country: expected an ISO country code"),  # type: ignore[arg-type]
        (lambda: BusinessCalendar.from_spec("DE_HE"), "'DE_HE' is not COUNTRY, COUNTRY-SUBDIVISION or MARKET"),
    ]  # fmt: skip
    for build, message in cases:
        with pytest.raises(InvalidTriggerError, match=message):
            build()
    assert BusinessCalendar.from_spec("de-he") == BusinessCalendar("DE", "HE")


# -- BusinessDayTrigger -------------------------------------------------------------------------


def test_last_business_day_of_the_month_in_frankfurt() -> None:
    hesse = BusinessCalendar("DE", "HE")
    last = BusinessDayTrigger(hesse, -1, hour=18, timezone="Europe/Berlin")
    assert last.describe() == (
        "at 18:00 on the last business day of every month, Germany (Hessen) holidays and "
        "weekends excluded"
    )
    assert [d[:10] for d in take(last, 4, datetime(2026, 1, 1, tzinfo=UTC))] == [
        "2026-01-30", "2026-02-27", "2026-03-31", "2026-04-30",
    ]  # fmt: skip
    third = BusinessDayTrigger(hesse, 3, hour=9, minute=30, timezone="Europe/Berlin")
    assert take(third, 2, datetime(2026, 4, 1, tzinfo=UTC)) == [
        "2026-04-07T09:30:00+02:00", "2026-05-06T09:30:00+02:00",  # after Easter; May Day
    ]  # fmt: skip
    assert "the 3rd business day" in third.describe()
    assert "2nd-to-last" in BusinessDayTrigger(hesse, -2).describe()


@settings(max_examples=25, deadline=None)
@given(day=st.sampled_from([1, 2, 3, 5, 10, -1, -2, -5]), year=st.integers(2020, 2030),
       spec=st.sampled_from([("DE", "HE"), ("US", None), ("GB", "SCT"), ("FR", None)]))  # fmt: skip
def test_nth_business_day_matches_a_brute_force_count(
    day: int, year: int, spec: tuple[str, str | None]
) -> None:
    source = holidays.country_holidays(spec[0], subdiv=spec[1], years=year)
    trig = BusinessDayTrigger(BusinessCalendar(*spec), day, hour=12, timezone="UTC")
    t: datetime | None = datetime(year, 1, 1, tzinfo=UTC)
    for month in range(1, 13):
        days = [date(year, month, d) for d in range(1, pycal.monthrange(year, month)[1] + 1)]
        business = [d for d in days if d.weekday() < 5 and d not in source]
        expected = business[day - 1 if day > 0 else day]
        t = trig.get_next_run(t)
        assert t is not None and t.date() == expected and t.hour == 12


def test_business_day_trigger_errors() -> None:
    hesse = BusinessCalendar("DE", "HE")
    with pytest.raises(InvalidTriggerError, match="calendar: expected a BusinessCalendar"):
        BusinessDayTrigger("DE-HE")  # type: ignore[arg-type]
    for bad in (0, 24, -24, True, 1.0):
        with pytest.raises(InvalidTriggerError, match="day: expected a business-day position"):
            BusinessDayTrigger(hesse, bad)  # type: ignore[arg-type]
    with pytest.raises(InvalidTriggerError, match="minute: expected a whole number 0-59"):
        BusinessDayTrigger(hesse, 1, minute=60)


def test_too_few_business_days_skips_the_month() -> None:
    # Only Mondays are business days: the 5th one exists in some months only.
    cal = BusinessCalendar(weekend=(1, 2, 3, 4, 5, 6))
    fifth = BusinessDayTrigger(cal, 5, timezone="UTC")
    assert [d[:10] for d in take(fifth, 3, datetime(2026, 1, 1, tzinfo=UTC))] == [
        "2026-03-30", "2026-06-29", "2026-08-31",
    ]  # fmt: skip


# -- combinations: construction, text, bounded search ------------------------------------------


def test_combination_errors_are_specific() -> None:
    cron = CronTrigger("0 9 * * *", "UTC")
    cases = [
        (lambda: OrTrigger(cron), "OrTrigger: needs at least two triggers, got 1"),
        (lambda: OrTrigger(cron, "0 9 * * *"), "OrTrigger: member 1 is a str '0 9 \\* \\* \\*'; expected a Trigger"),  # type: ignore[arg-type]
        (lambda: AndTrigger(cron, IntervalTrigger(minutes=5)), "member 1 is an IntervalTrigger without start"),
        (lambda: AndTrigger(cron, cron, threshold=-1), "threshold: must be 0 or more, got -1 s"),
        (lambda: AndTrigger(cron, cron, threshold="1s"), "threshold: expected a timedelta or a number"),  # type: ignore[arg-type]
        (lambda: AndTrigger(cron, cron, search_limit=0), "search_limit: expected a whole number of at least 1"),
        (lambda: AndTrigger(cron, cron, search_limit=10**12), "allowed 1-10000000"),
        (lambda: cron.exclude(cron, shift="next"), "shift: 'next' needs a BusinessCalendar"),
        (lambda: cron.exclude(BusinessCalendar(), shift="later"), "shift: 'later' is not a shift policy"),
        (lambda: ExcludeTrigger(cron, 5), "excluded is a int 5; expected a Trigger or a BusinessCalendar"),  # type: ignore[arg-type]
        (lambda: cron.exclude(IntervalTrigger(hours=1)), "excluded is an IntervalTrigger without start"),
    ]  # fmt: skip
    for build, message in cases:
        with pytest.raises(InvalidTriggerError, match=message):
            build()


def test_impossible_combinations_end_quickly_with_a_warning(
    caplog: pytest.LogCaptureFixture,
) -> None:
    monday = CronTrigger("0 0 * * 1", "UTC")
    tuesday = CronTrigger("0 0 * * 2", "UTC")
    t = datetime(2026, 1, 1, tzinfo=UTC)
    started = time.perf_counter()
    with caplog.at_level(logging.WARNING, logger="asyncron"):
        assert (monday & tuesday).get_next_run(t) is None
        assert monday.exclude(monday).get_next_run(t) is None
        sundays_off = BusinessCalendar(weekend=(6,))  # Python's weekday 6 is Sunday
        assert CronTrigger("0 0 * * 0", "UTC").exclude(sundays_off).get_next_run(t) is None
    assert time.perf_counter() - started < 2.0
    assert "no instant where all members fire after 10000 member steps" in caplog.text
    assert "every candidate is excluded" in caplog.text
    assert "no fire on a business day" in caplog.text


def test_and_with_threshold_and_operators_flatten() -> None:
    a = IntervalTrigger(minutes=10, start=datetime(2026, 1, 1, tzinfo=UTC))
    b = IntervalTrigger(minutes=10, start=datetime(2026, 1, 1, 0, 0, 30, tzinfo=UTC))
    assert (a & b).get_next_run(datetime(2026, 1, 1, tzinfo=UTC)) is None
    loose = AndTrigger(a, b, threshold=timedelta(seconds=30))
    assert loose.get_next_run(datetime(2026, 1, 1, tzinfo=UTC)) == datetime(
        2026, 1, 1, 0, 10, 30, tzinfo=UTC
    )
    assert loose.describe().endswith("(within 30 s)")
    c = CronTrigger("0 * * * *", "UTC")
    assert isinstance(a | b | c, OrTrigger) and len((a | b | c).triggers) == 3
    assert len((a & b & c).triggers) == 3
    assert (a | b) == OrTrigger(a, b) and hash(a | b) == hash(OrTrigger(a, b))
    assert pickle.loads(pickle.dumps(loose)) == loose


def test_descriptions_read_as_english() -> None:
    hesse = BusinessCalendar("DE", "HE")
    weekdays = CronTrigger("0 9 * * 1-5", "Europe/Berlin")
    assert weekdays.exclude(hesse).describe() == (
        "at 09:00 on Monday through Friday, Germany (Hessen) holidays and weekends excluded"
    )
    assert (weekdays | IntervalTrigger(seconds=0.4)).describe() == (
        "at 09:00 on Monday through Friday; or every 0.4 s"
    )
    assert str(IntervalTrigger(hours=1, minutes=30)) == "every 1 h 30 min"
    assert str(IntervalTrigger(days=2)) == "every 2 days"
    assert str(IntervalTrigger(milliseconds=1.5)) == "every 0.0015 s"
    assert (
        weekdays.exclude(hesse, shift="previous")
        .describe()
        .endswith(
            "moved to the previous business day when it falls on Germany (Hessen) holidays and weekends"
        )
    )


def test_once_in_or_runs_at_once_when_past_and_hashed_cron_members_are_seeded() -> None:
    now = datetime(2026, 5, 1, 12, tzinfo=UTC)
    past = OnceTrigger(now - timedelta(hours=1))
    combo = past | CronTrigger("0 0 * * *", "UTC")
    assert combo.get_first_run(now) == now - timedelta(hours=1)
    hashed = CronTrigger("H 9 * * *", "UTC") | CronTrigger("0 12 * * *", "UTC")
    seeded = hashed.for_job("job-1")
    assert seeded != hashed and seeded.triggers[0] == CronTrigger("H 9 * * *", "UTC").for_job(
        "job-1"
    )
    assert seeded.for_job("job-1") == seeded


def test_a_calendar_with_a_single_business_day_answers_fast_for_every_shift() -> None:
    only = BusinessCalendar(weekend=range(7), extra_workdays=[date(2020, 1, 6)])
    daily = CronTrigger("0 9 * * *", "UTC")
    started = time.perf_counter()
    for shift in ("skip", "next", "previous"):
        trig = daily.exclude(only, shift=shift)
        assert trig.get_next_run(datetime(2019, 12, 1, tzinfo=UTC)) == datetime(
            2020, 1, 6, 9, tzinfo=UTC
        )
        assert trig.get_next_run(datetime(2026, 1, 1, tzinfo=UTC)) is None
    assert time.perf_counter() - started < 2.0


def test_your_own_trigger_combines_with_the_operators() -> None:
    from asyncron import Trigger, TriggerOperators

    class Noon(Trigger):  # a plain Trigger: no operators of its own
        def get_next_run(self, from_time: datetime | None = None) -> datetime | None:
            assert from_time is not None
            day = from_time.astimezone(UTC).date()
            noon = datetime(day.year, day.month, day.day, 12, tzinfo=UTC)
            return noon if noon > from_time else noon + timedelta(days=1)

    class Midnight(TriggerOperators):
        def get_next_run(self, from_time: datetime | None = None) -> datetime | None:
            assert from_time is not None
            day = from_time.astimezone(UTC).date() + timedelta(days=1)
            return datetime(day.year, day.month, day.day, tzinfo=UTC)

    t0 = datetime(2026, 1, 1, 6, tzinfo=UTC)
    both = CronTrigger("0 18 * * *", "UTC") | Noon()  # via CronTrigger.__ror__/__or__
    assert take(both, 3, t0) == ["2026-01-01T12:00:00+00:00", "2026-01-01T18:00:00+00:00",
                                 "2026-01-02T12:00:00+00:00"]  # fmt: skip
    mine = Midnight() | Noon()
    assert isinstance(mine, OrTrigger)
    assert [d[11:16] for d in take(mine, 3, t0)] == ["12:00", "00:00", "12:00"]
    assert [d[:10] for d in take(Midnight().exclude(CronTrigger("0 0 * * 6,0", "UTC")), 2, t0)] == [
        "2026-01-02", "2026-01-05",
    ]  # fmt: skip


def test_an_interval_without_start_resumes_one_interval_into_the_next_business_day() -> None:
    # Dates are read in the calendar's zone: Saturday begins at 11:00 UTC on Friday in Auckland.
    nz = BusinessCalendar(timezone="Pacific/Auckland")
    hourly = IntervalTrigger(hours=1).exclude(nz)
    friday_late = datetime(2026, 1, 9, 9, 30, tzinfo=UTC)  # Friday 22:30 in Auckland (+13)
    assert hourly.get_next_run(friday_late) == datetime(2026, 1, 9, 10, 30, tzinfo=UTC)
    # 11:30 UTC is Saturday 00:30 there: skipped to Monday 00:00 NZDT + 1 h = Sunday 12:00 UTC.
    assert hourly.get_next_run(datetime(2026, 1, 9, 10, 30, tzinfo=UTC)) == datetime(
        2026, 1, 11, 12, 0, tzinfo=UTC
    )


def test_market_closing_days_and_holiday_categories() -> None:
    nyse = BusinessCalendar(market="xnys")
    good_friday = date(2026, 4, 3)
    assert not nyse.is_business_day(good_friday)  # the exchange closes
    assert BusinessCalendar("US").is_business_day(good_friday)  # not a federal holiday
    assert nyse.describe() == "XNYS market holidays and weekends"
    assert BusinessCalendar.from_spec("XNYS") == nyse
    assumption = date(2025, 8, 15)  # a Friday; a Catholic holiday in much of Bavaria
    assert BusinessCalendar("DE", "BY").is_business_day(assumption)
    catholic = BusinessCalendar("DE", "BY", categories=["public", "catholic"])
    assert not catholic.is_business_day(assumption)
    assert catholic.describe() == "Germany (Bayern) catholic and public holidays and weekends"
    both = BusinessCalendar("DE", "HE", market="XNYS")
    assert not both.is_business_day(date(2026, 5, 25))  # Whit Monday in Hesse
    assert not both.is_business_day(date(2026, 7, 3))  # NYSE: Independence Day observed
    for kwargs, message in [
        ({"market": "XXXX"}, "market: 'XXXX' is not a market the holidays package knows"),
        ({"market": 5}, "market: expected a market code such as 'XNYS', got int 5"),
        ({"country": "DE", "categories": ["bank"]}, "categories: 'bank' is not a holiday category of DE; allowed catholic, public, school"),
        ({"country": "DE", "categories": "public"}, "expected a list of category names, got the single string"),
        ({"categories": ["catholic"]}, r"categories: \['catholic'\] given without a country"),
        ({"country": "DE", "categories": []}, "expected one or more category names"),
    ]:  # fmt: skip
        with pytest.raises(InvalidTriggerError, match=message):
            BusinessCalendar(**kwargs)  # type: ignore[arg-type]
