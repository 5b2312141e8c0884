"""The journal: the engine's write-behind bridge to a :class:`~asyncron.abc.Store`.

The engine calls the journal synchronously on the loop thread (``validate``, ``job_added``,
``job_changed``, ``run_started``); the journal only notes which jobs changed and wakes one writer
task, which snapshots those jobs and writes them in one ``Store.write_batch``. A fire therefore
never waits for the disk, and a burst of fires costs one transaction (RELIABILITY: the store is
off the hot path; APScheduler 4 makes several store round trips per fire).

At start (:meth:`StoreJournal.open`) every stored job is brought back through
the engine's hooks (``EngineHooks.restore_job``): function by registered name or allowed ``module:qualname``,
trigger from its document, arguments decoded (and decrypted), and the next fire decided by the
misfire policy (:func:`plan_misfires`, a pure function). A run left open by a crash is resolved
per job (``on_crash``). What cannot be brought back (unknown function or time zone, wrong key,
bad data) is *unresolved*: logged, listed in :attr:`StoreJournal.unresolved`, kept in the store
byte for byte, and retried when a function is registered (RELIABILITY R5).
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Literal

from ._core._hooks import RestoredJob, hooks_of
from ._core._state import JobState as _JobState
from ._crypto import is_envelope
from ._events import JobUnloadable
from ._faults import fault_point
from ._misfire import MisfirePlan, MisfirePolicy, plan_misfires
from ._model import JobStatus
from ._refs import FunctionRegistry, UnvouchedFunctionError
from ._scheduler import AsyncScheduler
from ._serialize import (
    DEFAULT_MAX_ARG_BYTES,
    ArgumentDecodeError,
    DecryptionError,
    StoreError,
    decode_arguments,
    decode_value,
    dumps,
    encode_arguments,
    encode_value,
    trigger_from_doc,
    trigger_to_doc,
)
from ._stored import job_options_doc, retry_on_from_doc, stored_anchor
from .abc import Journal, Store, StoredJob, Trigger
from .errors import InvalidJobError, TamperedRecordError
from .stores.memory import MemoryStore
from .stores.sqlite import SQLiteStore

if TYPE_CHECKING:
    from ._crypto import Keyring

__all__ = [
    "MisfirePlan",
    "MisfirePolicy",
    "StoreJournal",
    "UnresolvedJob",
    "plan_misfires",
]

logger = logging.getLogger("asyncron")

OnCrash = Literal["abandon", "rerun"]

#: What a sealed record stores as its ``func_ref``: the real reference is encrypted in its seal.
SEALED_REF = "<sealed>"
_ACTIVE = frozenset({"pending", "paused", "running"})


def record_bytes(doc: dict[str, Any]) -> bytes:
    """The canonical bytes a record's seal covers: every field but ``version`` and the seal's
    own MAC, keys sorted. ``pending``, ``paused`` and ``running`` count as one status, so that
    ``asyncron pause``/``resume`` (which have no key) keep the seal valid; a change to or from
    a final status (completed, failed, ...) is detected like any other edit.

    Raises:
        ValueError: the record holds a non-finite number.
    """
    body = dict(doc)
    body.pop("version", None)
    if body.get("status") in _ACTIVE:
        body["status"] = "active"
    options = dict(body.get("options") or {})
    seal = options.get("seal")
    if isinstance(seal, dict):
        options["seal"] = {k: v for k, v in seal.items() if k != "mac"}
    body["options"] = options
    text = json.dumps(
        body, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    )
    return text.encode("utf-8")


def _when(ts: object) -> datetime | None:
    """A stored POSIX time as a datetime, or None when it is missing or out of range."""
    try:
        return datetime.fromtimestamp(ts, UTC) if isinstance(ts, int | float) else None
    except (ValueError, OverflowError, OSError):
        return None


# -- the journal --------------------------------------------------------------------------------


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


class _Rec:
    """What the journal keeps per persisted job beyond the engine's own record."""

    __slots__ = (
        "arguments",
        "func_ref",
        "last_fire",
        "options",
        "opts_doc",
        "opts_src",
        "ref_env",
        "result_doc",
        "result_src",
        "running_fire",
        "sources",
        "trigger_doc",
        "version",
    )

    def __init__(self, func_ref: str, trigger_doc: dict[str, Any], arguments: Any) -> None:
        self.func_ref = func_ref
        self.trigger_doc = trigger_doc
        self.arguments = arguments  # None: must be (re-)encrypted at the next write
        self.ref_env: Any = None  # the encrypted func_ref of a sealed record (None: re-encrypt)
        self.last_fire: float | None = None
        self.running_fire: float | None = None
        self.options: dict[str, Any] = {}
        self.version = 0
        self.result_src: Any = None
        self.result_doc: Any = None
        self.sources: tuple[Any, ...] = ()
        self.opts_src: Any = None
        self.opts_doc: dict[str, Any] = {}


_NO_RESULT = object()


class StoreJournal(Journal):
    """Persists an engine's jobs in a :class:`~asyncron.abc.Store` (the engine's ``Journal``).

    Args:
        store: the store (opened by :meth:`open`, closed by :meth:`close`).
        registry: the function registry (default: a new one).
        keyring: encrypt stored arguments and results with this keyring (``asyncron[crypto]``).
        misfire: the default misfire policy (per job: :meth:`configure_job`).
        on_crash: the default for a run cut short by a crash: ``"abandon"`` records it as an
            interrupted (failed) run, ``"rerun"`` runs it once more at start.
        only_named: persist only jobs scheduled with ``function_name=`` (the classic
            ``PersistentScheduler``); other jobs stay in memory.
        max_arg_bytes: limit on the encoded arguments of one job.
        allowed_modules: module prefixes whose plain functions stored ``module:qualname``
            references may name (imported if needed). Default: none; a reference then resolves
            only to a function vouched for otherwise: registered, scheduled by object in this
            process, or marked ``@asyncron.storable``.
        test_mode: with a keyring, False (production, the default) encrypts each record's
            function reference and arguments and *seals* the whole record (AES-GCM), and refuses
            a record whose seal is missing or does not match; True writes records in plain form
            for tests (records already sealed are still checked). No effect without a keyring.
        accept_unsealed: load records that have no seal (written before a keyring was
            configured, in test mode, or by an older asyncron), sealing them at the next write:
            for one start after enabling the keyring, then turn it off.
        flush_delay: seconds the writer waits after a change to gather more into one batch
            (default 5 ms: a run's start and end then usually share one write, and a burst of
            fires is not slowed by the writer competing for the loop).
        max_write_lag: how long, at most, writes wait behind a burst of fires (default 0.5 s;
            0: never wait). The writer waits while the engine has fires due and not yet
            dispatched; this bounds how far the store may be behind the engine then.
    """

    def __init__(
        self,
        store: Store,
        *,
        registry: FunctionRegistry | None = None,
        keyring: Keyring | None = None,
        misfire: MisfirePolicy | None = None,
        on_crash: OnCrash = "abandon",
        only_named: bool = False,
        max_arg_bytes: int = DEFAULT_MAX_ARG_BYTES,
        allowed_modules: Iterable[str] = (),
        flush_delay: float = 0.005,
        max_write_lag: float = 0.5,
        test_mode: bool = False,
        accept_unsealed: bool = False,
    ) -> None:
        if not isinstance(store, Store):
            raise InvalidJobError(f"store: expected a Store, got {type(store).__name__}")
        if on_crash not in ("abandon", "rerun"):
            raise InvalidJobError(f"on_crash: expected 'abandon' or 'rerun', got {on_crash!r}")
        self.store = store
        self.registry = registry if registry is not None else FunctionRegistry(allowed_modules)
        if allowed_modules and registry is not None:
            self.registry.allowed_modules += tuple(allowed_modules)
        self.keyring = keyring
        self.test_mode = test_mode
        self.accept_unsealed = accept_unsealed
        self.misfire = misfire if misfire is not None else MisfirePolicy()
        self.on_crash: OnCrash = on_crash
        self.only_named = only_named
        self.max_arg_bytes = max_arg_bytes
        self.flush_delay = flush_delay
        self.max_write_lag = max_write_lag
        self._engine: AsyncScheduler | None = None
        self._store_open = False
        self._recs: dict[str, _Rec] = {}
        self._validated: dict[str, _Rec] = {}
        self._dirty: dict[str, _JobState] = {}
        self._removed: set[str] = set()
        self._gen = 0
        self._written_gen = 0
        self._waiters: list[tuple[int, asyncio.Future[None]]] = []
        self._wake: asyncio.Event | None = None
        self._writer: asyncio.Task[None] | None = None
        self._writing: asyncio.Future[None] | None = None
        self._catchup: asyncio.Task[None] | None = None
        self._pending_catchup: list[tuple[str, list[datetime]]] = []
        self._unresolved: dict[str, tuple[StoredJob, UnresolvedJob]] = {}
        self._unreadable: list[UnresolvedJob] = []  # records the store itself could not read
        self._failing = False
        # a start gate is waiting for the writer (it then skips flush_delay)
        self._gated = False
        # runs may be gated: the store keeps what it is given beyond the process
        self._durable = not (
            isinstance(store, MemoryStore)
            or (isinstance(store, SQLiteStore) and store.path is None)
        )
        #: Jobs whose run was cut short by a crash, as found at the last open: (id, fire time).
        self.interrupted: list[tuple[str, datetime]] = []
        #: Missed-fire decisions taken at the last open: job id -> plan.
        self.misfires: dict[str, MisfirePlan] = {}

    # -- Journal protocol: sync, on the loop thread, never blocking -----------------------------

    def validate(self, job: _JobState) -> None:
        """Check that ``job`` can be stored; encode its trigger and arguments now.

        Raises:
            InvalidJobError: the function cannot be referenced (lambda, closure, bound method of
                an unregistered object, ...), the trigger kind cannot be stored, or an argument
                is not JSON data / too large. The message says what to do.
        """
        if job.manual or (self.only_named and job.ref is None):
            return
        ref = self.registry.ref_for(job.func, job.ref)
        trigger_doc = trigger_to_doc(job.trigger)
        raw = encode_arguments(job.args, job.kwargs, max_bytes=self.max_arg_bytes)
        rec = _Rec(ref, trigger_doc, self._seal(raw, job.id))
        rec.sources = (job.func, job.args, job.kwargs, job.trigger)
        job.ref = ref
        self._validated[job.id] = rec

    def job_added(self, job: _JobState) -> None:
        rec = self._validated.pop(job.id, None)
        self._validated.clear()  # probes validated by modify() are never added
        if rec is None:
            return
        self._recs[job.id] = rec
        self._removed.discard(job.id)  # schedule(replace=True): removed, then added again
        self._mark(job)
        if self._engine is not None and any(
            u.kind == "function" and u.func_ref == rec.func_ref
            for _, u in self._unresolved.values()
        ):
            # scheduled by object: its function is vouched for now; bring back stored jobs
            # waiting for it (after this call returns: the engine is in the middle of adding)
            asyncio.get_running_loop().call_soon(self.retry_unresolved)

    def job_changed(self, job: _JobState) -> None:
        rec = self._recs.get(job.id)
        if rec is None:
            return
        if not job.running:
            if rec.running_fire is not None:
                fault_point("before_finish")  # the run ended, its outcome not yet written
            rec.running_fire = None
        if rec.sources and (
            rec.sources[0] is not job.func
            or rec.sources[1] is not job.args
            or rec.sources[2] is not job.kwargs
            or rec.sources[3] is not job.trigger
        ):
            self._refresh(job, rec)
        self._mark(job)

    def _refresh(self, job: _JobState, rec: _Rec) -> None:
        """Re-encode what modify()/reschedule() changed (already validated by the engine)."""
        try:
            if rec.sources[0] is not job.func:
                rec.func_ref = self.registry.ref_for(job.func, None)
                rec.ref_env = None
                job.ref = rec.func_ref
            if rec.sources[1] is not job.args or rec.sources[2] is not job.kwargs:
                rec.arguments = None
            if rec.sources[3] is not job.trigger:
                rec.trigger_doc = trigger_to_doc(job.trigger)
        except InvalidJobError as exc:  # the engine validated it; keep the old record if not
            logger.error("job %r (%s): change not persisted: %s", job.name, job.id, exc)
        rec.sources = (job.func, job.args, job.kwargs, job.trigger)

    def run_started(self, job: _JobState, fire_ts: float) -> asyncio.Future[None] | None:
        """Note the start; for a job that must not run twice (``on_crash="abandon"`` on a
        durable store) return the *start gate*: a future done once the start is written, which
        the engine awaits before it calls the job (see "A run cut short by a crash" in
        docs/persistence.md). Starts of a burst share one write."""
        rec = self._recs.get(job.id)
        if rec is None:
            return None
        rec.running_fire = fire_ts
        rec.last_fire = fire_ts
        self._mark(job)
        if not self._durable or self._writer is None or self._crash_policy(job, rec) != "abandon":
            return None
        gate: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append((self._gen, gate))
        self._gated = True
        return gate

    def _crash_policy(self, job: _JobState, rec: _Rec) -> OnCrash:
        """The job's ``on_crash`` as :meth:`_restore` will read it from the stored record:
        ``configure_job()``, else the engine's per-job option, else the journal's default."""
        policy = rec.options.get("on_crash")
        if policy is not None:
            return policy  # type: ignore[no-any-return]
        opts = getattr(job, "opts", None)
        if opts is not None and opts.on_crash == "rerun":
            return "rerun"
        return self.on_crash

    def job_removed(self, job: _JobState) -> None:
        """The job was removed from the engine: delete its record (in the next batch)."""
        if job.id not in self._recs:
            return
        self._dirty.pop(job.id, None)
        del self._recs[job.id]
        self._removed.add(job.id)
        self._gen += 1
        wake = self._wake
        if wake is not None and not wake.is_set():
            wake.set()

    def _mark(self, job: _JobState) -> None:
        self._dirty[job.id] = job
        self._gen += 1
        wake = self._wake
        if wake is not None and not wake.is_set():
            wake.set()

    # -- public API -----------------------------------------------------------------------------

    @property
    def unresolved(self) -> list[UnresolvedJob]:
        """Stored jobs that could not be brought back (kept untouched in the store): records
        naming a function nobody vouched for, tampered or unreadable records, ..."""
        return [*(u for _, u in self._unresolved.values()), *self._unreadable]

    def unresolved_reason(self, job_id: str) -> str | None:
        """Why the stored job ``job_id`` could not be loaded, or None if it is not unresolved."""
        entry = self._unresolved.get(job_id)
        return None if entry is None else entry[1].reason

    def forget_unresolved(self, job_id: str) -> bool:
        """Drop an unresolved stored job and delete its record (``remove()``, or
        ``schedule(replace=True)`` with its id); False if it is not unresolved."""
        if self._unresolved.pop(job_id, None) is None:
            return False
        self._removed.add(job_id)
        self._gen += 1
        wake = self._wake
        if wake is not None and not wake.is_set():
            wake.set()
        return True

    def is_persisted(self, job_id: str) -> bool:
        """True when the job is written to the store."""
        return job_id in self._recs

    def configure_job(
        self,
        job_id: str,
        *,
        misfire: MisfirePolicy | None = None,
        on_crash: OnCrash | None = None,
    ) -> None:
        """Set a per-job misfire policy or crash policy (stored with the job).

        Raises:
            LookupError: the job is not persisted by this journal.
            InvalidJobError: ``on_crash`` is not ``"abandon"`` or ``"rerun"``.
        """
        rec = self._recs.get(job_id)
        if rec is None:
            raise LookupError(f"job {job_id!r} is not persisted by this journal")
        if misfire is not None:
            rec.options["misfire"] = misfire.to_doc()
        if on_crash is not None:
            if on_crash not in ("abandon", "rerun"):
                raise InvalidJobError(f"on_crash: expected 'abandon' or 'rerun', got {on_crash!r}")
            rec.options["on_crash"] = on_crash
        if self._engine is not None:
            job = hooks_of(self._engine).job(job_id)
            if job is not None:
                self._mark(job)

    def register_function(self, name: str, func: Callable[..., Any]) -> int:
        """Register ``func`` under ``name`` and bring back unresolved jobs that now resolve.

        Call on the loop thread. Returns how many jobs came back.
        """
        self.registry.register(name, func)
        return self.retry_unresolved()

    def retry_unresolved(self) -> int:
        """Try to bring back every unresolved job (after registering functions or adding keys).
        Returns how many came back. Call on the loop thread."""
        engine = self._engine
        if engine is None or not self._unresolved:
            return 0
        rows = [row for row, _ in self._unresolved.values()]
        self._unresolved.clear()
        now = engine.clock.now()
        back = sum(self._restore(row, now) for row in rows)
        self._start_catchup()
        return back

    async def flush(self) -> None:
        """Wait until every change made so far is written to the store.

        Opens the store first if the scheduler has not started yet (a job saved before start).

        Raises:
            StoreError: the write failed (it is retried in the background).
        """
        target = self._gen
        if self._written_gen >= target:
            return
        if self._writer is None:
            await self._ensure_store_open()
            await self._write_pending()
            return
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append((target, fut))
        assert self._wake is not None
        self._wake.set()
        await fut

    async def rotate_keys(self) -> dict[str, int]:
        """Re-encrypt every loaded job with the keyring's active key and write it now.

        Returns counts: ``rewritten`` (jobs written), ``unresolved`` (rows left untouched because
        they could not be loaded; rotate again once they resolve).

        Raises:
            InvalidJobError: no keyring is configured.
            StoreError: the write failed.
        """
        if self.keyring is None:
            raise InvalidJobError("rotate_keys: this journal has no keyring")
        engine = self._engine
        count = 0
        for job_id, rec in self._recs.items():
            rec.arguments = rec.ref_env = None
            rec.result_src = _NO_RESULT
            job = hooks_of(engine).job(job_id) if engine is not None else None
            if job is not None:
                self._mark(job)
                count += 1
        await self.flush()
        return {"rewritten": count, "unresolved": len(self._unresolved)}

    # -- open / close ---------------------------------------------------------------------------

    async def _ensure_store_open(self) -> None:
        if not self._store_open:
            await self.store.open()
            self._store_open = True

    async def open(self, engine: AsyncScheduler) -> None:
        """Open the store and bring every stored job back into ``engine``.

        Raises:
            StoreLockedError, StoreVersionError, StoreError: from the store; nothing is loaded.
        """
        self._engine = engine
        await self._ensure_store_open()
        try:
            await self._load(engine)
        except BaseException:
            # a failed open always releases the store (and its file lock): a retry in this
            # process must not find its own lock held
            self._store_open = False
            self._engine = None
            await self.store.close()
            raise
        self._wake = asyncio.Event()
        self._writer = asyncio.get_running_loop().create_task(
            self._writer_loop(), name="asyncron-journal-writer"
        )
        if self._dirty:
            self._wake.set()
        self._start_catchup()

    async def _load(self, engine: AsyncScheduler) -> None:
        rows = await self.store.list_jobs()
        now = engine.clock.now()
        self.interrupted, self.misfires = [], {}
        self._unresolved.clear()
        self._unreadable = []
        adopt: list[tuple[str, Trigger]] = []
        for row in rows:
            live = engine.get_job_nowait(row.id)
            if live is not None:
                # already live: scheduled again before start (decorators, app start-up code),
                # or a restart of this engine
                anchored = stored_anchor(live, row)
                if anchored is not None:
                    adopt.append((row.id, anchored))
                continue
            if row.id in self._recs:
                continue
            self._restore(row, now)
        for job_id, anchored in adopt:
            await engine.reschedule(job_id, anchored)
        quarantined = getattr(self.store, "quarantined", None)
        if quarantined:
            logger.warning(
                "%s: %d record(s) could not be read and were kept as they are",
                self.store.description,
                len(quarantined),
            )
        for index, reason in enumerate(quarantined or ()):
            ids = getattr(self.store, "quarantined_ids", None) or ()
            job_id = ids[index] if index < len(ids) else f"#{index}"
            item = UnresolvedJob(job_id, "", "", str(reason), None)
            self._unreadable.append(item)
            self._report(item)

    async def close(self) -> None:
        """Flush pending writes, stop the writer and close the store (releasing its lock)."""
        catchup, self._catchup = self._catchup, None
        if catchup is not None and not catchup.done():
            catchup.cancel()
            await asyncio.gather(catchup, return_exceptions=True)
        writer, self._writer = self._writer, None
        if writer is not None:
            writing = self._writing
            if writing is not None:
                await asyncio.gather(writing, return_exceptions=True)
            writer.cancel()
            await asyncio.gather(writer, return_exceptions=True)
        self._wake = None
        try:
            if self._store_open and (self._dirty or self._removed):
                await self._write_pending()
        finally:
            if self._store_open:
                self._store_open = False
                await self.store.close()
            self._engine = None

    # -- restore --------------------------------------------------------------------------------

    def _unresolve(self, row: StoredJob, reason: str, kind: str = "data", ref: str = "") -> bool:
        next_run = _when(row.next_run)
        item = UnresolvedJob(row.id, row.name, ref or row.func_ref, reason, next_run, kind)
        self._unresolved[row.id] = (row, item)
        logger.warning(
            "stored job %s (%r) not loaded, kept in the store: %s", row.id, row.name, reason
        )
        self._report(item)
        return False

    def _report(self, item: UnresolvedJob) -> None:
        engine = self._engine
        if engine is not None:
            event = JobUnloadable(
                timestamp=engine.clock.now(),
                job_id=item.id,
                job_name=item.name,
                func_ref=item.func_ref,
                kind=item.kind,
                reason=item.reason,
            )
            hooks_of(engine).emit(event)

    def _unseal(self, row: StoredJob) -> str:
        """Check a record's seal and return its function reference (decrypted when sealed).

        Raises:
            TamperedRecordError: the seal does not match, is malformed, or is missing where
                this journal requires seals.
            DecryptionError: sealed with a key id not in the keyring, or no keyring at all.
        """
        seal = row.options.get("seal")
        if seal is None:
            if self._sealing and not self.accept_unsealed:
                raise TamperedRecordError(
                    f"job {row.id!r}: the record has no seal, but this store's records are sealed "
                    f"(a keyring in production mode): it was written without the keyring, in "
                    f"test mode or by an older asyncron, or its seal was removed. If you have "
                    f"just configured the keyring or upgraded, start once with "
                    f"accept_unsealed=True to seal the existing records"
                )
            return row.func_ref
        kid = seal.get("mac", {}).get("kid") if isinstance(seal, dict) else None
        if self.keyring is None:
            raise DecryptionError(
                f"job {row.id!r}: the record is sealed (key id {kid!r}) but no keyring is "
                f"configured; pass keyring=Keyring(...)"
            )
        if not isinstance(seal, dict):
            raise TamperedRecordError(f"job {row.id!r}: the record's seal is malformed")
        self.keyring.verify(seal.get("mac"), record_bytes(row.to_doc()), job_id=row.id)
        return self.keyring.decrypt(seal.get("ref"), job_id=row.id, field="func_ref").decode()

    def _restore(self, row: StoredJob, now: datetime) -> bool:
        """Bring one stored job back into the engine; False when it stays unresolved.

        A record is data from outside: whatever it makes a decoder raise (an unknown zone, a
        time out of range, an interval that overflows, nesting too deep), this record stays
        unresolved with the reason, and the other records load.
        """
        ref = ""
        try:
            ref = self._unseal(row)
            func = self.registry.resolve(ref)
            return self._restore_row(row, now, ref, func)
        except Exception as exc:
            kind = (
                "function"
                if isinstance(exc, LookupError)
                else "seal"
                if isinstance(exc, DecryptionError)
                else "data"
            )
            text = str(exc.args[0]) if isinstance(exc, UnvouchedFunctionError) else str(exc)
            if not isinstance(exc, InvalidJobError | ArgumentDecodeError | DecryptionError) and (
                kind == "data"
            ):
                text = f"unreadable record ({type(exc).__name__}: {text})"
            reason = text if text.startswith("job ") else f"job {row.id}: {text}"
            return self._unresolve(row, reason, kind, ref)

    def _restore_row(
        self, row: StoredJob, now: datetime, ref: str, func: Callable[..., Any]
    ) -> bool:
        engine = self._engine
        assert engine is not None
        trigger = trigger_from_doc(row.trigger, f"job {row.id} trigger")
        args, kwargs = decode_arguments(
            self._open_sealed(row.arguments, row.id, "arguments"), f"job {row.id} arguments"
        )
        result: Any = None
        if row.result is not None and row.error is None:
            result = decode_value(
                json.loads(self._open_sealed(row.result, row.id, "result")),
                f"job {row.id} result",
            )
        status = JobStatus(row.status)
        options = dict(row.options)
        seal = options.pop("seal", None)
        policy = (
            MisfirePolicy.from_doc(options["misfire"]) if "misfire" in options else self.misfire
        )
        job_opts = options.pop("job", None) or {}
        # per job: configure_job(), else the engine's own JobOptions.on_crash, else ours
        on_crash = options.get("on_crash", job_opts.get("on_crash", self.on_crash))
        grace = job_opts.get("misfire_grace_time")
        if "misfire" not in options and (
            grace is not None
            or any(k in job_opts for k in ("misfire", "misfire_max_count", "misfire_max_age"))
        ):
            policy = MisfirePolicy(
                job_opts.get("misfire", policy.mode),
                grace if grace is not None else policy.grace_time,
                job_opts.get("misfire_max_count", policy.max_count),
                job_opts.get("misfire_max_age", policy.max_age),
            )

        run_count, failure_count, error = row.run_count, row.failure_count, row.error
        dirty = False
        rerun: list[datetime] = []
        if row.running_fire is not None:
            fire = datetime.fromtimestamp(row.running_fire, UTC)
            self.interrupted.append((row.id, fire))
            dirty = True
            if on_crash == "rerun":
                rerun.append(fire)
                logger.warning(
                    "job %r (%s): its run scheduled at %s was interrupted by a crash; running it "
                    "again (on_crash='rerun')",
                    row.name,
                    row.id,
                    fire.isoformat(),
                )
            else:
                run_count += 1
                failure_count += 1
                error = (
                    f"Interrupted: the process stopped during the run scheduled at "
                    f"{fire.isoformat()}; it was not re-run (on_crash='abandon')"
                )
                result = None
                logger.warning("job %r (%s): %s", row.name, row.id, error)
        paused = status.value == "paused"
        if status is JobStatus.RUNNING or paused:
            status = JobStatus.PENDING

        next_run: datetime | None = None
        catch: list[datetime] = []
        if not status.is_final:
            due = None if row.next_run is None else datetime.fromtimestamp(row.next_run, UTC)
            plan = plan_misfires(trigger, due, now, policy)
            if plan.missed:
                self.misfires[row.id] = plan
                dirty = True
                logger.log(
                    logging.WARNING if plan.skipped else logging.INFO,
                    "job %r (%s): %d fire(s) missed while stopped: %d run now, %d skipped%s "
                    "(misfire mode %r)",
                    row.name,
                    row.id,
                    plan.missed,
                    len(plan.run),
                    plan.skipped,
                    " (at least)" if plan.capped else "",
                    policy.mode,
                )
            if len(plan.run) == 1 and not rerun:
                next_run = plan.run[0]
            else:
                next_run = plan.next_fire
                catch = [*rerun, *plan.run]
            if next_run is None and not catch and plan.skipped and row.run_count == 0:
                status = JobStatus.SKIPPED
                error = (
                    f"Misfire: the fire at {due.isoformat() if due else '?'} was missed while the "
                    f"scheduler was stopped and skipped by the misfire policy"
                )
        stored = RestoredJob(
            job_id=row.id,
            name=row.name,
            func=func,
            args=args,
            kwargs=kwargs,
            trigger=trigger,
            max_runs=row.max_runs,
            run_count=run_count,
            status=status,
            next_run=next_run,
            last_run=None if row.last_run is None else datetime.fromtimestamp(row.last_run, UTC),
            error=error,
            result=result,
            failure_count=failure_count,
            ref=ref,
        )
        job = hooks_of(engine).restore_job(stored)
        rec = _Rec(ref, row.trigger, self._reuse_sealed(row.arguments))
        if isinstance(seal, dict) and self._sealing:
            rec.ref_env = self._reuse_sealed(seal.get("ref"))
        if self._sealing and rec.ref_env is None:
            dirty = True  # unsealed, or sealed with an older key: seal it at the next save
        rec.last_fire = row.last_fire
        rec.options = options
        rec.version = row.version
        rec.result_src, rec.result_doc = (result, self._reuse_sealed(row.result))
        if rec.arguments is None:
            dirty = True  # written with an old key (or unencrypted): re-seal at the next save
        self._recs[row.id] = rec
        rec.sources = (job.func, job.args, job.kwargs, job.trigger)
        if job_opts and getattr(job, "opts", None) is not None:
            try:
                applied = dict(job_opts)
                if "retry_on" in applied:
                    applied["retry_on"] = retry_on_from_doc(applied["retry_on"], row)
                job.opts = replace(job.opts, **applied)
            except (TypeError, ValueError) as exc:
                logger.warning("job %r (%s): stored options not applied: %s", row.name, row.id, exc)
            rec.opts_src = job.opts
            rec.opts_doc = job_opts
        if paused:
            engine.pause_nowait(row.id)
        if catch:
            self._pending_catchup.append((row.id, catch))
        if dirty:
            self._mark(job)
        return True

    def _start_catchup(self) -> None:
        pending, self._pending_catchup = self._pending_catchup, []
        if not pending or self._engine is None:
            return
        self._catchup = asyncio.get_running_loop().create_task(
            self._run_catchup(self._engine, pending, self._catchup),
            name="asyncron-journal-catchup",
        )

    async def _run_catchup(
        self,
        engine: AsyncScheduler,
        pending: list[tuple[str, list[datetime]]],
        previous: asyncio.Task[None] | None,
    ) -> None:
        """Run catch-up fires in order, one job after another (outside the regular schedule)."""
        if previous is not None:
            await asyncio.gather(previous, return_exceptions=True)
        for job_id, fires in pending:
            for fire in fires:
                snap = engine.get_job_nowait(job_id)
                if snap is None or snap.status.is_final:
                    break
                if snap.max_runs is not None and snap.run_count >= snap.max_runs:
                    break
                logger.info("job %r (%s): catch-up run for %s", snap.name, job_id, fire.isoformat())
                try:
                    await hooks_of(engine).replay_fire(job_id, fire)
                except asyncio.CancelledError:
                    raise
                except Exception:  # recorded on the job and logged by the engine
                    pass

    # -- encoding helpers -----------------------------------------------------------------------

    @property
    def _encrypting(self) -> bool:
        return self.keyring is not None and not self.test_mode

    @property
    def _sealing(self) -> bool:
        """Records are sealed: a keyring in production mode, on a store of this process only
        (the nodes sharing a PostgreSQL store rewrite each other's rows; the database's own
        access control is the boundary there)."""
        return self._encrypting and not self.store.supports_claims

    def _seal(self, raw: bytes, job_id: str, field: str = "arguments") -> Any:
        if self.keyring is None or not self._encrypting:
            return json.loads(raw)
        return self.keyring.encrypt(raw, job_id=job_id, field=field)

    def _reuse_sealed(self, stored: Any) -> Any:
        """The stored value if it can be written back as is (same key), else None."""
        if self.keyring is None or not self._encrypting:
            return None if is_envelope(stored) else stored
        if is_envelope(stored) and stored.get("kid") == self.keyring.active:
            return stored
        return None

    def _open_sealed(self, stored: Any, job_id: str, field: str) -> bytes:
        if is_envelope(stored):
            if self.keyring is None:
                kid = stored.get("kid") if isinstance(stored, dict) else None
                raise DecryptionError(
                    f"job {job_id!r} field {field}: encrypted with key id {kid!r} but no keyring "
                    f"is configured; pass keyring=Keyring(...)"
                )
            return self.keyring.decrypt(stored, job_id=job_id, field=field)
        return dumps(stored).encode("utf-8")

    def _snapshot(self, job: _JobState, rec: _Rec) -> StoredJob:
        if rec.arguments is None:
            rec.arguments = self._seal(
                encode_arguments(job.args, job.kwargs, max_bytes=1 << 62), job.id
            )
        if rec.result_src is not job.result or (rec.result_doc is None and job.result is not None):
            rec.result_src = job.result
            if job.result is None:
                rec.result_doc = None
            else:
                try:
                    plain = dumps(encode_value(job.result, "result")).encode("utf-8")
                    rec.result_doc = self._seal(plain, job.id, "result")
                except InvalidJobError:
                    rec.result_doc = None  # results that are not JSON data are not stored
        opts = getattr(job, "opts", None)
        if opts is not None and opts is not rec.opts_src:
            rec.opts_src = opts
            rec.opts_doc = job_options_doc(opts)
        options = dict(rec.options)
        if rec.opts_doc:
            options["job"] = rec.opts_doc
        rec.version += 1
        nxt = job.next_fire
        sealing = self._sealing
        if sealing:
            assert self.keyring is not None
            if rec.ref_env is None:
                rec.ref_env = self.keyring.encrypt(
                    rec.func_ref.encode(), job_id=job.id, field="func_ref"
                )
            options["seal"] = {"ref": rec.ref_env}
        snap = StoredJob(
            id=job.id,
            name=job.name,
            func_ref=SEALED_REF if sealing else rec.func_ref,
            trigger=rec.trigger_doc,
            arguments=rec.arguments,
            status=job.status.value,
            next_run=None if nxt is None else nxt.timestamp(),
            last_run=job.last_run,
            last_fire=rec.last_fire,
            running_fire=rec.running_fire if job.running else None,
            run_count=job.run_count,
            failure_count=job.failure_count,
            max_runs=job.max_runs,
            error=job.error,
            result=rec.result_doc,
            options=options,
            version=rec.version,
        )
        if sealing:
            assert self.keyring is not None
            options["seal"]["mac"] = self.keyring.seal(record_bytes(snap.to_doc()), job_id=job.id)
        return snap

    # -- the writer -----------------------------------------------------------------------------

    async def _behind_the_engine(self) -> None:
        """Stay behind a burst of fires: while the engine still has fires due and not yet
        dispatched, writing would take loop time from them; wait until the burst is through
        (at most ``max_write_lag`` seconds), then write its changes in one batch."""
        engine = self._engine
        if engine is not None and self.max_write_lag:
            await hooks_of(engine).wait_through_burst(self.max_write_lag)

    async def _writer_loop(self) -> None:
        wake = self._wake
        assert wake is not None
        backoff = 0.05
        while True:
            await wake.wait()
            wake.clear()
            if self.flush_delay and not self._gated:
                await asyncio.sleep(self.flush_delay)
            else:
                await asyncio.sleep(0)  # let this loop iteration finish its changes first
            await self._behind_the_engine()
            self._writing = asyncio.get_running_loop().create_future()
            try:
                await self._write_pending()
                backoff = 0.05
            except StoreError:
                await asyncio.sleep(backoff)  # logged once per outage in _write_pending
                backoff = min(backoff * 2, 5.0)
                wake.set()
            finally:
                writing, self._writing = self._writing, None
                if writing is not None and not writing.done():
                    writing.set_result(None)

    async def _write_pending(self) -> None:
        if not self._dirty and not self._removed:
            self._release_waiters(None)
            return
        gen = self._gen
        self._gated = False
        batch, self._dirty = self._dirty, {}
        removed, self._removed = self._removed, set()
        puts = [self._snapshot(job, self._recs[job_id]) for job_id, job in batch.items()]
        try:
            await self.store.write_batch(puts, sorted(removed))
        except asyncio.CancelledError:
            # close() cancelled the writer mid-batch: put the batch back so close() writes it
            for job_id, job in batch.items():
                self._dirty.setdefault(job_id, job)
            self._removed |= removed
            raise
        except Exception as exc:
            for job_id, job in batch.items():
                self._dirty.setdefault(job_id, job)
            self._removed |= removed
            err = exc if isinstance(exc, StoreError) else StoreError(f"store write failed: {exc!r}")
            if not self._failing:
                logger.error("%s: %s; retrying in the background", self.store.description, err)
            self._failing = True
            self._release_waiters(err)
            raise err from exc
        if self._failing:
            logger.warning("%s: writes succeed again", self.store.description)
        self._failing = False
        self._written_gen = max(self._written_gen, gen)
        self._release_waiters(None)

    def _release_waiters(self, error: BaseException | None) -> None:
        keep: list[tuple[int, asyncio.Future[None]]] = []
        for target, fut in self._waiters:
            if fut.done():
                continue
            if error is not None:
                fut.set_exception(error)
            elif target <= self._written_gen:
                fut.set_result(None)
            else:
                keep.append((target, fut))
        self._waiters = keep
