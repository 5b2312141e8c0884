"""asyncron: an asyncio-native job scheduler.

Public names only; the implementation lives in private modules.
"""

from __future__ import annotations

from . import _journal  # noqa: F401 - installs the journal layer (AsyncScheduler(store=...))
from ._model import Job, JobDescription, JobOptions, JobStatus, RunRecord, SchedulerStatistics
from ._persistent import PersistentScheduler
from ._pipeline import JobPipeline, PipelineStatistics
from ._refs import storable
from ._scheduler import AsyncScheduler, RunInfo, current_run, set_progress
from ._sync import DependencyScheduler, Scheduler
from .abc import Trigger
from .errors import PipelineError, PipelineTimeoutError
from .triggers import (
    AndTrigger,
    BusinessCalendar,
    BusinessDayTrigger,
    CalendarIntervalTrigger,
    CronTrigger,
    ExcludeTrigger,
    IntervalTrigger,
    OnceTrigger,
    OrTrigger,
    TriggerOperators,
)

__all__ = [
    "AndTrigger",
    "AsyncScheduler",
    "BusinessCalendar",
    "BusinessDayTrigger",
    "CalendarIntervalTrigger",
    "CronTrigger",
    "DependencyScheduler",
    "ExcludeTrigger",
    "IntervalTrigger",
    "Job",
    "JobDescription",
    "JobOptions",
    "JobPipeline",
    "JobStatus",
    "OnceTrigger",
    "OrTrigger",
    "PersistentScheduler",
    "PipelineError",
    "PipelineStatistics",
    "PipelineTimeoutError",
    "RunInfo",
    "RunRecord",
    "Scheduler",
    "SchedulerStatistics",
    "Trigger",
    "TriggerOperators",
    "current_run",
    "set_progress",
    "storable",
]

__version__ = "0.1.0"
