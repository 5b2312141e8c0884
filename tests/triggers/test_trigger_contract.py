"""The common Trigger contract every built-in trigger keeps (and a user's own subclass)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from asyncron import CronTrigger, IntervalTrigger, OnceTrigger, Scheduler, Trigger
from asyncron import errors as E
from helpers import T0_NOON as T0
from helpers import WAIT

ALL_TRIGGERS: list[Trigger] = [
    OnceTrigger(datetime(2100, 1, 1, tzinfo=UTC)),
    IntervalTrigger(seconds=30),
    IntervalTrigger(minutes=5, start=T0),
    CronTrigger.from_expression("*/5 * * * *", timezone="UTC"),
    CronTrigger.from_expression("0 9 * * 1-5", timezone="Europe/Berlin"),
]


@pytest.mark.parametrize("trigger", ALL_TRIGGERS, ids=repr)
def test_get_next_run_none_means_now_and_is_aware(trigger: Trigger) -> None:
    before = datetime.now(UTC)
    nxt = trigger.get_next_run(None)
    assert nxt is not None and nxt.tzinfo is not None and nxt.utcoffset() is not None
    assert nxt > before


@pytest.mark.parametrize("trigger", ALL_TRIGGERS, ids=repr)
def test_get_next_run_without_argument(trigger: Trigger) -> None:
    nxt = trigger.get_next_run()
    assert nxt is not None and nxt.tzinfo is not None


@pytest.mark.parametrize("trigger", ALL_TRIGGERS[1:], ids=repr)
def test_get_next_run_is_strictly_after_and_increasing(trigger: Trigger) -> None:
    t = T0
    for _ in range(20):
        nxt = trigger.get_next_run(t)
        assert nxt is not None and nxt > t and nxt.tzinfo is not None
        t = nxt


@pytest.mark.parametrize("trigger", ALL_TRIGGERS[1:], ids=repr)
def test_get_next_run_of_a_fire_time_is_the_following_fire(trigger: Trigger) -> None:
    first = trigger.get_next_run(T0)
    assert first is not None
    second = trigger.get_next_run(first)
    assert second is not None and second > first


@pytest.mark.parametrize("trigger", ALL_TRIGGERS, ids=repr)
def test_get_next_run_accepts_a_naive_datetime(trigger: Trigger) -> None:
    naive = datetime(2026, 3, 1, 12, 0)
    nxt = trigger.get_next_run(naive)
    # every trigger here fires after that instant; a naive time is local time, as documented
    assert nxt is not None and nxt.tzinfo is not None
    assert nxt == trigger.get_next_run(naive.astimezone())


@pytest.mark.parametrize("trigger", ALL_TRIGGERS, ids=repr)
def test_get_next_run_rejects_a_non_datetime(trigger: Trigger) -> None:
    with pytest.raises((TypeError, ValueError), match="from_time"):
        trigger.get_next_run("2026-01-01")  # type: ignore[arg-type]


@pytest.mark.parametrize("trigger", ALL_TRIGGERS, ids=repr)
def test_triggers_are_immutable(trigger: Trigger) -> None:
    with pytest.raises(AttributeError):
        trigger.foo = 1  # type: ignore[attr-defined]


@pytest.mark.parametrize("trigger", ALL_TRIGGERS, ids=repr)
def test_triggers_have_a_useful_repr_and_str(trigger: Trigger) -> None:
    assert type(trigger).__name__ in repr(trigger)
    assert str(trigger)


def test_trigger_abc_cannot_be_instantiated() -> None:
    with pytest.raises(TypeError):
        Trigger()  # type: ignore[abstract]


def test_a_user_trigger_subclass_works_with_the_scheduler(sched: Scheduler) -> None:
    class EveryTenMs(Trigger):
        def get_next_run(self, from_time: datetime | None = None) -> datetime | None:
            base = from_time or datetime.now(UTC)
            return base + timedelta(milliseconds=10)

    sched.start()
    job = sched.wait_job(sched.schedule(lambda: 1, trigger=EveryTenMs(), max_runs=2), timeout=WAIT)
    assert job.run_count == 2


@pytest.mark.parametrize(
    "make",
    [
        lambda: IntervalTrigger(seconds="5"),
        lambda: OnceTrigger("2026-01-01"),
        lambda: CronTrigger.from_expression(5),
        lambda: CronTrigger.from_expression("* * * * *", timezone=5),
        lambda: IntervalTrigger(seconds=5).get_next_run("now"),
    ],
)
def test_wrong_argument_types_are_both_type_and_value_errors(make: Any) -> None:
    with pytest.raises(TypeError) as info:
        make()
    assert isinstance(info.value, ValueError) and isinstance(info.value, E.AsyncronError)


@pytest.mark.parametrize("trigger", ALL_TRIGGERS, ids=repr)
def test_triggers_pickle_and_copy(trigger: Trigger) -> None:
    import copy
    import pickle

    assert pickle.loads(pickle.dumps(trigger)) == trigger
    assert copy.copy(trigger) == trigger
    assert copy.deepcopy(trigger) == trigger
