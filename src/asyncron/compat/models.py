"""The original threaded scheduler's ``Job`` and ``JobStatus``.

``JobStatus`` is asyncron's own enum (the original's five values, plus ``PAUSED``, ``SKIPPED``
and ``UNRESOLVED`` that only asyncron features produce). ``Job`` is the original's mutable
dataclass: built by hand it runs its function in the caller with :meth:`Job.execute`; a job that a
scheduler returns is a *live view*: its ``status``, ``next_run``, ``last_run``, ``run_count``,
``result`` and ``error`` are read from the engine each time, so a reference kept by the program
stays current, as the original's shared object did.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from .. import JobStatus
from .triggers import OnceTrigger, Trigger

__all__ = ["Job", "JobStatus"]

#: The fields a scheduled job reads from the engine.
LIVE_FIELDS = frozenset({"status", "last_run", "next_run", "run_count", "result", "error"})

_TYPE_PREFIX = re.compile(r"[A-Za-z_][\w.]*: ")


def error_text(engine_error: str | None) -> str | None:
    """The original's ``str(exc)`` from asyncron's ``"ValueError: boom"``."""
    if engine_error is None:
        return None
    match = _TYPE_PREFIX.match(engine_error)
    if match is not None and not engine_error.startswith("CancelledError: "):
        return engine_error[match.end() :]
    return engine_error


class JobSource(Protocol):
    """Where a scheduled job's live fields come from (the compat scheduler)."""

    def live_field(self, job_id: str, name: str) -> Any: ...

    def execute_job(self, job_id: str) -> Any: ...


@dataclass
class Job:
    """A job: what to call, when, and what happened (the original's field names and defaults).

    ``Job(id=..., name=..., func=...)`` is a plain value whose :meth:`execute` runs ``func`` in
    the calling thread; jobs compare by ``next_run`` (a job with none sorts last).
    """

    id: str
    name: str
    func: Callable[..., Any]
    args: tuple[Any, ...] = field(default_factory=tuple)
    kwargs: dict[str, Any] = field(default_factory=dict)
    trigger: Trigger = field(default_factory=lambda: OnceTrigger(datetime.now()))
    status: JobStatus = JobStatus.PENDING
    created_at: datetime = field(default_factory=datetime.now)
    last_run: datetime | None = None
    next_run: datetime | None = None
    run_count: int = 0
    max_runs: int | None = None
    result: Any = None
    error: str | None = None

    def __post_init__(self) -> None:
        if self.next_run is None:
            self.next_run = self.trigger.get_next_run()

    def __getattribute__(self, name: str) -> Any:
        if name in LIVE_FIELDS:
            source = object.__getattribute__(self, "__dict__").get("_source")
            if source is not None:
                return source.live_field(object.__getattribute__(self, "id"), name)
        return object.__getattribute__(self, name)

    def __setattr__(self, name: str, value: Any) -> None:
        if name in LIVE_FIELDS and self.__dict__.get("_source") is not None:
            raise AttributeError(
                f"Job.{name} of a scheduled job is kept by the scheduler and cannot be set; use "
                "the scheduler's cancel(), run_now() or its asyncron facade (pause, reschedule, "
                "modify)"
            )
        object.__setattr__(self, name, value)

    def bind(self, source: JobSource) -> Job:
        """Make this job a live view of the scheduler's job with the same id (scheduler use)."""
        object.__setattr__(self, "_source", source)
        return self

    def __lt__(self, other: Job) -> bool:
        mine, theirs = self.next_run, other.next_run
        if mine is None:
            return False
        if theirs is None:
            return True
        return bool(mine < theirs)

    def execute(self) -> Any:
        """Run the job now in the calling thread; return its result, re-raise its error.

        A failure leaves ``status`` FAILED with the error text in ``error`` until the job's next
        run; ``next_run`` then moves on (None once ``max_runs`` successful runs are done). A
        scheduled job's run is recorded by its scheduler (``run_now``).
        """
        source = self.__dict__.get("_source")
        if source is not None:
            return source.execute_job(self.id)
        self.status = JobStatus.RUNNING
        self.last_run = datetime.now()
        try:
            self.result = self.func(*self.args, **self.kwargs)
        except Exception as exc:
            self.error = str(exc)
            self.status = JobStatus.FAILED
            raise
        else:
            self.error = None
            self.status = JobStatus.COMPLETED
            self.run_count += 1
            return self.result
        finally:
            if self.max_runs is not None and self.run_count >= self.max_runs:
                self.next_run = None
            else:
                self.next_run = self.trigger.get_next_run(datetime.now())
