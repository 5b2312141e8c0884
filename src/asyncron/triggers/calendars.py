"""Business calendars: which days are working days, from the ``holidays`` package.

A :class:`BusinessCalendar` is a pure value: weekend days, a country's (and region's) public
holidays as the `holidays <https://pypi.org/project/holidays/>`_ package knows them, plus your own
extra holidays and extra working days. Triggers use it as an exclusion
(``trigger.exclude(calendar)``), with a shift policy (``shift="next"``), or to count business
days (:class:`~asyncron.triggers.business_day.BusinessDayTrigger`).

``holidays`` is an optional dependency: ``pip install 'asyncron[calendars]'``. A calendar without
a country (weekends and your own dates only) works without it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import date, datetime, timedelta, tzinfo
from typing import Any, NoReturn

from .._tz import resolve_zone
from ..errors import InvalidTriggerError

_holidays: Any
try:  # optional: only a calendar with a country needs it
    import holidays as _holidays
except ImportError:  # pragma: no cover - the test extra installs it
    _holidays = None

__all__ = ["BusinessCalendar"]

WEEKDAY_NAMES = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
#: How far :meth:`BusinessCalendar.next_business_day` looks before giving up (about 10 years).
SEARCH_DAYS = 3660
_SPEC_RE = re.compile(r"^([A-Za-z]{2,4})(?:-([A-Za-z0-9]{1,10}))?$")
_YEAR_CACHE_LIMIT = 64


def _dates(name: str, values: Iterable[date | str] | None) -> frozenset[date]:
    if values is None:
        return frozenset()
    if isinstance(values, str | date):
        raise InvalidTriggerError(
            f"{name}: expected a list of dates, got a single {type(values).__name__} {values!r}; "
            f"write {name}=[...]"
        )
    out = set()
    try:
        items = list(values)
    except TypeError:
        raise InvalidTriggerError(
            f"{name}: expected a list of dates, got {type(values).__name__} {values!r}"
        ) from None
    for i, value in enumerate(items):
        if isinstance(value, datetime):
            raise InvalidTriggerError(
                f"{name}[{i}]: expected a date, got the datetime {value!r}; pass value.date()"
            )
        if isinstance(value, date):
            out.add(value)
        elif isinstance(value, str):
            try:
                out.add(date.fromisoformat(value))
            except ValueError:
                raise InvalidTriggerError(
                    f"{name}[{i}]: {value!r} is not an ISO date; allowed e.g. '2026-12-24'"
                ) from None
        else:
            raise InvalidTriggerError(
                f"{name}[{i}]: expected a date or an ISO date string, got "
                f"{type(value).__name__} {value!r}"
            )
    return frozenset(out)


def _categories(values: Iterable[str] | None, country: str | None) -> tuple[str, ...]:
    if values is None:
        return ("public",)
    if isinstance(values, str):
        raise InvalidTriggerError(
            f"categories: expected a list of category names, got the single string {values!r}; "
            f"write categories=[{values!r}]"
        )
    try:
        cats = tuple(sorted(set(values)))
    except TypeError:
        raise InvalidTriggerError(f"categories: expected a list of names, got {values!r}") from None
    if not cats or not all(isinstance(c, str) and c for c in cats):
        raise InvalidTriggerError(
            f"categories: expected one or more category names such as 'public', got {values!r}"
        )
    if country is None and cats != ("public",):
        raise InvalidTriggerError(f"categories: {list(cats)!r} given without a country")
    return cats


def _check_market(market: object) -> str:
    if not isinstance(market, str):
        raise InvalidTriggerError(
            f"market: expected a market code such as 'XNYS', got {type(market).__name__} {market!r}"
        )
    if _holidays is None:
        raise ModuleNotFoundError(
            f"BusinessCalendar(market={market!r}) needs the 'holidays' package: "
            "pip install 'asyncron[calendars]'"
        )
    supported = _holidays.list_supported_financial()
    code = market.upper()
    if code not in supported:
        raise InvalidTriggerError(
            f"market: {market!r} is not a market the holidays package knows; allowed "
            + ", ".join(sorted(supported))
        )
    return code


class BusinessCalendar:
    """Working days: not a weekend day, not a public holiday, unless listed as a working day.

    Args:
        country: ISO 3166-1 code known to ``holidays`` (``"DE"``, ``"US"``), or None for no
            public holidays (weekends and ``extra_holidays`` only).
        subdiv: a subdivision of ``country`` (``"HE"`` for Hesse, ``"CA"`` for California).
        weekend: weekday numbers that are not working days, Monday = 0 .. Sunday = 6
            (Python's ``date.weekday()``); default ``(5, 6)``, Saturday and Sunday.
        extra_holidays: more days off (dates or ISO strings), e.g. a company holiday.
        extra_workdays: days that are working days even on a weekend or holiday (a bridge day
            worked in exchange); they win over everything else.
        timezone: the zone in which a fire's date is read. None: the trigger's own zone.
        categories: which of the country's ``holidays`` categories are days off (default
            ``("public",)``; e.g. ``("public", "catholic")`` in Bavaria, ``"government"`` in
            the US).
        market: an exchange or market code from ``holidays`` (``"XNYS"``, ``"XECB"`` for
            TARGET2, ``"XLON"``): its closing days are days off too.

    Raises:
        InvalidTriggerError: unknown country, subdivision, category or market (the message
            lists the valid ones), a bad weekend, or a date that is not a date.
        ModuleNotFoundError: ``country`` or ``market`` is given but ``holidays`` is not
            installed.
    """

    __slots__ = (
        "_categories",
        "_country",
        "_extra_holidays",
        "_extra_workdays",
        "_market",
        "_months",
        "_name",
        "_subdiv",
        "_timezone",
        "_weekend",
        "_years",
    )

    _country: str | None
    _subdiv: str | None
    _categories: tuple[str, ...]
    _market: str | None
    _weekend: frozenset[int]
    _extra_holidays: frozenset[date]
    _extra_workdays: frozenset[date]
    _timezone: tzinfo | None
    _name: str
    _years: dict[int, dict[date, str]]
    _months: dict[int, tuple[date, ...]]

    def __init__(
        self,
        country: str | None = None,
        subdiv: str | None = None,
        *,
        weekend: Iterable[int] = (5, 6),
        extra_holidays: Iterable[date | str] | None = None,
        extra_workdays: Iterable[date | str] | None = None,
        timezone: str | tzinfo | None = None,
        categories: Iterable[str] | None = None,
        market: str | None = None,
    ) -> None:
        init = object.__setattr__
        if country is not None and not isinstance(country, str):
            raise InvalidTriggerError(
                f"country: expected an ISO country code such as 'DE', got "
                f"{type(country).__name__} {country!r}"
            )
        if subdiv is not None and not isinstance(subdiv, str):
            raise InvalidTriggerError(
                f"subdiv: expected a subdivision code such as 'HE', got "
                f"{type(subdiv).__name__} {subdiv!r}"
            )
        if subdiv is not None and country is None:
            raise InvalidTriggerError(f"subdiv: {subdiv!r} given without a country")
        try:
            days = sorted(set(weekend))
        except TypeError:
            raise InvalidTriggerError(
                f"weekend: expected weekday numbers 0-6 (Monday = 0), got {weekend!r}"
            ) from None
        for day in days:
            if isinstance(day, bool) or not isinstance(day, int) or not 0 <= day <= 6:
                raise InvalidTriggerError(
                    f"weekend: {day!r} is not a weekday number; allowed 0-6 (Monday = 0 .. "
                    "Sunday = 6), e.g. weekend=(5, 6)"
                )
        workdays = _dates("extra_workdays", extra_workdays)
        if len(days) == 7 and not workdays:
            raise InvalidTriggerError(
                "weekend: all seven days are weekend days and no extra_workdays are given, so "
                "there is no business day at all; allowed at most six weekend days"
            )
        cats = _categories(categories, country)
        name = "no public holidays"
        if country is not None:
            country, subdiv, name = self._check_country(country, subdiv, cats)
        if market is not None:
            market = _check_market(market)
        init(self, "_country", country)
        init(self, "_subdiv", subdiv)
        init(self, "_categories", cats)
        init(self, "_market", market)
        init(self, "_weekend", frozenset(days))
        init(self, "_extra_holidays", _dates("extra_holidays", extra_holidays))
        init(self, "_extra_workdays", workdays)
        init(self, "_timezone", None if timezone is None else resolve_zone(timezone))
        init(self, "_name", name)
        # Private memo tables, not part of the value (a lost race only recomputes them).
        init(self, "_years", {})
        init(self, "_months", {})

    @staticmethod
    def _check_country(
        country: str, subdiv: str | None, categories: tuple[str, ...]
    ) -> tuple[str, str | None, str]:
        if _holidays is None:
            raise ModuleNotFoundError(
                f"BusinessCalendar(country={country!r}) needs the 'holidays' package: "
                "pip install 'asyncron[calendars]'"
            )
        code = country.upper()
        supported: dict[str, Any] = _holidays.list_supported_countries()
        if code not in supported:
            raise InvalidTriggerError(
                f"country: {country!r} is not a country the holidays package knows; allowed "
                "ISO 3166-1 codes such as 'DE', 'US', 'GB', 'FR'"
            )
        subdivisions = [str(s) for s in supported[code]]
        if subdiv is not None:
            match = next((s for s in subdivisions if s.upper() == subdiv.upper()), None)
            if match is None:
                raise InvalidTriggerError(
                    f"subdiv: {subdiv!r} is not a subdivision of {code}; allowed "
                    + (", ".join(subdivisions) if subdivisions else "none (give no subdiv)")
                )
            subdiv = match
        table = _holidays.country_holidays(code, subdiv=subdiv, years=())
        unknown = [c for c in categories if c not in table.supported_categories]
        if unknown:
            raise InvalidTriggerError(
                f"categories: {unknown[0]!r} is not a holiday category of {code}; allowed "
                + ", ".join(table.supported_categories)
            )
        country_name = next(
            (c.__name__ for c in type(table).__mro__[1:] if c.__name__ not in (code, "HolidayBase")
             and c.__module__ == type(table).__module__),
            code,
        )  # fmt: skip
        name = country_name
        if subdiv is not None:
            aliases: dict[str, str] = getattr(table, "subdivisions_aliases", {}) or {}
            label = next((alias for alias, sub in aliases.items() if sub == subdiv), subdiv)
            name = f"{country_name} ({label})"
        return code, subdiv, name

    @classmethod
    def from_spec(cls, spec: str, **kwargs: Any) -> BusinessCalendar:
        """A calendar from ``"DE"`` or ``"DE-HE"`` (country, optionally ``-`` subdivision), or
        a market code such as ``"XNYS"`` (the CLI's ``--calendar`` spelling).

        Raises:
            InvalidTriggerError: the text is not of that shape, or names an unknown place.
        """
        if not isinstance(spec, str) or not _SPEC_RE.match(spec.strip()):
            raise InvalidTriggerError(
                f"calendar: {spec!r} is not COUNTRY, COUNTRY-SUBDIVISION or MARKET; allowed e.g. "
                "'DE', 'DE-HE', 'US-CA', 'XNYS'"
            )
        match = _SPEC_RE.match(spec.strip())
        assert match is not None
        code, subdiv = match.group(1).upper(), match.group(2)
        if (
            subdiv is None
            and _holidays is not None
            and code not in _holidays.list_supported_countries()
            and code in _holidays.list_supported_financial()
        ):
            return cls(market=code, **kwargs)
        return cls(code, subdiv, **kwargs)

    # -- value behaviour ------------------------------------------------------------------
    def __setattr__(self, name: str, value: object) -> NoReturn:
        raise AttributeError(f"BusinessCalendar is immutable; cannot set {name!r}")

    def _key(self) -> tuple[Any, ...]:
        zone = (
            None if self._timezone is None else getattr(self._timezone, "key", str(self._timezone))
        )
        return (self._country, self._subdiv, self._weekend, self._extra_holidays,
                self._extra_workdays, zone, self._categories, self._market)  # fmt: skip

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, BusinessCalendar):
            return NotImplemented
        return self._key() == other._key()

    def __hash__(self) -> int:
        return hash(self._key())

    def __reduce__(self) -> tuple[Any, ...]:
        return (_restore, (self._country, self._subdiv, tuple(sorted(self._weekend)),
                           tuple(sorted(self._extra_holidays)), tuple(sorted(self._extra_workdays)),
                           self._timezone, self._categories, self._market))  # fmt: skip

    def __repr__(self) -> str:
        parts = []
        if self._country is not None:
            parts.append(repr(self._country))
        if self._subdiv is not None:
            parts.append(repr(self._subdiv))
        if self._weekend != {5, 6}:
            parts.append(f"weekend={tuple(sorted(self._weekend))!r}")
        if self._extra_holidays:
            parts.append(
                f"extra_holidays={[d.isoformat() for d in sorted(self._extra_holidays)]!r}"
            )
        if self._extra_workdays:
            parts.append(
                f"extra_workdays={[d.isoformat() for d in sorted(self._extra_workdays)]!r}"
            )
        if self._timezone is not None:
            parts.append(f"timezone={getattr(self._timezone, 'key', str(self._timezone))!r}")
        if self._categories != ("public",):
            parts.append(f"categories={self._categories!r}")
        if self._market is not None:
            parts.append(f"market={self._market!r}")
        return f"BusinessCalendar({', '.join(parts)})"

    def __str__(self) -> str:
        return self.describe()

    # -- properties -----------------------------------------------------------------------
    @property
    def country(self) -> str | None:
        return self._country

    @property
    def subdiv(self) -> str | None:
        return self._subdiv

    @property
    def weekend(self) -> tuple[int, ...]:
        return tuple(sorted(self._weekend))

    @property
    def extra_holidays(self) -> tuple[date, ...]:
        return tuple(sorted(self._extra_holidays))

    @property
    def extra_workdays(self) -> tuple[date, ...]:
        return tuple(sorted(self._extra_workdays))

    @property
    def timezone(self) -> tzinfo | None:
        return self._timezone

    @property
    def categories(self) -> tuple[str, ...]:
        """The ``holidays`` categories counted as days off (default ``("public",)``)."""
        return self._categories

    @property
    def market(self) -> str | None:
        """The exchange or market whose closing days are days off (``"XNYS"``), or None."""
        return self._market

    @property
    def name(self) -> str:
        """``"Germany (Hessen)"``, or ``"no public holidays"`` without a country."""
        return self._name

    def describe(self) -> str:
        """``"Germany (Hessen) holidays and weekends"`` and the like, in plain English."""
        parts = []
        if self._country is not None:
            kinds = "" if self._categories == ("public",) else " and ".join(self._categories) + " "
            parts.append(f"{self._name} {kinds}holidays")
        if self._market is not None:
            parts.append(f"{self._market} market holidays")
        if self._weekend == {5, 6}:
            parts.append("weekends")
        elif self._weekend:
            parts.append(", ".join(WEEKDAY_NAMES[d] + "s" for d in sorted(self._weekend)))
        if self._extra_holidays:
            n = len(self._extra_holidays)
            parts.append(f"{n} extra holiday{'s' if n > 1 else ''}")
        if not parts:
            text = "no days"
        elif len(parts) == 1:
            text = parts[0]
        else:
            text = ", ".join(parts[:-1]) + " and " + parts[-1]
        if self._extra_workdays:
            n = len(self._extra_workdays)
            text += f" (except {n} extra working day{'s' if n > 1 else ''})"
        return text

    # -- queries --------------------------------------------------------------------------
    def _holiday_table(self, year: int) -> dict[date, str]:
        table = self._years.get(year)
        if table is None:
            table = {}
            if _holidays is not None and 1 <= year <= 9999:
                if self._market is not None:
                    market = _holidays.financial_holidays(self._market, years=year)
                    table.update((d, str(n)) for d, n in market.items())
                if self._country is not None:
                    source = _holidays.country_holidays(
                        self._country, subdiv=self._subdiv, years=year, categories=self._categories
                    )
                    table.update((d, str(n)) for d, n in source.items())
            if len(self._years) >= _YEAR_CACHE_LIMIT:
                self._years.clear()
            self._years[year] = table
        return table

    def holiday_name(self, day: date) -> str | None:
        """The name of the public or extra holiday on ``day``, or None."""
        if day in self._extra_holidays:
            return "extra holiday"
        return self._holiday_table(day.year).get(day)

    def is_business_day(self, day: date) -> bool:
        """True when ``day`` is a working day."""
        if day in self._extra_workdays:
            return True
        if day.weekday() in self._weekend or day in self._extra_holidays:
            return False
        return day not in self._holiday_table(day.year)

    def next_business_day(self, day: date) -> date | None:
        """The first business day strictly after ``day`` (None if none within ~10 years)."""
        one = timedelta(days=1)
        for _ in range(SEARCH_DAYS):
            if day >= date.max:
                return None
            day += one
            if self.is_business_day(day):
                return day
        return None

    def previous_business_day(self, day: date) -> date | None:
        """The last business day strictly before ``day`` (None if none within ~10 years)."""
        one = timedelta(days=1)
        for _ in range(SEARCH_DAYS):
            if day <= date.min:
                return None
            day -= one
            if self.is_business_day(day):
                return day
        return None

    def business_days(self, year: int, month: int) -> tuple[date, ...]:
        """The business days of a month, in order (cached per month)."""
        key = year * 16 + month
        cached = self._months.get(key)
        if cached is not None:
            return cached
        if not 1 <= month <= 12:
            raise InvalidTriggerError(f"month: {month!r} is out of range; allowed 1-12")
        day = date(year, month, 1)
        out = []
        while day.month == month:
            if self.is_business_day(day):
                out.append(day)
            if day == date.max:
                break
            day += timedelta(days=1)
        if len(self._months) >= _YEAR_CACHE_LIMIT * 12:
            self._months.clear()
        result = self._months[key] = tuple(out)
        return result


def _restore(
    country: str | None,
    subdiv: str | None,
    weekend: tuple[int, ...],
    extra_holidays: tuple[date, ...],
    extra_workdays: tuple[date, ...],
    timezone: tzinfo | None,
    categories: tuple[str, ...],
    market: str | None,
) -> BusinessCalendar:
    return BusinessCalendar(country, subdiv, weekend=weekend, extra_holidays=extra_holidays,
                            extra_workdays=extra_workdays, timezone=timezone,
                            categories=categories, market=market)  # fmt: skip
