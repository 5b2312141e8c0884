"""Extension points: the contracts that triggers and clocks implement.

Each abstract method documents what it promises and what it raises. Implementations live in
private modules; users subclass these to add their own kinds.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from datetime import datetime
from typing import Protocol

__all__ = ["Clock", "TimerHandle", "Trigger"]


class Trigger(ABC):
    """Computes the instants at which a job fires.

    Triggers are pure values: they hold no state that changes as the job fires, so one trigger
    may be shared by several jobs and asked about any instant in any order.
    """

    __slots__ = ()

    @abstractmethod
    def get_next_run(self, from_time: datetime | None = None) -> datetime | None:
        """Return the first fire time strictly after ``from_time``, or None when exhausted.

        ``from_time`` defaults to now. A naive ``from_time`` is read in the trigger's own time
        zone (the local zone for triggers that have none). The result is always timezone-aware.
        """

    def get_first_run(self, now: datetime) -> datetime | None:
        """Return the first fire time of a job created at ``now``.

        The default is ``get_next_run(now)``. :class:`OnceTrigger` overrides it so that a one-shot
        job whose instant has already passed still runs (at once, with its lateness recorded)
        instead of silently never running.
        """
        return self.get_next_run(now)

    def for_job(self, job_id: str) -> Trigger:
        """Return the trigger to use for the job ``job_id`` (default: ``self``).

        Called once when a job is scheduled. Cron's hashed expressions (``H``) use it to seed their
        spread with the job id, so that many ``H * * * *`` jobs do not all fire at the same minute.
        """
        return self


class TimerHandle(Protocol):
    """What :meth:`Clock.call_at` returns."""

    def cancel(self) -> None: ...


class Clock(ABC):
    """The scheduler's source of time.

    All time the engine uses comes through one clock object, the single seam that lets
    :class:`asyncron.testing.VirtualClock` jump straight to the next deadline (trio's ``MockClock``
    is the model).
    """

    @abstractmethod
    def time(self) -> float:
        """Current wall time as POSIX seconds (UTC)."""

    def now(self) -> datetime:
        """Current wall time as an aware UTC datetime."""
        from datetime import UTC

        return datetime.fromtimestamp(self.time(), UTC)

    @abstractmethod
    def call_at(self, when: float, callback: Callable[[], None]) -> TimerHandle:
        """Arrange for ``callback`` to be called on the running loop at wall time ``when``.

        A clock may call back *earlier* than ``when`` (the system clock caps each sleep so that a
        wall-clock jump is noticed); callers re-read :meth:`time` when called back. It never calls
        back late except for the loop's own latency. Must be called from the loop's thread.
        """

    def bind(self, is_busy: Callable[[], bool]) -> None:  # noqa: B027 - optional hook
        """Tell the clock how to ask whether the scheduler has work in flight.

        The system clock ignores it; the virtual clock uses it to decide when the loop is idle and
        time may jump.
        """


# -- stores ---------------------------------------------------------------------------------------
# Appended for durable jobs (issue 5). Stores never import the engine: they exchange StoredJob
# values, whose fields are plain JSON data, so every store keeps them the same way.

from collections.abc import Sequence  # noqa: E402
from dataclasses import dataclass, field, fields, replace  # noqa: E402
from typing import Any, ClassVar  # noqa: E402

__all__ += ["Store", "StoredJob"]


@dataclass(frozen=True, slots=True)
class StoredJob:
    """One job as a store keeps it: plain JSON-compatible data only.

    ``trigger`` is a trigger document (``{"type": "cron", ...}``); ``arguments`` and ``result``
    are opaque JSON values (tagged JSON, or an encryption envelope) that only the journal reads.
    Times are POSIX seconds. ``next_run`` is the pending fire; ``last_fire`` the scheduled instant
    of the last fire that started; ``running_fire`` is set while a run is in progress, so a run
    cut short by a crash is visible at the next start. ``version`` grows with each write (the
    fencing token distributed stores compare). ``options`` holds per-job policies.
    """

    id: str
    name: str
    func_ref: str
    trigger: dict[str, Any]
    arguments: Any
    status: str = "pending"
    next_run: float | None = None
    last_run: float | None = None
    last_fire: float | None = None
    running_fire: float | None = None
    run_count: int = 0
    failure_count: int = 0
    max_runs: int | None = None
    error: str | None = None
    result: Any = None
    options: dict[str, Any] = field(default_factory=dict)
    version: int = 0

    _FIELDS: ClassVar[dict[str, tuple[type, ...]]] = {
        "id": (str,),
        "name": (str,),
        "func_ref": (str,),
        "trigger": (dict,),
        "status": (str,),
        "next_run": (float, int, type(None)),
        "last_run": (float, int, type(None)),
        "last_fire": (float, int, type(None)),
        "running_fire": (float, int, type(None)),
        "run_count": (int,),
        "failure_count": (int,),
        "max_runs": (int, type(None)),
        "error": (str, type(None)),
        "options": (dict,),
        "version": (int,),
    }

    def to_doc(self) -> dict[str, Any]:
        """The record as a JSON object (what the file and SQLite stores write)."""
        return {
            "id": self.id,
            "name": self.name,
            "func_ref": self.func_ref,
            "trigger": self.trigger,
            "arguments": self.arguments,
            "status": self.status,
            "next_run": self.next_run,
            "last_run": self.last_run,
            "last_fire": self.last_fire,
            "running_fire": self.running_fire,
            "run_count": self.run_count,
            "failure_count": self.failure_count,
            "max_runs": self.max_runs,
            "error": self.error,
            "result": self.result,
            "options": self.options,
            "version": self.version,
        }

    @classmethod
    def from_doc(cls, doc: object) -> StoredJob:
        """Validate and rebuild a record written by :meth:`to_doc`.

        Raises:
            ValueError: ``doc`` is not an object, a required key is missing, or a field has the
                wrong type (the message names the field).
        """
        if not isinstance(doc, dict):
            raise ValueError(f"job record: expected an object, got {type(doc).__name__}")
        for name in ("id", "name", "func_ref", "trigger", "arguments"):
            if name not in doc:
                raise ValueError(f"job record {doc.get('id')!r}: missing field {name!r}")
        for name, types in cls._FIELDS.items():
            if name in doc and (not isinstance(doc[name], types) or isinstance(doc[name], bool)):
                raise ValueError(
                    f"job record {doc.get('id')!r}: field {name!r} has type "
                    f"{type(doc[name]).__name__}"
                )
        names = {f.name for f in fields(cls)}
        known = {k: v for k, v in doc.items() if k in names}
        return cls(**known)

    def evolve(self, **changes: Any) -> StoredJob:
        """A copy with ``changes`` applied."""
        return replace(self, **changes)


class Store(ABC):
    """Where durable jobs live. Implemented by the memory, JSON-file, SQLite and (later)
    PostgreSQL stores; one contract test suite (``tests/stores``) runs against each.

    The engine never talks to a store directly: a journal sits between them, keeps the store off
    the hot path (writes are batched behind the engine) and converts jobs to :class:`StoredJob`.

    Lifecycle: :meth:`open` before anything else, :meth:`close` at the end; a store may be opened
    again after closing. Every method is a coroutine and may do I/O off the event loop thread.
    Errors are :class:`~asyncron.errors.AsyncronError` subclasses (``StoreError`` for I/O,
    ``StoreLockedError`` when another process holds the store, ``StoreVersionError`` for a
    format written by a newer asyncron).

    Distribution (PostgreSQL, a later store): stores with ``supports_claims = True`` claim each
    fire (identity = job id + scheduled instant, unique) in the same transaction that advances
    ``next_run``, guarded by ``version`` (a fencing token), and hold renewable leases on running
    fires. Single-process stores take an exclusive lock at :meth:`open` instead, so
    :meth:`claim_fire` always succeeds there.
    """

    #: True for stores shared by several processes that arbitrate each fire.
    supports_claims: ClassVar[bool] = False

    @property
    def description(self) -> str:
        """A short human-readable name for messages (``"JSON file /var/lib/app/jobs.json"``)."""
        return type(self).__name__

    @abstractmethod
    async def open(self) -> None:
        """Open (creating if needed) and lock the store, checking its format version.

        Raises:
            StoreLockedError: another process has the store open.
            StoreVersionError: the store uses a newer, unknown format; nothing was changed.
            StoreError: the store cannot be read or created.
        """

    @abstractmethod
    async def close(self) -> None:
        """Flush and release the store (and its lock). Idempotent."""

    @abstractmethod
    async def write_batch(self, put: Sequence[StoredJob], remove: Sequence[str] = ()) -> None:
        """Atomically insert-or-replace every record in ``put`` and delete the ids in ``remove``:
        after a crash either the whole batch is visible or none of it.

        Raises:
            StoreError: the write failed; the store holds its previous state.
        """

    @abstractmethod
    async def get_job(self, job_id: str) -> StoredJob | None:
        """The stored record, or None."""

    @abstractmethod
    async def list_jobs(self) -> list[StoredJob]:
        """Every stored record, in insertion order."""

    async def add_job(self, job: StoredJob) -> None:
        """Store a new record.

        Raises:
            InvalidJobError: a record with this id exists already.
        """
        if await self.get_job(job.id) is not None:
            from .errors import InvalidJobError

            raise InvalidJobError(f"job_id: {job.id!r} is already in use")
        await self.write_batch([job])

    async def update_job(self, job: StoredJob) -> None:
        """Replace an existing record.

        Raises:
            JobLookupError: no record has this id.
        """
        if await self.get_job(job.id) is None:
            from .errors import JobLookupError

            raise JobLookupError(job.id)
        await self.write_batch([job])

    async def remove_job(self, job_id: str) -> bool:
        """Delete a record; False when there was none."""
        if await self.get_job(job_id) is None:
            return False
        await self.write_batch((), [job_id])
        return True

    async def get_due(self, now: float, limit: int | None = None) -> list[StoredJob]:
        """Records whose ``next_run`` is at or before ``now``, earliest first (at most ``limit``).

        Records in a final status are never due.
        """
        final = {"completed", "failed", "cancelled", "skipped"}
        due = [
            j
            for j in await self.list_jobs()
            if j.next_run is not None and j.next_run <= now and j.status not in final
        ]
        due.sort(key=lambda j: (j.next_run, j.id))
        return due if limit is None else due[:limit]

    async def record_run_started(self, job_id: str, fire_ts: float, started_at: float) -> None:
        """Mark the fire ``fire_ts`` as running (so a crash during it is seen at the next open).

        Raises:
            JobLookupError: no record has this id.
        """
        job = await self.get_job(job_id)
        if job is None:
            from .errors import JobLookupError

            raise JobLookupError(job_id)
        await self.write_batch(
            [job.evolve(running_fire=fire_ts, last_fire=fire_ts, last_run=started_at,
                        version=job.version + 1)]
        )  # fmt: skip

    async def record_outcome(
        self,
        job_id: str,
        *,
        status: str,
        next_run: float | None,
        error: str | None,
        result: Any,
    ) -> None:
        """Record the end of the running fire: counts, status, error or result, next fire.

        Raises:
            JobLookupError: no record has this id.
        """
        job = await self.get_job(job_id)
        if job is None:
            from .errors import JobLookupError

            raise JobLookupError(job_id)
        await self.write_batch(
            [
                job.evolve(
                    running_fire=None,
                    status=status,
                    next_run=next_run,
                    run_count=job.run_count + 1,
                    failure_count=job.failure_count + (error is not None),
                    error=error,
                    result=None if error is not None else result,
                    version=job.version + 1,
                )
            ]
        )

    async def claim_fire(
        self, job_id: str, fire_ts: float, owner: str, lease_seconds: float
    ) -> bool:
        """Claim the fire (``job_id``, ``fire_ts``) for ``owner``; True when this caller won it.

        Single-process stores hold an exclusive lock, so the claim is always theirs. Distributed
        stores insert the fire identity (unique) in the transaction that advances ``next_run``
        and return False when another owner has it.
        """
        return True
