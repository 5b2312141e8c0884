"""The interval trigger: fires every fixed span of elapsed time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, tzinfo

from .._tz import clip, ensure_aware, local_zone, resolve_zone
from ..errors import InvalidTriggerError
from ._wall import span_text
from .combinations import TriggerOperators

__all__ = ["IntervalTrigger"]

_ZERO = timedelta(0)
#: The longest interval: the whole span of ``datetime`` (year 1 to year 9999). A longer one
#: could never fire twice, and ``timedelta.max`` would overflow at the first addition.
MAX_INTERVAL = datetime.max - datetime.min
_MAX_DAYS = MAX_INTERVAL.days + 1
#: Each unit's length in days, to bound a unit before ``timedelta`` sees it.
_UNIT_DAYS = {
    "interval": 1 / 86400,
    "weeks": 7.0,
    "days": 1.0,
    "hours": 1 / 24,
    "minutes": 1 / 1440,
    "seconds": 1 / 86400,
    "milliseconds": 1 / 86_400_000,
}


def _number(name: str, value: object) -> float:
    """``value`` as a float, refused unless it is a finite number whose size fits the whole
    datetime range (``days=10**12`` or ``seconds=1e300`` would overflow ``timedelta``)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidTriggerError(
            f"{name}: expected a number, got {type(value).__name__} {clip(value)}"
        )
    limit = _MAX_DAYS / _UNIT_DAYS[name]
    try:
        number = float(value)
    except OverflowError:  # an int beyond float range
        number = limit * 2
    if number != number or number in (float("inf"), float("-inf")):
        raise InvalidTriggerError(f"{name}: expected a finite number, got {clip(value)}")
    if abs(number) > limit:
        raise InvalidTriggerError(
            f"{name}: {clip(value)} is too long; allowed at most {limit:.7g} {name} in "
            f"absolute value (the whole datetime range, {MAX_INTERVAL.days:,} days)"
        )
    return number


def _restore(
    interval: timedelta,
    start: datetime | None,
    end: datetime | None,
    timezone: tzinfo | None = None,
) -> IntervalTrigger:
    return IntervalTrigger(interval, start=start, end=end, timezone=timezone)


class IntervalTrigger(TriggerOperators):
    """Fires every ``interval`` of elapsed (UTC) time.

    ``IntervalTrigger(seconds=30)``, ``IntervalTrigger(timedelta(minutes=5))`` and
    ``IntervalTrigger(2.5)`` (seconds) are all accepted; the units add up.

    With ``start``, fires lie on the grid ``start + k * interval`` (``start`` itself included);
    without it, a job's first fire is one interval after it is scheduled and each later fire one
    interval after the previous *scheduled* fire, so fires never drift. ``end`` (inclusive) bounds
    the last fire. Because the interval is elapsed time, a DST change does not stretch or shrink
    it; use a cron trigger for wall-clock times.

    ``timezone`` (an IANA name or a tzinfo) is the zone a naive ``start``/``end`` is read in
    (default: local time) and the zone a job's ``next_run`` is shown in; it never changes when
    the trigger fires. Without it, :attr:`timezone` is ``start``'s zone, or None (the
    scheduler's zone is used).

    Raises:
        InvalidTriggerError: the interval is not positive or longer than :data:`MAX_INTERVAL`
            (year 1 to 9999), a unit is not a finite number, ``end`` is before ``start``, or one
            of them is naive while the other is aware.
    """

    __slots__ = ("_zone_given", "end", "interval", "start")

    interval: timedelta
    start: datetime | None
    end: datetime | None
    _zone_given: tzinfo | None

    def __init__(
        self,
        interval: timedelta | float | None = None,
        *,
        weeks: float = 0,
        days: float = 0,
        hours: float = 0,
        minutes: float = 0,
        seconds: float = 0,
        milliseconds: float = 0,
        start: datetime | None = None,
        end: datetime | None = None,
        timezone: str | tzinfo | None = None,
    ) -> None:
        units = {
            "weeks": _number("weeks", weeks),
            "days": _number("days", days),
            "hours": _number("hours", hours),
            "minutes": _number("minutes", minutes),
            "seconds": _number("seconds", seconds),
            "milliseconds": _number("milliseconds", milliseconds),
        }
        given = [f"{name}={value:g}" for name, value in units.items() if value]
        try:
            # each unit is bounded above, so only their sum can overflow
            total = timedelta(**units)
            if interval is not None:
                if isinstance(interval, timedelta):
                    given.insert(0, f"interval=timedelta(seconds={interval.total_seconds():g})")
                    total += interval
                else:
                    number = _number("interval", interval)
                    given.insert(0, f"interval={number:g}")
                    total += timedelta(seconds=number)
        except OverflowError:
            total = timedelta.max
        if abs(total) > MAX_INTERVAL:
            raise InvalidTriggerError(
                f"interval: {', '.join(given)} is too long; allowed at most "
                f"{MAX_INTERVAL.days:,} days (the whole datetime range, year 1 to 9999)"
            )
        if total <= _ZERO:
            got = (
                f"got {', '.join(given)} ({total.total_seconds():g} s in total)"
                if given
                else "got no length at all (weeks, days, hours, minutes, seconds and "
                "milliseconds are all 0)"
            )
            if given and total == _ZERO:
                got += ", shorter than the 1 microsecond resolution"
            raise InvalidTriggerError(
                f"interval: must be positive, {got}; give a positive span such as seconds=30, "
                "minutes=5 or timedelta(minutes=5)"
            )
        if (
            start is not None
            and end is not None
            and (
                (start.tzinfo is None) != (end.tzinfo is None)
                if isinstance(start, datetime) and isinstance(end, datetime)
                else False
            )
        ):
            raise InvalidTriggerError(
                f"start/end: one is naive and the other aware (start={start!r}, end={end!r}); "
                "give both with a tzinfo, or both without"
            )
        given_zone = None if timezone is None else resolve_zone(timezone)
        zone = local_zone() if given_zone is None else given_zone
        start_aware = None if start is None else ensure_aware(start, zone, field="start")
        end_aware = None if end is None else ensure_aware(end, zone, field="end")
        if start_aware is not None and end_aware is not None and end_aware < start_aware:
            raise InvalidTriggerError(
                f"end: {end_aware.isoformat()} is before start {start_aware.isoformat()}; "
                "end must be at or after start"
            )
        object.__setattr__(self, "interval", total)
        object.__setattr__(self, "start", start_aware)
        object.__setattr__(self, "end", end_aware)
        object.__setattr__(self, "_zone_given", given_zone)

    @property
    def timezone(self) -> tzinfo | None:
        """The zone given as ``timezone=``, else ``start``'s zone, else None."""
        if self._zone_given is not None:
            return self._zone_given
        return None if self.start is None else self.start.tzinfo

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"{type(self).__name__} is immutable")

    @property
    def relative(self) -> bool:
        """True without ``start``: each fire counts from the instant the trigger is asked about
        (the previous fire), so there is no fixed grid of fire times."""
        return self.start is None

    def _zone(self, from_time: datetime) -> tzinfo:
        if self.start is not None and self.start.tzinfo is not None:
            return self.start.tzinfo
        return from_time.tzinfo or UTC

    def get_next_run(self, from_time: datetime | None = None) -> datetime | None:
        """Return the first fire strictly after ``from_time`` (default now), or None past ``end``
        or past year 9999 (where datetimes end: the trigger is exhausted, never an error).

        A naive ``from_time`` is read in the local zone. The result is aware: in ``start``'s zone
        when ``start`` is given, else in ``from_time``'s zone (the local zone for a naive one, UTC
        for None).

        Raises:
            InvalidTriggerError: ``from_time`` is not a datetime.
        """
        if from_time is None:
            from_time = datetime.now(UTC)
        elif from_time.__class__ is datetime and from_time.tzinfo is UTC and self.start is None:
            # fast path (the engine's case): UTC arithmetic is elapsed time already
            try:
                candidate = from_time + self.interval
            except OverflowError:  # past year 9999: no fire is left
                return None
            return None if self.end is not None and candidate > self.end else candidate
        else:
            # ensure_aware refuses a non-datetime with an error naming from_time
            from_time = ensure_aware(from_time, local_zone(), field="from_time")
        try:
            return self._next_after(from_time)
        except OverflowError:  # the next fire would be past year 9999: the trigger is done
            return None

    def _next_after(self, from_time: datetime) -> datetime | None:
        # Arithmetic in UTC: adding a timedelta to a ZoneInfo-aware datetime is wall-clock
        # arithmetic, which would stretch an interval across a DST change.
        base = from_time.astimezone(UTC)
        if self.start is None:
            candidate = base + self.interval
        else:
            start = self.start.astimezone(UTC)
            if base < start:
                candidate = start
            else:
                # timedelta // timedelta is exact integer microseconds: no float drift.
                steps = (base - start) // self.interval + 1
                candidate = start + steps * self.interval
        if self.end is not None and candidate > self.end:
            return None
        return candidate.astimezone(self._zone(from_time))

    def get_first_run(self, now: datetime) -> datetime | None:
        """The first fire of a job created at ``now``: ``start`` itself when the job is created
        at that very instant (or before it), else the next fire after ``now``."""
        if self.start is not None:
            aware = ensure_aware(now, local_zone(), field="now")
            if self.start >= aware and (self.end is None or self.start <= self.end):
                return self.start
        return self.get_next_run(now)

    def __reduce__(self) -> tuple[object, ...]:
        # The default reduce would restore the slots through __setattr__, which refuses.
        return (_restore, (self.interval, self.start, self.end, self._zone_given))

    def __eq__(self, other: object) -> bool:
        return isinstance(other, IntervalTrigger) and (other.interval, other.start, other.end) == (
            self.interval,
            self.start,
            self.end,
        )

    def __hash__(self) -> int:
        return hash((IntervalTrigger, self.interval, self.start, self.end))

    def __repr__(self) -> str:
        parts = [f"interval={self.interval!r}"]
        if self.start is not None:
            parts.append(f"start={self.start.isoformat()!r}")
        if self.end is not None:
            parts.append(f"end={self.end.isoformat()!r}")
        return f"IntervalTrigger({', '.join(parts)})"

    def __str__(self) -> str:
        return self.describe()

    def describe(self) -> str:
        """E.g. ``"every 0.4 s"``, ``"every 1 h 30 min"``, plus the bounds when set."""
        text = f"every {span_text(self.interval)}"
        if self.start is not None:
            text += f" from {self.start.isoformat()}"
        if self.end is not None:
            text += f" until {self.end.isoformat()}"
        return text
