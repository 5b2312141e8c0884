"""Cron fields given by keyword (``CronTrigger(day_of_week="mon-fri", hour=9)``), as an expression.

The keyword form is APScheduler's, and so is its defaulting rule, because that is what a
migrating program means: a field *less* significant than the most significant one given
defaults to its minimum (``hour=9`` fires at 09:00:00, not every second of nine o'clock), a
more significant one to ``*``. The result is an ordinary expression, parsed by the one parser,
so every value has cron's meaning: in ``day_of_week``, names (``mon-fri``) are safe and numbers
follow cron (0 and 7 are Sunday), not APScheduler 3 (where 0 is Monday).
"""

from __future__ import annotations

from collections.abc import Mapping

from ..errors import CronParseError

__all__ = ["FIELD_ORDER", "expression_from_fields"]

#: most significant first (APScheduler's order, without its ``week``)
FIELD_ORDER = ("year", "month", "day", "day_of_week", "hour", "minute", "second")
_MINIMUM = {"month": "1", "day": "1", "hour": "0", "minute": "0", "second": "0"}


def _text(name: str, value: object) -> str:
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise CronParseError(
            f"{name}: expected a cron field as a str or an int, got {type(value).__name__} "
            f"{value!r}",
            field=name,
        )
    text = str(value).strip()
    if not text or any(c.isspace() for c in text):
        raise CronParseError(
            f"{name}: expected one cron field such as '9', '*/5', '1-5' or 'mon-fri', "
            f"got {value!r}",
            field=name,
        )
    return text


def expression_from_fields(fields: Mapping[str, object]) -> str:
    """The expression for the keyword fields given (None values are "not given").

    Raises:
        CronParseError: no field given, a field that is not one string or int.
    """
    given = {name: _text(name, v) for name, v in fields.items() if v is not None}
    if not given:
        raise CronParseError(
            "CronTrigger: give a cron expression or at least one field by keyword ("
            + ", ".join(f"{n}=" for n in FIELD_ORDER)
            + ")"
        )
    day, weekday = given.get("day", "*"), given.get("day_of_week", "*")
    if not day.startswith("*") and not weekday.startswith("*"):
        raise CronParseError(
            f"day={day!r} with day_of_week={weekday!r}: cron fires when *either* matches (Vixie "
            "cron ORs the two; APScheduler ANDs them), which is rarely what is meant here; for "
            "'the first Monday' write day_of_week='mon#1', for 'the last Friday' 'friL' (see "
            "docs/cron.md), or pass the expression itself if you do want either"
        )
    most = min(FIELD_ORDER.index(name) for name in given)
    value: dict[str, str] = {}
    for rank, name in enumerate(FIELD_ORDER):
        if name in given:
            value[name] = given[name]
        elif (
            rank > most and name != "day_of_week" and not (name == "day" and "day_of_week" in given)
        ):
            value[name] = _MINIMUM[name]
        else:
            value[name] = "*"
    parts = [value["minute"], value["hour"], value["day"], value["month"], value["day_of_week"]]
    if "year" in given:
        return " ".join([value["second"], *parts, value["year"]])
    if value["second"] != "0":
        return " ".join([value["second"], *parts])
    return " ".join(parts)
