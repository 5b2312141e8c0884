"""OnceTrigger and IntervalTrigger: next runs, naive and aware times, validation, equality."""

from __future__ import annotations

import time
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from asyncron import IntervalTrigger, OnceTrigger
from asyncron import errors as E
from asyncron.errors import AsyncronError, InvalidTriggerError
from helpers import T0_NOON as T0


def test_once_trigger_fires_only_strictly_after_from_time() -> None:
    trig = OnceTrigger(T0)
    assert trig.get_next_run(T0 - timedelta(seconds=1)) == T0
    assert trig.get_next_run(T0) is None
    assert trig.get_next_run(T0 + timedelta(hours=1)) is None


def test_once_trigger_in_the_past_still_gives_a_first_run() -> None:
    trig = OnceTrigger(T0)
    assert trig.get_first_run(T0 + timedelta(days=1)) == T0


def test_once_trigger_naive_time_is_local_and_result_is_aware() -> None:
    trig = OnceTrigger(datetime(2030, 1, 1, 9, 0))
    nxt = trig.get_next_run(datetime(2029, 12, 31, tzinfo=UTC))
    assert nxt is not None and nxt.tzinfo is not None


def test_once_trigger_rejects_non_datetime() -> None:
    with pytest.raises(InvalidTriggerError, match="run_at: expected a datetime, got str"):
        OnceTrigger("tomorrow")  # type: ignore[arg-type]


def test_interval_units_add_up_and_accept_timedelta_and_number() -> None:
    assert IntervalTrigger(minutes=1, seconds=30).interval == timedelta(seconds=90)
    assert IntervalTrigger(timedelta(minutes=5)).interval == timedelta(minutes=5)
    assert IntervalTrigger(2.5).interval == timedelta(seconds=2.5)
    assert IntervalTrigger(hours=1).interval == timedelta(hours=1)


def test_interval_without_start_counts_from_the_given_time() -> None:
    trig = IntervalTrigger(seconds=10)
    assert trig.get_next_run(T0) == T0 + timedelta(seconds=10)


def test_interval_with_start_stays_on_its_grid() -> None:
    trig = IntervalTrigger(minutes=15, start=T0)
    assert trig.get_next_run(T0 - timedelta(days=1)) == T0
    assert trig.get_next_run(T0) == T0 + timedelta(minutes=15)
    assert trig.get_next_run(T0 + timedelta(minutes=31)) == T0 + timedelta(minutes=45)


def test_interval_end_is_inclusive_and_then_exhausted() -> None:
    trig = IntervalTrigger(minutes=10, start=T0, end=T0 + timedelta(minutes=20))
    assert trig.get_next_run(T0 + timedelta(minutes=10)) == T0 + timedelta(minutes=20)
    assert trig.get_next_run(T0 + timedelta(minutes=20)) is None


def test_interval_is_elapsed_time_across_dst() -> None:
    berlin = ZoneInfo("Europe/Berlin")
    # 2026-03-29 02:00 local clocks jump to 03:00
    start = datetime(2026, 3, 29, 1, 30, tzinfo=berlin)
    trig = IntervalTrigger(hours=1, start=start)
    nxt = trig.get_next_run(start)
    assert nxt is not None
    assert (nxt - start.astimezone(UTC)).total_seconds() == 3600
    assert nxt.tzinfo is berlin
    assert (nxt.hour, nxt.minute) == (3, 30)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"seconds": 0}, "interval: must be positive"),
        ({"seconds": -5}, "interval: must be positive"),
        ({"minutes": "5"}, "minutes: expected a number, got str"),
        ({"seconds": float("nan")}, "seconds: expected a finite number"),
        ({"seconds": True}, "seconds: expected a number, got bool"),
    ],
)
def test_interval_bad_values_name_the_field(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(InvalidTriggerError, match=message) as info:
        IntervalTrigger(**kwargs)  # type: ignore[arg-type]
    assert isinstance(info.value, ValueError) and isinstance(info.value, AsyncronError)


def test_interval_end_before_start_is_rejected() -> None:
    with pytest.raises(InvalidTriggerError, match=r"end: .* is before start"):
        IntervalTrigger(seconds=1, start=T0, end=T0 - timedelta(seconds=1))


def test_interval_naive_and_aware_mix_is_rejected() -> None:
    with pytest.raises(InvalidTriggerError, match="one is naive and the other aware"):
        IntervalTrigger(seconds=1, start=datetime(2026, 1, 1), end=T0)


def test_triggers_are_immutable_values() -> None:
    trig = IntervalTrigger(seconds=5)
    with pytest.raises(AttributeError):
        trig.interval = timedelta(seconds=1)  # type: ignore[misc]
    assert IntervalTrigger(seconds=5) == IntervalTrigger(seconds=5)
    assert hash(OnceTrigger(T0)) == hash(OnceTrigger(T0))


# -- OnceTrigger ----------------------------------------------------------------------------------


def test_once_trigger_fires_once_at_run_at() -> None:
    t = OnceTrigger(T0)
    assert t.get_next_run(T0 - timedelta(seconds=1)) == T0
    assert t.get_next_run(T0) is None
    assert t.get_next_run(T0 + timedelta(days=1)) is None


def test_once_trigger_naive_run_at_is_local_time() -> None:
    naive = datetime(2030, 6, 1, 8, 30)
    t = OnceTrigger(naive)
    assert t.run_at.tzinfo is not None
    assert t.run_at.replace(tzinfo=None) == naive
    assert t.run_at == naive.astimezone()  # the same instant Python's local time gives


def test_once_trigger_aware_run_at_in_another_zone() -> None:
    berlin = datetime(2030, 6, 1, 8, 30, tzinfo=ZoneInfo("Europe/Berlin"))
    t = OnceTrigger(berlin)
    nxt = t.get_next_run(datetime(2030, 6, 1, 6, 0, tzinfo=UTC))
    assert nxt == berlin and nxt is not None and nxt.tzinfo is not None


def test_once_trigger_in_the_past_is_exhausted_for_get_next_run() -> None:
    past = datetime.now(UTC) - timedelta(hours=1)
    assert OnceTrigger(past).get_next_run() is None


def test_once_trigger_rejects_a_non_datetime() -> None:
    with pytest.raises(ValueError, match="run_at"):
        OnceTrigger("2026-01-01")  # type: ignore[arg-type]


def test_once_trigger_rejects_a_date() -> None:
    with pytest.raises(ValueError, match="run_at"):
        OnceTrigger(date(2026, 1, 1))  # type: ignore[arg-type]


def test_once_trigger_equality() -> None:
    assert OnceTrigger(T0) == OnceTrigger(T0)
    assert OnceTrigger(T0) != OnceTrigger(T0 + timedelta(seconds=1))
    assert hash(OnceTrigger(T0)) == hash(OnceTrigger(T0))


# -- IntervalTrigger ------------------------------------------------------------------------------


def test_interval_units_add_up() -> None:
    t = IntervalTrigger(hours=1, minutes=2, seconds=3)
    assert t.interval == timedelta(hours=1, minutes=2, seconds=3)


def test_interval_timedelta_positional() -> None:
    assert IntervalTrigger(timedelta(minutes=5)).interval == timedelta(minutes=5)


def test_interval_without_start_is_one_interval_after_from_time() -> None:
    t = IntervalTrigger(seconds=30)
    assert t.get_next_run(T0) == T0 + timedelta(seconds=30)


def test_interval_with_start_lies_on_the_grid() -> None:
    t = IntervalTrigger(minutes=15, start=T0)
    assert t.get_next_run(T0 - timedelta(hours=1)) == T0
    assert t.get_next_run(T0) == T0 + timedelta(minutes=15)
    assert t.get_next_run(T0 + timedelta(minutes=16)) == T0 + timedelta(minutes=30)


def test_interval_end_is_inclusive_then_exhausted() -> None:
    t = IntervalTrigger(minutes=15, start=T0, end=T0 + timedelta(hours=1))
    assert t.get_next_run(T0 + timedelta(minutes=45)) == T0 + timedelta(hours=1)
    assert t.get_next_run(T0 + timedelta(hours=1)) is None


def test_interval_keeps_elapsed_time_across_dst() -> None:
    ny = ZoneInfo("America/New_York")
    before = datetime(2026, 3, 8, 1, 30, tzinfo=ny)  # DST starts at 02:00
    nxt = IntervalTrigger(hours=1).get_next_run(before)
    assert nxt is not None
    assert nxt.astimezone(UTC) - before.astimezone(UTC) == timedelta(hours=1)


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"seconds": 0}, "seconds"),
        ({"seconds": -1}, "seconds"),
        ({"minutes": -5}, "minutes"),
        ({"hours": 0}, "hours"),
        ({}, "interval"),
    ],
)
def test_interval_non_positive_is_a_value_error_naming_the_field(
    kwargs: dict[str, float], field: str
) -> None:
    with pytest.raises(ValueError, match=field) as info:
        IntervalTrigger(**kwargs)
    assert isinstance(info.value, E.AsyncronError)
    assert "positive" in str(info.value)


def test_interval_zero_timedelta_is_rejected() -> None:
    with pytest.raises(ValueError, match="interval"):
        IntervalTrigger(timedelta(0))


def test_interval_negative_timedelta_message_is_readable() -> None:
    with pytest.raises(ValueError) as info:
        IntervalTrigger(timedelta(seconds=-5))
    assert "-5" in str(info.value)
    assert "days=-1" not in str(info.value)


@pytest.mark.parametrize("bad", ["5", None, [1]])
def test_interval_non_number_names_the_unit(bad: object) -> None:
    with pytest.raises(ValueError, match="seconds"):
        IntervalTrigger(seconds=bad)  # type: ignore[arg-type]


def test_interval_end_before_start_names_end() -> None:
    with pytest.raises(ValueError, match="end") as info:
        IntervalTrigger(seconds=5, start=T0, end=T0 - timedelta(seconds=1))
    assert "start" in str(info.value)


def test_interval_naive_and_aware_mix_is_refused() -> None:
    with pytest.raises(ValueError, match="naive"):
        IntervalTrigger(seconds=5, start=datetime(2026, 1, 1), end=T0)


def test_interval_equality_and_hash() -> None:
    assert IntervalTrigger(seconds=60) == IntervalTrigger(minutes=1)
    assert IntervalTrigger(timedelta(minutes=1)) == IntervalTrigger(seconds=60)
    assert hash(IntervalTrigger(seconds=60)) == hash(IntervalTrigger(minutes=1))
    assert IntervalTrigger(seconds=60) != IntervalTrigger(seconds=61)


def test_naive_run_at_follows_a_tz_change_made_at_runtime(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TZ", "America/New_York")
    time.tzset()
    try:
        naive = datetime(2026, 6, 1, 12, 0)
        assert OnceTrigger(naive).run_at == naive.astimezone()
    finally:
        monkeypatch.undo()
        time.tzset()
