"""Wall-clock helpers shared by the calendar triggers (pure, loop-free).

A wall time in a zone can be normal, inside a spring-forward *gap* (it never happens) or inside a
fall-back *overlap* (it happens twice). :func:`resolve_wall` maps it to one instant with the rule
the calendar triggers document: a gap runs at the first instant after it, an overlap once, at its
first occurrence.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta, tzinfo

__all__ = ["US", "day_start", "local_date", "resolve_wall", "span_text", "to_utc"]

US = timedelta(microseconds=1)
_SECOND = timedelta(seconds=1)


def to_utc(dt: datetime) -> datetime:
    """The same instant as an aware UTC datetime (comparisons across a fall-back stay exact)."""
    return dt.astimezone(UTC)


def resolve_wall(naive: datetime, tz: tzinfo) -> datetime:
    """The instant of the naive wall time ``naive`` in ``tz`` (aware, in ``tz``).

    Normal: that instant. Overlap: the first occurrence (``fold=0``). Gap: the first instant
    after the gap (the transition itself), found by a binary search over whole seconds between
    the two readings of the wall time; transitions in the IANA data fall on whole seconds.
    """
    first = naive.replace(tzinfo=tz, fold=0)
    off0 = first.utcoffset()
    off1 = naive.replace(tzinfo=tz, fold=1).utcoffset()
    if off0 == off1 or off0 is None or off1 is None:
        return first
    u0 = naive - off0
    if (u0.replace(tzinfo=UTC).astimezone(tz)).replace(tzinfo=None) == naive:
        # Overlap: fold=0 is a real reading and, with the larger offset, the earlier instant.
        return u0.replace(tzinfo=UTC).astimezone(tz)
    u1 = naive - off1
    lo, hi = (u0, u1) if u0 < u1 else (u1, u0)
    old = lo.replace(tzinfo=UTC).astimezone(tz).utcoffset()
    lo_s, hi_s = 0, int((hi - lo) / _SECOND)
    while hi_s - lo_s > 1:
        mid = (lo_s + hi_s) // 2
        probe = (lo + mid * _SECOND).replace(tzinfo=UTC).astimezone(tz)
        if probe.utcoffset() == old:
            lo_s = mid
        else:
            hi_s = mid
    return (lo + hi_s * _SECOND).replace(tzinfo=UTC).astimezone(tz)


def day_start(day: date, tz: tzinfo) -> datetime:
    """The first instant of ``day`` in ``tz`` (after a gap, if midnight is skipped)."""
    return resolve_wall(datetime.combine(day, time()), tz)


def local_date(dt: datetime, tz: tzinfo) -> date:
    """The calendar date of the instant ``dt`` in ``tz``."""
    return dt.astimezone(tz).date()


def _seconds_text(seconds: float) -> str:
    text = f"{seconds:.6f}".rstrip("0").rstrip(".")
    return text or "0"


def span_text(span: timedelta) -> str:
    """A duration as a person reads it: ``"0.4 s"``, ``"30 s"``, ``"1 min 30 s"``, ``"2 h"``,
    ``"1 day 6 h"``; never ``"0:00:00.400000"``."""
    total = span.total_seconds()
    if total < 60:
        return f"{_seconds_text(total)} s"
    days, rest = divmod(span, timedelta(days=1))
    hours, rest = divmod(rest, timedelta(hours=1))
    minutes, rest = divmod(rest, timedelta(minutes=1))
    parts = []
    if days:
        parts.append(f"{days} day{'s' if days != 1 else ''}")
    if hours:
        parts.append(f"{hours} h")
    if minutes:
        parts.append(f"{minutes} min")
    if rest:
        parts.append(f"{_seconds_text(rest.total_seconds())} s")
    return " ".join(parts)
