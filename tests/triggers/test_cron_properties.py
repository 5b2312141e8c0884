"""Property tests: the engine against a brute-force reference written here.

The reference knows nothing of the engine: expressions are generated together with the value
sets they mean, and the reference walks real time minute by minute (second by second for
six-field expressions) over a bounded window, applying the rules in docs/cron.md directly.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from functools import cache
from itertools import pairwise
from zoneinfo import ZoneInfo

from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from asyncron.errors import CronParseError
from asyncron.triggers.cron import CronTrigger

ZONES = ["UTC", "America/New_York", "Europe/London", "Australia/Lord_Howe", "Europe/Moscow",
         "America/Sao_Paulo"]  # fmt: skip

# -- expression generation -----------------------------------------------------------------


@dataclass(frozen=True)
class Field:
    text: str
    values: frozenset[int]
    specials: tuple[str, ...] = ()  # day-field items with their own meaning (L, 15W, 5#3, ...)


@st.composite
def numeric_field(draw: st.DrawFn, lo: int, hi: int, allow_star: bool = True) -> Field:
    kinds = ["star", "star_step", "value", "range", "range_step", "value_step", "list"]
    kind = draw(st.sampled_from(kinds if allow_star else kinds[2:]))
    value = st.integers(lo, hi)
    if kind == "star":
        return Field("*", frozenset(range(lo, hi + 1)))
    if kind == "star_step":
        step = draw(st.integers(1, hi - lo + 1))
        return Field(f"*/{step}", frozenset(range(lo, hi + 1, step)))
    if kind == "value":
        v = draw(value)
        return Field(str(v), frozenset({v}))
    if kind in ("range", "range_step"):
        a, b = sorted((draw(value), draw(value)))
        if kind == "range":
            return Field(f"{a}-{b}", frozenset(range(a, b + 1)))
        step = draw(st.integers(1, hi - lo + 1))
        return Field(f"{a}-{b}/{step}", frozenset(range(a, b + 1, step)))
    if kind == "value_step":
        a = draw(value)
        step = draw(st.integers(1, hi - lo + 1))
        return Field(f"{a}/{step}", frozenset(range(a, hi + 1, step)))
    parts = draw(st.lists(numeric_field(lo, hi, allow_star=False), min_size=2, max_size=3))
    return Field(",".join(p.text for p in parts), frozenset().union(*(p.values for p in parts)),
                 tuple(s for p in parts for s in p.specials))  # fmt: skip


@st.composite
def dom_field(draw: st.DrawFn, extended: bool) -> Field:
    if not extended or draw(st.booleans()):
        return draw(numeric_field(1, 31))
    items = draw(st.lists(st.sampled_from(["L", "LW", "L-2", "L-15", "15W", "1W", "31W", "10"]),
                          min_size=1, max_size=2, unique=True))  # fmt: skip
    weekday_items = [i for i in items if i[0].isdigit() and i.endswith("W")]
    if weekday_items:  # nW must stand alone in its field (as in Quartz and croniter)
        items = weekday_items[:1]
    plain = {int(i) for i in items if i.isdigit()}
    return Field(",".join(items), frozenset(plain), tuple(i for i in items if not i.isdigit()))


@st.composite
def dow_field(draw: st.DrawFn, extended: bool) -> Field:
    if not extended or draw(st.booleans()):
        base = draw(numeric_field(0, 7))
        return Field(base.text, frozenset(v % 7 for v in base.values))
    items = draw(st.lists(st.sampled_from(["5L", "0L", "1#1", "5#3", "2#5", "6"]),
                          min_size=1, max_size=2, unique=True))  # fmt: skip
    plain = {int(i) % 7 for i in items if i.isdigit()}
    return Field(",".join(items), frozenset(plain), tuple(i for i in items if not i.isdigit()))


@dataclass(frozen=True)
class Expr:
    text: str
    seconds: Field | None
    minutes: Field
    hours: Field
    dom: Field
    months: Field
    dow: Field

    @property
    def fixed_time(self) -> bool:
        fields = [self.minutes, self.hours] + ([self.seconds] if self.seconds else [])
        return not any(f.text.startswith("*") for f in fields)


@st.composite
def expressions(draw: st.DrawFn, extended: bool = True, seconds: bool | None = None) -> Expr:
    with_seconds = draw(st.booleans()) if seconds is None else seconds
    sec = draw(numeric_field(0, 59)) if with_seconds else None
    minute = draw(numeric_field(0, 59))
    hour = draw(numeric_field(0, 23))
    dom = draw(dom_field(extended))
    month = draw(numeric_field(1, 12))
    dow = draw(dow_field(extended))
    parts = [minute.text, hour.text, dom.text, month.text, dow.text]
    if sec is not None:
        parts.insert(0, sec.text)
    return Expr(" ".join(parts), sec, minute, hour, dom, month, dow)


# -- the reference -------------------------------------------------------------------------


def nearest_weekday(year: int, month: int, day: int) -> int:
    last = calendar.monthrange(year, month)[1]
    weekday = date(year, month, day).weekday()  # Monday = 0
    if weekday == 5:
        return day - 1 if day > 1 else day + 2
    if weekday == 6:
        return day + 1 if day < last else day - 2
    return day


def dom_matches(f: Field, d: date) -> bool:
    last = calendar.monthrange(d.year, d.month)[1]
    if d.day in f.values:
        return True
    for item in f.specials:
        if item == "L" and d.day == last:
            return True
        if item.startswith("L-") and d.day == last - int(item[2:]):
            return True
        if item == "LW":
            target = last
            while date(d.year, d.month, target).weekday() >= 5:
                target -= 1
            if d.day == target:
                return True
        if item.endswith("W") and item[:-1].isdigit():
            n = min(int(item[:-1]), last)  # 31W in a 30-day month: nearest the last day
            if d.day == nearest_weekday(d.year, d.month, n):
                return True
    return False


def dow_matches(f: Field, d: date) -> bool:
    cron_weekday = (d.weekday() + 1) % 7
    if cron_weekday in f.values:
        return True
    last = calendar.monthrange(d.year, d.month)[1]
    for item in f.specials:
        if item.endswith("L") and int(item[:-1]) % 7 == cron_weekday and d.day + 7 > last:
            return True
        if "#" in item:
            w, n = item.split("#")
            if int(w) % 7 == cron_weekday and (d.day - 1) // 7 + 1 == int(n):
                return True
    return False


def wall_matches(e: Expr, dt: datetime) -> bool:
    if e.seconds is None:
        if dt.second != 0:
            return False
    elif dt.second not in e.seconds.values:
        return False
    if dt.minute not in e.minutes.values or dt.hour not in e.hours.values:
        return False
    if dt.month not in e.months.values:
        return False
    d = dt.date()
    dom, dow = dom_matches(e.dom, d), dow_matches(e.dow, d)
    if e.dom.text.startswith("*") or e.dow.text.startswith("*"):
        return dom and dow
    return dom or dow


def reference_fires(e: Expr, zone: str, start: datetime, window: timedelta) -> list[datetime]:
    """Walk real time step by step; a wall time that matches fires, with the DST rules."""
    tz = ZoneInfo(zone)
    step = timedelta(seconds=1 if e.seconds is not None else 60)
    # First candidate instant: the next whole step strictly after start.
    u = start.astimezone(UTC).replace(microsecond=0)
    if e.seconds is None:
        u = u.replace(second=0)
    u += step
    end = start.astimezone(UTC) + window
    out: list[datetime] = []
    prev_wall = (u - step).astimezone(tz).replace(tzinfo=None)
    while u <= end:
        here = u.astimezone(tz)
        wall = here.replace(tzinfo=None, fold=0)
        fire = wall_matches(e, wall) and (not e.fixed_time or here.fold == 0)
        if not fire and e.fixed_time and wall - prev_wall > step:
            # Spring forward: the wall times in between never happened; a fixed-time fire among
            # them runs now, at the first instant after the gap.
            probe = prev_wall + step
            while probe < wall and not fire:
                fire = wall_matches(e, probe)
                probe += step
        if fire:
            out.append(here)
        prev_wall = wall
        u += step
    return out


def engine_fires(trigger: CronTrigger, start: datetime, window: timedelta) -> list[datetime]:
    end = start.timestamp() + window.total_seconds()
    out: list[datetime] = []
    current = trigger.get_next_run(start)
    while current is not None and current.timestamp() <= end:
        out.append(current)
        current = trigger.get_next_run(current)
    return out


@cache
def transitions(zone: str) -> tuple[datetime, ...]:
    """UTC instants (to the hour) around which the zone's offset changes, 2008-2024."""
    tz = ZoneInfo(zone)
    out = []
    t = datetime(2008, 1, 1, tzinfo=UTC)
    prev = t.astimezone(tz).utcoffset()
    while t.year < 2025:
        t += timedelta(hours=6)
        offset = t.astimezone(tz).utcoffset()
        if offset != prev:
            out.append(t)
        prev = offset
    return tuple(out)


@st.composite
def starts(draw: st.DrawFn, zone: str) -> datetime:
    marks = transitions(zone)
    if marks and draw(st.integers(0, 3)) > 0:
        base = draw(st.sampled_from(marks))
        start = base - timedelta(seconds=draw(st.integers(0, 36 * 3600)))
    else:
        start = datetime(1995, 1, 1, tzinfo=UTC) + timedelta(
            seconds=draw(st.integers(0, 50 * 365 * 86400))
        )
    start += timedelta(microseconds=draw(st.sampled_from([0, 0, 1, 500_000])))
    return start.astimezone(ZoneInfo(zone))


def make(e: Expr, zone: str) -> CronTrigger:
    try:
        return CronTrigger(e.text, zone)
    except CronParseError as exc:
        assert "never matches" in str(exc), exc
        assume(False)
        raise


# No example database: the tests must not write into the working tree.
COMMON = settings(deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])


@settings(COMMON, max_examples=150)
@given(data=st.data(), e=expressions(seconds=False), zone=st.sampled_from(ZONES))
def test_cron_next_equals_brute_force_minute_scan(data: st.DataObject, e: Expr, zone: str) -> None:
    trigger = make(e, zone)
    start = data.draw(starts(zone))
    window = timedelta(hours=40)
    expected = reference_fires(e, zone, start, window)
    got = engine_fires(trigger, start, window)
    assert [g.timestamp() for g in got] == [x.timestamp() for x in expected]
    assert [g.utcoffset() for g in got] == [x.utcoffset() for x in expected]


@settings(COMMON, max_examples=60)
@given(data=st.data(), e=expressions(seconds=True), zone=st.sampled_from(ZONES))
def test_cron_six_field_next_equals_brute_force_second_scan(
    data: st.DataObject, e: Expr, zone: str
) -> None:
    trigger = make(e, zone)
    start = data.draw(starts(zone))
    window = timedelta(minutes=100)
    expected = reference_fires(e, zone, start, window)
    got = engine_fires(trigger, start, window)
    assert [g.timestamp() for g in got] == [x.timestamp() for x in expected]


@settings(COMMON, max_examples=200)
@given(data=st.data(), e=expressions(), zone=st.sampled_from(ZONES))
def test_cron_previous_of_next_is_at_or_before_and_runs_strictly_increase(
    data: st.DataObject, e: Expr, zone: str
) -> None:
    trigger = make(e, zone)
    t = data.draw(starts(zone))
    stamps = []
    current: datetime | None = t
    for _ in range(6):
        assert current is not None
        nxt = trigger.get_next_run(current)
        if nxt is None:
            break
        assert nxt.timestamp() > current.timestamp()
        back = trigger.get_previous_run(nxt)
        assert back is None or back.timestamp() <= current.timestamp()
        if current is not t:
            # Between two consecutive fires there is no other fire: prev(next) is the last one.
            assert back is not None and back.timestamp() == current.timestamp()
        stamps.append(nxt.timestamp())
        current = nxt
    assert stamps == sorted(set(stamps))


@settings(COMMON, max_examples=150)
@given(data=st.data(), e=expressions(), zone=st.sampled_from(ZONES))
def test_cron_previous_runs_strictly_decrease_and_next_of_previous_is_after(
    data: st.DataObject, e: Expr, zone: str
) -> None:
    trigger = make(e, zone)
    t = data.draw(starts(zone))
    current: datetime | None = t
    for _ in range(5):
        assert current is not None
        prev = trigger.get_previous_run(current)
        if prev is None:
            break
        assert prev.timestamp() < current.timestamp()
        forward = trigger.get_next_run(prev)
        # The first fire after prev(t) is t itself or later: nothing lies between.
        assert forward is not None and forward.timestamp() >= current.timestamp()
        current = prev


@st.composite
def near_transition_expressions(draw: st.DrawFn) -> Expr:
    """Daily expressions whose times cluster where transitions happen (00:00-03:59)."""
    with_seconds = draw(st.integers(0, 4)) == 0
    sec = Field("0", frozenset({0})) if with_seconds else None
    if with_seconds and draw(st.booleans()):
        sec = Field("*/20", frozenset({0, 20, 40}))
    minute_text = draw(st.sampled_from(["0", "15", "30", "45", "0,30", "*/15", "*/7", "*",
                                        "10-40/10", "59"]))  # fmt: skip
    hour_text = draw(st.sampled_from(["0", "1", "2", "3", "1-3", "0,2", "*/2", "*", "2/3",
                                      "23"]))  # fmt: skip
    minute = Field(minute_text, _values(minute_text, 59))
    hour = Field(hour_text, _values(hour_text, 23))
    star = Field("*", frozenset(range(1, 32)))
    months = Field("*", frozenset(range(1, 13)))
    dows = Field("*", frozenset(range(7)))
    parts = [minute_text, hour_text, "*", "*", "*"]
    if sec is not None:
        parts.insert(0, sec.text)
    return Expr(" ".join(parts), sec, minute, hour, star, months, dows)


def _values(text: str, hi: int) -> frozenset[int]:
    out: set[int] = set()
    for item in text.split(","):
        body, _, step_text = item.partition("/")
        step = int(step_text) if step_text else 1
        if body == "*":
            lo_v, hi_v = 0, hi
        elif "-" in body:
            lo_v, hi_v = (int(x) for x in body.split("-"))
        else:
            lo_v = int(body)
            hi_v = hi if step_text else lo_v
        out.update(range(lo_v, hi_v + 1, step))
    return frozenset(out)


DST_ZONES = [z for z in ZONES if z != "UTC"] + ["Pacific/Apia", "Europe/Dublin"]


@settings(COMMON, max_examples=250)
@given(data=st.data(), e=near_transition_expressions(), zone=st.sampled_from(DST_ZONES))
def test_cron_near_transitions_equals_brute_force(data: st.DataObject, e: Expr, zone: str) -> None:
    trigger = make(e, zone)
    mark = data.draw(st.sampled_from(transitions(zone)))
    before = timedelta(minutes=data.draw(st.integers(0, 30 * 60)))
    start = (mark - before).astimezone(ZoneInfo(zone))
    window = timedelta(hours=6) if e.seconds is not None else timedelta(hours=36)
    expected = reference_fires(e, zone, start, window)
    got = engine_fires(trigger, start, window)
    assert [g.timestamp() for g in got] == [x.timestamp() for x in expected]
    # And backwards: each fire's predecessor is the fire before it.
    for earlier, later in pairwise(got):
        back = trigger.get_previous_run(later)
        assert back is not None and back.timestamp() == earlier.timestamp()
