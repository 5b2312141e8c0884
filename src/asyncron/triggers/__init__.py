"""Triggers: when a job fires."""

from __future__ import annotations

from ..abc import Trigger
from .business_day import BusinessDayTrigger
from .calendar_interval import CalendarIntervalTrigger
from .calendars import BusinessCalendar
from .combinations import AndTrigger, ExcludeTrigger, OrTrigger, TriggerOperators
from .cron import CronTrigger
from .interval import IntervalTrigger
from .once import OnceTrigger

__all__ = [
    "AndTrigger",
    "BusinessCalendar",
    "BusinessDayTrigger",
    "CalendarIntervalTrigger",
    "CronTrigger",
    "ExcludeTrigger",
    "IntervalTrigger",
    "OnceTrigger",
    "OrTrigger",
    "Trigger",
    "TriggerOperators",
]
