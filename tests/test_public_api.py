from __future__ import annotations

import pytest

import asyncron
import asyncron.events
import asyncron.testing
from asyncron import CronTrigger, IntervalTrigger, OnceTrigger, Trigger
from asyncron.testing import VirtualClock


def test_public_names_are_exactly_the_documented_ones() -> None:
    assert set(asyncron.__all__) == {
        "AndTrigger",
        "AsyncScheduler",
        "BusinessCalendar",
        "BusinessDayTrigger",
        "CalendarIntervalTrigger",
        "ExcludeTrigger",
        "OrTrigger",
        "CronTrigger",
        "DependencyScheduler",
        "IntervalTrigger",
        "Job",
        "JobDescription",
        "JobOptions",
        "JobPipeline",
        "JobStatus",
        "OnceTrigger",
        "PipelineError",
        "PipelineStatistics",
        "PipelineTimeoutError",
        "PersistentScheduler",
        "RunInfo",
        "RunRecord",
        "Scheduler",
        "SchedulerStatistics",
        "Trigger",
        "TriggerOperators",
        "current_run",
        "set_progress",
        "storable",
    }
    for name in asyncron.__all__:
        assert getattr(asyncron, name) is not None


def test_error_leaves_subclass_the_builtin_a_user_would_catch() -> None:
    from asyncron import errors

    assert issubclass(errors.CronParseError, ValueError)
    assert issubclass(errors.InvalidTriggerError, ValueError)
    assert issubclass(errors.InvalidJobError, ValueError)
    assert issubclass(errors.JobLookupError, LookupError)
    assert issubclass(errors.DependencyCycleError, ValueError)
    assert issubclass(errors.DeadlockError, RuntimeError)
    assert issubclass(errors.RunTimeoutError, TimeoutError)
    for name in errors.__all__:
        assert issubclass(getattr(errors, name), errors.AsyncronError)


def test_testing_and_events_modules_export_their_names() -> None:
    assert asyncron.testing.__all__ == ["VirtualClock"]
    assert "RunSucceeded" in asyncron.events.__all__


@pytest.mark.parametrize(
    "name",
    [
        "AsyncScheduler",
        "Scheduler",
        "DependencyScheduler",
        "PersistentScheduler",
        "JobPipeline",
        "Job",
        "JobStatus",
        "Trigger",
        "OnceTrigger",
        "IntervalTrigger",
        "CronTrigger",
    ],
)
def test_public_name_is_exported(name: str) -> None:
    assert name in asyncron.__all__
    assert getattr(asyncron, name) is not None


def test_virtual_clock_importable_from_testing() -> None:
    from asyncron.testing import VirtualClock as VC

    assert VC is VirtualClock


def test_triggers_are_trigger_subclasses() -> None:
    for cls in (OnceTrigger, IntervalTrigger, CronTrigger):
        assert issubclass(cls, Trigger)
