"""Triggers: when a job fires."""

from __future__ import annotations

from ..abc import Trigger
from .cron import CronTrigger
from .interval import IntervalTrigger
from .once import OnceTrigger

__all__ = ["CronTrigger", "IntervalTrigger", "OnceTrigger", "Trigger"]
