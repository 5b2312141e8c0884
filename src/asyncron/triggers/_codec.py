"""Trigger documents for the combination and calendar triggers (plain JSON, never pickle).

:mod:`asyncron._serialize` calls :func:`extra_trigger_to_doc` and :func:`extra_trigger_from_doc`
for the kinds it does not know itself, passing its own functions for member triggers and
datetimes, so nested triggers use exactly the same format as top-level ones. Decoding builds
only the trigger classes named here, through their validating constructors.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta, timezone, tzinfo
from typing import Any

from ..abc import Trigger
from ..errors import InvalidJobError, InvalidTriggerError
from .business_day import BusinessDayTrigger
from .calendar_interval import CalendarIntervalTrigger
from .calendars import BusinessCalendar
from .combinations import AndTrigger, ExcludeTrigger, OrTrigger

__all__ = ["EXTRA_KINDS", "extra_trigger_from_doc", "extra_trigger_to_doc"]

EXTRA_KINDS = ("or", "and", "exclude", "calendar_interval", "business_day")
_MAX_NESTING = 32
_CI_FIELDS = ("years", "months", "weeks", "days", "hour", "minute", "second")

EncodeTrigger = Callable[[Trigger], dict[str, Any]]
DecodeTrigger = Callable[[Any, str], Trigger]
EncodeDt = Callable[[datetime], Any]
DecodeDt = Callable[[Any, str], datetime]


def _zone_doc(tz: tzinfo | None, what: str) -> str | None:
    if tz is None:
        return None
    if tz is UTC or (isinstance(tz, timezone) and tz.utcoffset(None) == timedelta(0)):
        return "UTC"
    key = getattr(tz, "key", None)
    if not isinstance(key, str):
        raise InvalidJobError(
            f"trigger: the {what} time zone {tz!r} has no IANA name and cannot be stored; give "
            "the zone by name, e.g. timezone='Europe/Berlin'"
        )
    return key


def _calendar_doc(cal: BusinessCalendar) -> dict[str, Any]:
    return {
        "country": cal.country,
        "subdiv": cal.subdiv,
        "weekend": list(cal.weekend),
        "extra_holidays": [d.isoformat() for d in cal.extra_holidays],
        "extra_workdays": [d.isoformat() for d in cal.extra_workdays],
        "timezone": _zone_doc(cal.timezone, "calendar"),
        "categories": list(cal.categories),
        "market": cal.market,
    }


def _span_doc(span: timedelta) -> list[int]:
    return [span.days, span.seconds, span.microseconds]


def _when_doc(value: date | datetime | None, dt_to_doc: EncodeDt) -> Any:
    if value is None:
        return None
    if isinstance(value, datetime):
        return {"datetime": dt_to_doc(value)}
    return {"date": value.isoformat()}


def extra_trigger_to_doc(
    trigger: Trigger, encode: EncodeTrigger, dt_to_doc: EncodeDt
) -> dict[str, Any] | None:
    """The document of a combination or calendar trigger, or None for another kind.

    Raises:
        InvalidJobError: a member cannot be stored (the message names it), or a zone has no
            IANA name.
    """
    if isinstance(trigger, OrTrigger):
        return {"type": "or", "triggers": [encode(m) for m in trigger.triggers]}
    if isinstance(trigger, AndTrigger):
        return {
            "type": "and",
            "triggers": [encode(m) for m in trigger.triggers],
            "threshold": _span_doc(trigger.threshold),
            "search_limit": trigger.search_limit,
        }
    if isinstance(trigger, ExcludeTrigger):
        excluded = trigger.excluded
        return {
            "type": "exclude",
            "base": encode(trigger.base),
            "excluded": (
                {"type": "business_calendar", **_calendar_doc(excluded)}
                if isinstance(excluded, BusinessCalendar)
                else encode(excluded)
            ),
            "shift": trigger.shift,
            "search_limit": trigger.search_limit,
        }
    if isinstance(trigger, CalendarIntervalTrigger):
        kw = trigger.to_kwargs()
        return {
            "type": "calendar_interval",
            **{k: kw[k] for k in _CI_FIELDS},
            "timezone": _zone_doc(trigger.timezone, "calendar-interval"),
            "start": _when_doc(kw["start"], dt_to_doc),
            "end": _when_doc(kw["end"], dt_to_doc),
            "missing_day": trigger.missing_day,
        }
    if isinstance(trigger, BusinessDayTrigger):
        return {
            "type": "business_day",
            "calendar": _calendar_doc(trigger.calendar),
            "day": trigger.day,
            "hour": trigger.at.hour,
            "minute": trigger.at.minute,
            "second": trigger.at.second,
            "timezone": _zone_doc(trigger.timezone, "business-day"),
            "start": None if trigger.start is None else dt_to_doc(trigger.start),
            "end": None if trigger.end is None else dt_to_doc(trigger.end),
        }
    return None


# -- decoding ---------------------------------------------------------------------------------


def _int(doc: dict[str, Any], key: str, path: str) -> int:
    value = doc[key]
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidTriggerError(f"{path}.{key}: expected a whole number, got {value!r}")
    return value


def _opt_str(doc: dict[str, Any], key: str, path: str) -> str | None:
    value = doc.get(key)
    if value is not None and not isinstance(value, str):
        raise InvalidTriggerError(f"{path}.{key}: expected a string or null, got {value!r}")
    return value


def _list(doc: dict[str, Any], key: str, path: str) -> list[Any]:
    value = doc[key]
    if not isinstance(value, list):
        raise InvalidTriggerError(f"{path}.{key}: expected a list, got {value!r}")
    return value


def _calendar_from(doc: Any, path: str) -> BusinessCalendar:
    if not isinstance(doc, dict):
        raise InvalidTriggerError(f"{path}: expected a calendar object, got {doc!r}")
    weekend = _list(doc, "weekend", path)
    holidays = _list(doc, "extra_holidays", path)
    workdays = _list(doc, "extra_workdays", path)
    for name, items in (("extra_holidays", holidays), ("extra_workdays", workdays)):
        if not all(isinstance(x, str) for x in items):
            raise InvalidTriggerError(f"{path}.{name}: expected ISO date strings")
    categories = doc.get("categories", ["public"])
    if not isinstance(categories, list) or not all(isinstance(c, str) for c in categories):
        raise InvalidTriggerError(f"{path}.categories: expected a list of strings")
    return BusinessCalendar(
        _opt_str(doc, "country", path),
        _opt_str(doc, "subdiv", path),
        weekend=weekend,
        extra_holidays=holidays,
        extra_workdays=workdays,
        timezone=_opt_str(doc, "timezone", path),
        categories=categories,
        market=_opt_str(doc, "market", path),
    )


def _span_from(doc: Any, path: str) -> timedelta:
    if not (isinstance(doc, list) and len(doc) == 3 and all(type(x) is int for x in doc)):
        raise InvalidTriggerError(f"{path}: expected [days, seconds, microseconds], got {doc!r}")
    return timedelta(days=doc[0], seconds=doc[1], microseconds=doc[2])


def _when_from(doc: Any, path: str, dt_from_doc: DecodeDt) -> date | datetime | None:
    if doc is None:
        return None
    if isinstance(doc, dict) and set(doc) == {"date"} and isinstance(doc["date"], str):
        return date.fromisoformat(doc["date"])
    if isinstance(doc, dict) and set(doc) == {"datetime"}:
        return dt_from_doc(doc["datetime"], path)
    raise InvalidTriggerError(
        f"{path}: expected {{'date': ...}} or {{'datetime': ...}}, got {doc!r}"
    )


def _members(doc: dict[str, Any], path: str, decode: DecodeTrigger) -> list[Trigger]:
    return [decode(m, f"{path}.triggers[{i}]") for i, m in enumerate(_list(doc, "triggers", path))]


def extra_trigger_from_doc(
    kind: str, doc: dict[str, Any], path: str, decode: DecodeTrigger, dt_from_doc: DecodeDt
) -> Trigger | None:
    """Rebuild a combination or calendar trigger, or None when ``kind`` is not one of them.

    Raises:
        KeyError: a required field is missing (the caller names it).
        InvalidTriggerError: a field has the wrong shape or value (the message names it), or
            triggers are nested more than 32 deep.
    """
    if kind not in EXTRA_KINDS:
        return None
    if path.count(".") > _MAX_NESTING:
        raise InvalidTriggerError(f"{path}: triggers nested more than {_MAX_NESTING} deep")
    if kind == "or":
        return OrTrigger(*_members(doc, path, decode))
    if kind == "and":
        return AndTrigger(
            *_members(doc, path, decode),
            threshold=_span_from(doc.get("threshold", [0, 0, 0]), f"{path}.threshold"),
            search_limit=_int(doc, "search_limit", path),
        )
    if kind == "exclude":
        excluded_doc = doc["excluded"]
        excluded: Trigger | BusinessCalendar
        if isinstance(excluded_doc, dict) and excluded_doc.get("type") == "business_calendar":
            excluded = _calendar_from(excluded_doc, f"{path}.excluded")
        else:
            excluded = decode(excluded_doc, f"{path}.excluded")
        shift = doc["shift"]
        if not isinstance(shift, str):
            raise InvalidTriggerError(f"{path}.shift: expected a string, got {shift!r}")
        return ExcludeTrigger(
            decode(doc["base"], f"{path}.base"),
            excluded,
            shift=shift,
            search_limit=_int(doc, "search_limit", path),
        )
    if kind == "calendar_interval":
        missing = doc["missing_day"]
        if not isinstance(missing, str):
            raise InvalidTriggerError(f"{path}.missing_day: expected a string, got {missing!r}")
        return CalendarIntervalTrigger(
            **{k: _int(doc, k, path) for k in _CI_FIELDS},
            timezone=_opt_str(doc, "timezone", path) or "UTC",
            start=_when_from(doc["start"], f"{path}.start", dt_from_doc),
            end=_when_from(doc.get("end"), f"{path}.end", dt_from_doc),
            missing_day=missing,
        )
    start, end = doc.get("start"), doc.get("end")
    return BusinessDayTrigger(
        _calendar_from(doc["calendar"], f"{path}.calendar"),
        _int(doc, "day", path),
        hour=_int(doc, "hour", path),
        minute=_int(doc, "minute", path),
        second=_int(doc, "second", path),
        timezone=_opt_str(doc, "timezone", path) or "UTC",
        start=None if start is None else dt_from_doc(start, f"{path}.start"),
        end=None if end is None else dt_from_doc(end, f"{path}.end"),
    )
