"""Scheduler events (public names). See docs/events.md."""

from __future__ import annotations

from ._events import (
    Event,
    FireMisfired,
    FireSkipped,
    JobAdded,
    JobEvent,
    JobModified,
    JobPaused,
    JobRemoved,
    JobResumed,
    JobUnloadable,
    RunFailed,
    RunRetried,
    RunStarted,
    RunSucceeded,
    SchedulerStarted,
    SchedulerStopped,
    Subscription,
)

__all__ = [
    "Event",
    "FireMisfired",
    "FireSkipped",
    "JobAdded",
    "JobEvent",
    "JobModified",
    "JobPaused",
    "JobRemoved",
    "JobResumed",
    "JobUnloadable",
    "RunFailed",
    "RunRetried",
    "RunStarted",
    "RunSucceeded",
    "SchedulerStarted",
    "SchedulerStopped",
    "Subscription",
]
