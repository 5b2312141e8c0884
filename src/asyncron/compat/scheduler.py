"""The original threaded ``Scheduler`` and its helpers ``every``, ``at`` and ``cron``, as thin
adapters over asyncron's threaded facade (:class:`asyncron.Scheduler`).

Ids, naive local datetimes, live ``Job`` objects and the original's status rules are kept here;
timing, running, recording and dependencies are the engine's.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable, Iterable
from datetime import date, datetime, timedelta
from typing import Any

from .. import DependencyScheduler as _DependencyFacade
from .. import Job as EngineJob
from .. import JobStatus
from ..abc import Trigger as EngineTrigger
from ..errors import InvalidTriggerError, JobNotFoundError
from .models import Job, error_text
from .triggers import CronTrigger, IntervalTrigger, OnceTrigger, Trigger, naive

__all__ = ["JobNotFoundError", "Scheduler", "at", "cron", "every"]

_IDLE = (JobStatus.PENDING, JobStatus.PAUSED)


class Scheduler:
    """The original ``Scheduler(max_workers=4)``: ``schedule``, ``cancel``, ``get_job``,
    ``list_jobs``, ``start``, ``stop``, ``run_now``.

    Jobs run on asyncron's engine (exact timers, no polling); :attr:`facade` is the asyncron
    scheduler underneath, for everything the original lacked (pause, reschedule, history,
    ``wait_job``...). Job ids are ``job_<n>_<unix time>``.
    """

    def __init__(self, max_workers: int = 4) -> None:
        self._facade = self._make_facade(max_workers)
        self._jobs: dict[str, Job] = {}
        self._lock = threading.RLock()
        self._job_counter = 0
        # job id -> (status shown after run_now/execute, engine run_count right after it)
        self._overrides: dict[str, tuple[JobStatus, int]] = {}
        self._thread: threading.Thread | None = None
        self._direct = False  # the facade was stopped: read the idle engine without its loop

    def _make_facade(self, max_workers: int) -> _DependencyFacade:
        # asyncron's DependencyScheduler (a Scheduler) for its schedule_with_deps(), which
        # takes the job id we made and, for the compat DependencyScheduler, the edges
        return _DependencyFacade(max_workers=max_workers)

    @property
    def facade(self) -> _DependencyFacade:
        """The :class:`asyncron.Scheduler` these calls go to (use it for asyncron's extras)."""
        return self._facade

    @property
    def _running(self) -> bool:
        return self._facade.engine.running

    # -- ids and reads --------------------------------------------------------------------

    def _generate_id(self) -> str:
        with self._lock:
            while True:  # a loaded job may hold an id this counter would make again
                self._job_counter += 1
                job_id = f"job_{self._job_counter}_{int(time.time())}"
                if job_id not in self._jobs:
                    return job_id

    def _snapshot(self, job_id: str) -> EngineJob | None:
        if self._direct:
            return self._facade.engine.get_job_nowait(job_id)
        return self._facade.get_job(job_id)

    def _snapshots(self) -> dict[str, EngineJob]:
        facade = self._facade
        jobs = facade.engine.list_jobs_nowait() if self._direct else facade.list_jobs()
        return {job.id: job for job in jobs}

    def _status(self, snap: EngineJob) -> JobStatus:
        """The original's status: after ``run_now``/``execute`` a job that still has fires
        shows COMPLETED or FAILED until its next run starts; otherwise the engine's status."""
        override = self._overrides.get(snap.id)
        if override is not None:
            if snap.status in _IDLE and snap.run_count == override[1]:
                return override[0]
            if snap.run_count != override[1] or snap.status is JobStatus.CANCELLED:
                self._overrides.pop(snap.id, None)
        return snap.status

    def live_field(self, job_id: str, name: str) -> Any:
        """One live field of a scheduled job (what :class:`Job` reads)."""
        snap = self._snapshot(job_id)
        if snap is None:  # removed through the facade: the job keeps what it had
            return self._jobs[job_id].__dict__.get(name)
        if name == "status":
            return self._status(snap)
        if name == "next_run":
            if snap.status is JobStatus.CANCELLED or (
                snap.max_runs is not None
                and snap.run_count >= snap.max_runs
                and snap.status is not JobStatus.RUNNING
            ):
                return None
            return naive(snap.next_run)
        if name == "last_run":
            return naive(snap.last_run)
        if name == "run_count":  # the original counts successful runs
            return snap.run_count - snap.failure_count
        if name == "result":
            return snap.result
        return error_text(snap.error)

    def execute_job(self, job_id: str) -> Any:
        """``Job.execute()`` of a scheduled job: :meth:`run_now`."""
        return self.run_now(job_id)

    # -- the original API -----------------------------------------------------------------

    def schedule(
        self,
        func: Callable[..., Any],
        name: str | None = None,
        trigger: Trigger | EngineTrigger | str | timedelta | float | datetime | None = None,
        args: tuple[Any, ...] = (),
        kwargs: dict[str, Any] | None = None,
        max_runs: int | None = None,
    ) -> str:
        """Add a job and return its id; no trigger means "run once, now".

        ``trigger`` may also be any asyncron trigger or shorthand (a cron string, seconds, a
        ``timedelta`` or a ``datetime``).

        Raises:
            InvalidJobError, InvalidTriggerError: a bad argument (the message names it).
        """
        return self._add(func, name, trigger, args, kwargs, max_runs)

    def _add(
        self,
        func: Callable[..., Any],
        name: str | None,
        trigger: Any,
        args: Iterable[Any],
        kwargs: dict[str, Any] | None,
        max_runs: int | None,
        *,
        job_id: str | None = None,
        depends_on: list[str] | None = None,
    ) -> str:
        job_id = job_id or self._generate_id()
        shown = trigger if trigger is not None else OnceTrigger(datetime.now())
        engine_trigger = shown.to_asyncron() if isinstance(shown, Trigger) else shown
        # "once, now" fires at most once: a run_now before the scheduler starts uses it up, as
        # the original (whose such job never fired by itself) ran it just once
        engine_runs = 1 if trigger is None and max_runs is None else max_runs
        if name is None:
            name = getattr(func, "__name__", None)
        self._facade.schedule_with_deps(
            func,
            depends_on or [],
            name=name,
            trigger=engine_trigger,
            args=args,
            kwargs=kwargs,
            max_runs=engine_runs,
            job_id=job_id,
        )
        self._direct = False
        job = Job(
            id=job_id,
            name=name if name is not None else job_id,
            func=func,
            args=tuple(args),
            kwargs=dict(kwargs or {}),
            trigger=shown,
            max_runs=max_runs,
            next_run=datetime.min,  # the live view answers: no need to compute it here
        )
        job.__dict__["next_run"] = None
        if trigger is None:
            job.__dict__["_once_now"] = True  # stored without a trigger: "once, now" again
        with self._lock:
            self._jobs[job_id] = job.bind(self)
        return job_id

    def cancel(self, job_id: str) -> bool:
        """Cancel a job: it never fires again and shows CANCELLED. False for an unknown id or
        a job that already ended."""
        if job_id not in self._jobs:
            return False
        return self._facade.cancel(job_id)

    def get_job(self, job_id: str) -> Job | None:
        """The job (a live view: keep it and read it later), or None."""
        return self._jobs.get(job_id)

    def list_jobs(self, status: JobStatus | None = None) -> list[Job]:
        """All jobs in the order they were scheduled, or only those whose status is ``status``."""
        jobs = list(self._jobs.values())
        if not status:
            return jobs
        snaps = self._snapshots()
        picked = []
        for job in jobs:
            snap = snaps.get(job.id)
            current = self._status(snap) if snap is not None else job.__dict__.get("status")
            if current == status:
                picked.append(job)
        return picked

    def start(self) -> None:
        """Start firing jobs (idempotent)."""
        if self._running:
            return
        self._facade.start()
        self._direct = False
        self._thread = self._facade.loop_thread

    def stop(self) -> None:
        """Stop firing and wait for running jobs (asyncron's ``stop_timeout``, 10 s)."""
        self._facade.stop()
        self._direct = True

    def run_now(self, job_id: str) -> Any:
        """Run the job now, in the scheduler, and return its result; its error is re-raised.

        Afterwards the job shows COMPLETED (or FAILED, with ``error``) until its next run.

        Raises:
            JobNotFoundError: no such job (a ``ValueError``: "Job not found: <id>").
            JobStateError: the job was cancelled.
        """
        if job_id not in self._jobs:
            raise JobNotFoundError(job_id)
        self._direct = False
        try:
            result = self._facade.run_now(job_id)
        except Exception:
            self._remember(job_id, JobStatus.FAILED)
            raise
        self._remember(job_id, JobStatus.COMPLETED)
        return result

    def _remember(self, job_id: str, status: JobStatus) -> None:
        snap = self._facade.get_job(job_id)
        if snap is not None and snap.status is not JobStatus.CANCELLED:
            self._overrides[job_id] = (status, snap.run_count)

    def __enter__(self) -> Scheduler:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


# -- convenience functions ------------------------------------------------------------------


def every(seconds: int = 0, minutes: int = 0, hours: int = 0, days: int = 0) -> IntervalTrigger:
    """An :class:`IntervalTrigger` firing every so many seconds, minutes, hours and days."""
    trigger = IntervalTrigger(seconds=seconds, minutes=minutes, hours=hours, days=days)
    trigger.to_asyncron()  # a bad or zero interval is reported here, naming the unit
    return trigger


_HH_MM = re.compile(r"(\d{1,2}):(\d{2})")


def at(time_str: str) -> OnceTrigger:
    """A :class:`OnceTrigger` for the next ``"HH:MM"`` local time (today, or tomorrow when it
    has passed).

    Raises:
        InvalidTriggerError: not ``"HH:MM"`` with hour 0-23 and minute 0-59.
    """
    match = _HH_MM.fullmatch(time_str.strip()) if isinstance(time_str, str) else None
    if match is None or int(match[1]) > 23 or int(match[2]) > 59:
        raise InvalidTriggerError(
            f"time_str: expected 'HH:MM' (hour 0-23, minute 0-59), got {time_str!r}"
        )
    now = datetime.now()
    hour, minute = int(match[1]), int(match[2])
    run_at = now.replace(hour=hour, minute=minute, second=0, microsecond=0)
    if run_at <= now:
        tomorrow: date = now.date() + timedelta(days=1)
        run_at = datetime(tomorrow.year, tomorrow.month, tomorrow.day, hour, minute)
    return OnceTrigger(run_at=run_at)


def cron(expression: str) -> CronTrigger:
    """A :class:`CronTrigger` from a five-field expression (``CronTrigger.from_expression``)."""
    return CronTrigger.from_expression(expression)
