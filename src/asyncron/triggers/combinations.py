"""Combining triggers: union (:class:`OrTrigger`), intersection (:class:`AndTrigger`) and
exclusion (:class:`ExcludeTrigger`), exact across DST and never by scanning.

Every member only ever answers "your next fire strictly after this instant", so each step jumps
straight to a member's next candidate: ``OrTrigger`` takes the earliest answer; ``AndTrigger``
leapfrogs (the latest candidate becomes the bound the others must reach, until all agree);
``ExcludeTrigger`` asks the excluded trigger whether a candidate is one of its fires, and jumps
past a whole non-business day at once when the exclusion is a :class:`BusinessCalendar`. A
combination that can never fire is detected by a bounded search (``search_limit`` member steps
per query): the query returns None and a warning on the ``asyncron`` logger says why, instead of
hanging. All comparisons are on instants (UTC), so the second pass of a fall-back hour is not
confused with the first.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta, tzinfo
from typing import Any, NoReturn

from .._tz import ensure_aware, local_zone
from ..abc import Trigger
from ..errors import InvalidTriggerError
from ._wall import US, day_start, resolve_wall, span_text, to_utc
from .calendars import SEARCH_DAYS, BusinessCalendar

__all__ = [
    "DEFAULT_SEARCH_LIMIT",
    "AndTrigger",
    "ExcludeTrigger",
    "OrTrigger",
    "TriggerOperators",
    "describe_trigger",
    "trigger_zone",
]

#: Member steps one query may take before the combination is declared unable to fire.
DEFAULT_SEARCH_LIMIT = 10_000
SHIFTS = ("skip", "next", "previous")
_log = logging.getLogger("asyncron")
_ZERO = timedelta(0)


def describe_trigger(trigger: object) -> str:
    """A trigger's plain-English description: its ``describe()`` if it has one, else ``str()``."""
    describe = getattr(trigger, "describe", None)
    if callable(describe):
        text = describe()
        if isinstance(text, str):
            return text
    return str(trigger)


def trigger_zone(trigger: object) -> tzinfo | None:
    """The zone a trigger reads wall time in, when it has one (cron, calendar triggers, a
    combination's first zoned member, an interval's ``start`` zone)."""
    zone = getattr(trigger, "timezone", None)
    if isinstance(zone, tzinfo):
        return zone
    for name in ("start", "run_at"):
        value = getattr(trigger, name, None)
        if isinstance(value, datetime) and value.tzinfo is not None:
            return value.tzinfo
    return None


def _is_relative(trigger: object) -> bool:
    """An interval without start: its fires count from whatever instant it is asked about."""
    return getattr(trigger, "relative", False) is True


def _check_members(kind: str, members: tuple[Any, ...], *, relative_ok: bool) -> None:
    if len(members) < 2:
        raise InvalidTriggerError(
            f"{kind}: needs at least two triggers, got {len(members)}; allowed {kind}(a, b, ...)"
        )
    for i, member in enumerate(members):
        if not isinstance(member, Trigger):
            raise InvalidTriggerError(
                f"{kind}: member {i} is a {type(member).__name__} {member!r}; expected a Trigger"
            )
        if not relative_ok and _is_relative(member):
            raise InvalidTriggerError(
                f"{kind}: member {i} is an IntervalTrigger without start, whose fires are "
                "counted from whatever instant it is asked about, so it has no fixed fire "
                "times to agree on; give it a start (IntervalTrigger(..., start=...))"
            )


MAX_SEARCH_LIMIT = 10_000_000


def _limit(value: object) -> int:
    # Capped so that a stored document cannot make one query run for hours.
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_SEARCH_LIMIT:
        raise InvalidTriggerError(
            f"search_limit: expected a whole number of at least 1, got {value!r}; allowed "
            f"1-{MAX_SEARCH_LIMIT}"
        )
    return value


class TriggerOperators(Trigger):
    """A :class:`~asyncron.abc.Trigger` with ``a | b`` (:class:`OrTrigger`), ``a & b``
    (:class:`AndTrigger`), ``a.exclude(b)`` (:class:`ExcludeTrigger`) and ``iter_runs()``.

    Every built-in trigger has them; subclass this instead of ``Trigger`` to give your own
    trigger the same operators (``cron | mine`` works either way).
    """

    __slots__ = ()

    def __or__(self, other: object) -> OrTrigger:
        if not isinstance(other, Trigger):
            return NotImplemented
        left = self.triggers if isinstance(self, OrTrigger) else (self,)
        return OrTrigger(*left, other)

    def __ror__(self, other: object) -> OrTrigger:
        if not isinstance(other, Trigger):
            return NotImplemented
        return OrTrigger(other, self)

    def __and__(self, other: object) -> AndTrigger:
        if not isinstance(other, Trigger):
            return NotImplemented
        if isinstance(self, AndTrigger) and self.threshold == _ZERO:
            return AndTrigger(*self.triggers, other, search_limit=self.search_limit)
        return AndTrigger(self, other)

    def __rand__(self, other: object) -> AndTrigger:
        if not isinstance(other, Trigger):
            return NotImplemented
        return AndTrigger(other, self)

    def exclude(
        self, excluded: Trigger | BusinessCalendar, *, shift: str = "skip"
    ) -> ExcludeTrigger:
        """This trigger without the fires of ``excluded`` (a trigger or a business calendar)."""
        return ExcludeTrigger(self, excluded, shift=shift)

    def iter_runs(self, from_time: datetime | None = None) -> Iterator[datetime]:
        """Yield successive fire times strictly after ``from_time``."""
        t = self.get_next_run(from_time)
        while t is not None:
            yield t
            t = self.get_next_run(t)


class _Combination(TriggerOperators):
    __slots__ = ("_key_cache", "_search_limit", "_zone")

    _search_limit: int
    _zone: tzinfo | None
    _key_cache: tuple[Any, ...]

    def __setattr__(self, name: str, value: object) -> NoReturn:
        raise AttributeError(f"{type(self).__name__} is immutable; cannot set {name!r}")

    def __delattr__(self, name: str) -> NoReturn:
        raise AttributeError(f"{type(self).__name__} is immutable; cannot delete {name!r}")

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        assert isinstance(other, _Combination)
        return self._key_cache == other._key_cache

    def __hash__(self) -> int:
        return hash((type(self).__name__, self._key_cache))

    def __str__(self) -> str:
        return self.describe()

    def describe(self) -> str:  # pragma: no cover - every subclass overrides it
        raise NotImplementedError

    @property
    def search_limit(self) -> int:
        return self._search_limit

    @property
    def timezone(self) -> tzinfo | None:
        """The zone of the first member that has one (naive ``from_time`` values use it)."""
        return self._zone

    def _start(self, from_time: datetime | None) -> datetime:
        if from_time is None:
            return datetime.now(UTC)
        aware = ensure_aware(from_time, self._zone or local_zone(), field="from_time")
        return aware.astimezone(UTC)

    def get_next_run(self, from_time: datetime | None = None) -> datetime | None:
        """The combination's first fire strictly after ``from_time`` (default now), or None.

        None also means "past year 9999", where datetimes end (a member or a shifted fire
        that would need a later date counts as exhausted, never as an OverflowError).
        """
        try:
            return self._next_run(self._start(from_time))
        except OverflowError:
            return None

    def _next_run(self, u: datetime) -> datetime | None:  # pragma: no cover - overridden
        raise NotImplementedError

    def _gave_up(self, what: str, u: datetime) -> None:
        _log.warning(
            "%r: %s after %d member steps from %s; treating it as exhausted (it can never fire, "
            "or fires too rarely to find; raise search_limit if this is expected)",
            self, what, self._search_limit, u.isoformat(),
        )  # fmt: skip


class OrTrigger(_Combination):
    """Fires whenever any member fires (the union of their fires); an instant that several
    members share fires once.

    ``OrTrigger(a, b, c)`` or ``a | b | c``. Exhausted when every member is.

    Raises:
        InvalidTriggerError: fewer than two members, or a member that is not a Trigger.
    """

    __slots__ = ("_triggers",)

    _triggers: tuple[Trigger, ...]

    def __init__(self, *triggers: Trigger) -> None:
        _check_members("OrTrigger", triggers, relative_ok=True)
        init = object.__setattr__
        init(self, "_triggers", tuple(triggers))
        init(self, "_search_limit", DEFAULT_SEARCH_LIMIT)
        init(self, "_zone", next((z for z in map(trigger_zone, triggers) if z), None))
        init(self, "_key_cache", tuple(triggers))

    @property
    def triggers(self) -> tuple[Trigger, ...]:
        return self._triggers

    def _next_run(self, u: datetime) -> datetime | None:
        """The earliest member fire strictly after ``u`` (in that member's zone)."""
        best: datetime | None = None
        best_u: datetime | None = None
        for member in self._triggers:
            fire = member.get_next_run(u)
            if fire is not None:
                k = to_utc(fire)
                if best_u is None or k < best_u:
                    best, best_u = fire, k
        return best

    def get_first_run(self, now: datetime) -> datetime | None:
        """The earliest first run of the members (a past one-shot member still runs at once)."""
        best: datetime | None = None
        for member in self._triggers:
            fire = member.get_first_run(now)
            if fire is not None and (best is None or to_utc(fire) < to_utc(best)):
                best = fire
        return best

    def for_job(self, job_id: str) -> OrTrigger:
        members = tuple(m.for_job(job_id) for m in self._triggers)
        return self if members == self._triggers else OrTrigger(*members)

    def describe(self) -> str:
        return "; or ".join(describe_trigger(m) for m in self._triggers)

    def __repr__(self) -> str:
        return f"OrTrigger({', '.join(map(repr, self._triggers))})"

    def __reduce__(self) -> tuple[Any, ...]:
        return (OrTrigger, self._triggers)


class AndTrigger(_Combination):
    """Fires when every member fires at the same instant (within ``threshold``).

    ``AndTrigger(a, b)`` or ``a & b``. With a ``threshold`` (a ``timedelta`` or seconds), it fires
    when each member has a fire within ``threshold`` before the latest of them, at that latest
    instant. The search leapfrogs: the latest candidate becomes the bound every other member
    jumps to, so a common fire is found in a few member steps, never by scanning.

    Args:
        triggers: two or more triggers; an ``IntervalTrigger`` needs a ``start``.
        threshold: how far apart the members' fires may be (default 0: the same instant).
        search_limit: member steps one query may take before the combination is declared
            exhausted (it then returns None and logs a warning).

    Raises:
        InvalidTriggerError: fewer than two members, a member that is not a Trigger, an
            IntervalTrigger without ``start``, a negative threshold, or a bad search_limit.
    """

    __slots__ = ("_threshold", "_triggers")

    _triggers: tuple[Trigger, ...]
    _threshold: timedelta

    def __init__(
        self,
        *triggers: Trigger,
        threshold: timedelta | float = 0,
        search_limit: int = DEFAULT_SEARCH_LIMIT,
    ) -> None:
        _check_members("AndTrigger", triggers, relative_ok=False)
        if isinstance(threshold, timedelta):
            span = threshold
        elif isinstance(threshold, int | float) and not isinstance(threshold, bool):
            if threshold != threshold or threshold in (float("inf"), float("-inf")):
                raise InvalidTriggerError(f"threshold: expected a finite number, got {threshold!r}")
            span = timedelta(seconds=threshold)
        else:
            raise InvalidTriggerError(
                f"threshold: expected a timedelta or a number of seconds, got "
                f"{type(threshold).__name__} {threshold!r}"
            )
        if span < _ZERO:
            raise InvalidTriggerError(
                f"threshold: must be 0 or more, got {span.total_seconds():g} s"
            )
        init = object.__setattr__
        init(self, "_triggers", tuple(triggers))
        init(self, "_threshold", span)
        init(self, "_search_limit", _limit(search_limit))
        init(self, "_zone", next((z for z in map(trigger_zone, triggers) if z), None))
        init(self, "_key_cache", (tuple(triggers), span))

    @property
    def triggers(self) -> tuple[Trigger, ...]:
        return self._triggers

    @property
    def threshold(self) -> timedelta:
        return self._threshold

    def _next_run(self, u: datetime) -> datetime | None:
        """The first instant strictly after ``u`` at which all members agree, or None (a member
        is exhausted, or no agreement within ``search_limit`` steps)."""
        members = self._triggers
        bound: datetime | None = None
        rep: datetime | None = None
        for member in members:
            fire = member.get_next_run(u)
            if fire is None:
                return None
            k = to_utc(fire)
            if bound is None or k > bound:
                bound, rep = k, fire
        assert bound is not None
        n = len(members)
        agreed = 0
        i = 0
        steps = 0
        thr = self._threshold + US
        while agreed < n:
            fire = members[i].get_next_run(bound - thr)  # first fire >= bound - threshold
            if fire is None:
                return None
            k = to_utc(fire)
            if k > bound:
                bound, rep, agreed = k, fire, 1
            else:
                agreed += 1
            i = (i + 1) % n
            steps += 1
            if steps > self._search_limit:
                self._gave_up("no instant where all members fire", u)
                return None
        return rep

    def for_job(self, job_id: str) -> AndTrigger:
        members = tuple(m.for_job(job_id) for m in self._triggers)
        if members == self._triggers:
            return self
        return AndTrigger(*members, threshold=self._threshold, search_limit=self._search_limit)

    def describe(self) -> str:
        text = "when all of these fire together: " + "; and ".join(
            describe_trigger(m) for m in self._triggers
        )
        if self._threshold:
            text += f" (within {span_text(self._threshold)})"
        return text

    def __repr__(self) -> str:
        parts = [repr(m) for m in self._triggers]
        if self._threshold:
            parts.append(f"threshold={self._threshold.total_seconds():g}")
        if self._search_limit != DEFAULT_SEARCH_LIMIT:
            parts.append(f"search_limit={self._search_limit}")
        return f"AndTrigger({', '.join(parts)})"

    def __reduce__(self) -> tuple[Any, ...]:
        return (_restore_and, (self._triggers, self._threshold, self._search_limit))


def _restore_and(
    triggers: tuple[Trigger, ...], threshold: timedelta, search_limit: int
) -> AndTrigger:
    return AndTrigger(*triggers, threshold=threshold, search_limit=search_limit)


class ExcludeTrigger(_Combination):
    """The fires of ``base`` except those of ``excluded``.

    ``excluded`` is a trigger (an instant is dropped when it is also one of its fires) or a
    :class:`BusinessCalendar` (a fire is dropped when its date, in the calendar's zone or else
    the base trigger's zone, is not a business day). With a calendar, ``shift`` decides what
    happens to such a fire:

    * ``"skip"`` (default): it does not happen;
    * ``"next"``: it moves to the same wall-clock time on the next business day;
    * ``"previous"``: it moves to the same wall-clock time on the previous business day.

    A moved fire that lands on an instant that already fires runs once. A wall time that does
    not exist on the target day (a DST gap) runs at the first instant after the gap.

    Raises:
        InvalidTriggerError: ``base`` is not a trigger; ``excluded`` is neither a trigger nor a
            calendar; an IntervalTrigger without start is excluded; ``shift`` is unknown, or not
            ``"skip"`` with a trigger exclusion.
    """

    __slots__ = ("_base", "_calendar_zone", "_excluded", "_shift")

    _base: Trigger
    _excluded: Trigger | BusinessCalendar
    _shift: str
    _calendar_zone: tzinfo | None

    def __init__(
        self,
        base: Trigger,
        excluded: Trigger | BusinessCalendar,
        *,
        shift: str = "skip",
        search_limit: int = DEFAULT_SEARCH_LIMIT,
    ) -> None:
        if not isinstance(base, Trigger):
            raise InvalidTriggerError(
                f"ExcludeTrigger: base is a {type(base).__name__} {base!r}; expected a Trigger"
            )
        if not isinstance(excluded, Trigger | BusinessCalendar):
            raise InvalidTriggerError(
                f"ExcludeTrigger: excluded is a {type(excluded).__name__} {excluded!r}; expected "
                "a Trigger or a BusinessCalendar"
            )
        if _is_relative(excluded):
            raise InvalidTriggerError(
                "ExcludeTrigger: excluded is an IntervalTrigger without start, which has no fixed "
                "fire times; give it a start"
            )
        if shift not in SHIFTS:
            raise InvalidTriggerError(
                f"shift: {shift!r} is not a shift policy; allowed 'skip', 'next', 'previous'"
            )
        if shift != "skip" and not isinstance(excluded, BusinessCalendar):
            raise InvalidTriggerError(
                f"shift: {shift!r} needs a BusinessCalendar to find the next or previous business "
                "day; with a trigger exclusion only 'skip' is allowed"
            )
        init = object.__setattr__
        init(self, "_base", base)
        init(self, "_excluded", excluded)
        init(self, "_shift", shift)
        init(self, "_search_limit", _limit(search_limit))
        zone = trigger_zone(base)
        init(self, "_zone", zone or trigger_zone(excluded))
        cal_zone = excluded.timezone if isinstance(excluded, BusinessCalendar) else None
        init(self, "_calendar_zone", cal_zone or zone)
        init(self, "_key_cache", (base, excluded, shift))

    @property
    def base(self) -> Trigger:
        return self._base

    @property
    def excluded(self) -> Trigger | BusinessCalendar:
        return self._excluded

    @property
    def shift(self) -> str:
        return self._shift

    def _day_zone(self, fire: datetime) -> tzinfo:
        zone = self._calendar_zone
        if zone is not None:
            return zone
        tz = fire.tzinfo
        return tz if tz is not None else UTC

    def _next_run(self, u: datetime) -> datetime | None:
        """The first fire of ``base`` strictly after ``u`` that is not excluded (or its shifted
        instant), or None."""
        excluded = self._excluded
        if isinstance(excluded, BusinessCalendar):
            if self._shift == "skip":
                return self._next_business(u, excluded)
            return self._next_shifted(u, excluded)
        fire = self._base.get_next_run(u)
        steps = 0
        while fire is not None:
            k = to_utc(fire)
            other = excluded.get_next_run(k - US)
            if other is None or to_utc(other) != k:
                return fire
            steps += 1
            if steps > self._search_limit:
                self._gave_up("every candidate is excluded", u)
                return None
            fire = self._base.get_next_run(k)
        return None

    def _next_business(self, u: datetime, calendar: BusinessCalendar) -> datetime | None:
        fire = self._base.get_next_run(u)
        steps = 0
        while fire is not None:
            zone = self._day_zone(fire)
            day = fire.astimezone(zone).date()
            if calendar.is_business_day(day):
                return fire
            nxt = calendar.next_business_day(day)
            steps += 1
            if nxt is None or steps > self._search_limit:
                if nxt is not None:
                    self._gave_up("no fire on a business day", u)
                return None
            # Jump straight to the base's first fire on (or after) the next business day.
            fire = self._base.get_next_run(self._from_day(nxt, zone))
        return None

    def _next_shifted(self, u: datetime, calendar: BusinessCalendar) -> datetime | None:
        """Shift policies: the earliest shifted fire strictly after ``u``.

        Each fire on a source day S lands on a target day T (S itself on a business day, else
        the next/previous business day) at the same wall time, so the result is never earlier
        than the search below can miss: it starts at the first source day whose target can be
        on or after ``u``'s date, takes per source day only the first fire that lands after
        ``u`` (later fires of that day land later), and stops once no later source day can
        land before the best found.
        """
        forward = self._shift == "next"
        first = self._base.get_next_run(u)
        if first is None and not forward:
            return None  # a fire that moves back never lands later than itself
        zone = self._day_zone(first if first is not None else u)
        today = u.astimezone(zone).date()
        low: date | None
        if forward:
            prev = calendar.previous_business_day(today)
            low = (prev + timedelta(days=1)) if prev is not None else today
        else:
            low = today if calendar.is_business_day(today) else calendar.next_business_day(today)
        if low is None:
            return None
        memo: dict[date, date | None] = {}

        def target(day: date) -> date | None:
            if day in memo:
                return memo[day]
            land: date | None
            if calendar.is_business_day(day):
                land = day
            elif forward:
                land = calendar.next_business_day(day)
            else:
                # Days are visited in order: the day before already knows the answer.
                before = day - timedelta(days=1) if day > date.min else None
                if before is not None and before in memo:
                    land = memo[before]
                else:
                    land = calendar.previous_business_day(day)
            memo[day] = land
            return land

        base = self._base
        fire = base.get_next_run(self._from_day(low, zone))
        best: datetime | None = None
        best_u: datetime | None = None
        stop: date | None = None
        steps = 0
        while fire is not None:
            steps += 1
            if steps > self._search_limit:
                self._gave_up("no shifted fire found", u)
                return best
            local = fire.astimezone(zone)
            day = local.date()
            if stop is not None and day >= stop:
                break
            land_day = target(day)
            if land_day is None:
                # No business day within the calendar's search window: forward, none after
                # this day either; backward, continue from the next business day, if any.
                nb = None if forward else calendar.next_business_day(day)
                if nb is None:
                    break
                fire = base.get_next_run(self._from_day(nb, zone))
                continue
            landed = (
                fire
                if land_day == day
                else resolve_wall(datetime.combine(land_day, local.time()), zone)
            )
            k = to_utc(landed)
            if k > u:
                if best_u is None or k < best_u:
                    best, best_u = landed, k
                    best_day = landed.astimezone(zone).date()
                    # Later source days land on later days than these: stop there.
                    stop = (
                        best_day + timedelta(days=1)
                        if forward
                        else self._stop_previous(calendar, best_day)
                    )
                fire = self._after_day(day, zone)  # later fires of this day land later
                continue
            # Landed at or before u (its target day is u's date): jump to u's time of day.
            # (At or after it: a gap-shifted fire of the base can sit exactly there.)
            jump = to_utc(resolve_wall(datetime.combine(day, u.astimezone(zone).time()), zone))
            fire = base.get_next_run(jump - US if jump - US > to_utc(fire) else fire)
        return best

    @staticmethod
    def _stop_previous(calendar: BusinessCalendar, best_day: date) -> date:
        nxt = calendar.next_business_day(best_day)
        if nxt is not None:
            return nxt
        # No business day in the search window after best_day: later days cannot move back
        # further than that window either.
        try:
            return best_day + timedelta(days=SEARCH_DAYS)
        except OverflowError:
            return date.max

    def _from_day(self, day: date, zone: tzinfo) -> datetime:
        """Where to ask the base for its first fire on or after ``day``: just before the day
        starts (a fire at midnight counts), or at its start for an interval without ``start``
        (whose fires count from the instant asked about: one interval into the day)."""
        begin = to_utc(day_start(day, zone))
        return begin if _is_relative(self._base) else begin - US

    def _after_day(self, day: date, zone: tzinfo) -> datetime | None:
        if day >= date.max:
            return None
        return self._base.get_next_run(self._from_day(day + timedelta(days=1), zone))

    def get_first_run(self, now: datetime) -> datetime | None:
        """The first fire after ``now``; a base one-shot whose instant already passed still
        runs at once unless it is excluded (or, shifted, lands where it runs anyway)."""
        first = self._base.get_first_run(now)
        if first is None:
            return None
        start = self._start(now)
        if to_utc(first) <= start:  # a late one-shot base: start the search just before it
            start = to_utc(first) - US
        return self.get_next_run(start)

    def for_job(self, job_id: str) -> ExcludeTrigger:
        base = self._base.for_job(job_id)
        excluded = self._excluded
        if isinstance(excluded, Trigger):
            excluded = excluded.for_job(job_id)
        if base == self._base and excluded == self._excluded:
            return self
        return ExcludeTrigger(base, excluded, shift=self._shift, search_limit=self._search_limit)

    def describe(self) -> str:
        base = describe_trigger(self._base)
        excluded = self._excluded
        if isinstance(excluded, BusinessCalendar):
            if self._shift == "skip":
                return f"{base}, {excluded.describe()} excluded"
            way = "next" if self._shift == "next" else "previous"
            return f"{base}, moved to the {way} business day when it falls on {excluded.describe()}"
        return f"{base}, except {describe_trigger(excluded)}"

    def __repr__(self) -> str:
        parts = [repr(self._base), repr(self._excluded)]
        if self._shift != "skip":
            parts.append(f"shift={self._shift!r}")
        if self._search_limit != DEFAULT_SEARCH_LIMIT:
            parts.append(f"search_limit={self._search_limit}")
        return f"ExcludeTrigger({', '.join(parts)})"

    def __reduce__(self) -> tuple[Any, ...]:
        return (_restore_exclude, (self._base, self._excluded, self._shift, self._search_limit))


def _restore_exclude(
    base: Trigger, excluded: Trigger | BusinessCalendar, shift: str, search_limit: int
) -> ExcludeTrigger:
    return ExcludeTrigger(base, excluded, shift=shift, search_limit=search_limit)
