"""asyncron: an asyncio-native job scheduler.

Public names only; the implementation lives in private modules.
"""

from __future__ import annotations

from . import _journal  # noqa: F401 - installs the journal layer (AsyncScheduler(store=...))
from ._model import Job, JobDescription, JobOptions, JobStatus, RunRecord, SchedulerStatistics
from ._persistent import PersistentScheduler
from ._pipeline import JobPipeline, PipelineStatistics
from ._scheduler import AsyncScheduler, RunInfo, current_run, set_progress
from ._sync import DependencyScheduler, Scheduler
from .abc import Trigger
from .errors import PipelineError, PipelineTimeoutError
from .triggers import CronTrigger, IntervalTrigger, OnceTrigger

__all__ = [
    "AsyncScheduler",
    "CronTrigger",
    "DependencyScheduler",
    "IntervalTrigger",
    "Job",
    "JobDescription",
    "JobOptions",
    "JobPipeline",
    "JobStatus",
    "OnceTrigger",
    "PersistentScheduler",
    "PipelineError",
    "PipelineStatistics",
    "PipelineTimeoutError",
    "RunInfo",
    "RunRecord",
    "Scheduler",
    "SchedulerStatistics",
    "Trigger",
    "current_run",
    "set_progress",
]

__version__ = "0.1.0"
