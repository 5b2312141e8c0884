"""Cron expression parser: text -> :class:`CronSpec`, with precise errors.

Every error is a :class:`~asyncron.errors.CronParseError` whose message names the field, the
offending token, its 0-based position in the expression and what is allowed, for example::

    minute field: value 60 at position 0 is out of range; allowed 0-59

The grammar is documented in ``docs/cron.md``. This module is pure: no time zones, no clock.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

from ..errors import CronParseError

__all__ = ["CronSpec", "FieldText", "parse_expression"]

ALIASES: dict[str, str] = {
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
    "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}

MONTH_NAMES = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")
DAY_NAMES = ("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT")
MONTH_FULL = (
    "January", "February", "March", "April", "May", "June",
    "July", "August", "September", "October", "November", "December",
)  # fmt: skip
# Longest length of each month (February counts its leap-year 29).
MAX_MONTH_LEN = (0, 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)

SECOND, MINUTE, HOUR, DOM, MONTH, DOW, YEAR = (
    "second", "minute", "hour", "day-of-month", "month", "day-of-week", "year",
)  # fmt: skip
BOUNDS: dict[str, tuple[int, int]] = {
    SECOND: (0, 59),
    MINUTE: (0, 59),
    HOUR: (0, 23),
    DOM: (1, 31),
    MONTH: (1, 12),
    DOW: (0, 7),
    YEAR: (1970, 9999),
}
# The range that a bare ``H`` draws from. Days stop at 28 so that a hashed day exists in every
# month, and weekdays stop at 6 so that Sunday is not twice as likely (Jenkins does the same).
HASH_BOUNDS: dict[str, tuple[int, int]] = {**BOUNDS, DOM: (1, 28), DOW: (0, 6)}

FIELD_COUNT_HELP = (
    "expected 5 fields (minute hour day-of-month month day-of-week), 6 with seconds first, "
    "or 7 with seconds first and a year last"
)

_NUM = r"(?:\d+|[A-Za-z]+)"
#: Digits kept when a number token is read; a longer number is out of range in every field.
_MAX_DIGITS = 12


def _small_int(digits: str) -> int:
    """The value of a run of digits, or 10**12 (out of range everywhere) for a longer one: a
    10,000-digit token must be "out of range", not Python's int-conversion limit."""
    significant = digits.lstrip("0") or "0"
    return int(significant) if len(significant) <= _MAX_DIGITS else 10**_MAX_DIGITS


def _short(token: str) -> str:
    """A token as shown in a message: a huge one is cut (the error still carries it whole)."""
    return token if len(token) <= 40 else f"{token[:20]}...{token[-8:]} ({len(token)} characters)"


_RANGE_RE = re.compile(rf"^({_NUM})(?:-({_NUM}))?(?:/(\w*))?$")
_STAR_RE = re.compile(r"^[*?](?:/(\w*))?$")
_HASH_RE = re.compile(r"^[Hh](?:\((\d+)-(\d+)\))?(?:/(\w*))?$")
_LAST_DOM_RE = re.compile(r"^[Ll](?:-(\d+))?$")
# ``L/n`` and ``LW/n``: a step over one value selects that value (cronsim accepts them).
_LAST_STEP_RE = re.compile(r"^([Ll][Ww]?)/(\w*)$")
_WEEKDAY_DOM_RE = re.compile(r"^(?:(\d+)[Ww]|[Ww](\d+))$")  # 15W, or the prefix form W15
_LAST_DOW_RE = re.compile(rf"^({_NUM})[Ll]$")
_NTH_DOW_RE = re.compile(rf"^({_NUM})#(\d+)$")


@dataclass(frozen=True, slots=True)
class FieldText:
    """One field as written: its name, its text and where it starts in the expression."""

    name: str
    text: str
    position: int


@dataclass(frozen=True, slots=True)
class CronSpec:
    """A parsed expression: plain value sets plus the day-of-month/week extras.

    ``seconds``..``months`` are sorted tuples. ``years`` is None for "any year". Day-of-week
    values use 0 = Sunday .. 6 = Saturday (7 has been folded into 0).
    """

    fields: tuple[FieldText, ...]
    seconds: tuple[int, ...]
    minutes: tuple[int, ...]
    hours: tuple[int, ...]
    dom_mask: int  # bit d set: day d of the month (1..31)
    dom_last: frozenset[int]  # L-n offsets (0 for plain L)
    dom_weekday: frozenset[int]  # nW: nearest weekday to day n
    dom_last_weekday: bool  # LW
    months: tuple[int, ...]
    dow_mask: int  # bit w set: weekday w (0 = Sunday)
    dow_last: int  # bit w set: last weekday w of the month (wL)
    dow_nth: frozenset[tuple[int, int]]  # (weekday, n): n-th weekday of the month (w#n)
    years: tuple[int, ...] | None
    dom_star: bool  # the day-of-month field starts with * or ? (Vixie: "unrestricted")
    dow_star: bool
    fixed_time: bool  # no seconds/minute/hour field starts with *: the DST "fixed-time" rule
    hashed: bool  # the expression uses H


class _FieldParser:
    """Parses one field's comma list into a set of values plus special items."""

    def __init__(self, expr: str, ft: FieldText, hash_seed: str) -> None:
        self.expr = expr
        self.ft = ft
        self.name = ft.name
        self.lo, self.hi = BOUNDS[ft.name]
        self.hash_seed = hash_seed
        self.values: set[int] = set()
        self.dom_last: set[int] = set()
        self.dom_weekday: set[int] = set()
        self.dom_last_weekday = False
        self.dow_last = 0
        self.dow_nth: set[tuple[int, int]] = set()
        self.hashed = False

    # -- errors ---------------------------------------------------------------------------
    def allowed(self) -> str:
        text = f"{self.lo}-{self.hi}"
        if self.name == MONTH:
            text += " or JAN-DEC"
        elif self.name == DOW:
            text += " (0 and 7 are Sunday) or SUN-SAT"
        return text

    def fail(
        self, what: str, token: str, pos: int, problem: str, allowed: str | None = None
    ) -> CronParseError:
        allowed_text = self.allowed() if allowed is None else allowed
        problem = f" {problem}" if problem else ""
        return CronParseError(
            f"{self.name} field: {what} at position {pos}{problem}; allowed {allowed_text}",
            expression=self.expr,
            field=self.name,
            token=token,
            position=pos,
        )

    # -- pieces ---------------------------------------------------------------------------
    def value(self, token: str, pos: int) -> int:
        """Parse a number or a name and check it against the field's range."""
        if token.isascii() and token.isdigit():
            number = _small_int(token)
            if not self.lo <= number <= self.hi:
                raise self.fail(f"value {_short(token)}", token, pos, "is out of range")
            return number
        upper = token.upper()
        names = MONTH_NAMES if self.name == MONTH else DAY_NAMES if self.name == DOW else None
        if names is not None and upper in names:
            return names.index(upper) + (1 if self.name == MONTH else 0)
        if names is None and token.isalpha():
            raise self.fail(
                f"name {_short(token)!r}", token, pos, "is not allowed here (only numbers)"
            )
        raise self.fail(f"unknown name {_short(token)!r}", token, pos, "")

    def step(self, token: str, pos: int) -> int:
        """A step: any positive whole number. One wider than the field (``*/100`` in the
        day-of-month) selects the first value only, as in Vixie cron and cronsim."""
        allowed = "1-999999999"
        if not (token.isascii() and token.isdigit()):
            raise self.fail(f"step {_short(token)!r}", token, pos, "is not a number", allowed)
        step = _small_int(token)
        if not 1 <= step <= 999_999_999:
            raise self.fail(f"step {_short(token)}", token, pos, "is out of range", allowed)
        return step

    def hash_value(self, modulus: int) -> int:
        # sha256, not hash(): the spread must be the same in every process and every run.
        digest = hashlib.sha256(f"{self.hash_seed}\x00{self.name}".encode()).digest()
        return int.from_bytes(digest[:8], "big") % modulus

    # -- items ----------------------------------------------------------------------------
    def parse(self) -> None:
        text, base = self.ft.text, self.ft.position
        items = text.split(",")
        if len(items) > 1:
            self.check_alone(items, base)
        offset = 0
        for item in items:
            pos = base + offset
            offset += len(item) + 1
            if not item:
                raise self.fail("empty list item", "", pos, "(stray comma)", self.allowed())
            self.item(item, pos)

    def check_alone(self, items: list[str], base: int) -> None:
        """``?`` and ``nW`` must be the whole field (Quartz and croniter refuse them in lists)."""
        offset = 0
        for item in items:
            pos = base + offset
            offset += len(item) + 1
            if item == "?":
                raise self.fail("'?'", item, pos, "must stand alone in its field (no list)",
                                "? on its own, or * and values")  # fmt: skip
            if self.name == DOM and _WEEKDAY_DOM_RE.match(item):
                raise self.fail(f"nearest-weekday item {_short(item)!r}", item, pos,
                                "must stand alone in its field (no list)",
                                "nW on its own, e.g. 15W")  # fmt: skip

    def item(self, item: str, pos: int) -> None:
        name = self.name
        star = _STAR_RE.match(item)
        if star:
            if item[0] == "?" and name not in (DOM, DOW):
                raise self.fail(
                    "'?'", item, pos, "is only allowed in the day fields", "* or values"
                )
            if item[0] == "?" and item != "?":
                raise self.fail(f"token {_short(item)!r}", item, pos, "cannot be parsed (no step after ?)",
                                "? on its own")  # fmt: skip
            if star.group(1) is None:
                self.values.update(range(self.lo, self.hi + 1))
            else:
                step = self.step(star.group(1), pos + 2)
                self.values.update(range(self.lo, self.hi + 1, step))
            return
        hashed = _HASH_RE.match(item)
        if hashed:
            self.hash_item(hashed, item, pos)
            return
        if name == DOM:
            last = _LAST_DOM_RE.match(item)
            if last:
                offset = _small_int(last.group(1)) if last.group(1) is not None else 0
                if last.group(1) is not None and not 1 <= offset <= 30:
                    raise self.fail(f"offset {_short(last.group(1))}", last.group(1), pos + 2,
                                    "is out of range", "L-1 to L-30")  # fmt: skip
                self.dom_last.add(offset)
                return
            last_step = _LAST_STEP_RE.match(item)
            if last_step:
                self.step(last_step.group(2), pos + len(last_step.group(1)) + 1)
                item = last_step.group(1)
            if item.upper() == "L":
                self.dom_last.add(0)
                return
            if item.upper() == "LW":
                self.dom_last_weekday = True
                return
            weekday = _WEEKDAY_DOM_RE.match(item)
            if weekday:
                number = weekday.group(1) or weekday.group(2)
                self.dom_weekday.add(self.value(number, pos + (item[0] in "Ww")))
                return
        if name == DOW:
            last_dow = _LAST_DOW_RE.match(item)
            if last_dow:
                self.dow_last |= 1 << (self.value(last_dow.group(1), pos) % 7)
                return
            nth = _NTH_DOW_RE.match(item)
            if nth:
                day = self.value(nth.group(1), pos) % 7
                n_pos = pos + len(nth.group(1)) + 1
                n_text = nth.group(2)
                occurrence = _small_int(n_text)
                if not 1 <= occurrence <= 5:
                    raise self.fail(
                        f"occurrence #{_short(n_text)}", n_text, n_pos, "is out of range", "#1-#5"
                    )
                self.dow_nth.add((day, occurrence))
                return
        ranged = _RANGE_RE.match(item)
        if not ranged:
            raise self.fail(
                f"token {_short(item)!r}", item, pos, "cannot be parsed", self.syntax_help()
            )
        start_text, end_text, step_text = ranged.groups()
        start = self.value(start_text, pos)
        end_pos = pos + len(start_text) + 1
        if end_text is None:
            # "a/n" means "a through the field's maximum, every n" (cronie and cronsim agree).
            end = self.hi if step_text is not None else start
        else:
            end = self.value(end_text, end_pos)
            if end < start:
                token = f"{start_text}-{end_text}"
                raise self.fail(f"range {token}", token, pos, "is reversed (start after end)",
                                f"{self.lo}-{self.hi}, written low-high")  # fmt: skip
        if step_text is None:
            self.values.update(range(start, end + 1))
        else:
            step_pos = pos + item.index("/") + 1
            self.values.update(range(start, end + 1, self.step(step_text, step_pos)))

    def hash_item(self, match: re.Match[str], item: str, pos: int) -> None:
        if self.name == YEAR:
            raise self.fail("hashed value 'H'", item, pos, "is not supported in this field",
                            f"{self.lo}-{self.hi}")  # fmt: skip
        self.hashed = True
        lo, hi = HASH_BOUNDS[self.name]
        if match.group(1) is not None:
            lo_text, hi_text = match.group(1), match.group(2)
            lo = self.value(lo_text, pos + 2)
            hi = self.value(hi_text, pos + 3 + len(lo_text))
            if hi < lo:
                token = f"{lo_text}-{hi_text}"
                raise self.fail(f"range {token}", token, pos + 2, "is reversed (start after end)",
                                f"{self.lo}-{self.hi}, written low-high")  # fmt: skip
            if self.name == DOM and hi > 28:
                raise self.fail(f"hashed range {lo_text}-{hi_text}", item, pos,
                                "may pick a day missing from some months", "H(a-b) within 1-28")  # fmt: skip
        step_text = match.group(3)
        if step_text is None:
            self.values.add(lo + self.hash_value(hi - lo + 1))
            return
        step = self.step(step_text, pos + item.index("/") + 1)
        first = lo + self.hash_value(step)
        self.values.update(range(first, hi + 1, step))

    def syntax_help(self) -> str:
        common = "*, n, a-b, */n, a-b/n, a/n, H, H/n, H(a-b), lists a,b"
        if self.name == DOM:
            return common + ", ?, L, L-n, LW, nW, L/n, LW/n"
        if self.name == DOW:
            return common + ", ?, nL, n#k"
        return common


def _split_fields(expr: str) -> list[tuple[str, int]]:
    return [(m.group(), m.start()) for m in re.finditer(r"\S+", expr)]


def parse_expression(expression: object, hash_key: str | None = None) -> CronSpec:
    """Parse a cron expression into a :class:`CronSpec`.

    ``hash_key`` seeds ``H`` fields; None seeds them with the expression text itself.

    Raises:
        CronParseError: the expression is not a string, is empty, has the wrong number of
            fields, contains a bad token, or can never fire (a day that no allowed month has).
    """
    if not isinstance(expression, str):
        raise CronParseError(
            f"cron expression must be a string, got {type(expression).__name__} {expression!r}",
            expression=repr(expression),
        )
    expr = expression
    parts = _split_fields(expr)
    if not parts:
        raise CronParseError(f"cron expression is empty; {FIELD_COUNT_HELP}", expression=expr)
    if parts[0][0].startswith("@"):
        alias, pos = parts[0]
        if len(parts) > 1:
            extra, extra_pos = parts[1]
            raise CronParseError(
                f"alias {alias} at position {pos} takes no other fields, found {extra!r} at "
                f"position {extra_pos}; allowed a lone alias",
                expression=expr, token=extra, position=extra_pos,
            )  # fmt: skip
        target = ALIASES.get(alias.lower())
        if target is None:
            raise CronParseError(
                f"unknown alias {alias!r} at position {pos}; allowed "
                + ", ".join(ALIASES),
                expression=expr, token=alias, position=pos,
            )  # fmt: skip
        # Alias fields point at the alias itself so that any later error still has a caret.
        parts = [(text, pos) for text in target.split()]
    count = len(parts)
    if count not in (5, 6, 7):
        if count > 7:
            token, pos = parts[7]
        else:
            token, pos = parts[-1][0], parts[-1][1]
        raise CronParseError(
            f"cron expression has {count} field{'s' if count != 1 else ''}; {FIELD_COUNT_HELP}",
            expression=expr, token=token, position=pos,
        )  # fmt: skip
    names = [MINUTE, HOUR, DOM, MONTH, DOW]
    if count >= 6:
        names.insert(0, SECOND)
    if count == 7:
        names.append(YEAR)
    fields = tuple(FieldText(n, t, p) for n, (t, p) in zip(names, parts, strict=True))
    by_name = {f.name: f for f in fields}
    seed = expr if hash_key is None else hash_key
    parsed = {}
    for ft in fields:
        fp = _FieldParser(expr, ft, seed)
        fp.parse()
        parsed[ft.name] = fp
    dom, dow = parsed[DOM], parsed[DOW]
    dow_mask = 0
    for day in dow.values:
        dow_mask |= 1 << (day % 7)
    dom_mask = 0
    for day in dom.values:
        dom_mask |= 1 << day
    year_field = parsed.get(YEAR)
    years = None
    if year_field is not None and not by_name[YEAR].text.startswith("*"):
        years = tuple(sorted(year_field.values))
    fixed_time = not any(
        ft.text.startswith("*") for ft in fields if ft.name in (SECOND, MINUTE, HOUR)
    )
    spec = CronSpec(
        fields=fields,
        seconds=tuple(sorted(parsed[SECOND].values)) if SECOND in parsed else (0,),
        minutes=tuple(sorted(parsed[MINUTE].values)),
        hours=tuple(sorted(parsed[HOUR].values)),
        dom_mask=dom_mask,
        dom_last=frozenset(dom.dom_last),
        dom_weekday=frozenset(dom.dom_weekday),
        dom_last_weekday=dom.dom_last_weekday,
        months=tuple(sorted(parsed[MONTH].values)),
        dow_mask=dow_mask,
        dow_last=dow.dow_last,
        dow_nth=frozenset(dow.dow_nth),
        years=years,
        dom_star=by_name[DOM].text[0] in "*?",
        dow_star=by_name[DOW].text[0] in "*?",
        fixed_time=fixed_time,
        hashed=any(fp.hashed for fp in parsed.values()),
    )
    _check_feasible(expr, spec)
    return spec


# -- day arithmetic shared with the engine ---------------------------------------------------


def full_month_mask(length: int) -> int:
    """Bits 1..length set."""
    return ((1 << (length + 1)) - 1) & ~1


def day_mask(spec: CronSpec, length: int, first_weekday: int) -> int:
    """The days (bits 1..31) on which ``spec`` fires in a month of ``length`` days whose first
    day is weekday ``first_weekday`` (0 = Sunday).

    A month's matching days depend only on these two numbers, so the engine computes at most 28
    masks per trigger and looks them up by (length, first weekday).
    """
    full = full_month_mask(length)
    # Day of month part.
    dom = spec.dom_mask & full
    for offset in spec.dom_last:
        if length - offset >= 1:
            dom |= 1 << (length - offset)
    for day in spec.dom_weekday:
        # 31W in a 30-day month: the weekday nearest that month's last day (croniter, Quartz).
        day = min(day, length)
        dom |= 1 << _nearest_weekday(day, length, first_weekday)
    if spec.dom_last_weekday:
        dom |= 1 << _nearest_weekday(length, length, first_weekday)
    # Day of week part: days 1..7 carrying each weekday, repeated over five weeks.
    week = 0
    mask = spec.dow_mask
    for weekday in range(7):
        if mask >> weekday & 1:
            week |= 1 << ((weekday - first_weekday) % 7 + 1)
    dow = (week | week << 7 | week << 14 | week << 21 | week << 28) & full
    if spec.dow_last:
        last_weekday = (first_weekday + length - 1) % 7
        for weekday in range(7):
            if spec.dow_last >> weekday & 1:
                dow |= 1 << (length - (last_weekday - weekday) % 7)
    for weekday, nth in spec.dow_nth:
        day = 1 + (weekday - first_weekday) % 7 + 7 * (nth - 1)
        if day <= length:
            dow |= 1 << day
    # Vixie cron: when either day field starts with '*' both must match, otherwise either.
    if spec.dom_star or spec.dow_star:
        return dom & dow
    return dom | dow


def _nearest_weekday(day: int, length: int, first_weekday: int) -> int:
    """The Monday-Friday day nearest to ``day`` without leaving the month (Quartz ``W``)."""
    weekday = (first_weekday + day - 1) % 7
    if weekday == 6:  # Saturday: Friday before, unless that leaves the month
        return day - 1 if day > 1 else day + 2
    if weekday == 0:  # Sunday: Monday after, unless that leaves the month
        return day + 1 if day < length else day - 2
    return day


def month_length(year: int, month: int) -> int:
    if month == 2:
        return 29 if year % 4 == 0 and (year % 100 != 0 or year % 400 == 0) else 28
    return MAX_MONTH_LEN[month]


def first_weekday(year: int, month: int) -> int:
    """Weekday of the first of the month, 0 = Sunday (Sakamoto's method: no datetime objects)."""
    offsets = (0, 3, 2, 5, 0, 3, 5, 1, 4, 6, 2, 4)
    y = year - 1 if month < 3 else year
    return (y + y // 4 - y // 100 + y // 400 + offsets[month - 1] + 1) % 7


def _month_list(months: tuple[int, ...]) -> str:
    named = [MONTH_FULL[m - 1] for m in months]
    if len(named) == 1:
        return named[0]
    return ", ".join(named[:-1]) + " or " + named[-1]


def _check_feasible(expr: str, spec: CronSpec) -> None:
    """Reject expressions that can never fire, naming the day field at fault.

    A month's days depend only on its length and first weekday, and every (length, weekday)
    pair occurs in the Gregorian calendar for every month that can have that length, so checking
    those pairs (at most 28) settles it without scanning years. A year field is then checked
    against real calendars, year by year, stopping at the first year that fires.
    """
    lengths = set()
    for month in spec.months:
        lengths.add(MAX_MONTH_LEN[month])
        if month == 2:
            lengths.add(28)
    feasible = any(day_mask(spec, length, weekday) for length in lengths for weekday in range(7))
    dom_field = next(f for f in spec.fields if f.name == DOM)
    month_field = next(f for f in spec.fields if f.name == MONTH)
    if not feasible:
        longest = max(lengths)
        raise CronParseError(
            f"day-of-month field: {dom_field.text!r} at position {dom_field.position} never "
            f"matches a day in {_month_list(spec.months)}"
            + ("" if spec.dow_star and spec.dow_mask == 0x7F else " on the days of week given")
            + f"; allowed 1-{longest} (or L) for the month field {month_field.text!r}",
            expression=expr, field=DOM, token=dom_field.text, position=dom_field.position,
        )  # fmt: skip
    if spec.years is None:
        return
    for year in spec.years:
        for month in spec.months:
            if day_mask(spec, month_length(year, month), first_weekday(year, month)):
                return
    year_field = next(f for f in spec.fields if f.name == YEAR)
    raise CronParseError(
        f"year field: {year_field.text!r} at position {year_field.position} contains no year in "
        f"which day-of-month {dom_field.text!r} and month {month_field.text!r} match; allowed "
        "years that have such a day",
        expression=expr, field=YEAR, token=year_field.text, position=year_field.position,
    )  # fmt: skip
