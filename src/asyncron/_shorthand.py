"""What ``schedule(trigger=...)`` accepts, and the scheduler-wide default zone (pure).

Besides a :class:`~asyncron.abc.Trigger`: a cron string, a ``timedelta`` or a number of seconds
(interval), a ``datetime`` (once). A scheduler created with ``timezone=`` reads its shorthands in
that zone (a naive datetime, a cron string) and gives it to the triggers built without a zone
(``CronTrigger(...)`` with no ``timezone``, ``IntervalTrigger`` with neither ``timezone`` nor an
aware ``start``), as APScheduler's ``timezone=`` does; a trigger given its own zone keeps it.
"""

from __future__ import annotations

from datetime import datetime, timedelta, tzinfo

from ._apscheduler_hints import trigger_name_hint
from ._tz import ensure_aware
from .abc import Trigger
from .errors import InvalidJobError, InvalidTriggerError
from .triggers.cron import CronTrigger
from .triggers.interval import IntervalTrigger
from .triggers.once import OnceTrigger

__all__ = ["coerce_trigger", "with_default_zone"]


def with_default_zone(trigger: Trigger, zone: tzinfo) -> Trigger:
    """``trigger`` with ``zone`` in place of a zone it was not given."""
    if type(trigger) is CronTrigger and not trigger.timezone_given:
        return CronTrigger(
            trigger.expression,
            zone,
            start=trigger.start,
            end=trigger.end,
            hash_key=trigger.hash_key,
        )
    if type(trigger) is IntervalTrigger and trigger.timezone is None:
        return IntervalTrigger(
            trigger.interval, start=trigger.start, end=trigger.end, timezone=zone
        )
    return trigger


def coerce_trigger(trigger: object, zone: tzinfo | None = None) -> Trigger:
    """A trigger from a trigger or a shorthand; ``zone`` is the scheduler's ``timezone=``
    (None: not given, shorthands are local time).

    Raises:
        InvalidTriggerError: a shorthand that is not valid (an APScheduler trigger name such
            as ``"interval"`` says how to write it here).
        InvalidJobError: a value of a type that is no trigger.
    """
    if isinstance(trigger, Trigger):
        return trigger if zone is None else with_default_zone(trigger, zone)
    if isinstance(trigger, str):
        hint = trigger_name_hint(trigger)
        if hint is not None:
            raise InvalidTriggerError(hint)
        return CronTrigger.from_expression(trigger, timezone=zone)
    if isinstance(trigger, timedelta) or (
        isinstance(trigger, int | float) and not isinstance(trigger, bool)
    ):
        return IntervalTrigger(trigger, timezone=zone)
    if isinstance(trigger, datetime):
        if zone is not None:
            trigger = ensure_aware(trigger, zone, field="trigger")
        return OnceTrigger(trigger)
    raise InvalidJobError(
        f"trigger: expected a Trigger (OnceTrigger, IntervalTrigger, CronTrigger), a cron string, "
        f"a timedelta or a datetime, got {type(trigger).__name__} {trigger!r}"
    )
