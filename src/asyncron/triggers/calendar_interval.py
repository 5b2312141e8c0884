"""The calendar-interval trigger: every N years/months/weeks/days at a wall-clock time.

Fire k is computed from the anchor date directly (anchor + k steps), never from the previous
fire, so a month without the anchor's day (the 31st) does not pull later fires to an earlier
day, and the wall-clock time never drifts across DST changes.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta, tzinfo
from datetime import timezone as dt_timezone
from typing import Any, NoReturn

from .._tz import resolve_zone
from ..errors import InvalidTriggerError
from ._cron_parse import month_length
from ._wall import US, resolve_wall, to_utc
from .combinations import TriggerOperators

__all__ = ["CalendarIntervalTrigger"]

MISSING_DAY = ("skip", "clamp")
_AVG_MONTH_DAYS = 365.2425 / 12
_MAX_STEPS = 10_000


def _whole(name: str, value: object, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise InvalidTriggerError(
            f"{name}: expected a whole number {low}-{high}, got {type(value).__name__} {value!r}"
        )
    return value


def _plural(n: int, unit: str) -> str:
    return unit if n == 1 else f"{n} {unit}s"


class CalendarIntervalTrigger(TriggerOperators):
    """Fires every ``years``/``months``/``weeks``/``days`` at ``hour:minute:second`` wall time.

    ``CalendarIntervalTrigger(months=2, hour=10, timezone="Europe/Berlin", start=date(2026, 1,
    31))`` fires at 10:00 on 2026-01-31, 2026-03-31, 2026-05-31, ...; the steps add up (months
    first, then weeks and days).

    Args:
        years: the step in years (whole numbers, 0 or more; at least one step is positive).
        months: the step in months.
        weeks: the step in weeks.
        days: the step in days.
        hour: the wall-clock hour of each fire (0-23).
        minute: its minute (0-59).
        second: its second (0-59).
        timezone: an IANA name, a tzinfo, or None for the local zone.
        start: the anchor: a date, or a datetime (its date in ``timezone`` is the anchor and no
            fire is earlier than it). Default: today in ``timezone``, fixed at construction.
        end: the last allowed fire: a date (fires on that day included) or a datetime.
        missing_day: for a month without the anchor's day (the 31st in April, the 29th of
            February): ``"skip"`` (default, no fire that month) or ``"clamp"`` (the month's
            last day).

    A wall time in a spring-forward gap runs at the first instant after the gap; one in a
    fall-back overlap runs once, at its first occurrence.

    Raises:
        InvalidTriggerError: no positive step, a value out of range, an unknown zone or
            missing_day, or ``end`` before ``start``.
    """

    __slots__ = (
        "_anchor",
        "_days",
        "_end",
        "_end_date",
        "_fixed",
        "_missing",
        "_months",
        "_start",
        "_time",
        "_tz",
        "_units",
    )

    _anchor: date
    _start: datetime | None
    _end: datetime | None
    _end_date: date | None
    _fixed: bool
    _missing: str
    _months: int
    _days: int
    _time: time
    _tz: tzinfo
    _units: tuple[int, int, int, int]

    def __init__(
        self,
        *,
        years: int = 0,
        months: int = 0,
        weeks: int = 0,
        days: int = 0,
        hour: int = 0,
        minute: int = 0,
        second: int = 0,
        timezone: str | tzinfo | None = None,
        start: date | datetime | None = None,
        end: date | datetime | None = None,
        missing_day: str = "skip",
    ) -> None:
        units = (
            _whole("years", years, 0, 9999),
            _whole("months", months, 0, 120_000),
            _whole("weeks", weeks, 0, 520_000),
            _whole("days", days, 0, 3_650_000),
        )
        if not any(units):
            raise InvalidTriggerError(
                "interval: years, months, weeks and days are all 0; give a positive step such "
                "as months=1 or days=7"
            )
        clock = time(_whole("hour", hour, 0, 23), _whole("minute", minute, 0, 59),
                     _whole("second", second, 0, 59))  # fmt: skip
        if missing_day not in MISSING_DAY:
            raise InvalidTriggerError(
                f"missing_day: {missing_day!r} is not allowed; allowed 'skip' (no fire in a month "
                "without that day) or 'clamp' (the month's last day)"
            )
        tz = resolve_zone(timezone)
        start_dt: datetime | None = None
        if start is None:
            anchor = datetime.now(tz).date()
        elif isinstance(start, datetime):
            start_dt = (start if start.tzinfo else start.replace(tzinfo=tz)).astimezone(tz)
            anchor = start_dt.date()
        elif isinstance(start, date):
            anchor = start
        else:
            raise InvalidTriggerError(
                f"start: expected a date or a datetime, got {type(start).__name__} {start!r}"
            )
        end_dt: datetime | None = None
        end_date: date | None = None
        if isinstance(end, datetime):
            end_dt = (end if end.tzinfo else end.replace(tzinfo=tz)).astimezone(tz)
        elif isinstance(end, date):
            end_date = end
        elif end is not None:
            raise InvalidTriggerError(
                f"end: expected a date or a datetime, got {type(end).__name__} {end!r}"
            )
        last = end_dt.date() if end_dt is not None else end_date
        if last is not None and last < anchor:
            raise InvalidTriggerError(
                f"end ({last.isoformat()}) is before start ({anchor.isoformat()}); end must be "
                "at or after start"
            )
        init = object.__setattr__
        init(self, "_units", units)
        init(self, "_months", units[0] * 12 + units[1])
        init(self, "_days", units[2] * 7 + units[3])
        init(self, "_time", clock)
        init(self, "_tz", tz)
        init(self, "_fixed", isinstance(tz, dt_timezone))  # one offset forever: no DST checks
        init(self, "_anchor", anchor)
        init(self, "_start", start_dt)
        init(self, "_end", end_dt)
        init(self, "_end_date", end_date)
        init(self, "_missing", missing_day)

    # -- value behaviour ------------------------------------------------------------------
    def __setattr__(self, name: str, value: object) -> NoReturn:
        raise AttributeError(f"CalendarIntervalTrigger is immutable; cannot set {name!r}")

    def _key(self) -> tuple[Any, ...]:
        return (self._units, self._time, getattr(self._tz, "key", str(self._tz)), self._anchor,
                None if self._start is None else to_utc(self._start),
                None if self._end is None else to_utc(self._end), self._end_date,
                self._missing)  # fmt: skip

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, CalendarIntervalTrigger):
            return NotImplemented
        return self._key() == other._key()

    def __hash__(self) -> int:
        return hash(self._key())

    def __reduce__(self) -> tuple[Any, ...]:
        return (_restore, (self.to_kwargs(),))

    def to_kwargs(self) -> dict[str, Any]:
        """The constructor arguments that rebuild this trigger (``start`` as resolved)."""
        years, months, weeks, days = self._units
        return {
            "years": years, "months": months, "weeks": weeks, "days": days,
            "hour": self._time.hour, "minute": self._time.minute, "second": self._time.second,
            "timezone": self._tz,
            "start": self._start if self._start is not None else self._anchor,
            "end": self._end if self._end is not None else self._end_date,
            "missing_day": self._missing,
        }  # fmt: skip

    def __repr__(self) -> str:
        kwargs = self.to_kwargs()
        parts = [f"{k}={v}" for k in ("years", "months", "weeks", "days") if (v := kwargs[k])]
        parts += [f"{k}={kwargs[k]}" for k in ("hour", "minute", "second") if kwargs[k]]
        parts.append(f"timezone={getattr(self._tz, 'key', str(self._tz))!r}")
        start = kwargs["start"]
        parts.append(f"start={start.isoformat()!r}")
        if kwargs["end"] is not None:
            parts.append(f"end={kwargs['end'].isoformat()!r}")
        if self._missing != "skip":
            parts.append(f"missing_day={self._missing!r}")
        return f"CalendarIntervalTrigger({', '.join(parts)})"

    def __str__(self) -> str:
        return self.describe()

    @property
    def timezone(self) -> tzinfo:
        return self._tz

    @property
    def anchor(self) -> date:
        """The date of fire 0; fire k is k steps after it."""
        return self._anchor

    @property
    def start(self) -> datetime | None:
        return self._start

    @property
    def end(self) -> datetime | date | None:
        return self._end if self._end is not None else self._end_date

    @property
    def missing_day(self) -> str:
        return self._missing

    def describe(self) -> str:
        """E.g. ``"at 10:00 every 2 months from 2026-01-31 (a month without day 31 is
        skipped)"``."""
        years, months, weeks, days = self._units
        steps = [_plural(n, u) for n, u in ((years, "year"), (months, "month"),
                                              (weeks, "week"), (days, "day")) if n]  # fmt: skip
        clock = self._time
        at = f"{clock.hour:02d}:{clock.minute:02d}"
        if clock.second:
            at += f":{clock.second:02d}"
        text = f"at {at} every {' and '.join(steps)} from {self._anchor.isoformat()}"
        if self._months and self._anchor.day > 28:
            day = self._anchor.day
            text += (
                f" (a month without day {day} is skipped)"
                if self._missing == "skip"
                else f" (a month without day {day} uses its last day)"
            )
        return text

    # -- fires ----------------------------------------------------------------------------
    def _date(self, k: int) -> date | None:
        """The date of fire ``k``, or None when that month lacks the day (skip policy).

        Raises OverflowError past year 9999 (callers stop there).
        """
        anchor = self._anchor
        day = anchor.day
        if self._months:
            total = anchor.month - 1 + k * self._months
            year = anchor.year + total // 12
            month = total % 12 + 1
            if year > 9999:
                raise OverflowError("past year 9999")
            length = month_length(year, month)
            if day > length:
                if self._missing == "skip":
                    return None
                day = length
            base = date(year, month, day)
        else:
            base = anchor
        return base + timedelta(days=k * self._days) if self._days else base

    def _approx_k(self, day: date) -> int:
        """A fire number at or a little before the first fire on or after ``day``."""
        anchor = self._anchor
        if day <= anchor:
            return 0
        # Fire k0 below is the last one dated on or before ``day``; the one before it matters
        # only when it falls on the previous day (a gap over midnight can move it to ``day``).
        if not self._days:  # months only: exact by counting months
            months = (day.year - anchor.year) * 12 + day.month - anchor.month
            return max(0, months // self._months - (1 if day.day == 1 else 0))
        if not self._months:  # days only: exact by counting days
            return max(0, (day - anchor).days // self._days - (1 if self._days == 1 else 0))
        span = (day - anchor).days
        per_step = self._months * _AVG_MONTH_DAYS + self._days
        k = max(0, int(span / per_step) - 2)
        # Step back while fire k's month is already past ``day`` (the estimate is close).
        while k > 0:
            try:
                probe = self._clamped(k)
            except OverflowError:
                k -= max(1, k // 2)
                continue
            if probe <= day:
                break
            k -= 1
        return k

    def _clamped(self, k: int) -> date:
        anchor = self._anchor
        if not self._months:
            return anchor + timedelta(days=k * self._days)
        total = anchor.month - 1 + k * self._months
        year = anchor.year + total // 12
        month = total % 12 + 1
        if year > 9999:
            raise OverflowError("past year 9999")
        d = date(year, month, min(anchor.day, month_length(year, month)))
        return d + timedelta(days=k * self._days) if self._days else d

    def get_next_run(self, from_time: datetime | None = None) -> datetime | None:
        """The first fire strictly after ``from_time`` (default now), aware in the trigger's
        zone, or None past ``end`` or year 9999. A naive ``from_time`` is read in the zone."""
        try:
            return self._next_run(from_time)
        except OverflowError:  # past year 9999 in this zone: exhausted
            return None

    def _next_run(self, from_time: datetime | None) -> datetime | None:
        tz = self._tz
        if from_time is None:
            u = datetime.now(UTC)
        elif not isinstance(from_time, datetime):
            raise InvalidTriggerError(
                f"from_time: expected a datetime, got {type(from_time).__name__} {from_time!r}"
            )
        else:
            aware = from_time if from_time.tzinfo is not None else from_time.replace(tzinfo=tz)
            u = to_utc(aware)
        if self._start is not None:
            u = max(u, to_utc(self._start) - US)
        u_date = u.astimezone(tz).date()
        # A fire on the day before u's date can still be after u (a gap over midnight moves it
        # to the next day); earlier days cannot, and are passed without building a datetime.
        floor = u_date - timedelta(days=1) if u_date > date.min else u_date
        try:
            k = self._approx_k(u_date)
            for _ in range(_MAX_STEPS):
                day = self._date(k)
                k += 1
                if day is None or day < floor:
                    continue
                clock = self._time
                fire = datetime(day.year, day.month, day.day, clock.hour, clock.minute,
                                clock.second, 0, tz)  # fmt: skip
                # u is UTC: an aware comparison across zones compares instants, folds included.
                # Resolving a gap or an overlap never moves the fold=0 reading later, so a
                # candidate already at or before u is passed without the DST check.
                if fire <= u:
                    continue
                if not self._fixed and fire.replace(fold=1).utcoffset() != fire.utcoffset():
                    fire = resolve_wall(fire.replace(tzinfo=None), tz)  # gap or overlap
                    if fire <= u:
                        continue
                if self._end_date is not None and day > self._end_date:
                    return None
                if self._end is not None and to_utc(fire) > to_utc(self._end):
                    return None
                return fire
        except OverflowError:
            return None
        return None


def _restore(kwargs: dict[str, Any]) -> CalendarIntervalTrigger:
    return CalendarIntervalTrigger(**kwargs)
