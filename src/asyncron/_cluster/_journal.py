"""The distributed journal: :class:`ClusterJournal`, the parts of a node composed.

It is a :class:`~asyncron._persistence.StoreJournal` (job definitions written behind the
engine) whose store is shared: it adds the cluster's parts, each in a module of its own, and
answers the engine's journal calls by delegating to them:

===================  =====================================================================
``claim``            :class:`._claims.Claims` (one batched statement per loop pass)
``fire_skipped``     :class:`._claims.Claims` (a skipped fire still gets a record)
``run_started``      the book of fires in :class:`._state.NodeState` (claimed -> running)
``job_changed``      :class:`._outcomes.OutcomeWriter` (a run ended: queue its outcome)
===================  =====================================================================

and runs their background loops, each restarted if it fails: claims, lease renewal
(:mod:`._leases`), the outcome writer (:mod:`._outcomes`), recovery sweeps
(:mod:`._recovery`) and the change listener (:mod:`._changes`). What stays here is what a
journal does with its engine's jobs: loading them (a stored ``running`` or ``completed``
status is one node's own view and is not loaded), applying a definition changed on another
node, and catch-up fires (claimed like any other).
"""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
import socket
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from .._core._hooks import hooks_of
from .._core._state import JobState
from .._faults import fault_point
from .._model import JobStatus, RunRecord
from .._persistence import StoreJournal
from .._serialize import decode_arguments, trigger_from_doc
from ..abc import StoredJob
from ..errors import InvalidJobError, StoreError
from ..stores.postgres import PostgresStore, connection_errors, definition_hash, to_us
from ._changes import RemoteChanges
from ._claims import Claims
from ._leases import Leases
from ._outcomes import OutcomeWriter
from ._recovery import Recovery
from ._state import NodeState, cancel_all

if TYPE_CHECKING:
    from .._scheduler import AsyncScheduler

__all__ = ["ClusterJournal"]

logger = logging.getLogger("asyncron")


def _setting(name: str) -> Any:
    """A journal attribute that is the node's setting ``name`` (seconds)."""

    def get(journal: ClusterJournal) -> float:
        value: float = getattr(journal._node, name)
        return value

    def put(journal: ClusterJournal, value: float) -> None:
        setattr(journal._node, name, float(value))

    return property(get, put, doc=f"The ``{name}`` setting, seconds.")


class ClusterJournal(StoreJournal):
    """The engine's journal for a shared PostgreSQL store: claims, leases, recovery, wake-ups.

    Pass it (or a ``postgresql://`` URL, once routed by ``make_journal``) as the scheduler's
    store::

        journal = ClusterJournal("postgresql://app@db/app", lease=10)
        async with AsyncScheduler(store=journal) as scheduler:
            ...

    Args:
        store: a :class:`~asyncron.stores.postgres.PostgresStore` or a ``postgresql://`` URL.
        lease: seconds a running fire's lease lasts on the database clock (renewed every
            ``lease / 3``); a dead node's fires are recovered within about ``lease + 1`` s.
        node_id: this node's name in the ``fires`` table (default: host, pid and a random
            suffix, so a restarted process is a new node).
        poll_interval: seconds between change-log polls while the LISTEN connection is down
            (and between recovery sweeps, at most).
        max_clock_lead: seconds a fire may be claimed before it is due by the database clock
            (absorbs small clock differences between the nodes and the server).
        max_early_wait: a fire that this node finds due up to this many seconds before the
            database does waits for it; earlier than that, this node's clock is wrong and the
            fire is left to the other nodes (logged once).
        fire_retention: seconds finished fire records are kept (default 7 days).
        node_timeout: seconds after which a node whose database session has ended (its
            process died: the server freed its advisory lock) and whose heartbeat stopped is
            dead, and its running fires are recovered; a dead node is thus seen in about
            ``node_timeout + 0.3`` s. The ``lease`` still bounds what a session cannot show
            (a paused process, a network cut).
        options: the rest go to :class:`~asyncron._persistence.StoreJournal` (registry,
            keyring, misfire, ...).
    """

    #: The engine claims each fire through :meth:`claim` before starting it.
    claims = True

    def __init__(
        self,
        store: PostgresStore | str,
        *,
        lease: float = 10.0,
        node_id: str | None = None,
        poll_interval: float = 1.0,
        max_clock_lead: float = 0.25,
        max_early_wait: float = 2.0,
        fire_retention: float = 7 * 86_400.0,
        node_timeout: float = 1.2,
        **options: Any,
    ) -> None:
        if isinstance(store, str):
            store = PostgresStore(store)
        if not isinstance(store, PostgresStore):
            raise InvalidJobError(
                f"store: expected a PostgresStore or a postgresql:// URL, got "
                f"{type(store).__name__}"
            )
        for name, value in (
            ("lease", lease),
            ("poll_interval", poll_interval),
            ("node_timeout", node_timeout),
        ):
            if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
                raise InvalidJobError(f"{name}: expected seconds > 0, got {value!r}")
        super().__init__(store, **options)
        self.pg: PostgresStore = store
        self.node_id = node_id or (f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}")
        self.pg.node_id = self.node_id
        self._node = node = NodeState(
            store,
            self.node_id,
            lease=float(lease),
            poll_interval=float(poll_interval),
            max_clock_lead=float(max_clock_lead),
            max_early_wait=float(max_early_wait),
            fire_retention=float(fire_retention),
            node_timeout=float(node_timeout),
        )
        #: Counters for monitoring: claims won/lost, recoveries, leases lost, fenced writes.
        self.counters: dict[str, int] = node.counters
        self._claims = Claims(node, lambda job_id: job_id in self._dirty, self.flush)
        self._leases = Leases(node)
        self._outcomes = OutcomeWriter(node)
        self._recovery = Recovery(node)
        self._changes = RemoteChanges(node, self._apply_remote, self._recovery.sweep_now)
        self._tasks: list[asyncio.Task[None]] = []
        # what each job's definition was when last seen: identities (a change is a change of
        # definition, not a run's statistics) and the stored digest (a remote change is new)
        self._fingerprints: dict[str, tuple[Any, ...]] = {}
        self._def_hashes: dict[str, str] = {}
        self._applying = False  # a remote change is being applied: not written back

    # the settings live in the node's state, which its parts share
    lease = _setting("lease")
    poll_interval = _setting("poll_interval")
    max_clock_lead = _setting("max_clock_lead")
    max_early_wait = _setting("max_early_wait")
    fire_retention = _setting("fire_retention")
    node_timeout = _setting("node_timeout")

    # -- Journal protocol -----------------------------------------------------------------------

    def job_added(self, job: JobState) -> None:
        super().job_added(job)
        self._fingerprints[job.id] = _fingerprint(job)

    def job_changed(self, job: JobState) -> None:
        self._outcomes.note_ended(job)
        if self._applying:
            self._fingerprints[job.id] = _fingerprint(job)
            return
        fp = _fingerprint(job)
        if self._fingerprints.get(job.id) == fp:
            return  # a run's statistics: kept in the fires table, not in the job's row
        self._fingerprints[job.id] = fp
        super().job_changed(job)

    def run_started(self, job: JobState, fire_ts: float) -> None:
        if self._node.started((job.id, to_us(fire_ts))):
            fault_point("after_start")

    async def claim(self, job: JobState, fire_ts: float) -> bool:
        """Claim the fire (``job``, ``fire_ts``) for this node; True when this node runs it.

        Waits (the engine keeps the run slot) while the database is unreachable, and while the
        fire is due by this node's clock but not yet by the database's (up to
        ``max_early_wait``). A fire won while the scheduler stops (or while this node may be
        taken for dead) is handed back at once for another node to run; one won for a job
        cancelled meanwhile is recorded as cancelled.
        """
        return await self._claims.claim(job, fire_ts)

    def fire_skipped(self, job: JobState, fire_ts: float) -> None:
        """The engine skipped this fire unclaimed (a run or claim of the job is in flight
        here): it still gets a record, per the overlap limit over every node (see
        :meth:`._claims.Claims.fire_skipped`)."""
        self._claims.fire_skipped(job, fire_ts)

    def _mark(self, job: JobState) -> None:
        if not self._applying:
            super()._mark(job)

    def _snapshot(self, job: JobState, rec: Any) -> StoredJob:
        snap = super()._snapshot(job, rec)
        self._def_hashes[job.id] = definition_hash(snap)
        return snap

    async def past_runs(self, job_id: str, limit: int) -> list[RunRecord]:
        """The job's last ``limit`` runs across the cluster, oldest first, from the fires
        table (no results there: runs of this node keep theirs in the engine's history).

        Raises:
            Exception: the connection errors of the store.
        """
        out = []
        for row in await self.pg.recent_fires(job_id, limit):
            scheduled = datetime.fromtimestamp(row["fire_us"] / 1_000_000, UTC)
            started = datetime.fromtimestamp(row["started"], UTC)
            out.append(
                RunRecord(
                    scheduled_at=scheduled,
                    started_at=max(started, scheduled),
                    ended_at=datetime.fromtimestamp(row["finished"], UTC),
                    attempt=int(row["attempt"]),
                    outcome=str(row["state"]),
                    error=row["error"],
                )
            )
        return out

    # -- changes made on other nodes ------------------------------------------------------------

    async def _apply_remote(self, job_id: str, row: StoredJob | None) -> None:
        """Bring the local job ``job_id`` to its stored definition ``row`` (None: removed),
        unless this node has seen that definition already; not written back."""
        engine = self._engine
        if engine is None:
            return
        local = hooks_of(engine).job(job_id)
        if row is None:  # removed on another node
            if local is not None and not local.status.is_final:
                self._applying = True
                try:
                    engine.cancel_nowait(job_id)
                finally:
                    self._applying = False
            return
        digest = definition_hash(row)
        if self._def_hashes.get(job_id) == digest:
            return
        self.counters["remote_changes"] += 1
        self._applying = True
        try:
            self._def_hashes[job_id] = digest
            if local is None:
                self._restore(row, engine.clock.now())
                return
            rec = self._recs.get(job_id)
            if row.status == "cancelled":
                engine.cancel_nowait(job_id)
                return
            if rec is not None and row.trigger != rec.trigger_doc:
                await engine.reschedule(
                    job_id, trigger_from_doc(row.trigger, f"job {job_id} trigger")
                )
                rec.trigger_doc = row.trigger
            changes: dict[str, Any] = {}
            if row.name != local.name:
                changes["name"] = row.name
            if row.max_runs != local.max_runs:
                changes["max_runs"] = row.max_runs
            if rec is not None and row.func_ref != rec.func_ref:
                changes["func"] = self.registry.resolve(row.func_ref)
                rec.func_ref = row.func_ref
            if rec is not None and row.arguments != rec.arguments:
                args, kwargs = decode_arguments(
                    self._open_sealed(row.arguments, job_id, "arguments"), f"job {job_id} arguments"
                )
                changes["args"], changes["kwargs"] = args, kwargs
            if changes:
                await engine.modify(job_id, **changes)
            if rec is not None:
                rec.arguments = row.arguments
                rec.sources = (local.func, local.args, local.kwargs, local.trigger)
            if row.status == "paused" and not local.paused:
                engine.pause_nowait(job_id)
            elif row.status != "paused" and local.paused:
                engine.resume_nowait(job_id)
        finally:
            self._applying = False
            job = hooks_of(engine).job(job_id)
            if job is not None:
                self._fingerprints[job_id] = _fingerprint(job)

    # -- open / close ---------------------------------------------------------------------------

    async def open(self, engine: AsyncScheduler) -> None:
        """Open the store, load every job, and start claiming, renewing, recovering and
        listening.

        Raises:
            StoreVersionError, StoreError: from the store; nothing is loaded.
        """
        node = self._node
        node.errors = (*connection_errors(), StoreError)
        node.closing = False
        node.engine = engine
        try:
            await super().open(engine)
        except BaseException:
            node.engine = None
            raise
        for job_id, job in hooks_of(engine).jobs():
            self._fingerprints[job_id] = _fingerprint(job)
        for row in await self.pg.list_jobs():
            self._def_hashes.setdefault(row.id, definition_hash(row))
        await self._changes.open()
        try:
            t0 = engine.clock.time()
            db_now = await self.pg.database_time()
            node.clock_offset = db_now - (t0 + engine.clock.time()) / 2
        except node.errors:
            node.clock_offset = 0.0
        if abs(node.clock_offset) > node.max_early_wait:
            logger.warning(
                "%s: this node's clock differs from the database's by %+.1f s; fires are claimed "
                "by the database clock (fix the clock: NTP)",
                self.node_id,
                -node.clock_offset,
            )
        self._claims.open()
        node.finish_wake = asyncio.Event()
        self._recovery.open()
        node.io = asyncio.Lock()
        await self._leases.start_keeper()
        loop = asyncio.get_running_loop()
        for name, body in (
            ("claims", self._claims.loop),
            ("renew", self._leases.renew_loop),
            ("finish", self._outcomes.loop),
            ("recover", self._recovery.loop),
            ("changes", self._changes.loop),
        ):
            self._tasks.append(
                loop.create_task(self._supervised(name, body), name=f"asyncron-cluster-{name}")
            )

    async def _supervised(self, name: str, body: Callable[[], Awaitable[None]]) -> None:
        """Run a background loop for as long as the journal is open. Database errors are
        retried inside each loop; anything else (a bug, an unforeseen driver error) is logged
        with its traceback and the loop starts again after a short pause, so that one bad
        moment never leaves a node that silently stopped claiming or renewing."""
        while True:
            try:
                await body()
                return
            except asyncio.CancelledError:
                raise
            except Exception:
                if self._node.closing:
                    return
                logger.exception("%s: the %s loop failed; restarting it", self.node_id, name)
                await asyncio.sleep(0.5)

    async def close(self) -> None:
        """Leave the cluster cleanly: claim nothing more, hand back every fire won but not
        started (another node takes it at once), record the outcomes still queued, stop the
        background tasks, leave the ``nodes`` table and close the store.

        Runs still going here (sync jobs left in their threads by ``stop``) keep their rows
        ``running`` under their leases, which nobody renews now: they are recovered per
        ``on_crash`` when the leases expire.
        """
        node = self._node
        node.closing = True
        deadline = time.monotonic() + 5.0
        await self._claims.shut(5.0)  # a claim statement on its way: learn what it won
        for key, token in list(node.claimed.items()):
            node.hand_back.append((key[0], key[1], token, False))
        node.claimed.clear()
        if node.io is not None:
            while self._outcomes.queued() and time.monotonic() < deadline:
                try:
                    await asyncio.wait_for(
                        self._outcomes.write(), max(0.05, deadline - time.monotonic())
                    )
                except Exception:  # unreachable: the leases expire and the fires are recovered
                    break
        node.finishing.clear()
        node.hand_back.clear()
        node.ending.clear()
        tasks, self._tasks = self._tasks, []
        await cancel_all([*tasks, *self._claims.side_tasks])
        await self._leases.stop_keeper()
        self._claims.closed()
        node.finish_wake = None
        self._recovery.closed()
        self._changes.closed()
        try:
            await super().close()
        finally:
            node.engine = None

    def _restore(self, row: StoredJob, now: datetime) -> bool:
        """Load a stored job. Only ``paused`` and ``cancelled`` are cluster-wide states: a
        ``completed`` or ``running`` status is the writer's own view (its clock, its runs), so
        the job is loaded as pending and its fires are arbitrated by the claim watermark."""
        if row.status not in ("paused", "cancelled"):
            next_run = row.next_run
            if next_run is None:
                try:
                    trigger = trigger_from_doc(row.trigger, f"job {row.id} trigger")
                except (InvalidJobError, ValueError):
                    return super()._restore(row, now)  # reported as unresolved there
                first = trigger.get_first_run(now)
                next_run = None if first is None else first.timestamp()
            row = row.evolve(status="pending", next_run=next_run, running_fire=None, error=None)
        return super()._restore(row, now)

    async def _run_catchup(
        self,
        engine: AsyncScheduler,
        pending: list[tuple[str, list[datetime]]],
        previous: asyncio.Task[None] | None,
    ) -> None:
        """Missed fires replayed at start (misfire mode ``"all"``) run on the node that claims
        them, not on every node that starts."""
        node = self._node
        claimed: list[tuple[str, list[datetime]]] = []
        for job_id, fires in pending:
            job = hooks_of(engine).job(job_id)
            if job is None:
                continue
            mine = []
            for fire in fires:
                if await self.claim(job, fire.timestamp()):
                    key = (job_id, to_us(fire.timestamp()))
                    token = node.claimed.pop(key)
                    node.finishing.append((key[0], key[1], token, "succeeded", None))
                    mine.append(fire)
            if mine:
                claimed.append((job_id, mine))
        node.wake_writer()
        await super()._run_catchup(engine, claimed, previous)

    # -- monitoring -----------------------------------------------------------------------------

    def statistics(self) -> dict[str, Any]:
        """Cluster counters and state: claims won/lost, recoveries, leases lost, fenced writes,
        running fires, clock offset to the database, listener state."""
        return {
            **self.counters,
            "node_id": self.node_id,
            "running_fires": len(self._node.running),
            "clock_offset": self._node.clock_offset,
            "listening": self._changes.listening,
        }


def _fingerprint(job: JobState) -> tuple[Any, ...]:
    """What makes a change to ``job`` a change of its definition (identity of the parts)."""
    return (
        id(job.func),
        id(job.args),
        id(job.kwargs),
        id(job.trigger),
        id(job.opts),
        job.name,
        job.max_runs,
        job.paused,
        job.status is JobStatus.CANCELLED,
    )
