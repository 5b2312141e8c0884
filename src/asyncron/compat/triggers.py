"""The original threaded scheduler's triggers, computed by asyncron's.

These are the original's mutable dataclasses with its field names and defaults; they speak naive
local datetimes (``OnceTrigger(dt).get_next_run() == dt``). Each one hands the engine a real
asyncron trigger (:meth:`Trigger.to_asyncron`), so cron is asyncron's cron (Sunday = 0, DST rules,
no minute-by-minute scan) and an interval is exact elapsed time. An aware datetime given to one
of them is kept aware.
"""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import Enum
from functools import lru_cache

from .. import abc as _abc
from ..errors import CronParseError, InvalidTriggerError
from ..triggers import CronTrigger as _CronTrigger
from ..triggers import IntervalTrigger as _IntervalTrigger
from ..triggers import OnceTrigger as _OnceTrigger

__all__ = [
    "CronTrigger",
    "IntervalTrigger",
    "OnceTrigger",
    "Trigger",
    "TriggerType",
    "aware",
    "naive",
]


def aware(value: datetime, field: str = "from_time") -> datetime:
    """``value`` as an aware datetime (a naive one is read as local time).

    Raises:
        InvalidTriggerError: ``value`` is not a datetime (the message names ``field``).
    """
    if not isinstance(value, datetime):
        raise InvalidTriggerError(
            f"{field}: expected a datetime, got {type(value).__name__} {value!r}"
        )
    return value if value.tzinfo is not None else value.astimezone()


def naive(value: datetime | None) -> datetime | None:
    """``value`` as a naive local datetime (None stays None)."""
    if value is None:
        return None
    return value.astimezone().replace(tzinfo=None)


def _like(result: datetime | None, model: datetime | None) -> datetime | None:
    """``result`` (aware) in the style of ``model``: naive local when ``model`` is naive or None,
    else aware in ``model``'s zone."""
    if result is None:
        return None
    if model is None or model.tzinfo is None:
        return naive(result)
    return result.astimezone(model.tzinfo)


class TriggerType(Enum):
    """The kinds of trigger (``Trigger.get_type()``)."""

    ONCE = "once"
    INTERVAL = "interval"
    CRON = "cron"


@dataclass
class Trigger(ABC):
    """Base class of the compat triggers: ``get_next_run`` and ``get_type``.

    A subclass of your own needs only those two methods; the scheduler wraps it for the engine
    (override :meth:`to_asyncron` to hand the engine a native asyncron trigger instead).
    """

    @abstractmethod
    def get_next_run(self, from_time: datetime | None = None) -> datetime | None:
        """The first fire strictly after ``from_time`` (default now), or None when exhausted."""

    @abstractmethod
    def get_type(self) -> TriggerType:
        """Which kind of trigger this is."""

    def to_asyncron(self) -> _abc.Trigger:
        """The asyncron trigger the engine fires this one with."""
        return _Wrapped(self)


class _Wrapped(_abc.Trigger):
    """An engine trigger around a compat trigger of the user's own (naive datetimes)."""

    __slots__ = ("inner",)

    def __init__(self, inner: Trigger) -> None:
        self.inner = inner

    def get_next_run(self, from_time: datetime | None = None) -> datetime | None:
        start = naive(aware(from_time)) if from_time is not None else None
        result = self.inner.get_next_run(start)
        return None if result is None else aware(result, field="get_next_run()")

    def __repr__(self) -> str:
        return repr(self.inner)


@dataclass
class OnceTrigger(Trigger):
    """Fires once, at ``run_at`` (naive = local time)."""

    run_at: datetime

    def get_next_run(self, from_time: datetime | None = None) -> datetime | None:
        start = aware(from_time) if from_time is not None else None
        fire = self.to_asyncron().get_next_run(start)
        return None if fire is None else self.run_at

    def get_type(self) -> TriggerType:
        return TriggerType.ONCE

    def to_asyncron(self) -> _OnceTrigger:
        return _OnceTrigger(aware(self.run_at, "run_at"))


@dataclass
class IntervalTrigger(Trigger):
    """Fires every ``interval_seconds`` of elapsed time.

    Without ``start_time`` a job's first fire is one interval after it is scheduled; with it,
    fires lie on the grid ``start_time + k * interval``. No fire after ``end_time``.
    """

    seconds: int = 0
    minutes: int = 0
    hours: int = 0
    days: int = 0
    start_time: datetime | None = None
    end_time: datetime | None = None

    @property
    def interval_seconds(self) -> int:
        """The interval in seconds (all units added up)."""
        return self.seconds + self.minutes * 60 + self.hours * 3600 + self.days * 86400

    def get_next_run(self, from_time: datetime | None = None) -> datetime | None:
        start = aware(from_time) if from_time is not None else None
        model = from_time if from_time is not None else self.start_time
        return _like(self.to_asyncron().get_next_run(start), model)

    def get_type(self) -> TriggerType:
        return TriggerType.INTERVAL

    def to_asyncron(self) -> _IntervalTrigger:
        """Raises ``InvalidTriggerError`` when the interval is not positive or a unit is not a
        number (the message names it)."""
        return _IntervalTrigger(
            seconds=self.seconds,
            minutes=self.minutes,
            hours=self.hours,
            days=self.days,
            start=None if self.start_time is None else aware(self.start_time, "start_time"),
            end=None if self.end_time is None else aware(self.end_time, "end_time"),
        )


_FIELDS = ("minute", "hour", "day_of_month", "month", "day_of_week")


@lru_cache(maxsize=512)
def _compiled(expression: str, _zone_key: tuple[object, ...]) -> _CronTrigger:
    return _CronTrigger.from_expression(expression)  # in the local zone


def _local_zone_key() -> tuple[object, ...]:
    """Changes when the local zone does (``TZ`` plus ``time.tzset()``)."""
    return (time.tzname, time.timezone, time.altzone)


def _invalid(expression: str, exc: CronParseError) -> CronParseError:
    return CronParseError(
        f"Invalid cron expression {expression!r}: {exc}",
        expression=expression,
        field=exc.field,
        token=exc.token,
        position=exc.position,
    )


@dataclass
class CronTrigger(Trigger):
    """A five-field cron schedule in local time, with asyncron's cron semantics.

    Day of week counts as in every cron (0 or 7 = Sunday, 1 = Monday), day of month and day of
    week are OR-ed when both are restricted, and DST gaps and overlaps are handled (see
    docs/cron.md).

    Raises:
        CronParseError: a field is invalid (a ``ValueError``; the message names it).
    """

    minute: str = "*"
    hour: str = "*"
    day_of_month: str = "*"
    month: str = "*"
    day_of_week: str = "*"

    def __post_init__(self) -> None:
        self.to_asyncron()

    @property
    def expression(self) -> str:
        """The five fields as one cron expression."""
        for name in _FIELDS:
            value = getattr(self, name)
            if not isinstance(value, str) or not value or value.split() != [value]:
                raise CronParseError(
                    f"Invalid cron expression: {name} must be one cron field (a non-empty "
                    f"string without spaces, such as '*', '5' or '*/15'), got {value!r}",
                    expression=repr(value),
                    field=name,
                )
        return " ".join(getattr(self, name) for name in _FIELDS)

    def get_next_run(self, from_time: datetime | None = None) -> datetime | None:
        start = aware(from_time) if from_time is not None else None
        return _like(self.to_asyncron().get_next_run(start), from_time)

    def get_type(self) -> TriggerType:
        return TriggerType.CRON

    def to_asyncron(self) -> _CronTrigger:
        expression = self.expression
        try:
            return _compiled(expression, _local_zone_key())
        except CronParseError as exc:
            raise _invalid(expression, exc) from None

    @classmethod
    def from_expression(cls, expr: str) -> CronTrigger:
        """Build from ``"minute hour day_of_month month day_of_week"``.

        Raises:
            CronParseError: not five fields, or a field is invalid (a ``ValueError`` whose
                message starts with "Invalid cron expression").
        """
        if not isinstance(expr, str):
            raise CronParseError(
                f"Invalid cron expression: expected a string, got {type(expr).__name__} {expr!r}",
                expression=repr(expr),
            )
        parts = expr.split()
        if len(parts) != 5:
            raise CronParseError(
                f"Invalid cron expression: {expr!r} has {len(parts)} field(s); expected 5 "
                "(minute hour day-of-month month day-of-week)",
                expression=expr,
            )
        return cls(*parts)

    def _match_field(self, field_pattern: str, value: int, max_val: int) -> bool:
        """Whether ``value`` is in the cron field ``field_pattern``; ``max_val`` picks the field
        (59 minute, 23 hour, 31 day of month, 12 month, 6 day of week, Sunday = 0)."""
        position = {59: 0, 23: 1, 31: 2, 12: 3, 6: 4}.get(max_val, 0)
        limits = ((0, 59), (0, 23), (1, 31), (1, 12), (0, 7))[position]
        if not limits[0] <= value <= limits[1]:
            return False
        # The instant that has this value in this field (January 2030 has 31 days; 16 June
        # 2030 is a Sunday): it matches iff it is the next fire after the minute before it.
        if position == 0:
            probe = datetime(2030, 1, 1, 0, value)
        elif position == 1:
            probe = datetime(2030, 1, 1, value, 0)
        elif position == 2:
            probe = datetime(2030, 1, value)
        elif position == 3:
            probe = datetime(2030, value, 1)
        else:
            probe = datetime(2030, 6, 16 + value % 7)
        parts = ["*"] * 5
        parts[position] = field_pattern
        expression = " ".join(parts)
        try:
            trigger = _CronTrigger.from_expression(expression, "UTC")
        except CronParseError as exc:
            raise _invalid(expression, exc) from None
        start = probe.replace(tzinfo=trigger.timezone) - timedelta(minutes=1)
        return trigger.get_next_run(start) == start + timedelta(minutes=1)
