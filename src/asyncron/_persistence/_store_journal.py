"""The journal: the engine's write-behind bridge to a :class:`~asyncron.abc.Store`.

The engine calls the journal synchronously on the loop thread (``validate``, ``job_added``,
``job_changed``, ``run_started``, ``job_removed``); the journal only notes which jobs changed
and wakes its writer (:mod:`._writer`), which snapshots those jobs (:mod:`._records`) and
writes them in one ``Store.write_batch``. A fire therefore never waits for the disk, and a burst
of fires costs one transaction (RELIABILITY: the store is off the hot path; APScheduler 4 makes
several store round trips per fire). The one exception is the start gate of a job that must not
run twice (:mod:`._crash`).

:meth:`StoreJournal.open` brings every stored job back (:mod:`._restore`) and replays the fires
the start decided to run (:mod:`._catchup`); :meth:`StoreJournal.close` writes what is pending
and releases the store. :class:`StoreJournal` holds the per-job records and composes these
parts; a journal subclass (``ClusterJournal``) may extend its hooks ``_mark``, ``_snapshot``,
``_restore`` and ``_run_catchup``, which the parts call through the journal.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import TYPE_CHECKING, Any

from .._core._hooks import hooks_of
from .._core._state import JobState as _JobState
from .._faults import fault_point
from .._misfire import MisfirePlan, MisfirePolicy
from .._refs import FunctionRegistry
from .._scheduler import AsyncScheduler
from .._serialize import DEFAULT_MAX_ARG_BYTES, encode_arguments, trigger_to_doc
from ..abc import Journal, Store, StoredJob
from ..errors import InvalidJobError
from ..stores.memory import MemoryStore
from ..stores.sqlite import SQLiteStore
from ._catchup import CatchUp, Pending, replay_fires
from ._crash import crash_policy
from ._records import NO_RESULT, JobRecord, RecordCodec
from ._restore import Restorer, UnresolvedJob
from ._settings import OnCrash
from ._writer import WriteBehind

if TYPE_CHECKING:
    from .._crypto import Keyring

__all__ = ["StoreJournal"]

logger = logging.getLogger("asyncron")


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
        self._recs: dict[str, JobRecord] = {}
        self._validated: dict[str, JobRecord] = {}
        # runs may be gated: the store keeps what it is given beyond the process
        self._durable = not (
            isinstance(store, MemoryStore)
            or (isinstance(store, SQLiteStore) and store.path is None)
        )
        # the parts; each calls the journal's (overridable) hooks, never its own copy of them
        self._codec = RecordCodec(self)
        self._writes = WriteBehind(self, self._snapshot_of)
        self._catchup = CatchUp()
        self._restorer = Restorer(
            self, self._codec, self._recs, self._catchup, restore=self._restore, mark=self._mark
        )

    @property
    def interrupted(self) -> list[tuple[str, datetime]]:
        """Jobs whose run was cut short by a crash, as found at the last open: (id, fire time)."""
        return self._restorer.interrupted

    @property
    def misfires(self) -> dict[str, MisfirePlan]:
        """Missed-fire decisions taken at the last open: job id -> plan."""
        return self._restorer.misfires

    @property
    def _dirty(self) -> dict[str, _JobState]:
        """The jobs changed since the last write (read only; see :class:`WriteBehind`)."""
        return self._writes.dirty

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
        rec = JobRecord(ref, trigger_doc, self._codec.seal(raw, job.id))
        rec.sources = (job.func, job.args, job.kwargs, job.trigger)
        job.ref = ref
        self._validated[job.id] = rec

    def job_added(self, job: _JobState) -> None:
        rec = self._validated.pop(job.id, None)
        self._validated.clear()  # probes validated by modify() are never added
        if rec is None:
            return
        self._recs[job.id] = rec
        self._writes.removed.discard(job.id)  # schedule(replace=True): removed, then added again
        self._mark(job)
        if self._engine is not None and self._restorer.waits_for(rec.func_ref):
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

    def _refresh(self, job: _JobState, rec: JobRecord) -> None:
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
        if not self._durable or not self._writes.running:
            return None
        if crash_policy(job, rec, self.on_crash) != "abandon":
            return None
        return self._writes.gate()

    def job_removed(self, job: _JobState) -> None:
        """The job was removed from the engine: delete its record (in the next batch)."""
        if job.id not in self._recs:
            return
        del self._recs[job.id]
        self._writes.remove(job.id)

    # -- hooks a journal subclass may extend ----------------------------------------------------

    def _mark(self, job: _JobState) -> None:
        """Write ``job`` in the next batch."""
        self._writes.mark(job)

    def _snapshot(self, job: _JobState, rec: JobRecord) -> StoredJob:
        """The record a write stores for ``job`` (see :meth:`RecordCodec.snapshot`)."""
        return self._codec.snapshot(job, rec)

    def _snapshot_of(self, job_id: str, job: _JobState) -> StoredJob:
        return self._snapshot(job, self._recs[job_id])

    def _open_sealed(self, stored: Any, job_id: str, field: str) -> bytes:
        """A stored field's JSON bytes, decrypted if need be (see :meth:`RecordCodec.open`)."""
        return self._codec.open(stored, job_id, field)

    def _restore(self, row: StoredJob, now: datetime) -> bool:
        """Bring one stored job back into the engine; False when it stays unresolved."""
        return self._restorer.restore(self._engine, row, now)

    async def _run_catchup(
        self, engine: AsyncScheduler, pending: Pending, previous: asyncio.Task[None] | None
    ) -> None:
        """Run catch-up fires in order, one job after another (see :func:`replay_fires`)."""
        await replay_fires(engine, pending, previous)

    def _start_catchup(self) -> None:
        self._catchup.start(self._engine, self._run_catchup)

    # -- public API -----------------------------------------------------------------------------

    @property
    def unresolved(self) -> list[UnresolvedJob]:
        """Stored jobs that could not be brought back (kept untouched in the store): records
        naming a function nobody vouched for, tampered or unreadable records, ..."""
        restorer = self._restorer
        return [*(u for _, u in restorer.unresolved.values()), *restorer.unreadable]

    def unresolved_reason(self, job_id: str) -> str | None:
        """Why the stored job ``job_id`` could not be loaded, or None if it is not unresolved."""
        entry = self._restorer.unresolved.get(job_id)
        return None if entry is None else entry[1].reason

    def forget_unresolved(self, job_id: str) -> bool:
        """Drop an unresolved stored job and delete its record (``remove()``, or
        ``schedule(replace=True)`` with its id); False if it is not unresolved."""
        if self._restorer.unresolved.pop(job_id, None) is None:
            return False
        self._writes.forget(job_id)
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
        if engine is None or not self._restorer.unresolved:
            return 0
        back = self._restorer.retry(engine)
        self._start_catchup()
        return back

    async def flush(self) -> None:
        """Wait until every change made so far is written to the store.

        Opens the store first if the scheduler has not started yet (a job saved before start).

        Raises:
            StoreError: the write failed (it is retried in the background).
        """
        writes = self._writes
        if writes.up_to_date:
            return
        if not writes.running:
            await self._ensure_store_open()
            await writes.write_pending()
            return
        await writes.wait_written()

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
            rec.result_src = NO_RESULT
            job = hooks_of(engine).job(job_id) if engine is not None else None
            if job is not None:
                self._mark(job)
                count += 1
        await self.flush()
        return {"rewritten": count, "unresolved": len(self._restorer.unresolved)}

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
            await self._restorer.load(engine)
        except BaseException:
            # a failed open always releases the store (and its file lock): a retry in this
            # process must not find its own lock held
            self._store_open = False
            self._engine = None
            await self.store.close()
            raise
        self._writes.start(engine)
        self._start_catchup()

    async def close(self) -> None:
        """Flush pending writes, stop the writer and close the store (releasing its lock)."""
        await self._catchup.stop()
        await self._writes.stop()
        try:
            if self._store_open and self._writes.pending:
                await self._writes.write_pending()
        finally:
            if self._store_open:
                self._store_open = False
                await self.store.close()
            self._engine = None
