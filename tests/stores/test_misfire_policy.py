"""plan_misfires: the pure misfire decision (RELIABILITY R9, B6)."""

from __future__ import annotations

import time
from datetime import datetime, timedelta

import pytest

from asyncron import CronTrigger, IntervalTrigger, OnceTrigger
from asyncron.errors import InvalidJobError
from asyncron.stores import MisfirePolicy, plan_misfires
from helpers import T0

HOURLY = CronTrigger.from_expression("0 * * * *", "UTC")


def at(hours: float) -> datetime:
    return T0 + timedelta(hours=hours)


def test_nothing_missed_when_due_is_in_the_future() -> None:
    plan = plan_misfires(HOURLY, at(5), at(4.5), MisfirePolicy())
    assert plan.run == () and plan.skipped == 0 and plan.next_fire == at(5)


def test_latest_runs_the_most_recent_missed_fire_once() -> None:
    plan = plan_misfires(HOURLY, at(1), at(5.5), MisfirePolicy("latest"))
    assert plan.run == (at(5),) and plan.skipped == 4 and plan.next_fire == at(6)


def test_skip_runs_nothing_and_counts_every_missed_fire() -> None:
    plan = plan_misfires(HOURLY, at(1), at(5.5), MisfirePolicy("skip"))
    assert plan.run == () and plan.skipped == 5 and plan.next_fire == at(6)


def test_all_runs_each_missed_fire_in_order_bounded_by_count() -> None:
    plan = plan_misfires(HOURLY, at(1), at(5.5), MisfirePolicy("all", max_count=3))
    assert plan.run == (at(3), at(4), at(5)) and plan.skipped == 2


def test_all_is_bounded_by_age() -> None:
    policy = MisfirePolicy("all", max_count=100, max_age=2.5 * 3600)
    plan = plan_misfires(HOURLY, at(1), at(5.5), policy)
    assert plan.run == (at(3), at(4), at(5)) and plan.skipped == 2


def test_grace_time_skips_a_fire_missed_by_too_much() -> None:
    plan = plan_misfires(HOURLY, at(1), at(5.5), MisfirePolicy("latest", grace_time=600))
    assert plan.run == () and plan.skipped == 5
    plan = plan_misfires(HOURLY, at(1), at(5) + timedelta(minutes=5), MisfirePolicy(grace_time=600))
    assert plan.run == (at(5),)


def test_missed_one_shot_runs_late_or_is_skipped_by_grace() -> None:
    once = OnceTrigger(at(1))
    assert plan_misfires(once, at(1), at(3), MisfirePolicy()).run == (at(1),)
    plan = plan_misfires(once, at(1), at(3), MisfirePolicy(grace_time=60))
    assert plan.run == () and plan.skipped == 1 and plan.next_fire is None


def test_a_year_of_missed_seconds_is_planned_quickly_with_a_lower_bound() -> None:
    trigger = IntervalTrigger(seconds=1, start=T0)
    started = time.perf_counter()
    plan = plan_misfires(trigger, T0, T0 + timedelta(days=365), MisfirePolicy("all", max_count=5))
    assert time.perf_counter() - started < 2.0
    assert plan.capped and plan.skipped >= 10_000
    assert plan.run[-1] == T0 + timedelta(days=365) and len(plan.run) == 5
    assert plan.next_fire == T0 + timedelta(days=365, seconds=1)


@pytest.mark.parametrize(
    "kwargs",
    [{"mode": "sometimes"}, {"grace_time": -1}, {"max_count": 0}, {"max_age": "1d"}],
)
def test_invalid_policy_is_refused(kwargs: dict[str, object]) -> None:
    with pytest.raises(InvalidJobError):
        MisfirePolicy(**kwargs)  # type: ignore[arg-type]


# The timeline in docs/persistence.md, checked.
@pytest.mark.parametrize(
    ("policy", "runs", "skipped"),
    [
        (MisfirePolicy("skip"), [], 4),
        (MisfirePolicy("latest"), ["04:00"], 3),
        (MisfirePolicy("latest", grace_time=1800), [], 4),
        (MisfirePolicy("all", max_count=10), ["01:00", "02:00", "03:00", "04:00"], 0),
        (MisfirePolicy("all", max_count=2), ["03:00", "04:00"], 2),
        (MisfirePolicy("all", max_age=7200), ["03:00", "04:00"], 2),
    ],
)
def test_documented_timeline(policy: MisfirePolicy, runs: list[str], skipped: int) -> None:
    plan = plan_misfires(HOURLY, at(1), at(4.75), policy)
    assert [f.strftime("%H:%M") for f in plan.run] == runs and plan.skipped == skipped
    assert plan.next_fire == at(5)
