"""Small values that cross boundaries: job status and job snapshots."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from .errors import InvalidJobError

if TYPE_CHECKING:
    from .abc import Trigger

__all__ = [
    "OVERLAP_POLICIES",
    "Job",
    "JobDescription",
    "JobOptions",
    "JobStatus",
    "RunRecord",
    "SchedulerStatistics",
    "UnresolvedJob",
]


class JobStatus(StrEnum):
    """Where a job is in its life.

    ``PENDING``: waiting for its next fire. ``RUNNING``: a run is in progress.
    ``PAUSED``: paused by the user; its fires are held until resumed.
    ``UNRESOLVED``: a stored job that could not be loaded (its function is not registered, its
    time zone or encryption key is unknown); kept untouched in the store until it resolves.
    ``COMPLETED``: no fire is left (trigger exhausted or ``max_runs`` reached) and its last run
    succeeded. ``FAILED``: no fire is left and its last run failed (a recurring job that fails
    keeps its schedule and stays ``PENDING``, with the error recorded). ``CANCELLED``: cancelled
    by the user. ``SKIPPED``: never ran because an upstream dependency failed or was cancelled.
    """

    PENDING = "pending"
    RUNNING = "running"
    PAUSED = "paused"
    UNRESOLVED = "unresolved"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"
    SKIPPED = "skipped"

    @property
    def is_final(self) -> bool:
        """True when the job will never fire again on its own."""
        return self in _FINAL


_FINAL = frozenset({JobStatus.COMPLETED, JobStatus.FAILED, JobStatus.CANCELLED, JobStatus.SKIPPED})


@dataclass(frozen=True, slots=True)
class Job:
    """A read-only snapshot of a job, taken when it was asked for.

    ``error`` is the text of the last failure (``"ValueError: boom"``) and ``traceback`` its
    formatted traceback; both are None after a successful run. ``result`` is the last run's return
    value. ``skipped_fires`` counts fires dropped because the previous run was still going.
    """

    id: str
    name: str
    status: JobStatus
    trigger: Trigger | None
    next_run: datetime | None
    last_run: datetime | None
    run_count: int
    max_runs: int | None
    error: str | None
    result: Any
    traceback: str | None = None
    failure_count: int = 0
    skipped_fires: int = 0
    func_name: str = ""
    args: tuple[Any, ...] = ()
    kwargs: dict[str, Any] = field(default_factory=dict)
    depends_on: tuple[str, ...] = ()
    skipped_because: str | None = None
    progress: str | None = None
    options: JobOptions | None = None
    buffered_fires: int = 0

    @property
    def last_outcome(self) -> str | None:
        """How the last recorded run ended: ``"succeeded"``, ``"failed"`` (an error, a timeout
        or a cancelled run; ``error`` says which), or None before any run.

        Unlike ``status``, it is about the last run only: after a failed ``run_now()`` (or a
        failed fire) of a job that still has fires, ``status`` is back to ``PENDING`` at once
        (the job is waiting for its next fire) while ``last_outcome`` is ``"failed"`` and
        ``error`` holds the text, until a run succeeds. ``status`` is ``FAILED`` only when no
        fire is left and the last run failed.
        """
        if self.run_count == 0:
            return None
        return "succeeded" if self.error is None else "failed"

    @property
    def last_error(self) -> str | None:
        """The last run's error text when it failed (``error``), else None."""
        return self.error


OVERLAP_POLICIES = ("skip", "buffer_one", "buffer_all", "cancel_other", "allow_all")


def check_seconds(name: str, value: object, *, allow_none: bool = True) -> None:
    """Refuse anything but None or a finite number of seconds >= 0 (a timeout argument).

    Raises:
        InvalidJobError: naming ``name``, the value and what is allowed (NaN, a negative or
            infinite number, a bool or a string are refused; use None to wait without limit).
    """
    _seconds(name, value, allow_none=allow_none)


def _seconds(name: str, value: object, *, allow_none: bool = True, allow_zero: bool = True) -> None:
    if value is None and allow_none:
        return
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or not math.isfinite(value)
        or value < 0
        or (value == 0 and not allow_zero)
    ):
        allowed = "a number of seconds >= 0" if allow_zero else "a number of seconds > 0"
        raise InvalidJobError(
            f"{name}: expected {allowed}{' or None' if allow_none else ''}, got {value!r}"
        )


@dataclass(frozen=True, slots=True)
class JobOptions:
    """How a job runs. Every field has a scheduler-wide default (``AsyncScheduler(job_defaults=)``)
    that ``schedule()`` keyword arguments override per job.

    - ``overlap``: what a fire does while a previous run of the same job is still going:
      ``skip`` (default; the fire is dropped and counted), ``buffer_one`` (run once right after
      the current run; further fires dropped), ``buffer_all`` (queue up to ``buffer_limit`` fires,
      run one after another), ``cancel_other`` (cancel the running run, then start),
      ``allow_all`` (run concurrently, at most ``max_instances`` at once; None = no limit).
      ``max_instances=N`` with N > 1 and the default policy means ``allow_all`` (as in
      APScheduler); with a buffer or cancel policy it is an error.
    - ``retries``: a failed run is retried up to this many times, after ``retry_delay`` seconds,
      doubling each time up to ``max_retry_delay``, with full jitter; only exceptions that are
      instances of ``retry_on`` are retried.
    - ``timeout``: seconds a run may take; an async run is then cancelled, a sync run (which
      cannot be interrupted) is abandoned in its thread; either counts as a failure with a
      ``RunTimeoutError``.
    - ``jitter``: a random delay in ``[0, jitter]`` seconds added to each fire.
    - ``misfire_grace_time``: a fire that starts later than this many seconds after its time is
      skipped and counted as a misfire (None: always run, however late).
    - ``history``: how many past runs are kept per job.
    - ``misfire``, ``misfire_max_count``, ``misfire_max_age``: with a durable store, what
      happens to fires missed while the process was down: ``latest`` (run the last one once),
      ``skip``, or ``all`` (replay each, at most ``misfire_max_count`` and none older than
      ``misfire_max_age`` seconds). None: the store's default (``latest``, 10, one day).
    - ``on_crash``: what a distributed store does with a run whose node died (its lease
      expired): ``abandon`` (recorded as abandoned, at most once) or ``rerun`` (run once more by
      another node, ``current_run().recovering`` set, at least once).
    """

    overlap: str = "skip"
    max_instances: int | None = None
    buffer_limit: int = 100
    retries: int = 0
    retry_delay: float = 1.0
    max_retry_delay: float = 60.0
    retry_on: tuple[type[BaseException], ...] = (Exception,)
    timeout: float | None = None
    jitter: float | None = None
    misfire_grace_time: float | None = None
    history: int = 20
    on_crash: str = "abandon"
    misfire: str | None = None
    misfire_max_count: int | None = None
    misfire_max_age: float | None = None

    def __post_init__(self) -> None:
        if self.on_crash not in ("abandon", "rerun"):
            raise InvalidJobError(f"on_crash: expected 'abandon' or 'rerun', got {self.on_crash!r}")
        if self.misfire not in (None, "latest", "skip", "all"):
            raise InvalidJobError(
                f"misfire: expected 'latest', 'skip', 'all' or None, got {self.misfire!r}"
            )
        v = self.misfire_max_count
        if v is not None and (isinstance(v, bool) or not isinstance(v, int) or v < 1):
            raise InvalidJobError(f"misfire_max_count: expected an int >= 1 or None, got {v!r}")
        _seconds("misfire_max_age", self.misfire_max_age)
        if self.overlap not in OVERLAP_POLICIES:
            raise InvalidJobError(
                f"overlap: unknown policy {self.overlap!r}; allowed: {', '.join(OVERLAP_POLICIES)}"
            )
        mi = self.max_instances
        if (
            isinstance(mi, int)
            and not isinstance(mi, bool)
            and mi > 1
            and self.overlap != "allow_all"
        ):
            if self.overlap != "skip":
                raise InvalidJobError(
                    f"max_instances: {mi} concurrent runs contradict overlap={self.overlap!r}; "
                    "use overlap='allow_all' with max_instances"
                )
            # APScheduler's max_instances=N: N concurrent runs, further fires skipped
            object.__setattr__(self, "overlap", "allow_all")
        for name in ("max_instances",):
            v = getattr(self, name)
            if v is not None and (isinstance(v, bool) or not isinstance(v, int) or v < 1):
                raise InvalidJobError(f"{name}: expected a positive int or None, got {v!r}")
        for name in ("buffer_limit", "history"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or v < 0:
                raise InvalidJobError(f"{name}: expected an int >= 0, got {v!r}")
        if isinstance(self.retries, bool) or not isinstance(self.retries, int) or self.retries < 0:
            raise InvalidJobError(f"retries: expected an int >= 0, got {self.retries!r}")
        _seconds("retry_delay", self.retry_delay, allow_none=False)
        _seconds("max_retry_delay", self.max_retry_delay, allow_none=False)
        _seconds("timeout", self.timeout, allow_zero=False)
        _seconds("jitter", self.jitter)
        _seconds("misfire_grace_time", self.misfire_grace_time)
        retry_on = self.retry_on
        if isinstance(retry_on, type):
            retry_on = (retry_on,)
            object.__setattr__(self, "retry_on", retry_on)
        if not isinstance(retry_on, tuple) or not all(
            isinstance(t, type) and issubclass(t, BaseException) for t in retry_on
        ):
            raise InvalidJobError(
                f"retry_on: expected an exception class or a tuple of them, got {retry_on!r}"
            )


@dataclass(frozen=True, slots=True)
class RunRecord:
    """One past run (or attempt) of a job.

    ``outcome`` is one of ``succeeded``, ``failed``, ``retried`` (a failed attempt that was
    retried), ``cancelled``, ``timed_out``, ``abandoned`` (a sync run given up on in its thread).
    ``lateness`` is seconds from the fire's scheduled time to the run's start.
    """

    scheduled_at: datetime
    started_at: datetime
    ended_at: datetime
    attempt: int
    outcome: str
    result: Any = None
    error: str | None = None

    @property
    def duration(self) -> float:
        return (self.ended_at - self.started_at).total_seconds()

    @property
    def lateness(self) -> float:
        return (self.started_at - self.scheduled_at).total_seconds()


@dataclass(frozen=True, slots=True)
class JobDescription:
    """What ``describe(job_id)`` returns: the job, its next fire times and its last runs."""

    job: Job
    next_fires: tuple[datetime, ...]
    last_runs: tuple[RunRecord, ...]


@dataclass(frozen=True, slots=True)
class SchedulerStatistics:
    """An immutable snapshot of the scheduler's counters (``statistics()``).

    Lateness figures are seconds, over the last 1,000 runs (None before any run).
    """

    jobs: int
    jobs_by_status: Mapping[str, int]
    running: int
    fires: int
    failures: int
    skipped_fires: int
    misfires: int
    retries: int
    pending_deadlines: int
    events_dropped: int
    lateness_p50: float | None
    lateness_p99: float | None
    lateness_max: float | None


@dataclass(frozen=True, slots=True)
class UnresolvedJob:
    """A stored job that could not be brought back; its record is kept untouched.

    ``reason`` says why (it names the job id and the missing function, zone or key id);
    ``kind`` is ``"function"`` (not vouched for or not found), ``"seal"`` (tampered, unsealed,
    or no key to check it) or ``"data"`` (a malformed record or value).
    """

    id: str
    name: str
    func_ref: str
    reason: str
    next_run: datetime | None
    kind: str = "data"
