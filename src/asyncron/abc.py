"""Extension points: the contracts the parts of asyncron implement and the engine relies on.

* :class:`Trigger` computes fire times; :class:`Clock` is the one source of time.
* :class:`Executor` runs sync callables off the event loop (a bounded thread pool).
* :class:`Store` keeps :class:`StoredJob` records; :class:`ClaimStore` adds what a store shared
  by several processes needs to run each fire once (claims, leases, recovery, change feed).
* :class:`Journal` is the engine's one seam to persistence: the engine tells it of every change
  (synchronously, on the loop, never blocking) and asks it to claim fires; it writes behind.

Each method documents what it promises and what it raises. Implementations live in private
modules; users subclass these to add their own kinds. This module imports nothing of asyncron
but its errors and model values, so that every layer may depend on it.
"""

from __future__ import annotations

import asyncio
import contextvars
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, fields, replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

from .errors import InvalidJobError, JobLookupError, SchedulerStateError

if TYPE_CHECKING:
    from ._model import RunRecord

__all__ = [
    "ClaimRequest",
    "ClaimStore",
    "Clock",
    "Executor",
    "Journal",
    "Recovered",
    "Store",
    "StoredJob",
    "TimerHandle",
    "Trigger",
]


# -- time -----------------------------------------------------------------------------------------


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


# -- execution ------------------------------------------------------------------------------------


class Executor(ABC):
    """Runs sync callables off the event loop: a bounded pool of worker threads (the engine's
    and :class:`~asyncron.JobPipeline`'s; ``asyncron._core._executors.WorkerPool``).

    A call in a thread cannot be interrupted: cancelling what waits for it never stops it.
    """

    @abstractmethod
    def offload(
        self,
        loop: asyncio.AbstractEventLoop,
        context: contextvars.Context,
        func: Callable[..., Any],
        *args: Any,
    ) -> asyncio.Future[Any]:
        """Start ``context.run(func, *args)`` in a worker thread (queued while every thread is
        busy) and return a future of ``loop`` that gets its result or exception. Call on the
        loop's thread. Cancelling the future leaves the call running."""

    @abstractmethod
    def shutdown(self) -> None:
        """Drop the calls still queued and let the threads exit after their current call,
        without waiting for it. A later :meth:`offload` starts a new pool. Idempotent."""


# -- stores ---------------------------------------------------------------------------------------


# The POSIX seconds a stored time may hold: a day inside datetime's range (years 1 to 9999), so
# that converting it back can never fail, in any time zone.
_MIN_TS = -62135510400.0  # 0001-01-02T00:00:00Z
_MAX_TS = 253402128000.0  # 9999-12-30T00:00:00Z


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
        for name in ("next_run", "last_run", "last_fire", "running_fire"):
            value = doc.get(name)
            if value is not None and not (_MIN_TS <= value <= _MAX_TS):  # NaN fails too
                raise ValueError(
                    f"job record {doc.get('id')!r}: field {name!r} is {value!r}, not a time "
                    f"between the years 1 and 9999 (POSIX seconds)"
                )
        for name in ("run_count", "failure_count", "max_runs", "version"):
            value = doc.get(name)
            if value is not None and not (0 <= value < 2**63):
                raise ValueError(
                    f"job record {doc.get('id')!r}: field {name!r} is {value!r}, not a count "
                    f"from 0 to 2**63-1"
                )
        names = {f.name for f in fields(cls)}
        known = {k: v for k, v in doc.items() if k in names}
        return cls(**known)

    def evolve(self, **changes: Any) -> StoredJob:
        """A copy with ``changes`` applied."""
        return replace(self, **changes)


class Store(ABC):
    """Where durable jobs live. Implemented by the memory, JSON-file, SQLite and PostgreSQL
    stores; one contract test suite (``tests/stores``) runs against each.

    The engine never talks to a store directly: a journal sits between them, keeps the store off
    the hot path (writes are batched behind the engine) and converts jobs to :class:`StoredJob`.

    Lifecycle: :meth:`open` before anything else, :meth:`close` at the end; a store may be opened
    again after closing. Every method is a coroutine and may do I/O off the event loop thread.
    Errors are :class:`~asyncron.errors.AsyncronError` subclasses (``StoreError`` for I/O,
    ``StoreLockedError`` when another process holds the store, ``StoreVersionError`` for a
    format written by a newer asyncron).

    Distribution: a store shared by several processes (``supports_claims = True``) also
    implements :class:`ClaimStore`. Single-process stores take an exclusive lock at :meth:`open`
    instead, so :meth:`claim_fire` always succeeds there.
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
            raise InvalidJobError(f"job_id: {job.id!r} is already in use")
        await self.write_batch([job])

    async def update_job(self, job: StoredJob) -> None:
        """Replace an existing record.

        Raises:
            JobLookupError: no record has this id.
        """
        if await self.get_job(job.id) is None:
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


# -- distribution: several processes sharing one store ------------------------------------------


@dataclass(frozen=True, slots=True)
class ClaimRequest:
    """One fire to claim: its identity, the job's next fire after it, its crash policy, and how
    many fires of the job may be running on other nodes for this one to run (None: no limit)."""

    job_id: str
    fire_ts: float
    next_ts: float | None
    on_crash: str = "abandon"
    max_running: int | None = None


@dataclass(frozen=True, slots=True)
class Recovered:
    """A fire whose owner's lease expired, as taken over by :meth:`ClaimStore.recover_expired`.

    ``state`` is ``"running"`` (``on_crash="rerun"``: now owned by the caller, with ``token``)
    or ``"abandoned"`` (recorded; nobody runs it again).
    """

    job_id: str
    fire_ts: float
    state: str
    attempt: int
    token: int
    previous_owner: str
    #: the fire was handed back by a node that stopped before starting it (state
    #: ``"running"``, attempt unchanged): run it as a plain fire, not as a recovery
    handed_back: bool = False


class ClaimStore(Store):
    """A store shared by several processes (nodes) that runs each fire once.

    A fire's identity is (job id, scheduled instant in integer microseconds). Claiming records it
    uniquely, in the transaction that advances the job's ``next_run``; the winner holds a lease
    it renews while the run goes on, identified by a *token* (a fencing token: a write carrying
    an old token changes nothing). Every instant is judged by the database's clock, never a
    node's. Errors are :class:`~asyncron.errors.StoreError` (or the driver's connection errors,
    which the journal retries).
    """

    supports_claims: ClassVar[bool] = True

    @abstractmethod
    async def claim_fires(
        self,
        requests: Sequence[ClaimRequest],
        owner: str,
        lease_seconds: float,
        *,
        key: str | None = None,
        max_lead: float = 0.25,
    ) -> dict[tuple[str, int], int]:
        """Claim fires in one round trip; returns ``{(job_id, fire_us): token}`` for those won
        (token 0: recorded as skipped, because the job's ``max_running`` fires are running on
        other nodes). A fire is won when it is newer than the job's claim watermark, due by the
        database clock (at most ``max_lead`` seconds early) and not recorded yet."""

    @abstractmethod
    async def renew_leases(
        self, owner: str, fires: Sequence[tuple[str, int, int]], lease_seconds: float
    ) -> set[tuple[str, int]]:
        """Extend ``owner``'s leases on running fires ``(job_id, fire_us, token)``; returns those
        renewed. A fire missing from the result was lost: its local run must stop."""

    @abstractmethod
    async def finish_fires(
        self, owner: str, outcomes: Sequence[tuple[str, int, int, str, str | None]]
    ) -> set[tuple[str, int]]:
        """Record the end of fires ``(job_id, fire_us, token, state, error)``; returns those
        written (a write whose token no longer matches changes nothing)."""

    @abstractmethod
    async def recover_expired(
        self, owner: str, lease_seconds: float, limit: int = 100
    ) -> list[Recovered]:
        """Take over running fires whose lease expired, sharing the work between nodes that
        sweep at once. ``rerun`` fires become ``owner``'s (attempt + 1); ``abandon`` fires are
        recorded as abandoned."""

    @abstractmethod
    async def release_fire(self, owner: str, job_id: str, fire_us: int, token: int) -> None:
        """Give back a fire taken by :meth:`recover_expired` that this node cannot run now: it
        expires at once, for another node to take."""

    @abstractmethod
    async def hand_back(
        self, owner: str, fires: Sequence[tuple[str, int, int, bool]]
    ) -> set[tuple[str, int]]:
        """A stopping node gives back its fires ``(job_id, fire_us, token, started)`` for another
        node to take at once, without waiting for the lease: a fire never started is run by the
        taker as a plain fire (attempt unchanged, ``Recovered.handed_back``); a started one (cut
        short) is recovered per its ``on_crash``. The other nodes are told to sweep now. Returns
        the fires handed back; one whose token no longer matches (taken over meanwhile) is not.
        """

    @abstractmethod
    async def running_elsewhere(self, owner: str, job_id: str, fire_us: int) -> int:
        """How many other fires of the job run on nodes other than ``owner`` under a live lease
        (the cluster-wide overlap check before a recovered fire runs)."""

    @abstractmethod
    async def record_skip(self, owner: str, job_id: str, fire_us: int, on_crash: str) -> bool:
        """Record the fire as ``skipped`` (overlap) unless it has a record already; True when
        recorded. It ignores the claim watermark (a fire every node skipped unclaimed still gets
        its record) and never changes a fire that has one, so it cannot double a run."""

    @abstractmethod
    async def recent_fires(self, job_id: str, limit: int) -> list[dict[str, Any]]:
        """The job's last ``limit`` fires that ended anywhere in the cluster, oldest first
        (``fire_us``, ``owner``, ``state``, ``attempt``, ``started``, ``finished``, ``error``)."""

    @abstractmethod
    async def database_time(self) -> float:
        """The shared database's clock, POSIX seconds."""

    @abstractmethod
    async def changes_since(self, seq: int, limit: int = 5000) -> tuple[list[tuple[str, str]], int]:
        """Job ids changed after change number ``seq``, as ``(job_id, node)``, and the newest
        change number seen."""

    @abstractmethod
    async def last_change(self) -> int:
        """The newest change number (0 when none)."""

    @abstractmethod
    async def prune(self, fire_retention: float, change_retention: float = 3600.0) -> None:
        """Delete finished fire records older than ``fire_retention`` seconds and change entries
        older than ``change_retention``; fires older than the watermark stay unclaimable."""

    @abstractmethod
    async def listen(self, on_notify: Callable[[str], None], on_lost: Callable[[], None]) -> None:
        """Subscribe to change notifications: ``on_notify(payload)`` for each, ``on_lost()`` once
        when the subscription ends (the journal then polls and listens again).

        Raises:
            Exception: the subscription could not be made (retried later).
        """

    @abstractmethod
    def listener_alive(self) -> bool:
        """True while the change subscription is open."""


# -- the engine's seam to persistence -------------------------------------------------------------


class Journal(ABC):
    """Persists an engine's jobs (``StoreJournal`` for a :class:`Store`, ``ClusterJournal`` for a
    :class:`ClaimStore`). The engine holds at most one; ``AsyncScheduler(store=...)`` and
    ``use_store()`` make it.

    ``job`` arguments are the engine's live record of a job (``asyncron._core.JobState``): read
    what is needed at once (or keep the record to snapshot it later, on the loop thread); never
    change it. Every method except :meth:`open`, :meth:`close`, :meth:`claim` and
    :meth:`past_runs` is called on the loop thread and must not block. A journal reaches the
    engine only through ``asyncron._core._hooks.hooks_of(engine)`` and its public API.
    """

    #: True when the engine must :meth:`claim` each fire before running it (a shared store).
    claims: ClassVar[bool] = False

    def validate(self, job: Any) -> None:  # noqa: B027 - optional: every job can be stored
        """Called before a job is added (or changed in a way that changes what is stored).

        Raises:
            InvalidJobError: the job cannot be stored (the message says why and what to do);
                the job is then not added.
        """

    @abstractmethod
    def job_added(self, job: Any) -> None:
        """A job was added (after :meth:`validate`)."""

    @abstractmethod
    def job_changed(self, job: Any) -> None:
        """Something stored about the job changed (status, next fire, counts, options...)."""

    @abstractmethod
    def run_started(self, job: Any, fire_ts: float) -> asyncio.Future[None] | None:
        """A run of the fire scheduled at ``fire_ts`` (POSIX seconds) started (a crash during it
        must be visible at the next open).

        Return None to let the job be called at once, or a *start gate*: a future the engine
        awaits before it calls the job (done once the start is recorded; an exception fails
        the run without calling the job)."""

    def job_removed(self, job: Any) -> None:  # noqa: B027 - optional: nothing to delete
        """The job was removed from the engine: forget it."""

    async def claim(self, job: Any, fire_ts: float) -> bool:
        """Claim the fire (job, ``fire_ts``) for this engine; True when it must run here. Called
        only when :attr:`claims` is true; the engine keeps the job's run slot meanwhile. An
        exception counts as a lost claim (logged)."""
        return True

    def fire_skipped(self, job: Any, fire_ts: float) -> None:  # noqa: B027 - optional
        """Called only when :attr:`claims` is true: the engine dropped the fire (job,
        ``fire_ts``) unclaimed, because the job's overlap policy skips it here (a run, or the
        claim of an earlier fire, is in flight on this engine). A shared store records the
        skip, so that the fire is not left without any record when every node skips it."""

    @property
    def unresolved(self) -> Sequence[Any]:
        """Stored jobs that could not be loaded, kept untouched in the store (each with ``id``,
        ``name``, ``func_ref``, ``reason`` and ``next_run``)."""
        return ()

    def unresolved_reason(self, job_id: str) -> str | None:
        """Why the stored job ``job_id`` could not be loaded; None when it is not unresolved (its
        id is then free, as far as the store is concerned)."""
        return None

    def forget_unresolved(self, job_id: str) -> bool:
        """Drop the unresolved stored job ``job_id`` and delete its record (an explicit
        ``remove()``, or ``schedule(replace=True)`` with its id); False when there is none."""
        return False

    def register_function(self, name: str, func: Callable[..., Any]) -> int:
        """Register ``func`` under ``name`` for stored jobs; returns how many unresolved jobs
        came back.

        Raises:
            SchedulerStateError: this journal keeps no function registry.
            InvalidJobError: ``name`` or ``func`` is not acceptable.
        """
        raise SchedulerStateError(
            f"register_function: {type(self).__name__} keeps no function registry"
        )

    async def past_runs(self, job_id: str, limit: int) -> list[RunRecord] | None:
        """The job's last ``limit`` runs on every node sharing the store, or None when the
        store is not shared (the engine's own history is then the whole story).

        Raises:
            Exception: the shared store could not be read (the caller logs it and goes on).
        """
        return None

    @abstractmethod
    async def open(self, engine: Any) -> None:
        """Open the store and bring every stored job back into ``engine`` (an
        ``AsyncScheduler``) before it starts firing.

        Raises:
            StoreLockedError, StoreVersionError, StoreError: from the store; nothing is loaded.
        """

    @abstractmethod
    async def close(self) -> None:
        """Write what is pending, stop background work and close the store. Idempotent."""
