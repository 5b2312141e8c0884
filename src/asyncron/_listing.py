"""Views of the job table: which jobs ``list_jobs()`` returns, in which order, and the zone a
job's ``next_run`` is shown in (pure; no engine state).

The zone rule: ``Job.next_run`` is in the trigger's time zone (``trigger.timezone``: a cron
trigger's zone, a one-shot trigger's ``run_at`` zone, an interval's ``start`` zone or its
``timezone=``); a trigger without one is shown in the scheduler's ``timezone`` (default: the
local zone). The instant is the same whatever the zone; only the reading changes.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, tzinfo

from ._model import Job, JobStatus
from ._tz import local_zone
from .errors import InvalidJobError

__all__ = ["JOB_ORDERS", "coerce_statuses", "display_zone", "order_jobs"]

JOB_ORDERS = ("added", "next_run")


def display_zone(trigger: object) -> tzinfo:
    """The zone ``next_run`` is shown in: the trigger's, else the local zone."""
    zone = getattr(trigger, "timezone", None)
    return zone if isinstance(zone, tzinfo) else local_zone()


def in_zone(when: datetime | None, zone: tzinfo) -> datetime | None:
    if when is None or when.tzinfo is zone:
        return when
    return when.astimezone(zone)


def _one_status(status: object) -> JobStatus:
    if isinstance(status, JobStatus):
        return status
    if isinstance(status, str):
        try:
            return JobStatus(status.lower())
        except ValueError:
            pass
    allowed = ", ".join(s.value for s in JobStatus)
    raise InvalidJobError(
        f"status: expected a JobStatus or one of {allowed} (or a collection of them); got "
        f"{status!r}"
    )


def coerce_statuses(status: JobStatus | str | Iterable[JobStatus | str]) -> frozenset[JobStatus]:
    """One status or a collection of statuses, as a set.

    Raises:
        InvalidJobError: an unknown status (the message lists the allowed ones).
    """
    if isinstance(status, JobStatus | str):
        return frozenset({_one_status(status)})
    if not isinstance(status, Iterable):
        _one_status(status)  # raises, naming the value
    return frozenset(_one_status(s) for s in status)


def order_jobs(jobs: list[Job], order: str) -> list[Job]:
    """``jobs`` (in the order they were added) in ``order``: ``added`` keeps them; ``next_run``
    sorts by next fire, soonest first, jobs with no next fire last (stable).

    Raises:
        InvalidJobError: an unknown order.
    """
    if order == "added":
        return jobs
    if order == "next_run":
        return sorted(
            jobs,
            key=lambda j: (j.next_run is None, j.next_run.timestamp() if j.next_run else 0.0),
        )
    raise InvalidJobError(f"order: expected one of {', '.join(JOB_ORDERS)}; got {order!r}")
