"""A drop-in for code written against the original threaded scheduler.

``from codomyrmex.orchestrator.scheduler import X`` becomes ``from asyncron.compat import X``
(and ``...scheduler.advanced`` becomes ``asyncron.compat.advanced``, likewise ``models``,
``triggers`` and ``scheduler``): the same names, signatures, defaults and naive local datetimes,
run by asyncron's engine. What changes, and why, is in docs/migrating.md ("From the original
threaded scheduler").
"""

from __future__ import annotations

from .. import __version__
from .advanced import (
    DependencyScheduler,
    DependencyStatus,
    JobDependency,
    JobPipeline,
    PersistentScheduler,
    ScheduledRecurrence,
    describe_cron,
    parse_cron,
)
from .models import Job, JobStatus
from .scheduler import JobNotFoundError, Scheduler, at, cron, every
from .triggers import CronTrigger, IntervalTrigger, OnceTrigger, Trigger, TriggerType

__all__ = [
    "CronTrigger",
    "DependencyScheduler",
    "DependencyStatus",
    "IntervalTrigger",
    "Job",
    "JobDependency",
    "JobNotFoundError",
    "JobPipeline",
    "JobStatus",
    "OnceTrigger",
    "PersistentScheduler",
    "ScheduledRecurrence",
    "Scheduler",
    "Trigger",
    "TriggerType",
    "__version__",
    "at",
    "cli_commands",
    "cron",
    "describe_cron",
    "every",
    "parse_cron",
]


def cli_commands() -> dict[str, object]:
    """The original's CLI hooks: ``{"jobs": ..., "status": ...}``, each printing a summary."""

    def _list_jobs() -> None:
        jobs = Scheduler().list_jobs()
        if jobs:
            for job in jobs:
                print(f"  {job}")
        else:
            print("No scheduled jobs.")

    def _scheduler_status() -> None:
        print(f"Scheduler module v{__version__} (asyncron.compat)")
        print("Trigger types: " + ", ".join(t.value for t in TriggerType))
        print(f"Job statuses: {', '.join(s.value for s in JobStatus)}")

    return {"jobs": _list_jobs, "status": _scheduler_status}
