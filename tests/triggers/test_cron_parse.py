"""Cron grammar: what parses, what it means, and the exact error for everything that does not."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from asyncron import errors as E
from asyncron.errors import CronParseError, InvalidTriggerError
from asyncron.triggers.cron import CronTrigger

T0 = datetime(2024, 1, 1, tzinfo=UTC)  # a Monday


def fires(expr: str, n: int = 5, start: datetime = T0, tz: str = "UTC") -> list[str]:
    trigger = CronTrigger(expr, tz)
    out: list[str] = []
    current: datetime | None = start
    for _ in range(n):
        current = trigger.get_next_run(current)
        if current is None:
            break
        out.append(current.strftime("%Y-%m-%d %H:%M:%S"))
    return out


# -- grammar ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("expr", "expected"),
    [
        ("* * * * *", ["2024-01-01 00:01:00", "2024-01-01 00:02:00"]),
        ("*/15 * * * *", ["2024-01-01 00:15:00", "2024-01-01 00:30:00"]),
        ("5-50/20 * * * *", ["2024-01-01 00:05:00", "2024-01-01 00:25:00"]),
        ("10/20 * * * *", ["2024-01-01 00:10:00", "2024-01-01 00:30:00"]),
        ("0 0,12 * * *", ["2024-01-01 12:00:00", "2024-01-02 00:00:00"]),
        ("0 0 * jan,Feb MON", ["2024-01-08 00:00:00", "2024-01-15 00:00:00"]),
        ("0 0 * * 7", ["2024-01-07 00:00:00", "2024-01-14 00:00:00"]),
        ("0 0 * * 0", ["2024-01-07 00:00:00", "2024-01-14 00:00:00"]),
        ("0 0 * * sun", ["2024-01-07 00:00:00", "2024-01-14 00:00:00"]),
        ("0 0 * * 5-7", ["2024-01-05 00:00:00", "2024-01-06 00:00:00", "2024-01-07 00:00:00"]),
        ("0 0 ? * 2", ["2024-01-02 00:00:00", "2024-01-09 00:00:00"]),
        ("0 0 L * *", ["2024-01-31 00:00:00", "2024-02-29 00:00:00", "2024-03-31 00:00:00"]),
        ("0 0 L-3 * *", ["2024-01-28 00:00:00", "2024-02-26 00:00:00"]),
        ("0 0 LW * *", ["2024-01-31 00:00:00", "2024-02-29 00:00:00", "2024-03-29 00:00:00"]),
        # 2024-06-15 is a Saturday (-> Fri 14th); 2024-09-15 a Sunday (-> Mon 16th).
        ("0 0 15W 6,9 *", ["2024-06-14 00:00:00", "2024-09-16 00:00:00"]),
        # 2024-06-01 is a Saturday: 1W stays in June, on Monday the 3rd.
        ("0 0 1W 6 *", ["2024-06-03 00:00:00"]),
        # 2024-03-31 is a Sunday: 31W stays in March, on Friday the 29th.
        ("0 0 31W 3 *", ["2024-03-29 00:00:00"]),
        ("0 12 * * 5L", ["2024-01-26 12:00:00", "2024-02-23 12:00:00"]),
        ("0 12 * * FRIL", ["2024-01-26 12:00:00", "2024-02-23 12:00:00"]),
        ("0 0 * * 5#3", ["2024-01-19 00:00:00", "2024-02-16 00:00:00"]),
        ("0 0 * * fri#5", ["2024-03-29 00:00:00", "2024-05-31 00:00:00"]),
        ("0 0 29 2 *", ["2024-02-29 00:00:00", "2028-02-29 00:00:00", "2032-02-29 00:00:00"]),
        ("30 * * * * *", ["2024-01-01 00:00:30", "2024-01-01 00:01:30"]),
        ("0 0 0 1 1 * 2030,2032", ["2030-01-01 00:00:00", "2032-01-01 00:00:00"]),
        ("@yearly", ["2025-01-01 00:00:00", "2026-01-01 00:00:00"]),
        ("@annually", ["2025-01-01 00:00:00"]),
        ("@monthly", ["2024-02-01 00:00:00"]),
        ("@weekly", ["2024-01-07 00:00:00"]),
        ("@daily", ["2024-01-02 00:00:00"]),
        ("@midnight", ["2024-01-02 00:00:00"]),
        ("@HOURLY", ["2024-01-01 01:00:00"]),
    ],
)
def test_cron_grammar_fires_at_expected_times(expr: str, expected: list[str]) -> None:
    assert fires(expr, len(expected)) == expected


def test_cron_year_field_is_exhausted_after_last_year() -> None:
    assert fires("0 0 0 1 1 * 2030,2032", 5) == ["2030-01-01 00:00:00", "2032-01-01 00:00:00"]


def test_cron_day_fields_are_ored_when_both_restricted() -> None:
    # Vixie cron: 13th of the month OR any Friday.
    assert fires("0 0 13 * 5", 4) == [
        "2024-01-05 00:00:00", "2024-01-12 00:00:00", "2024-01-13 00:00:00", "2024-01-19 00:00:00",
    ]  # fmt: skip


def test_cron_day_fields_are_anded_when_one_starts_with_star() -> None:
    # dom "*/2" starts with '*': it counts as unrestricted for the OR rule, so both must match:
    # odd days of the month that are also Fridays.
    assert fires("0 0 */2 * 5", 3) == ["2024-01-05 00:00:00", "2024-01-19 00:00:00",
                                       "2024-02-09 00:00:00"]  # fmt: skip
    assert fires("0 0 1-7 * */7", 2) == ["2024-01-07 00:00:00", "2024-02-04 00:00:00"]


def test_cron_leap_day_or_monday_in_february_found_without_scanning() -> None:
    trigger = CronTrigger("0 0 29 2 1", "UTC")
    assert trigger.get_next_run(datetime(2025, 3, 1, tzinfo=UTC)) == datetime(
        2026, 2, 2, tzinfo=UTC
    )


def test_cron_question_mark_counts_as_star_for_or_rule() -> None:
    assert fires("0 0 ? * 1", 2) == fires("0 0 * * 1", 2)


def test_cron_names_are_case_insensitive_in_ranges() -> None:
    assert fires("0 0 * * mon-FRI", 5) == fires("0 0 * * 1-5", 5)
    assert fires("0 0 1 jan-mar *", 3) == fires("0 0 1 1-3 *", 3)


def test_cron_day_of_week_step_from_number_runs_through_seven() -> None:
    # "1/2" is 1-7/2 = Mon, Wed, Fri, Sun (7 is Sunday), as in cronie and cronsim.
    assert [d[:10] for d in fires("0 0 * * 1/2", 4, datetime(2023, 12, 31, 23, tzinfo=UTC))] == [
        "2024-01-01", "2024-01-03", "2024-01-05", "2024-01-07",
    ]  # fmt: skip


# -- errors -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("expr", "message", "field", "token", "position"),
    [
        ("*/0 * * * *", "minute field: step 0 at position 2 is out of range; allowed 1-999999999",
         "minute", "0", 2),
        ("60 * * * *", "minute field: value 60 at position 0 is out of range; allowed 0-59",
         "minute", "60", 0),
        ("0 24 * * *", "hour field: value 24 at position 2 is out of range; allowed 0-23",
         "hour", "24", 2),
        ("0 0 0 * *", "day-of-month field: value 0 at position 4 is out of range; allowed 1-31",
         "day-of-month", "0", 4),
        ("0 0 * 13 *", "month field: value 13 at position 6 is out of range; allowed 1-12 or "
         "JAN-DEC", "month", "13", 6),
        ("0 0 * * 8", "day-of-week field: value 8 at position 8 is out of range; allowed 0-7 "
         "(0 and 7 are Sunday) or SUN-SAT", "day-of-week", "8", 8),
        ("60 0 0 * * *", "second field: value 60 at position 0 is out of range; allowed 0-59",
         "second", "60", 0),
        ("0 0 0 1 1 * 1969", "year field: value 1969 at position 12 is out of range; allowed "
         "1970-9999", "year", "1969", 12),
        ("* * 31 2 *", "day-of-month field: '31' at position 4 never matches a day in "
         "February; allowed 1-29 (or L) for the month field '2'", "day-of-month", "31", 4),
        ("0 0 30 2 *", "day-of-month field: '30' at position 4 never matches a day in "
         "February; allowed 1-29 (or L) for the month field '2'", "day-of-month", "30", 4),
        ("0 0 31 4,6 *", "day-of-month field: '31' at position 4 never matches a day in April "
         "or June; allowed 1-30 (or L) for the month field '4,6'", "day-of-month", "31", 4),
        ("5-1 * * * *", "minute field: range 5-1 at position 0 is reversed (start after end); "
         "allowed 0-59, written low-high", "minute", "5-1", 0),
        ("0 0 * * FRI-MON", "day-of-week field: range FRI-MON at position 8 is reversed (start "
         "after end); allowed 0-7, written low-high", "day-of-week", "FRI-MON", 8),
        ("0 0 * JANUARY *", "month field: unknown name 'JANUARY' at position 6; allowed 1-12 or "
         "JAN-DEC", "month", "JANUARY", 6),
        ("0 0 * * FUN", "day-of-week field: unknown name 'FUN' at position 8; allowed 0-7 (0 and "
         "7 are Sunday) or SUN-SAT", "day-of-week", "FUN", 8),
        ("0 MON * * *", "hour field: name 'MON' at position 2 is not allowed here (only "
         "numbers); allowed 0-23", "hour", "MON", 2),
        ("1-2-3 * * * *", "minute field: token '1-2-3' at position 0 cannot be parsed; allowed "
         "*, n, a-b, */n, a-b/n, a/n, H, H/n, H(a-b), lists a,b", "minute", "1-2-3", 0),
        ("*/x * * * *", "minute field: step 'x' at position 2 is not a number; allowed 1-999999999",
         "minute", "x", 2),
        ("1,,2 * * * *", "minute field: empty list item at position 2 (stray comma); allowed "
         "0-59", "minute", "", 2),
        ("? * * * *", "minute field: '?' at position 0 is only allowed in the day fields; "
         "allowed * or values", "minute", "?", 0),
        ("0 0 L-31 * *", "day-of-month field: offset 31 at position 6 is out of range; allowed "
         "L-1 to L-30", "day-of-month", "31", 6),
        ("0 0 * * 5#6", "day-of-week field: occurrence #6 at position 10 is out of range; "
         "allowed #1-#5", "day-of-week", "6", 10),
        ("0 0 L * 5W", "day-of-week field: token '5W' at position 8 cannot be parsed; allowed "
         "*, n, a-b, */n, a-b/n, a/n, H, H/n, H(a-b), lists a,b, ?, nL, n#k",
         "day-of-week", "5W", 8),
        ("0 0 0 1 1 * H", "year field: hashed value 'H' at position 12 is not supported in this "
         "field; allowed 1970-9999", "year", "H", 12),
        ("0 0 H(1-30) * *", "day-of-month field: hashed range 1-30 at position 4 may pick a day "
         "missing from some months; allowed H(a-b) within 1-28", "day-of-month", "H(1-30)", 4),
        ("H(9-3) * * * *", "minute field: range 9-3 at position 2 is reversed (start after "
         "end); allowed 0-59, written low-high", "minute", "9-3", 2),
        ("@fortnightly", "unknown alias '@fortnightly' at position 0; allowed @yearly, "
         "@annually, @monthly, @weekly, @daily, @midnight, @hourly", None, "@fortnightly", 0),
        ("@daily 5", "alias @daily at position 0 takes no other fields, found '5' at position "
         "7; allowed a lone alias", None, "5", 7),
        # Six fields put seconds first, so "29" is the hour here.
        ("0 0 29 2 * 2023", "hour field: value 29 at position 4 is out of range; allowed 0-23",
         "hour", "29", 4),
        ("0 0 0 29 2 * 2023,2025", "year field: '2023,2025' at position 13 contains no year in "
         "which day-of-month '29' and month '2' match; allowed years that have such a day",
         "year", "2023,2025", 13),
    ],
)  # fmt: skip
def test_cron_invalid_expression_message_names_field_token_position_and_allowed(
    expr: str, message: str, field: str | None, token: str, position: int
) -> None:
    with pytest.raises(CronParseError) as info:
        CronTrigger.from_expression(expr, "UTC")
    assert str(info.value) == message
    assert info.value.field == field
    assert info.value.token == token
    assert info.value.position == position
    assert info.value.expression == expr
    assert expr[position:].startswith(token)


@pytest.mark.parametrize(("expr", "count"), [("* * * *", 4), ("* * * * * * * *", 8), ("*", 1)])
def test_cron_wrong_field_count_is_rejected(expr: str, count: int) -> None:
    plural = "s" if count != 1 else ""
    with pytest.raises(CronParseError, match=f"^cron expression has {count} field{plural}; "
                       r"expected 5 fields \(minute hour day-of-month month day-of-week\), 6 "
                       "with seconds first, or 7 with seconds first and a year last$"):  # fmt: skip
        CronTrigger(expr, "UTC")


@pytest.mark.parametrize("expr", ["", "   ", "\t\n"])
def test_cron_empty_expression_is_rejected(expr: str) -> None:
    with pytest.raises(CronParseError, match=r"^cron expression is empty; expected 5 fields"):
        CronTrigger(expr, "UTC")


@pytest.mark.parametrize("value", [None, 5, b"* * * * *", ["*"] * 5])
def test_cron_non_string_expression_is_rejected(value: object) -> None:
    with pytest.raises(CronParseError, match=r"^cron expression must be a string, got "):
        CronTrigger(value, "UTC")  # type: ignore[arg-type]


def test_cron_parse_errors_are_value_errors() -> None:
    with pytest.raises(ValueError, match="minute field"):
        CronTrigger("99 * * * *", "UTC")
    assert issubclass(CronParseError, InvalidTriggerError)


def test_cron_or_mode_with_impossible_day_still_fires_on_weekday() -> None:
    # Vixie accepts it: the day-of-week part alone fires (every Monday of February).
    assert fires("0 0 30 2 1", 1) == ["2024-02-05 00:00:00"]


def test_cron_impossible_and_mode_combination_is_rejected() -> None:
    # Days 1, 11, 21 AND fifth Friday (29th or later) in February: never.
    with pytest.raises(CronParseError, match="never matches a day in February on the days of "
                       "week given"):  # fmt: skip
        CronTrigger("0 0 */10 2 5#5", "UTC")


def test_cron_unknown_time_zone_is_invalid_trigger_error() -> None:
    with pytest.raises(InvalidTriggerError, match="unknown time zone 'Mars/Base'"):
        CronTrigger("* * * * *", "Mars/Base")


@pytest.mark.parametrize(
    ("expr", "field", "token", "position", "allowed"),
    [
        ("*/0 * * * *", "minute", "0", 2, "1-"),
        ("60 * * * *", "minute", "60", 0, "0-59"),
        ("* 24 * * *", "hour", "24", 2, "0-23"),
        ("* * 32 * *", "day-of-month", "32", 4, "1-31"),
        ("* * * 13 *", "month", "13", 6, "1-12"),
        ("* * * * 8", "day-of-week", "8", 8, "0-7"),
        ("5-1 * * * *", "minute", "5-1", 0, "0-59"),
        ("* * * foo *", "month", "foo", 6, "JAN-DEC"),
        ("* * * * funday", "day-of-week", "funday", 8, "SUN-SAT"),
    ],
)
def test_cron_error_names_field_token_position_and_allowed(
    expr: str, field: str, token: str, position: int, allowed: str
) -> None:
    with pytest.raises(ValueError) as info:
        CronTrigger.from_expression(expr)
    err = info.value
    assert isinstance(err, E.CronParseError) and isinstance(err, E.AsyncronError)
    msg = str(err)
    assert field in msg, msg
    assert token in msg, msg
    assert f"position {position}" in msg, msg
    assert allowed in msg, msg
    assert err.field == field
    assert err.position == position


def test_cron_impossible_day_names_the_day_and_month() -> None:
    with pytest.raises(ValueError) as info:
        CronTrigger.from_expression("* * 31 2 *")
    msg = str(info.value)
    # 'month' alone is part of 'day-of-month': name the month itself and what is allowed
    assert msg.startswith("day-of-month field: '31' at position 4 never matches a day in February")
    assert "allowed 1-29 (or L) for the month field '2'" in msg


@pytest.mark.parametrize("expr", ["* * * *", "* * * * * * * *", "*", "0 0"])
def test_cron_wrong_field_count_says_what_is_expected(expr: str) -> None:
    with pytest.raises(ValueError, match="5 fields") as info:
        CronTrigger.from_expression(expr)
    assert str(len(expr.split())) in str(info.value)


@pytest.mark.parametrize("expr", ["", "   "])
def test_cron_empty_expression(expr: str) -> None:
    with pytest.raises(ValueError, match="empty"):
        CronTrigger.from_expression(expr)


@pytest.mark.parametrize("expr", [None, 5, b"* * * * *", ["*"] * 5])
def test_cron_non_string_is_a_value_error_naming_the_type(expr: object) -> None:
    with pytest.raises(ValueError) as info:
        CronTrigger.from_expression(expr)  # type: ignore[arg-type]
    assert type(expr).__name__ in str(info.value)
    assert "str" in str(info.value)


def test_cron_error_is_not_a_bare_traceback_from_deep_inside() -> None:
    with pytest.raises(E.CronParseError) as info:
        CronTrigger.from_expression("1,,2 * * * *")
    assert "minute" in str(info.value)


def test_cron_unknown_alias() -> None:
    with pytest.raises(ValueError, match="@fortnightly"):
        CronTrigger.from_expression("@fortnightly")
