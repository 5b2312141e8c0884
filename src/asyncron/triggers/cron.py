"""Cron trigger: Vixie-cron semantics, exact DST handling, next fire by field jumps.

How the next fire is found
--------------------------
The expression is compiled into lookup tables: for seconds, minutes, hours and months a tuple
``next[v]`` (smallest allowed value >= v, or -1) and its mirror ``prev[v]``; for days a 31-bit
mask per month. A month's matching days depend only on its length and the weekday of its first
day, so at most 28 masks are ever computed per trigger; they are then cached per (year, month).
The search works on plain integers in local *wall* time, carrying into the next field when a
field runs out, and so never scans minute by minute: ``0 0 29 2 *`` jumps straight from one
February to the next. Only the final candidate becomes a ``datetime``.

Time zones and DST
------------------
Wall times are mapped to instants last. A wall time can be normal, in a spring-forward *gap* (it
never happens) or in a fall-back *overlap* (it happens twice). Following Debian's cron, an
expression is "fixed-time" when none of its second, minute and hour fields starts with ``*``:

* fixed-time, gap: fires once, at the first instant after the gap;
* fixed-time, overlap: fires once, at the first occurrence;
* otherwise (wildcards/steps from ``*``): fires at the wall times that really happen, so in an
  overlap it fires in both passes (at distinct instants), and in a gap the missing wall times
  are simply not there. Elapsed time between fires stays regular; nothing doubles, no hour is lost.

Results are aware datetimes in the trigger's zone; the second pass of an overlap carries
``fold=1``. Note that Python compares two datetimes that share a tzinfo by wall time, ignoring
``fold``: compare ``.timestamp()`` values (or UTC datetimes) when order across a fall-back matters.
"""

from __future__ import annotations

import re
from bisect import bisect_left, bisect_right
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone, tzinfo
from typing import Any, NoReturn

from .._tz import ensure_aware, resolve_zone
from ..abc import Trigger
from ..errors import CronParseError, InvalidTriggerError
from ._cron_describe import describe
from ._cron_fields import expression_from_fields
from ._cron_parse import CronSpec, day_mask, first_weekday, month_length, parse_expression

__all__ = ["CronTrigger"]

_Wall = tuple[int, int, int, int, int, int]

_ONE_MICROSECOND = timedelta(microseconds=1)
_ONE_SECOND = timedelta(seconds=1)
_FIXED_KEYS = frozenset(
    {"UTC", "Etc/UTC", "Etc/UCT", "UCT", "Etc/Universal", "Universal", "Etc/Zulu", "Zulu",
     "GMT", "Etc/GMT", "Etc/GMT0", "Etc/GMT+0", "Etc/GMT-0", "GMT0", "GMT+0", "GMT-0",
     "Etc/Greenwich", "Greenwich"}
)  # fmt: skip
_ETC_GMT_RE = re.compile(r"Etc/GMT[+-]\d{1,2}")
_MONTH_CACHE_LIMIT = 4096


def _is_fixed_offset(tz: tzinfo) -> bool:
    """True when ``tz`` has one offset forever, so wall time maps 1:1 onto instants."""
    if isinstance(tz, timezone):
        return True
    key = getattr(tz, "key", None)
    return isinstance(key, str) and (key in _FIXED_KEYS or bool(_ETC_GMT_RE.fullmatch(key)))


def _next_table(values: tuple[int, ...], size: int) -> tuple[int, ...]:
    """``table[v]`` = smallest allowed value >= v, or -1; ``table[size]`` = -1 (carry)."""
    table = [-1] * (size + 1)
    upcoming = -1
    allowed = set(values)
    for v in range(size - 1, -1, -1):
        if v in allowed:
            upcoming = v
        table[v] = upcoming
    return tuple(table)


def _prev_table(values: tuple[int, ...], size: int) -> tuple[int, ...]:
    """``table[v + 1]`` = largest allowed value <= v, or -1; ``table[0]`` (v = -1) = -1."""
    table = [-1] * (size + 1)
    latest = -1
    allowed = set(values)
    for v in range(size):
        if v in allowed:
            latest = v
        table[v + 1] = latest
    return tuple(table)


def _wall(dt: datetime) -> _Wall:
    return (dt.year, dt.month, dt.day, dt.hour, dt.minute, dt.second)


def _zone_name(tz: tzinfo) -> str:
    key = getattr(tz, "key", None)
    return key if isinstance(key, str) else str(tz)


def _restore(
    expression: str,
    tz: tzinfo,
    start: datetime | None,
    end: datetime | None,
    hash_key: str | None,
) -> CronTrigger:
    return CronTrigger(expression, tz, start=start, end=end, hash_key=hash_key)


class CronTrigger(Trigger):
    """Fires on a cron expression in a time zone; an immutable value.

    ``CronTrigger("0 9 * * mon-fri")`` and, APScheduler's keyword form,
    ``CronTrigger(day_of_week="mon-fri", hour=9)`` are the same trigger.

    Args:
        expression: 5 fields (minute hour day-of-month month day-of-week), 6 with seconds
            first, 7 with a year last, or an alias such as ``@daily``. See ``docs/cron.md``.
        timezone: an IANA name (``"Europe/Berlin"``), a tzinfo, or None for the local zone
            (a scheduler created with ``timezone=`` puts its own zone there instead).
        year: with the other fields below, instead of ``expression``: the fields by keyword
            (str or int, cron syntax each). Fields less significant than the most significant
            one given default to their minimum (``hour=9`` is 09:00:00), the others to ``*``.
        month: a field by keyword (see ``year``).
        day: the day of the month by keyword; not together with ``day_of_week`` (cron ORs
            the two, APScheduler ANDs them).
        day_of_week: by keyword; numbers follow cron: 0 and 7 are Sunday, 1 is Monday
            (APScheduler 3 counts 0 as Monday); names (``mon-fri``) mean the same in both.
        hour: a field by keyword (see ``year``).
        minute: a field by keyword (see ``year``).
        second: a field by keyword (see ``year``); makes the expression six fields.
        start: no fire before this instant (a naive value is read in ``timezone``).
        end: no fire after this instant (a naive value is read in ``timezone``).
        hash_key: seeds ``H`` fields. None seeds them with the expression itself; the
            scheduler passes each job's id through :meth:`for_job`.

    Raises:
        CronParseError: the expression is invalid or can never fire (a ``ValueError``).
        InvalidTriggerError: unknown time zone, bad ``start``/``end``, or ``end`` before ``start``.
    """

    __slots__ = (
        "_day_shapes",
        "_end",
        "_end_ts",
        "_expression",
        "_fixed_time",
        "_fixed_zone",
        "_hash_key",
        "_month_masks",
        "_nhour",
        "_nmin",
        "_nmon",
        "_nsec",
        "_phour",
        "_pmin",
        "_pmon",
        "_psec",
        "_spec",
        "_start",
        "_start_ts",
        "_tz",
        "_years",
        "_zone_given",
    )

    _expression: str
    _tz: tzinfo
    _spec: CronSpec
    _start: datetime | None
    _end: datetime | None
    _start_ts: float
    _end_ts: float
    _hash_key: str | None
    _fixed_zone: bool
    _fixed_time: bool
    _years: tuple[int, ...] | None
    _zone_given: bool
    _nsec: tuple[int, ...]
    _nmin: tuple[int, ...]
    _nhour: tuple[int, ...]
    _nmon: tuple[int, ...]
    _psec: tuple[int, ...]
    _pmin: tuple[int, ...]
    _phour: tuple[int, ...]
    _pmon: tuple[int, ...]
    _day_shapes: dict[int, int]
    _month_masks: dict[int, int]

    def __init__(
        self,
        expression: str | None = None,
        timezone: str | tzinfo | None = None,
        *,
        start: datetime | None = None,
        end: datetime | None = None,
        hash_key: str | None = None,
        year: str | int | None = None,
        month: str | int | None = None,
        day: str | int | None = None,
        day_of_week: str | int | None = None,
        hour: str | int | None = None,
        minute: str | int | None = None,
        second: str | int | None = None,
    ) -> None:
        fields = {
            "year": year, "month": month, "day": day, "day_of_week": day_of_week,
            "hour": hour, "minute": minute, "second": second,
        }  # fmt: skip
        if expression is None and any(v is not None for v in fields.values()):
            expression = expression_from_fields(fields)
        elif expression is not None and any(v is not None for v in fields.values()):
            given = ", ".join(f"{k}=" for k, v in fields.items() if v is not None)
            raise CronParseError(
                f"CronTrigger: give either an expression ({expression!r}) or fields by keyword "
                f"({given}), not both"
            )
        if hash_key is not None and not isinstance(hash_key, str):
            raise InvalidTriggerError(
                f"hash_key: expected a string, got {type(hash_key).__name__} {hash_key!r}"
            )
        spec = parse_expression(expression, hash_key)
        tz = resolve_zone(timezone)
        start_dt = (
            ensure_aware(start, tz, field="start").astimezone(tz) if start is not None else None
        )
        end_dt = ensure_aware(end, tz, field="end").astimezone(tz) if end is not None else None
        if start_dt is not None and end_dt is not None and end_dt < start_dt:
            raise InvalidTriggerError(
                f"end ({end_dt.isoformat()}) is before start ({start_dt.isoformat()}); "
                "end must be at or after start"
            )
        init = object.__setattr__
        init(self, "_expression", expression)
        init(self, "_tz", tz)
        init(self, "_zone_given", timezone is not None)
        init(self, "_spec", spec)
        init(self, "_hash_key", hash_key)
        init(self, "_start", start_dt)
        init(self, "_end", end_dt)
        init(self, "_start_ts", start_dt.timestamp() if start_dt is not None else 0.0)
        init(self, "_end_ts", end_dt.timestamp() if end_dt is not None else 0.0)
        init(self, "_fixed_zone", _is_fixed_offset(tz))
        init(self, "_fixed_time", spec.fixed_time)
        init(self, "_years", spec.years)
        init(self, "_nsec", _next_table(spec.seconds, 60))
        init(self, "_nmin", _next_table(spec.minutes, 60))
        init(self, "_nhour", _next_table(spec.hours, 24))
        init(self, "_nmon", _next_table(spec.months, 13))
        init(self, "_psec", _prev_table(spec.seconds, 60))
        init(self, "_pmin", _prev_table(spec.minutes, 60))
        init(self, "_phour", _prev_table(spec.hours, 24))
        init(self, "_pmon", _prev_table(spec.months, 13))
        # Private memo tables, not part of the value: filled lazily, safe to share between
        # threads (a lost race only recomputes the same integer).
        init(self, "_day_shapes", {})
        init(self, "_month_masks", {})

    @classmethod
    def from_expression(
        cls,
        expr: str,
        timezone: str | tzinfo | None = None,
        *,
        start: datetime | None = None,
        end: datetime | None = None,
        hash_key: str | None = None,
    ) -> CronTrigger:
        """Build a trigger from a cron expression; same arguments and errors as the constructor."""
        return cls(expr, timezone, start=start, end=end, hash_key=hash_key)

    # -- value behaviour ------------------------------------------------------------------
    def __setattr__(self, name: str, value: object) -> NoReturn:
        raise AttributeError(f"CronTrigger is immutable; cannot set {name!r}")

    def __delattr__(self, name: str) -> NoReturn:
        raise AttributeError(f"CronTrigger is immutable; cannot delete {name!r}")

    def _key(self) -> tuple[Any, ...]:
        return (
            self._expression,
            _zone_name(self._tz),
            self._start_ts if self._start is not None else None,
            self._end_ts if self._end is not None else None,
            self._hash_key if self._spec.hashed else None,
        )

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, CronTrigger):
            return NotImplemented
        return self._key() == other._key()

    def __hash__(self) -> int:
        return hash(self._key())

    def __repr__(self) -> str:
        parts = [repr(self._expression), f"timezone={_zone_name(self._tz)!r}"]
        if self._start is not None:
            parts.append(f"start={self._start.isoformat()!r}")
        if self._end is not None:
            parts.append(f"end={self._end.isoformat()!r}")
        if self._hash_key is not None:
            parts.append(f"hash_key={self._hash_key!r}")
        return f"CronTrigger({', '.join(parts)})"

    def __str__(self) -> str:
        return self.describe()

    def __reduce__(self) -> tuple[Any, ...]:
        return (_restore, (self._expression, self._tz, self._start, self._end, self._hash_key))

    @property
    def expression(self) -> str:
        """The expression as given."""
        return self._expression

    @property
    def timezone(self) -> tzinfo:
        """The zone the expression is read in."""
        return self._tz

    @property
    def timezone_given(self) -> bool:
        """False when the zone is the local zone by default (no ``timezone`` was given)."""
        return self._zone_given

    @property
    def start(self) -> datetime | None:
        return self._start

    @property
    def end(self) -> datetime | None:
        return self._end

    @property
    def hash_key(self) -> str | None:
        return self._hash_key

    @property
    def fixed_time(self) -> bool:
        """True when DST gaps shift the fire instead of dropping it (see the module doc)."""
        return self._fixed_time

    def for_job(self, job_id: str) -> CronTrigger:
        """Return this trigger seeded with ``job_id`` if it uses ``H``, else ``self``.

        Raises:
            CronParseError: only for a hashed expression with a year field whose hashed days
                happen to fall in none of its years (the expression can then never fire).
        """
        if not self._spec.hashed or self._hash_key == job_id:
            return self
        return CronTrigger(
            self._expression, self._tz, start=self._start, end=self._end, hash_key=job_id
        )

    def describe(self) -> str:
        """The schedule in plain English, e.g. ``"at 09:00 on Monday through Friday"``."""
        return describe(self._spec)

    # -- day masks ------------------------------------------------------------------------
    def _month_mask(self, year: int, month: int) -> int:
        length = month_length(year, month)
        weekday = first_weekday(year, month)
        shape = length * 8 + weekday
        mask = self._day_shapes.get(shape)
        if mask is None:
            mask = day_mask(self._spec, length, weekday)
            self._day_shapes[shape] = mask
        cache = self._month_masks
        if len(cache) >= _MONTH_CACHE_LIMIT:
            cache.clear()
        cache[year * 16 + month] = mask
        return mask

    # -- wall-time search -----------------------------------------------------------------
    def _next_wall(self, y: int, mo: int, d: int, h: int, mi: int, s: int) -> _Wall | None:
        """Smallest matching wall time >= the given one, or None.

        Fields may overflow by one (s=60, mi=60, h=24, d=32, mo=13): that carries.
        """
        nsec, nmin, nhour, nmon = self._nsec, self._nmin, self._nhour, self._nmon
        years = self._years
        masks = self._month_masks
        if years is not None:
            i = bisect_left(years, y)
            if i == len(years):
                return None
            if years[i] != y:
                y, mo, d, h, mi, s = years[i], 1, 1, 0, 0, 0
        while True:
            m2 = nmon[mo]
            if m2 < 0:
                y += 1
                if years is not None:
                    i = bisect_left(years, y)
                    if i == len(years):
                        return None
                    y = years[i]
                if y > 9999:
                    return None
                mo, d, h, mi, s = 1, 1, 0, 0, 0
                continue
            if m2 != mo:
                mo, d, h, mi, s = m2, 1, 0, 0, 0
            mask = masks.get(y * 16 + mo)
            if mask is None:
                mask = self._month_mask(y, mo)
            rest = mask >> d
            if not rest:
                mo, d, h, mi, s = mo + 1, 1, 0, 0, 0
                continue
            if not rest & 1:
                d += (rest & -rest).bit_length() - 1
                h, mi, s = 0, 0, 0
            h2 = nhour[h]
            if h2 < 0:
                d, h, mi, s = d + 1, 0, 0, 0
                continue
            if h2 != h:
                h, mi, s = h2, 0, 0
            m2 = nmin[mi]
            if m2 < 0:
                h, mi, s = h + 1, 0, 0
                continue
            if m2 != mi:
                mi, s = m2, 0
            s2 = nsec[s]
            if s2 < 0:
                mi, s = mi + 1, 0
                continue
            return (y, mo, d, h, mi, s2)

    def _prev_wall(self, y: int, mo: int, d: int, h: int, mi: int, s: int) -> _Wall | None:
        """Largest matching wall time <= the given one, or None.

        Fields may underflow by one (s=-1, mi=-1, h=-1, d=0, mo=0): that borrows.
        """
        psec, pmin, phour, pmon = self._psec, self._pmin, self._phour, self._pmon
        years = self._years
        masks = self._month_masks
        if years is not None:
            i = bisect_right(years, y) - 1
            if i < 0:
                return None
            if years[i] != y:
                y, mo, d, h, mi, s = years[i], 12, 31, 23, 59, 59
        while True:
            m2 = pmon[mo + 1]
            if m2 < 0:
                y -= 1
                if years is not None:
                    i = bisect_right(years, y) - 1
                    if i < 0:
                        return None
                    y = years[i]
                if y < 1:
                    return None
                mo, d, h, mi, s = 12, 31, 23, 59, 59
                continue
            if m2 != mo:
                mo, d, h, mi, s = m2, 31, 23, 59, 59
            mask = masks.get(y * 16 + mo)
            if mask is None:
                mask = self._month_mask(y, mo)
            low = mask & ((2 << d) - 1)
            if not low:
                mo, d, h, mi, s = mo - 1, 31, 23, 59, 59
                continue
            top = low.bit_length() - 1
            if top != d:
                d, h, mi, s = top, 23, 59, 59
            h2 = phour[h + 1]
            if h2 < 0:
                d, h, mi, s = d - 1, 23, 59, 59
                continue
            if h2 != h:
                h, mi, s = h2, 59, 59
            m2 = pmin[mi + 1]
            if m2 < 0:
                h, mi, s = h - 1, 59, 59
                continue
            if m2 != mi:
                mi, s = m2, 59
            s2 = psec[s + 1]
            if s2 < 0:
                mi, s = mi - 1, 59
                continue
            return (y, mo, d, h, mi, s2)

    # -- public queries -------------------------------------------------------------------
    def _localize(self, from_time: datetime | None) -> datetime:
        tz = self._tz
        if from_time is None:
            return datetime.now(tz)
        if not isinstance(from_time, datetime):
            raise InvalidTriggerError(
                f"from_time: expected a datetime, got {type(from_time).__name__} {from_time!r}"
            )
        ftz = from_time.tzinfo
        if ftz is tz:
            return from_time
        if ftz is None or ftz.utcoffset(from_time) is None:
            return from_time.replace(tzinfo=tz)
        return from_time.astimezone(tz)

    def get_next_run(self, from_time: datetime | None = None) -> datetime | None:
        """Return the first fire strictly after ``from_time`` (default now), or None.

        The result is aware, in the trigger's zone. None means the schedule is exhausted: past
        ``end``, past the last year of a year field, or past year 9999. A naive ``from_time`` is
        read in the trigger's zone.

        Raises:
            InvalidTriggerError: ``from_time`` is not a datetime.
        """
        tz = self._tz
        # Hot path first: the scheduler asks with the previous fire, already in our zone.
        if from_time is not None and from_time.__class__ is datetime and from_time.tzinfo is tz:
            t = from_time
        else:
            t = self._localize(from_time)
        if self._start is not None and t.timestamp() < self._start_ts:
            t = self._start - _ONE_MICROSECOND
        if self._fixed_zone:
            w = self._next_wall(t.year, t.month, t.day, t.hour, t.minute, t.second + 1)
            if w is None:
                return None
            result: datetime | None = datetime(w[0], w[1], w[2], w[3], w[4], w[5], 0, tz)
        else:
            result = self._next_zoned(t)
        if result is not None and self._end is not None and result.timestamp() > self._end_ts:
            return None
        return result

    def get_previous_run(self, from_time: datetime | None = None) -> datetime | None:
        """Return the last fire strictly before ``from_time`` (default now), or None.

        Mirrors :meth:`get_next_run`: the same set of fire instants, searched backwards.
        None when there is no earlier fire (``start``, the year field, or year 1).

        Raises:
            InvalidTriggerError: ``from_time`` is not a datetime.
        """
        t = self._localize(from_time)
        if self._end is not None and t.timestamp() > self._end_ts:
            t = self._end + _ONE_MICROSECOND
        if self._fixed_zone:
            s = t.second if t.microsecond else t.second - 1
            w = self._prev_wall(t.year, t.month, t.day, t.hour, t.minute, s)
            result = None if w is None else datetime(*w, tzinfo=self._tz)
        else:
            result = self._prev_zoned(t)
        if result is not None and self._start is not None and result.timestamp() < self._start_ts:
            return None
        return result

    def iter_runs(self, from_time: datetime | None = None) -> Iterator[datetime]:
        """Yield successive fire times strictly after ``from_time`` (a convenience generator)."""
        t = self.get_next_run(from_time)
        while t is not None:
            yield t
            t = self.get_next_run(t)

    # -- zones with transitions -----------------------------------------------------------
    def _transition(self, wall: datetime) -> tuple[_Wall, _Wall, datetime, bool]:
        """For a naive wall time inside a gap or an overlap, find that transition.

        Returns ``(low, high, instant, is_gap)``: the anomalous wall times are
        ``[low, high)``, ``instant`` is the transition (aware, in our zone; for a gap it is the
        first instant after it). The transition lies between the two readings of ``wall``
        (at most the offset change apart), so a binary search over seconds finds it in a few
        dozen zone lookups; this runs only at transitions.
        """
        tz = self._tz
        off0 = wall.replace(tzinfo=tz, fold=0).utcoffset()
        off1 = wall.replace(tzinfo=tz, fold=1).utcoffset()
        assert off0 is not None and off1 is not None
        low_off, high_off = min(off0, off1), max(off0, off1)
        base = wall - high_off  # a UTC instant still on the old offset (off0)
        lo, hi = 0, int((high_off - low_off).total_seconds())  # hi: on the new offset (off1)
        while hi - lo > 1:
            mid = (lo + hi) // 2
            probe = (base + timedelta(seconds=mid)).replace(tzinfo=UTC).astimezone(tz)
            if probe.utcoffset() == off0:
                lo = mid
            else:
                hi = mid
        instant_utc = base + timedelta(seconds=hi)
        low_wall = _wall(instant_utc + low_off)
        high_wall = _wall(instant_utc + high_off)
        instant = instant_utc.replace(tzinfo=UTC).astimezone(tz)
        return low_wall, high_wall, instant, off0 < off1

    def _forward(self, c: _Wall | None) -> datetime | None:
        """Map the first matching wall time ``c`` (after a normal instant) to its fire."""
        tz = self._tz
        while c is not None:
            dt = datetime(c[0], c[1], c[2], c[3], c[4], c[5], 0, tz)
            offset = dt.utcoffset()
            if dt.replace(fold=1).utcoffset() == offset:
                return dt
            _low, high, instant, is_gap = self._transition(dt.replace(tzinfo=None))
            if not is_gap:
                return dt  # overlap: its first occurrence comes first in real time
            if self._fixed_time:
                return instant  # Debian cron: a fixed-time job skipped by the gap runs after it
            c = self._next_wall(*high)
        return None

    def _next_zoned(self, t: datetime) -> datetime | None:
        offset = t.utcoffset()
        if t.replace(fold=1 - t.fold).utcoffset() == offset:
            return self._forward(
                self._next_wall(t.year, t.month, t.day, t.hour, t.minute, t.second + 1)
            )
        # t is inside an overlap (or is a wall time inside a gap): normalise through UTC.
        tz = self._tz
        t = t.astimezone(UTC).astimezone(tz)
        start = (t.year, t.month, t.day, t.hour, t.minute, t.second + 1)
        if t.replace(fold=1 - t.fold).utcoffset() == t.utcoffset():
            return self._forward(self._next_wall(*start))
        low, high, _instant, _gap = self._transition(t.replace(tzinfo=None, fold=0))
        c = self._next_wall(*start)
        if t.fold:
            # Second pass: only wildcard expressions fire again in it.
            if c is not None and c < high and not self._fixed_time:
                return datetime(*c, tzinfo=tz, fold=1)
            return self._forward(self._next_wall(*high))
        if c is not None and c < high:
            return datetime(*c, tzinfo=tz)
        if not self._fixed_time:
            # Nothing more in the first pass: the second pass comes before anything later.
            q = self._next_wall(*low)
            if q is not None and q < high:
                return datetime(*q, tzinfo=tz, fold=1)
        return self._forward(c)

    def _backward(self, p: _Wall | None, t: datetime) -> datetime | None:
        """Map the last matching wall time ``p`` (before a normal instant ``t``) to its fire."""
        tz = self._tz
        t_ts = t.timestamp()
        while p is not None:
            dt = datetime(*p, tzinfo=tz)
            offset = dt.utcoffset()
            if dt.replace(fold=1).utcoffset() == offset:
                return dt
            low, _high, instant, is_gap = self._transition(dt.replace(tzinfo=None))
            if not is_gap:
                # t is past the overlap: the last fire in it is the second pass for wildcards.
                return dt if self._fixed_time else dt.replace(fold=1)
            if self._fixed_time and instant.timestamp() < t_ts:
                return instant
            p = self._prev_wall(low[0], low[1], low[2], low[3], low[4], low[5] - 1)
        return None

    def _prev_zoned(self, t: datetime) -> datetime | None:
        tz = self._tz
        if t.replace(fold=1 - t.fold).utcoffset() != t.utcoffset():
            t = t.astimezone(UTC).astimezone(tz)
        s = t.second if t.microsecond else t.second - 1
        end = (t.year, t.month, t.day, t.hour, t.minute, s)
        if t.replace(fold=1 - t.fold).utcoffset() == t.utcoffset():
            return self._backward(self._prev_wall(*end), t)
        low, high, _instant, _gap = self._transition(t.replace(tzinfo=None, fold=0))
        if t.fold:
            if not self._fixed_time:
                p = self._prev_wall(*end)
                if p is not None and p >= low:
                    return datetime(*p, tzinfo=tz, fold=1)
            p = self._prev_wall(high[0], high[1], high[2], high[3], high[4], high[5] - 1)
        else:
            p = self._prev_wall(*end)
        if p is not None and p >= low:
            return datetime(*p, tzinfo=tz)
        return self._backward(p, t)
