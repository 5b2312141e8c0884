"""The n-th business day of each month ("the last business day of the month at 18:00")."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, tzinfo
from typing import Any, NoReturn

from .._tz import resolve_zone
from ..errors import InvalidTriggerError
from ._wall import US, resolve_wall, to_utc
from .calendars import BusinessCalendar
from .combinations import TriggerOperators

__all__ = ["BusinessDayTrigger"]

#: Months searched before the trigger is declared exhausted (a calendar with almost no
#: business days): about 10 years.
_MAX_MONTHS = 120


def _ordinal(n: int) -> str:
    if 10 <= n % 100 <= 20:
        return f"{n}th"
    return f"{n}{({1: 'st', 2: 'nd', 3: 'rd'}).get(n % 10, 'th')}"


def _whole(name: str, value: object, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise InvalidTriggerError(
            f"{name}: expected a whole number {low}-{high}, got {type(value).__name__} {value!r}"
        )
    return value


class BusinessDayTrigger(TriggerOperators):
    """Fires on the ``day``-th business day of every month at ``hour:minute:second``.

    ``day=1`` is the first business day, ``day=3`` the third, ``day=-1`` the last and ``day=-2``
    the one before it. Business days come from ``calendar`` and are counted in the trigger's
    zone. A month with fewer business days than ``|day|`` has no fire.

    ``BusinessDayTrigger(BusinessCalendar("DE", "HE"), day=-1, hour=18, timezone="Europe/Berlin")``
    reads "at 18:00 on the last business day of every month, Germany (Hessen) holidays and
    weekends excluded".

    Raises:
        InvalidTriggerError: ``calendar`` is not a BusinessCalendar, ``day`` is 0 or outside
            -23..23, a time field is out of range, an unknown zone, or ``end`` before ``start``.
    """

    __slots__ = ("_calendar", "_day", "_end", "_start", "_time", "_tz")

    _calendar: BusinessCalendar
    _day: int
    _time: time
    _tz: tzinfo
    _start: datetime | None
    _end: datetime | None

    def __init__(
        self,
        calendar: BusinessCalendar,
        day: int = 1,
        *,
        hour: int = 0,
        minute: int = 0,
        second: int = 0,
        timezone: str | tzinfo | None = None,
        start: datetime | None = None,
        end: datetime | None = None,
    ) -> None:
        if not isinstance(calendar, BusinessCalendar):
            raise InvalidTriggerError(
                f"calendar: expected a BusinessCalendar, got {type(calendar).__name__} {calendar!r}"
            )
        if isinstance(day, bool) or not isinstance(day, int) or day == 0 or not -23 <= day <= 23:
            raise InvalidTriggerError(
                f"day: expected a business-day position 1..23 or -1..-23 (1 = first, -1 = last), "
                f"got {day!r}"
            )
        clock = time(_whole("hour", hour, 0, 23), _whole("minute", minute, 0, 59),
                     _whole("second", second, 0, 59))  # fmt: skip
        tz = (
            resolve_zone(timezone)
            if timezone is not None
            else (calendar.timezone or resolve_zone(None))
        )
        bounds: list[datetime | None] = []
        for name, value in (("start", start), ("end", end)):
            if value is None:
                bounds.append(None)
            elif isinstance(value, datetime):
                bounds.append((value if value.tzinfo else value.replace(tzinfo=tz)).astimezone(tz))
            else:
                raise InvalidTriggerError(
                    f"{name}: expected a datetime, got {type(value).__name__} {value!r}"
                )
        if bounds[0] is not None and bounds[1] is not None and bounds[1] < bounds[0]:
            raise InvalidTriggerError(
                f"end ({bounds[1].isoformat()}) is before start ({bounds[0].isoformat()}); end "
                "must be at or after start"
            )
        init = object.__setattr__
        init(self, "_calendar", calendar)
        init(self, "_day", day)
        init(self, "_time", clock)
        init(self, "_tz", tz)
        init(self, "_start", bounds[0])
        init(self, "_end", bounds[1])

    def __setattr__(self, name: str, value: object) -> NoReturn:
        raise AttributeError(f"BusinessDayTrigger is immutable; cannot set {name!r}")

    def _key(self) -> tuple[Any, ...]:
        return (self._calendar, self._day, self._time, getattr(self._tz, "key", str(self._tz)),
                None if self._start is None else to_utc(self._start),
                None if self._end is None else to_utc(self._end))  # fmt: skip

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, BusinessDayTrigger):
            return NotImplemented
        return self._key() == other._key()

    def __hash__(self) -> int:
        return hash(self._key())

    def __reduce__(self) -> tuple[Any, ...]:
        return (_restore, (self._calendar, self._day, self._time, self._tz, self._start,
                           self._end))  # fmt: skip

    def __repr__(self) -> str:
        parts = [repr(self._calendar), f"day={self._day}"]
        parts += [f"{n}={getattr(self._time, n)}" for n in ("hour", "minute", "second")
                  if getattr(self._time, n)]  # fmt: skip
        parts.append(f"timezone={getattr(self._tz, 'key', str(self._tz))!r}")
        if self._start is not None:
            parts.append(f"start={self._start.isoformat()!r}")
        if self._end is not None:
            parts.append(f"end={self._end.isoformat()!r}")
        return f"BusinessDayTrigger({', '.join(parts)})"

    def __str__(self) -> str:
        return self.describe()

    @property
    def calendar(self) -> BusinessCalendar:
        return self._calendar

    @property
    def day(self) -> int:
        return self._day

    @property
    def at(self) -> time:
        """The wall-clock time of each fire."""
        return self._time

    @property
    def timezone(self) -> tzinfo:
        return self._tz

    @property
    def start(self) -> datetime | None:
        return self._start

    @property
    def end(self) -> datetime | None:
        return self._end

    def describe(self) -> str:
        """E.g. ``"at 18:00 on the last business day of every month, Germany (Hessen) holidays
        and weekends excluded"``."""
        clock = self._time
        at = f"{clock.hour:02d}:{clock.minute:02d}" + (
            f":{clock.second:02d}" if clock.second else ""
        )
        n = self._day
        if n == 1:
            which = "first"
        elif n == -1:
            which = "last"
        elif n > 0:
            which = _ordinal(n)
        else:
            which = f"{_ordinal(-n)}-to-last"
        return (
            f"at {at} on the {which} business day of every month, "
            f"{self._calendar.describe()} excluded"
        )

    def business_day_in(self, year: int, month: int) -> date | None:
        """The date this trigger fires on in a month, or None (too few business days)."""
        days = self._calendar.business_days(year, month)
        n = self._day
        index = n - 1 if n > 0 else n
        if -len(days) <= index < len(days):
            return days[index]
        return None

    def get_next_run(self, from_time: datetime | None = None) -> datetime | None:
        """The first fire strictly after ``from_time`` (default now), in the trigger's zone."""
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
            u = to_utc(from_time if from_time.tzinfo is not None else from_time.replace(tzinfo=tz))
        if self._start is not None:
            u = max(u, to_utc(self._start) - US)
        local = u.astimezone(tz)
        year, month = local.year, local.month
        for _ in range(_MAX_MONTHS):
            day = self.business_day_in(year, month)
            if day is not None:
                fire = resolve_wall(datetime.combine(day, self._time), tz)
                if to_utc(fire) > u:
                    if self._end is not None and to_utc(fire) > to_utc(self._end):
                        return None
                    return fire
            month += 1
            if month == 13:
                year, month = year + 1, 1
                if year > 9999:
                    return None
        return None


def _restore(
    calendar: BusinessCalendar,
    day: int,
    clock: time,
    tz: tzinfo,
    start: datetime | None,
    end: datetime | None,
) -> BusinessDayTrigger:
    return BusinessDayTrigger(calendar, day, hour=clock.hour, minute=clock.minute,
                              second=clock.second, timezone=tz, start=start, end=end)  # fmt: skip
