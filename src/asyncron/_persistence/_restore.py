"""Bringing stored jobs back into the engine at start, and the jobs that cannot come back.

:meth:`Restorer.load` reads every record of the store (``StoreJournal.open``). A record is
data from outside: for each one, the seal is checked and the function reference decrypted
(:class:`~._records.RecordCodec`), the function resolved by registered name or vouched-for
``module:qualname``, trigger and arguments decoded, then:

- a run the record left open is resolved by the job's ``on_crash`` (:mod:`._crash`);
- the fires missed while stopped are decided by the misfire policy (:func:`plan_misfires`, a
  pure function): one becomes the next fire, more are queued as catch-up fires (:mod:`._catchup`);
- the job is handed to the engine (``EngineHooks.restore_job``), paused again if it was.

Whatever a record makes a decoder raise (an unknown function or zone, a wrong key, bad data),
that record alone stays *unresolved*: logged, reported (a ``JobUnloadable`` event), listed in
:attr:`StoreJournal.unresolved <asyncron._persistence.StoreJournal.unresolved>`, kept in the
store byte for byte, and tried again (:meth:`Restorer.retry`) when a function is registered
(RELIABILITY R5). Records the store itself could not read (``Store.quarantined``) are listed too.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from .._core._hooks import RestoredJob, hooks_of
from .._core._state import JobState
from .._events import JobUnloadable
from .._misfire import MisfirePlan, MisfirePolicy, plan_misfires
from .._model import JobStatus, UnresolvedJob
from .._refs import UnvouchedFunctionError
from .._scheduler import AsyncScheduler
from .._serialize import (
    ArgumentDecodeError,
    DecryptionError,
    decode_arguments,
    decode_value,
    trigger_from_doc,
)
from .._stored import retry_on_from_doc, stored_anchor
from ..abc import StoredJob, Trigger
from ..errors import InvalidJobError
from ._catchup import CatchUp
from ._crash import resolve_crash
from ._records import JobRecord, RecordCodec, stored_time
from ._settings import JournalSettings

__all__ = ["Restorer", "UnresolvedJob"]

logger = logging.getLogger("asyncron")


def _policies(
    options: dict[str, Any], job_opts: dict[str, Any], settings: JournalSettings
) -> tuple[MisfirePolicy, str]:
    """A stored job's misfire policy and ``on_crash``: ``configure_job()`` (``options``), else
    the engine's own ``JobOptions`` (``job_opts``), else the journal's defaults."""
    policy = (
        MisfirePolicy.from_doc(options["misfire"]) if "misfire" in options else settings.misfire
    )
    on_crash = options.get("on_crash", job_opts.get("on_crash", settings.on_crash))
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
    return policy, on_crash


@dataclass(frozen=True, slots=True)
class _Start:
    """How a restored job starts (:meth:`Restorer._plan_start`)."""

    status: JobStatus
    next_run: datetime | None
    catch: list[datetime]  # fires to run now, in order (catch-up)
    run_count: int
    failure_count: int
    error: str | None
    result_lost: bool  # the run the crash cut short is recorded as failed: no result
    paused: bool
    changed: bool  # the start changed the record: write it


class Restorer:
    """Loads stored jobs into the engine and keeps the ones that could not be loaded.

    Args:
        settings: the journal's settings (registry, default misfire policy and ``on_crash``).
        codec: opens sealed and encrypted fields.
        recs: the journal's records by job id; a restored job's record is added to it.
        catchup: where catch-up fires are queued.
        restore: the journal's ``_restore`` (a journal may add to it: the cluster's does).
        mark: the journal's ``_mark``: write the job at the next batch.
    """

    def __init__(
        self,
        settings: JournalSettings,
        codec: RecordCodec,
        recs: dict[str, JobRecord],
        catchup: CatchUp,
        *,
        restore: Callable[[StoredJob, datetime], bool],
        mark: Callable[[JobState], None],
    ) -> None:
        self._settings = settings
        self._codec = codec
        self._recs = recs
        self._catchup = catchup
        self._restore = restore
        self._mark = mark
        self.unresolved: dict[str, tuple[StoredJob, UnresolvedJob]] = {}
        self.unreadable: list[UnresolvedJob] = []  # records the store itself could not read
        #: Jobs whose run was cut short by a crash, as found at the last load: (id, fire time).
        self.interrupted: list[tuple[str, datetime]] = []
        #: Missed-fire decisions taken at the last load: job id -> plan.
        self.misfires: dict[str, MisfirePlan] = {}

    # -- loading --------------------------------------------------------------------------------

    async def load(self, engine: AsyncScheduler) -> None:
        """Bring every stored job back into ``engine`` (a job already live keeps its live
        definition and takes the stored schedule's anchor).

        Raises:
            StoreError: from the store's ``list_jobs``.
        """
        store = self._settings.store
        rows = await store.list_jobs()
        now = engine.clock.now()
        self.interrupted, self.misfires = [], {}
        self.unresolved.clear()
        self.unreadable = []
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
        quarantined = getattr(store, "quarantined", None)
        if quarantined:
            logger.warning(
                "%s: %d record(s) could not be read and were kept as they are",
                store.description,
                len(quarantined),
            )
        for index, reason in enumerate(quarantined or ()):
            ids = getattr(store, "quarantined_ids", None) or ()
            job_id = ids[index] if index < len(ids) else f"#{index}"
            item = UnresolvedJob(job_id, "", "", str(reason), None)
            self.unreadable.append(item)
            self.report(engine, item)

    def retry(self, engine: AsyncScheduler) -> int:
        """Try every unresolved job again; returns how many came back."""
        if not self.unresolved:
            return 0
        rows = [row for row, _ in self.unresolved.values()]
        self.unresolved.clear()
        now = engine.clock.now()
        return sum(self._restore(row, now) for row in rows)

    def waits_for(self, func_ref: str) -> bool:
        """An unresolved job waits for the function ``func_ref`` to be vouched for."""
        return any(
            u.kind == "function" and u.func_ref == func_ref for _, u in self.unresolved.values()
        )

    # -- one record -----------------------------------------------------------------------------

    def restore(self, engine: AsyncScheduler | None, row: StoredJob, now: datetime) -> bool:
        """Bring one stored job back into the engine; False when it stays unresolved.

        A record is data from outside: whatever it makes a decoder raise (an unknown zone, a
        time out of range, an interval that overflows, nesting too deep), this record stays
        unresolved with the reason, and the other records load.
        """
        ref = ""
        try:
            ref = self._codec.unseal(row)
            func = self._settings.registry.resolve(ref)
            return self._restore_row(engine, row, now, ref, func)
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
            return self.unresolve(engine, row, reason, kind, ref)

    def _restore_row(
        self,
        engine: AsyncScheduler | None,
        row: StoredJob,
        now: datetime,
        ref: str,
        func: Callable[..., Any],
    ) -> bool:
        """Decode ``row``, decide how it starts, hand it to the engine, keep its record.

        Raises:
            whatever decoding the record raises (the caller keeps it unresolved).
        """
        assert engine is not None
        codec = self._codec
        trigger = trigger_from_doc(row.trigger, f"job {row.id} trigger")
        args, kwargs = decode_arguments(
            codec.open(row.arguments, row.id, "arguments"), f"job {row.id} arguments"
        )
        result: Any = None
        if row.result is not None and row.error is None:
            result = decode_value(
                json.loads(codec.open(row.result, row.id, "result")), f"job {row.id} result"
            )
        options = dict(row.options)
        seal = options.pop("seal", None)
        job_opts = options.pop("job", None) or {}
        policy, on_crash = _policies(options, job_opts, self._settings)
        start = self._plan_start(row, trigger, now, policy, on_crash)
        if start.result_lost:
            result = None
        stored = RestoredJob(
            job_id=row.id,
            name=row.name,
            func=func,
            args=args,
            kwargs=kwargs,
            trigger=trigger,
            max_runs=row.max_runs,
            run_count=start.run_count,
            status=start.status,
            next_run=start.next_run,
            last_run=None if row.last_run is None else datetime.fromtimestamp(row.last_run, UTC),
            error=start.error,
            result=result,
            failure_count=start.failure_count,
            ref=ref,
        )
        job = hooks_of(engine).restore_job(stored)
        stale = self._keep_record(row, job, ref, result, options, seal, job_opts)
        if start.paused:
            engine.pause_nowait(row.id)
        if start.catch:
            self._catchup.add(row.id, start.catch)
        if start.changed or stale:
            self._mark(job)
        return True

    def _plan_start(
        self, row: StoredJob, trigger: Trigger, now: datetime, policy: MisfirePolicy, on_crash: str
    ) -> _Start:
        """How the stored job starts: its open run resolved (``on_crash``), the fires missed
        while stopped decided (``policy``); noted in :attr:`interrupted` and :attr:`misfires`."""
        status = JobStatus(row.status)
        run_count, failure_count, error = row.run_count, row.failure_count, row.error
        changed = result_lost = False
        rerun: list[datetime] = []
        crash = resolve_crash(row, on_crash)
        if crash is not None:
            self.interrupted.append((row.id, crash.fire))
            changed = True
            if crash.rerun:
                rerun.append(crash.fire)
            else:
                run_count += 1
                failure_count += 1
                error = crash.error
                result_lost = True
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
                changed = True
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
        return _Start(
            status, next_run, catch, run_count, failure_count, error, result_lost, paused, changed
        )

    def _keep_record(
        self,
        row: StoredJob,
        job: JobState,
        ref: str,
        result: Any,
        options: dict[str, Any],
        seal: Any,
        job_opts: dict[str, Any],
    ) -> bool:
        """Keep the journal's record of the restored ``job`` (stored values reused where they
        can be written back as they are) and apply its stored options; True when the record
        must be written again (re-sealed or re-encrypted with the active key)."""
        codec = self._codec
        stale = False
        rec = JobRecord(ref, row.trigger, codec.reuse(row.arguments))
        if isinstance(seal, dict) and codec.sealing:
            rec.ref_env = codec.reuse(seal.get("ref"))
        if codec.sealing and rec.ref_env is None:
            stale = True  # unsealed, or sealed with an older key: seal it at the next save
        rec.last_fire = row.last_fire
        rec.options = options
        rec.version = row.version
        rec.result_src, rec.result_doc = (result, codec.reuse(row.result))
        if rec.arguments is None:
            stale = True  # written with an old key (or unencrypted): re-seal at the next save
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
        return stale

    # -- what did not come back -----------------------------------------------------------------

    def unresolve(
        self,
        engine: AsyncScheduler | None,
        row: StoredJob,
        reason: str,
        kind: str = "data",
        ref: str = "",
    ) -> bool:
        """Keep ``row`` as unresolved (logged and reported); returns False."""
        item = UnresolvedJob(
            row.id, row.name, ref or row.func_ref, reason, stored_time(row.next_run), kind
        )
        self.unresolved[row.id] = (row, item)
        logger.warning(
            "stored job %s (%r) not loaded, kept in the store: %s", row.id, row.name, reason
        )
        self.report(engine, item)
        return False

    def report(self, engine: AsyncScheduler | None, item: UnresolvedJob) -> None:
        """Tell the engine's subscribers (a ``JobUnloadable`` event)."""
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
