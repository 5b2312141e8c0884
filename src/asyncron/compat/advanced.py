"""The original's advanced schedulers, over asyncron: dependencies, a state file, pipelines.

- :class:`DependencyScheduler` enforces its dependencies with asyncron's dependency graph (the
  original only recorded them); a dependency may name a job that does not exist yet.
- :class:`PersistentScheduler` reads and writes the original's JSON state file.
- :class:`JobPipeline` runs each stage's functions as jobs of the scheduler, concurrently.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import tempfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import Enum
from pathlib import Path
from typing import Any

from .. import Job as EngineJob
from .. import JobStatus
from ..abc import Trigger as EngineTrigger
from ..errors import CronParseError, DependencyCycleError, InvalidJobError
from .scheduler import Scheduler
from .triggers import CronTrigger, IntervalTrigger, OnceTrigger, Trigger

__all__ = [
    "DependencyScheduler",
    "DependencyStatus",
    "JobDependency",
    "JobPipeline",
    "PersistentScheduler",
    "ScheduledRecurrence",
    "describe_cron",
    "parse_cron",
]

logger = logging.getLogger("asyncron.compat")


class DependencyStatus(Enum):
    """Where a job stands with its dependencies (``_check_dependencies``)."""

    WAITING = "waiting"
    READY = "ready"
    BLOCKED = "blocked"
    SATISFIED = "satisfied"


@dataclass
class JobDependency:
    """The jobs ``job_id`` waits for."""

    job_id: str
    depends_on: list[str] = field(default_factory=list)
    require_success: bool = True
    status: DependencyStatus = DependencyStatus.WAITING


def _id_list(name: str, value: object) -> list[str]:
    if isinstance(value, str) or not isinstance(value, Iterable):
        raise InvalidJobError(f"{name}: expected a list of job ids, got {value!r}")
    ids = list(value)
    for item in ids:
        if not isinstance(item, str) or not item:
            raise InvalidJobError(f"{name}: job ids must be non-empty strings, got {item!r}")
    return ids


_NEVER_SUCCEEDS = (JobStatus.FAILED, JobStatus.CANCELLED, JobStatus.SKIPPED)
_SCHEDULE_KEYWORDS = ("name", "trigger", "args", "kwargs", "max_runs")


def _only_schedule_keywords(method: str, kwargs: dict[str, Any]) -> None:
    unknown = set(kwargs) - set(_SCHEDULE_KEYWORDS)
    if unknown:
        raise InvalidJobError(
            f"{method}: unexpected keyword argument(s) {', '.join(sorted(unknown))}; "
            f"allowed: {', '.join(_SCHEDULE_KEYWORDS)}"
        )


class DependencyScheduler(Scheduler):
    """A scheduler whose jobs wait for other jobs.

    A job with dependencies waits, at each fire, until each dependency has completed a run
    successfully since the job's previous run; if one fails, the fire is skipped (asyncron's
    dependency rules, docs/dependencies.md). A dependency may be given before either job exists,
    by id or by job name: the edge takes effect as soon as both jobs are scheduled (a fire that
    already started by then is not held back, so add edges before :meth:`start`).
    """

    def __init__(self, max_workers: int = 4) -> None:
        super().__init__(max_workers)
        self._dependencies: dict[str, JobDependency] = {}
        self._completed_jobs: set[str] = set()
        self._failed_jobs: set[str] = set()
        self._applied: set[tuple[str, str]] = set()

    def _resolve(self, ref: str) -> str | None:
        """A job id for ``ref``: itself when it is an id, else the id of the one job named so."""
        if ref in self._jobs:
            return ref
        named = [job_id for job_id, job in list(self._jobs.items()) if job.name == ref]
        return named[0] if len(named) == 1 else None

    def _apply_pending(self) -> None:
        """Hand the engine every recorded edge whose two jobs now exist.

        An edge that would close a cycle is dropped from its record (so it is not tried again)
        and the ``DependencyCycleError`` is raised.
        """
        if not self._dependencies:
            return
        for dep in list(self._dependencies.values()):
            job = self._resolve(dep.job_id)
            if job is None:
                continue
            for ref in dep.depends_on:
                upstream = self._resolve(ref)
                if upstream is None or (job, upstream) in self._applied:
                    continue
                try:
                    self._facade.add_dependency(job, [upstream])
                except DependencyCycleError:
                    dep.depends_on = [r for r in dep.depends_on if r != ref]
                    raise
                self._applied.add((job, upstream))

    def add_dependency(self, job_id: str, depends_on: list[str]) -> None:
        """Make ``job_id`` wait for every job in ``depends_on`` (ids or names; they need not
        exist yet).

        Raises:
            InvalidJobError: an id is not a non-empty string.
            DependencyCycleError: the edges would close a cycle (a ``ValueError``).
        """
        if not isinstance(job_id, str) or not job_id:
            raise InvalidJobError(f"job_id: expected a non-empty string, got {job_id!r}")
        refs = _id_list("depends_on", depends_on)
        with self._lock:
            known = self._dependencies.get(job_id)
            merged = list(dict.fromkeys([*(known.depends_on if known else []), *refs]))
            self._dependencies[job_id] = JobDependency(job_id=job_id, depends_on=merged)
            self._apply_pending()

    def schedule(
        self,
        func: Callable[..., Any],
        name: str | None = None,
        trigger: Trigger | EngineTrigger | str | timedelta | float | datetime | None = None,
        args: tuple[Any, ...] = (),
        kwargs: dict[str, Any] | None = None,
        max_runs: int | None = None,
    ) -> str:
        """:meth:`Scheduler.schedule`, then attach the recorded dependencies that name it.

        Raises:
            DependencyCycleError: a recorded edge to or from the new job would close a cycle;
                the job is scheduled, that edge dropped.
        """
        job_id = super().schedule(func, name, trigger, args, kwargs, max_runs)
        with self._lock:
            self._apply_pending()
        return job_id

    def schedule_with_deps(
        self,
        func: Callable[..., Any],
        depends_on: list[str] | None = None,
        **kwargs: Any,
    ) -> str:
        """Schedule ``func`` (``schedule()``'s keyword arguments) waiting for ``depends_on``.

        Dependencies that already exist are attached atomically with the job, so even a "run
        once, now" job waits; the others take effect when they are scheduled.
        """
        if not depends_on:
            return self.schedule(func, **kwargs)
        refs = _id_list("depends_on", depends_on)
        _only_schedule_keywords("schedule_with_deps", kwargs)
        with self._lock:
            existing = [r for r in (self._resolve(ref) for ref in refs) if r is not None]
            job_id = self._add(
                func,
                kwargs.pop("name", None),
                kwargs.pop("trigger", None),
                kwargs.pop("args", ()),
                kwargs.pop("kwargs", None),
                kwargs.pop("max_runs", None),
                depends_on=list(dict.fromkeys(existing)),
            )
            self._applied.update((job_id, upstream) for upstream in existing)
            self._dependencies[job_id] = JobDependency(job_id=job_id, depends_on=refs)
            self._apply_pending()
        return job_id

    def _state_of(self, ref: str) -> EngineJob | None:
        job_id = self._resolve(ref)
        return None if job_id is None else self._snapshot(job_id)

    def _check_dependencies(self, job_id: str) -> DependencyStatus:
        """READY (no dependencies), SATISFIED (each completed a run), BLOCKED (one failed, was
        cancelled or skipped) or WAITING."""
        dep = self._dependencies.get(job_id)
        if dep is None:
            return DependencyStatus.READY
        for ref in dep.depends_on:
            if ref in self._failed_jobs:  # what _on_job_complete recorded comes first
                failed, succeeded = True, False
            elif ref in self._completed_jobs:
                failed, succeeded = False, True
            else:  # else what the engine knows of the job
                snap = self._state_of(ref)
                succeeded = snap is not None and snap.run_count > snap.failure_count
                failed = snap is not None and snap.status in _NEVER_SUCCEEDS
            if failed and not succeeded:
                if dep.require_success:
                    return DependencyStatus.BLOCKED
            elif not succeeded:
                return DependencyStatus.WAITING
        return DependencyStatus.SATISFIED

    def _on_job_complete(self, job_id: str, success: bool) -> None:
        """Record that ``job_id`` finished (``_check_dependencies`` consults it)."""
        (self._completed_jobs if success else self._failed_jobs).add(job_id)
        self._dependencies.pop(job_id, None)


# -- the state file ---------------------------------------------------------------------------


def _trigger_doc(trigger: object) -> dict[str, Any] | None:
    """Our addition to a job record: its trigger, so that a restart restores the schedule (the
    original's own file has none; such jobs load as "run once, now")."""
    if isinstance(trigger, OnceTrigger):
        return {"type": "once", "run_at": trigger.run_at.isoformat()}
    if isinstance(trigger, IntervalTrigger):
        return {
            "type": "interval",
            "seconds": trigger.seconds,
            "minutes": trigger.minutes,
            "hours": trigger.hours,
            "days": trigger.days,
            "start_time": trigger.start_time.isoformat() if trigger.start_time else None,
            "end_time": trigger.end_time.isoformat() if trigger.end_time else None,
        }
    if isinstance(trigger, CronTrigger):
        return {"type": "cron", "expression": trigger.expression}
    return None


def _trigger_from(doc: object) -> Trigger | None:
    """The trigger a record names, or None (no trigger: "run once, now").

    Raises:
        ValueError, TypeError, KeyError: the document is malformed.
    """
    if doc is None:
        return None
    if not isinstance(doc, dict):
        raise TypeError(f"trigger: expected an object, got {doc!r}")
    kind = doc.get("type")

    def when(key: str) -> datetime | None:
        value = doc.get(key)
        return None if value is None else datetime.fromisoformat(value)

    if kind == "once":
        run_at = when("run_at")
        if run_at is None:
            raise KeyError("run_at")
        return OnceTrigger(run_at)
    if kind == "interval":
        trigger = IntervalTrigger(
            seconds=int(doc.get("seconds", 0)),
            minutes=int(doc.get("minutes", 0)),
            hours=int(doc.get("hours", 0)),
            days=int(doc.get("days", 0)),
            start_time=when("start_time"),
            end_time=when("end_time"),
        )
        trigger.to_asyncron()
        return trigger
    if kind == "cron":
        return CronTrigger.from_expression(doc["expression"])
    raise ValueError(f"trigger: unknown type {kind!r}")


def _json_ok(value: object) -> bool:
    try:
        json.dumps(value)
    except (TypeError, ValueError):
        return False
    return True


_ENDED = (JobStatus.CANCELLED, JobStatus.COMPLETED, JobStatus.SKIPPED)


class PersistentScheduler(Scheduler):
    """A scheduler that keeps its jobs in the original's JSON state file.

    The file is ``{"saved_at": ..., "jobs": [{"id", "name", "function", "status", "args",
    "kwargs", ...}]}``; a file written by the original loads as is. Jobs whose ``function`` is
    registered (:meth:`register_function`) are loaded when the scheduler is created (or when
    ``_load_state()`` runs again after registering); the others are kept in the file untouched.
    We also write each job's ``trigger`` and ``max_runs``, which the original ignores, so that a
    restart restores the schedule; a record without a trigger loads as "run once, now".

    The file is replaced atomically (a crash leaves the old or the new file, never half of one);
    a file that is not valid state is moved aside to ``<name>.corrupt`` and reported on the
    ``asyncron.compat`` logger, never overwritten.
    """

    def __init__(
        self,
        max_workers: int = 4,
        state_path: str | None = None,
        auto_save: bool = True,
    ) -> None:
        super().__init__(max_workers)
        self._state_path = Path(state_path) if state_path else None
        self._auto_save = auto_save
        self._job_functions: dict[str, str] = {}
        self._registered_functions: dict[str, Callable[..., Any]] = {}
        self._kept: dict[str, dict[str, Any]] = {}  # record id -> record not loaded (yet)
        self._loaded: set[str] = set()  # record ids loaded by this scheduler
        if self._state_path:
            self._load_state()

    def register_function(self, name: str, func: Callable[..., Any]) -> None:
        """Register ``func`` under ``name``: stored jobs naming it can be loaded.

        Raises:
            InvalidJobError: ``name`` is not a non-empty string or ``func`` is not callable.
        """
        if not isinstance(name, str) or not name:
            raise InvalidJobError(f"name: expected a non-empty string, got {name!r}")
        if not callable(func):
            raise InvalidJobError(f"func: expected a callable, got {func!r}")
        self._registered_functions[name] = func

    def _read(self) -> list[dict[str, Any]] | None:
        path = self._state_path
        if path is None:
            return None
        for stale in path.parent.glob(f".{path.name}.*.tmp"):  # left by a crash mid-save
            with contextlib.suppress(OSError):
                stale.unlink()
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return None
        if not text.strip():
            return None
        try:
            state = json.loads(text)
            if not isinstance(state, dict):
                raise ValueError("the top level is not an object")
            jobs = state.get("jobs", [])
            if not isinstance(jobs, list) or not all(isinstance(j, dict) for j in jobs):
                raise ValueError("'jobs' is not a list of objects")
        except ValueError as exc:
            aside = path.with_name(path.name + ".corrupt")
            os.replace(path, aside)
            logger.error(
                "scheduler state file %s is not valid (%s); moved aside to %s, starting empty",
                path,
                exc,
                aside,
            )
            return None
        return jobs

    def _load_state(self) -> None:
        """Load the stored jobs whose function is registered (again: only those not yet
        loaded); a record that cannot be loaded is logged and kept in the file."""
        records = self._read()
        if records is None:
            return
        for position, record in enumerate(records):
            record_id = record.get("id")
            key = record_id if isinstance(record_id, str) and record_id else f"#{position}"
            if key in self._loaded:
                continue
            func = self._registered_functions.get(record.get("function") or "")
            if func is None:
                self._kept[key] = record
                continue
            try:
                trigger = _trigger_from(record.get("trigger"))
                args = record.get("args", [])
                kwargs = record.get("kwargs", {})
                if not isinstance(args, list) or not isinstance(kwargs, dict):
                    raise TypeError("args must be a list and kwargs an object")
                max_runs = record.get("max_runs")
                reuse = key if key not in self._jobs and not key.startswith("#") else None
                job_id = self._add(
                    func, record.get("name"), trigger, tuple(args), kwargs, max_runs, job_id=reuse
                )
            except (TypeError, ValueError, KeyError, OverflowError) as exc:
                logger.error(
                    "scheduler state %s: job %r could not be loaded (%s); kept in the file",
                    self._state_path,
                    record_id,
                    exc,
                )
                self._kept[key] = record
                continue
            self._kept.pop(key, None)
            self._loaded.add(key)
            self._job_functions[job_id] = str(record["function"])

    def _save_state(self) -> None:
        """Write the state file now (atomically)."""
        path = self._state_path
        if path is None:
            return
        jobs: list[dict[str, Any]] = []
        snaps = self._snapshots()
        for job_id, job in list(self._jobs.items()):
            snap = snaps.get(job_id)
            # the engine's status decides: a recurring job shown COMPLETED after a run_now()
            # still has fires and is kept (the original dropped it from the file)
            if (
                snap is None
                or snap.status in _ENDED
                or (snap.max_runs is not None and snap.run_count >= snap.max_runs)
            ):
                continue
            status = self._status(snap)
            record: dict[str, Any] = {
                "id": job_id,
                "name": job.name,
                "function": self._job_functions.get(job_id, ""),
                "status": status.value,
            }
            if _json_ok(list(job.args)) and _json_ok(job.kwargs):
                record["args"] = list(job.args)
                record["kwargs"] = job.kwargs
            trigger = None if job.__dict__.get("_once_now") else _trigger_doc(job.trigger)
            if trigger is not None:
                record["trigger"] = trigger
            if job.max_runs is not None:
                record["max_runs"] = job.max_runs
            jobs.append(record)
        jobs.extend(self._kept.values())
        state = {"saved_at": datetime.now().isoformat(), "jobs": jobs}
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                json.dump(state, handle, indent=2)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise

    def schedule(  # type: ignore[override]  # the original's signature: function_name second
        self,
        func: Callable[..., Any],
        function_name: str | None = None,
        **kwargs: Any,
    ) -> str:
        """Add a job (``kwargs``: ``schedule()``'s ``name``, ``trigger``, ``args``, ``kwargs``,
        ``max_runs``); with ``function_name`` it is stored (its arguments must be JSON data)
        and, with ``auto_save``, the file is written before this returns.

        Raises:
            InvalidJobError: a bad argument, or arguments of a stored job that JSON cannot hold.
            OSError: the state file could not be written.
        """
        _only_schedule_keywords("schedule", kwargs)
        args = kwargs.get("args", ())
        if function_name is not None:
            if not isinstance(function_name, str) or not function_name:
                raise InvalidJobError(
                    f"function_name: expected a non-empty string, got {function_name!r}"
                )
            trigger = kwargs.get("trigger")
            if trigger is not None and _trigger_doc(trigger) is None:
                raise InvalidJobError(
                    f"trigger: a job stored as {function_name!r} needs a OnceTrigger, "
                    f"IntervalTrigger or CronTrigger of asyncron.compat (or every(), at(), "
                    f"cron()), got {trigger!r}"
                )
            if not _json_ok(list(args)) or not _json_ok(kwargs.get("kwargs") or {}):
                raise InvalidJobError(
                    f"args/kwargs of a job stored as {function_name!r} must be JSON data "
                    f"(lists, dicts, str, int, float, bool, None), got args={args!r} "
                    f"kwargs={kwargs.get('kwargs')!r}"
                )
        job_id = super().schedule(func, **kwargs)
        if function_name:
            self._job_functions[job_id] = function_name
            if self._auto_save:
                self._save_state()
        return job_id

    def stop(self) -> None:
        """Stop, then write the state file."""
        super().stop()
        self._save_state()


# -- pipelines --------------------------------------------------------------------------------


class JobPipeline:
    """Stages of functions run one stage after the other, each stage's functions concurrently,
    as jobs of ``scheduler``.

    :meth:`run` returns every stage's results (a failed function's result is None, as in the
    original; its job shows the error); the scheduler need not be started.
    """

    def __init__(self, scheduler: Scheduler) -> None:
        self._scheduler = scheduler
        self._stages: list[list[Callable[..., Any]]] = []
        self._current_stage = 0
        self._results: list[list[Any]] = []

    def add_stage(self, *funcs: Callable[..., Any]) -> JobPipeline:
        """Add a stage of functions run concurrently; returns the pipeline (chainable).

        Raises:
            InvalidJobError: an argument is not callable.
        """
        for func in funcs:
            if not callable(func):
                raise InvalidJobError(f"add_stage: expected callables, got {func!r}")
        self._stages.append(list(funcs))
        return self

    def _finish(self, job_id: str) -> Any:
        """Block until the job has run (running it now if the scheduler is not started)."""
        scheduler = self._scheduler
        facade = scheduler.facade
        if scheduler._running:
            facade.wait_job(job_id)
        else:
            with contextlib.suppress(Exception):  # its error is on the job, as in the original
                scheduler.run_now(job_id)
        job = scheduler.get_job(job_id)
        return None if job is None else job.result

    async def run(self) -> list[list[Any]]:
        """Run every stage in order and return the results, one list per stage."""
        for stage in self._stages:
            ids = [self._scheduler.schedule(func) for func in stage]
            results = await asyncio.gather(*(asyncio.to_thread(self._finish, i) for i in ids))
            self._results.append(list(results))
            self._current_stage += 1
        return self._results


@dataclass
class ScheduledRecurrence:
    """A recurrence description (plain data, as in the original): every ``every`` ``unit``
    (seconds, minutes, hours, days, weeks), optionally at ``at_time`` ("HH:MM") on ``on_days``
    ("mon", "tue", ...) until ``until``."""

    every: int = 1
    unit: str = "days"
    at_time: str | None = None
    on_days: list[str] = field(default_factory=list)
    until: datetime | None = None


# -- cron helpers -----------------------------------------------------------------------------

_DESCRIPTIONS = {
    "* * * * *": "Every minute",
    "0 * * * *": "Every hour",
    "0 0 * * *": "Every day at midnight",
    "0 0 * * 0": "Every Sunday at midnight",
    "0 0 1 * *": "First day of every month",
}


def parse_cron(expression: str) -> dict[str, Any]:
    """Split a five-field cron expression into ``minute``, ``hour``, ``day_of_month``,
    ``month`` and ``day_of_week``.

    Raises:
        CronParseError: not 5 parts, or a field is invalid (a ``ValueError`` naming it).
    """
    if not isinstance(expression, str):
        raise CronParseError(
            f"Cron expression must have 5 parts, got {type(expression).__name__} {expression!r}",
            expression=repr(expression),
        )
    parts = expression.split()
    if len(parts) != 5:
        raise CronParseError(
            f"Cron expression must have 5 parts (minute hour day_of_month month day_of_week), "
            f"got {len(parts)} in {expression!r}",
            expression=expression,
        )
    trigger = CronTrigger(*parts)
    return {
        "minute": trigger.minute,
        "hour": trigger.hour,
        "day_of_month": trigger.day_of_month,
        "month": trigger.month,
        "day_of_week": trigger.day_of_week,
    }


def describe_cron(expression: str) -> str:
    """The original's short description of five common expressions, else ``"Custom: <expr>"``.

    Raises:
        CronParseError: as :func:`parse_cron`.
    """
    parse_cron(expression)
    return _DESCRIPTIONS.get(expression, f"Custom: {expression}")
