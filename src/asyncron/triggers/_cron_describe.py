"""Plain-English descriptions of parsed cron expressions.

The wording follows the shape people use when they read a crontab aloud: the time of day first
("at 09:00", "every 5 minutes"), then the days ("on Monday through Friday"), then months and
years. It describes the parsed value sets, so what it says is what the engine does.
"""

from __future__ import annotations

from ._cron_parse import DOM, MONTH_FULL, CronSpec, FieldText

__all__ = ["describe"]

WEEKDAY_FULL = ("Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday")
ORDINALS = ("", "first", "second", "third", "fourth", "fifth")


def _join(items: list[str], word: str = "and") -> str:
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + f" {word} " + items[-1]


def _runs(values: tuple[int, ...] | list[int]) -> list[tuple[int, int]]:
    """Group sorted values into (first, last) runs of consecutive numbers."""
    runs: list[tuple[int, int]] = []
    for v in values:
        if runs and runs[-1][1] == v - 1:
            runs[-1] = (runs[-1][0], v)
        else:
            runs.append((v, v))
    return runs


def _values(values: tuple[int, ...] | list[int], name: object = str) -> str:
    label = name if callable(name) else str
    parts = []
    for first, last in _runs(values):
        if first == last:
            parts.append(label(first))
        elif last == first + 1:
            parts.extend([label(first), label(last)])
        else:
            parts.append(f"{label(first)} through {label(last)}")
    return _join(parts)


def _step(values: tuple[int, ...], lo: int, hi: int) -> int | None:
    """The step n when ``values`` is exactly range(lo, hi+1, n) with n > 1, else None."""
    if len(values) < 2 or values[0] != lo:
        return None
    n = values[1] - values[0]
    if n > 1 and values == tuple(range(lo, hi + 1, n)):
        return n
    return None


def _ordinal(n: int) -> str:
    if 10 <= n % 100 <= 20:
        return f"{n}th"
    return f"{n}{({1: 'st', 2: 'nd', 3: 'rd'}).get(n % 10, 'th')}"


def _unit(values: tuple[int, ...], lo: int, hi: int, unit: str) -> str:
    """'every minute', 'every 5 minutes', 'at minutes 0 and 30', ..."""
    if values == tuple(range(lo, hi + 1)):
        return f"every {unit}"
    step = _step(values, lo, hi)
    if step is not None:
        return f"every {step} {unit}s"
    if len(values) == 1:
        return f"at {unit} {values[0]}"
    return f"at {unit}s {_values(values)}"


def _time_part(spec: CronSpec) -> str:
    seconds, minutes, hours = spec.seconds, spec.minutes, spec.hours
    if len(seconds) * len(minutes) * len(hours) <= 6:
        # A handful of exact times reads best as a list of clock times.
        if seconds == (0,):
            times = [f"{h:02d}:{m:02d}" for h in hours for m in minutes]
        else:
            times = [f"{h:02d}:{m:02d}:{s:02d}" for h in hours for m in minutes for s in seconds]
        return "at " + _join(times)
    parts = []
    if seconds != (0,):
        parts.append(_unit(seconds, 0, 59, "second"))
    if minutes == tuple(range(60)) and parts:
        if parts[0].startswith("at "):
            parts.append("of every minute")
    else:
        parts.append(_unit(minutes, 0, 59, "minute"))
    if hours == tuple(range(24)):
        if parts[-1].startswith("at "):
            parts.append("past every hour")
    else:
        step = _step(hours, 0, 23)
        if step is not None:
            parts.append(f"past every {_ordinal(step)} hour")
        elif len(hours) == 1:
            parts.append(f"during hour {hours[0]:02d}")
        else:
            parts.append(f"during hours {_values(hours, lambda h: f'{h:02d}')}")
    return " ".join(parts)


def _dom_part(spec: CronSpec, text: FieldText) -> str:
    pieces = []
    days = [d for d in range(1, 32) if spec.dom_mask >> d & 1]
    if days and len(days) < 31:
        step = _step(tuple(days), 1, 31)
        if step is not None:
            pieces.append(f"every {_ordinal(step)} day of the month")
        else:
            pieces.append(f"day {_values(days)} of the month")
    for offset in sorted(spec.dom_last):
        if offset == 0:
            pieces.append("the last day of the month")
        else:
            pieces.append(
                f"{offset} day{'s' if offset > 1 else ''} before the last day of the month"
            )
    for day in sorted(spec.dom_weekday):
        pieces.append(f"the weekday nearest day {day} of the month")
    if spec.dom_last_weekday:
        pieces.append("the last weekday of the month")
    return _join(pieces, "or")


def _dow_part(spec: CronSpec) -> str:
    pieces = []
    weekdays = [w for w in (1, 2, 3, 4, 5, 6, 0) if spec.dow_mask >> w & 1]
    if weekdays and len(weekdays) < 7:
        pieces.append(_values(_monday_first(weekdays), lambda w: WEEKDAY_FULL[w % 7]))
    for w in range(7):
        if spec.dow_last >> w & 1:
            pieces.append(f"the last {WEEKDAY_FULL[w]} of the month")
    for w, n in sorted(spec.dow_nth, key=lambda item: (item[1], (item[0] - 1) % 7)):
        pieces.append(f"the {ORDINALS[n]} {WEEKDAY_FULL[w]} of the month")
    return _join(pieces, "or")


def _monday_first(weekdays: list[int]) -> list[int]:
    # Monday = 1 .. Sunday = 7 reads naturally in runs ("Monday through Sunday").
    return sorted(7 if w == 0 else w for w in weekdays)


def describe(spec: CronSpec) -> str:
    """Describe ``spec`` in plain English (the trigger's ``describe()``)."""
    by_name = {f.name: f for f in spec.fields}
    text = _time_part(spec)
    dom_all = spec.dom_star and spec.dom_mask == sum(1 << d for d in range(1, 32))
    dow_all = spec.dow_star and spec.dow_mask == 0x7F and not spec.dow_last and not spec.dow_nth
    dom = "" if dom_all else _dom_part(spec, by_name[DOM])
    dow = "" if dow_all else _dow_part(spec)
    if dom and dow:
        joiner = " if it is also " if (spec.dom_star or spec.dow_star) else " or on "
        # Vixie's rule: both restricted and neither starting with '*' means either may match.
        text += f" on {dom}{joiner}{dow}"
    elif dom:
        text += f" on {dom}"
    elif dow:
        text += f" on {dow}"
    elif text[3:5].isdigit() and spec.months == tuple(range(1, 13)):  # "at 09:00 ..."
        text += " every day"
    if spec.months != tuple(range(1, 13)):
        text += " in " + _values(spec.months, lambda m: MONTH_FULL[m - 1])
    if spec.years is not None:
        text += " in " + _values(spec.years)
    return text
