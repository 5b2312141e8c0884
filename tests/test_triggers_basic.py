from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from asyncron import IntervalTrigger, OnceTrigger
from asyncron.errors import AsyncronError, InvalidTriggerError

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


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
