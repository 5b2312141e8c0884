"""The distributed journal: many scheduler processes on one PostgreSQL database.

Every node keeps the whole schedule in memory and computes fires from the triggers itself
(deterministic), so no node waits for another to tell it when something is due. The database
only *arbitrates*: when a fire is due, the engine asks :meth:`ClusterJournal.claim`, and exactly
one node wins the fire identity (job id, scheduled UTC instant). Claims made in the same loop
pass go to the database as one statement, so a burst of fires costs one round trip per node.

Around the claim:

- leases: the winner holds a lease on the fire, renewed every ``lease / 3`` seconds and expiring
  on the database clock. A node that stops renewing (crash, SIGSTOP, partition) loses it; a
  renewal that fails tells the engine to stop the local run (``EngineHooks.lease_lost``),
  and the run's final write is fenced by the fire's token, so a zombie changes nothing;
- recovery: every node sweeps expired leases (``SKIP LOCKED``) about once a second and, per the
  job's ``on_crash`` option, re-runs the fire once (``current_run().recovering``, ``attempt``
  + 1) or records it as abandoned;
- definitions: a job added or changed on one node is written to the store (write-behind, as in
  :class:`~asyncron._persistence.StoreJournal`) with a ``NOTIFY`` carrying ids only; the other
  nodes read the changed rows and apply them. When the listener connection drops they poll the
  change log every ``poll_interval`` seconds until it is back;
- outages: database errors are retried with backoff and logged once per outage; claims wait
  (the engine keeps its deadlines) and a claim whose commit was not acknowledged is recognised
  by its key when retried, so a reconnect neither loses nor doubles a fire.
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
from typing import TYPE_CHECKING, Any, TypeVar

from ._core._hooks import hooks_of
from ._core._state import JobState as _JobState
from ._faults import fault_point
from ._liveness import NodeKeeper
from ._model import JobStatus, RunRecord
from ._persistence import StoreJournal
from ._serialize import decode_arguments, trigger_from_doc
from .abc import StoredJob
from .errors import InvalidJobError, StoreError
from .stores.postgres import (
    SKIPPED,
    ClaimRequest,
    NodeSession,
    PostgresStore,
    connection_errors,
    definition_hash,
    to_us,
)

if TYPE_CHECKING:
    from ._scheduler import AsyncScheduler

__all__ = ["ClusterJournal"]


def _cluster_limit(job: _JobState) -> int | None:
    """How many fires of ``job`` may be running on other nodes for a fire claimed now to run:
    the overlap policy, applied by the claim itself. ``job.running`` already counts the slot
    this claim holds. ``skip`` (the default) allows none elsewhere, ``allow_all`` what
    ``max_instances`` leaves; the buffering and ``cancel_other`` policies act on the node that
    runs the job (None: no cluster-wide limit)."""
    opts = job.opts
    if opts.overlap == "skip":
        return 1
    if opts.overlap == "allow_all" and opts.max_instances is not None:
        return max(1, opts.max_instances - (job.running - 1))
    return None


logger = logging.getLogger("asyncron")

T = TypeVar("T")

_BATCH = 1000


class _Outage:
    """Logs a database outage once when it starts and once when it ends."""

    __slots__ = ("description", "down", "what")

    def __init__(self, description: str, what: str) -> None:
        self.description = description
        self.what = what
        self.down = False

    def failed(self, exc: BaseException) -> None:
        if not self.down:
            self.down = True
            logger.warning(
                "%s: %s failed (%s: %s); retrying with backoff",
                self.description,
                self.what,
                type(exc).__name__,
                exc,
            )

    def ok(self) -> None:
        if self.down:
            self.down = False
            logger.warning("%s: %s works again", self.description, self.what)


async def _cancel_all(tasks: list[asyncio.Task[None]], within: float = 5.0) -> None:
    """Cancel ``tasks`` and wait for them, cancelling again those still running: on Python 3.11
    ``asyncio.wait_for`` can swallow a cancellation that arrives as its inner await completes,
    and a loop that lost its cancellation would otherwise keep ``close()`` waiting forever."""
    pending = set(tasks)
    deadline = time.monotonic() + within
    while pending:
        for task in pending:
            task.cancel()
        left = deadline - time.monotonic()
        if left <= 0:
            logger.warning("%d cluster loop(s) did not end when cancelled", len(pending))
            return
        _, pending = await asyncio.wait(pending, timeout=min(0.1, left))


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
        self.lease = float(lease)
        self.node_id = node_id or (f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}")
        self.poll_interval = float(poll_interval)
        self.max_clock_lead = float(max_clock_lead)
        self.max_early_wait = float(max_early_wait)
        self.fire_retention = float(fire_retention)
        self.node_timeout = float(node_timeout)
        self.pg.node_id = self.node_id
        self._keeper: NodeKeeper | None = None
        self._recover_wake: asyncio.Event | None = None
        # True while this node may be taken for dead (its session lost for too long): it runs
        # nothing and claims nothing until it has its lock back
        self._fenced = False
        # fires to give back (job id, fire us, token, started), written with the outcomes
        self._hand_back: list[tuple[str, int, int, bool]] = []
        # fires whose end is queued in _finishing (each is queued once)
        self._ending: set[tuple[str, int]] = set()
        # fires stopped by a fence whose run had not started yet when it fell
        self._fenced_keys: set[tuple[str, int]] = set()
        # one statement at a time on this node's own fire rows (renewals, outcomes, hand-backs)
        self._io: asyncio.Lock | None = None
        self._claiming: asyncio.Future[None] | None = None
        # claims waiting for the next batch: (request, future)
        self._claim_queue: list[tuple[ClaimRequest, asyncio.Future[bool]]] = []
        self._claim_wake: asyncio.Event | None = None
        # claims of each job waiting for their answer (job id -> count)
        self._claims_of: dict[str, int] = {}
        self._claim_answered = asyncio.Event()  # set (and replaced) at each answer
        # fires skipped here being recorded or claimed (see fire_skipped)
        self._side_tasks: set[asyncio.Task[None]] = set()
        # fires this node won and has not started yet / is running: (job id, fire us) -> token
        self._claimed: dict[tuple[str, int], int] = {}
        self._running: dict[tuple[str, int], int] = {}
        # fires this node recorded as skipped (overlap, cluster-wide) until the engine hears of it
        self._skipped: dict[tuple[str, int], bool] = {}
        # when each held lease was last known good: the local monotonic instant at which the
        # statement that granted or renewed it was sent (the database's expiry is later)
        self._confirmed: dict[tuple[str, int], float] = {}
        self._finishing: list[tuple[str, int, int, str, str | None]] = []
        self._finish_wake: asyncio.Event | None = None
        self._changes_wake: asyncio.Event | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._fingerprints: dict[str, tuple[Any, ...]] = {}
        self._def_hashes: dict[str, str] = {}
        self._applying = False
        self._change_seq = 0
        self._clock_offset = 0.0  # database clock minus the engine's clock
        self._skew_warned = False
        self._listener_ok = False
        self._closing = False
        self._errors: tuple[type[BaseException], ...] = ()
        #: Counters for monitoring: claims won/lost, recoveries, leases lost, fenced writes.
        self.counters: dict[str, int] = {
            "claims_won": 0,
            "claims_lost": 0,
            "claims_early": 0,
            "claims_skipped": 0,
            "recovered_rerun": 0,
            "recovered_abandoned": 0,
            "leases_lost": 0,
            "fenced_writes": 0,
            "remote_changes": 0,
            "fences": 0,
            "handed_back": 0,
            "taken_handed_back": 0,
        }
        self._unfenced = asyncio.Event()
        self._claim_idle = asyncio.Event()
        self._claim_idle.set()

    # -- Journal protocol -----------------------------------------------------------------------

    def job_added(self, job: _JobState) -> None:
        super().job_added(job)
        self._fingerprints[job.id] = _fingerprint(job)

    def job_changed(self, job: _JobState) -> None:
        self._note_ended(job)
        if self._applying:
            self._fingerprints[job.id] = _fingerprint(job)
            return
        fp = _fingerprint(job)
        if self._fingerprints.get(job.id) == fp:
            return  # a run's statistics: kept in the fires table, not in the job's row
        self._fingerprints[job.id] = fp
        super().job_changed(job)

    def run_started(self, job: _JobState, fire_ts: float) -> None:
        key = (job.id, to_us(fire_ts))
        token = self._claimed.pop(key, None)
        if token is not None:
            self._running[key] = token
            fault_point("after_start")

    def _mark(self, job: _JobState) -> None:
        if not self._applying:
            super()._mark(job)

    def _snapshot(self, job: _JobState, rec: Any) -> StoredJob:
        snap = super()._snapshot(job, rec)
        self._def_hashes[job.id] = definition_hash(snap)
        return snap

    def _note_ended(self, job: _JobState) -> None:
        """Queue the final write of this node's fires of ``job`` whose run has ended (once
        each: the engine reports a job's changes many times)."""
        if not self._running:
            return
        live = {to_us(r.fire_ts) for r in job.runs or ()}
        ended = [
            k
            for k in self._running
            if k[0] == job.id and k[1] not in live and k not in self._ending
        ]
        if not ended:
            return
        state = "failed" if job.error else "succeeded"
        if job.error and job.error.startswith("CancelledError"):
            state = "cancelled"
        for key in ended:
            token = self._running[key]
            fault_point("before_finish")
            self._ending.add(key)
            self._finishing.append((key[0], key[1], token, state, job.error))
        self._wake_writer()

    def _wake_writer(self) -> None:
        if self._finish_wake is not None:
            self._finish_wake.set()

    # -- claims ---------------------------------------------------------------------------------

    async def claim(self, job: _JobState, fire_ts: float) -> bool:
        """Claim the fire (``job``, ``fire_ts``) for this node; True when this node runs it.

        Waits (the engine keeps the run slot) while the database is unreachable, and while the
        fire is due by this node's clock but not yet by the database's (up to
        ``max_early_wait``). A fire won while the scheduler stops (or while this node may be
        taken for dead) is handed back at once for another node to run; one won for a job
        cancelled meanwhile is recorded as cancelled.
        """
        while self._fenced and not self._closing:
            # this node may be taken for dead: wait (the engine keeps the run slot) until it
            # has its session back, as while the database is unreachable
            try:
                await asyncio.wait_for(self._unfenced.wait(), 0.5)
            except TimeoutError:
                pass
        if self._closing:
            return False
        loop = asyncio.get_running_loop()
        lead = fire_ts - (self._engine_time() + self._clock_offset)
        if lead > self.max_clock_lead:
            if lead > self.max_early_wait:
                self.counters["claims_early"] += 1
                if not self._skew_warned:
                    self._skew_warned = True
                    logger.warning(
                        "%s: this node's clock is about %.1f s ahead of the database; its fires "
                        "are left to nodes with a correct clock (fix the clock: NTP)",
                        self.node_id,
                        lead,
                    )
                return False
            await asyncio.sleep(lead)
        nxt = job.next_fire
        request = ClaimRequest(
            job.id,
            fire_ts,
            None if nxt is None else job.next_ts,
            getattr(job.opts, "on_crash", "abandon"),
            _cluster_limit(job),
        )
        fut: asyncio.Future[bool] = loop.create_future()
        self._claim_queue.append((request, fut))
        if self._claim_wake is not None and not self._closing:
            self._claim_wake.set()
        else:
            fut.set_result(False)
        self._claims_of[job.id] = self._claims_of.get(job.id, 0) + 1
        try:
            won = await fut
        finally:
            left = self._claims_of[job.id] - 1
            if left:
                self._claims_of[job.id] = left
            else:
                del self._claims_of[job.id]
            answered, self._claim_answered = self._claim_answered, asyncio.Event()
            answered.set()
        key = (job.id, to_us(fire_ts))
        if won:
            token = self._claimed.get(key)
            engine = self._engine
            if token is None:
                return False  # dropped by a fence while the answer was on its way
            if job.status is JobStatus.CANCELLED:
                del self._claimed[key]
                self._ending.add(key)
                self._finishing.append((key[0], key[1], token, "cancelled", None))
                self._wake_writer()
                return False
            if self._closing or self._fenced or (engine is not None and hooks_of(engine).stopping):
                del self._claimed[key]
                self._hand_back.append((key[0], key[1], token, False))
                self._wake_writer()
                return False
            fault_point("after_claim")
            fault_point("before_dispatch")
        elif self._skipped.pop(key, False) and self._engine is not None:
            hooks_of(self._engine).count_skip(
                job, fire_ts, "overlap: the previous run is still going"
            )
        return won

    def fire_skipped(self, job: _JobState, fire_ts: float) -> None:
        """The engine skipped this fire unclaimed: a run of the job, or the claim of an
        earlier fire of it, is in flight here. Without a word to the database the fire could
        be left with no record at all: on a loaded machine, where a claim takes longer than
        the job's interval, every node may skip it so. Once this node's claims of the job are
        answered, the fire is claimed under the overlap limit counted over every node, this one
        included: with a run of the job going (here or elsewhere) it is recorded as skipped;
        with none (the run ended meanwhile, or the earlier claim was lost) it is won and handed
        back for a node to run at once; and if it cannot be claimed any more (a later fire was
        claimed meanwhile) and has no record, it is recorded as skipped."""
        if self._closing or self._fenced or self._claim_wake is None:
            return
        task = asyncio.get_running_loop().create_task(self._skipped_here(job, fire_ts))
        self._side_tasks.add(task)
        task.add_done_callback(self._side_tasks.discard)

    async def _skipped_here(self, job: _JobState, fire_ts: float) -> None:
        await asyncio.sleep(0)  # (the engine computes the job's next fire first)
        while self._claims_of.get(job.id) and not self._closing:
            await self._claim_answered.wait()
        if self._closing or self._fenced or self._claim_wake is None:
            return
        opts = job.opts
        key = (job.id, to_us(fire_ts))
        on_crash = getattr(opts, "on_crash", "abandon")
        # the database decides, counting this node's runs too: the run that made the engine
        # skip may have ended by now (its outcome written), and then the fire runs after all
        limit = opts.max_instances if opts.overlap == "allow_all" else 1
        request = ClaimRequest(
            job.id,
            fire_ts,
            None if job.next_fire is None else job.next_ts,
            on_crash,
            None if limit is None else -limit,
        )
        fut: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self._claim_queue.append((request, fut))
        self._claim_wake.set()
        won = await fut
        token = self._claimed.pop(key, None)
        if self._skipped.pop(key, False):
            return  # recorded as skipped (counted by the engine)
        if won and token is not None:
            engine = self._engine
            self._claimed[key] = token
            if engine is not None and hooks_of(engine).run_recovered(
                job.id, fire_ts, 1, recovering=False
            ):
                self._claimed.pop(key, None)
                self._running.setdefault(key, token)
                return  # no run of the job was going any more: it runs here, a little late
            # not now here: for a node to run at once
            self._claimed.pop(key, None)
            self._hand_back.append((key[0], key[1], token, False))
            self._wake_writer()
            return
        try:  # lost: claimed by a node, or past a later fire claimed meanwhile
            await self.pg.record_skip(self.node_id, key[0], key[1], on_crash)
        except self._errors:
            pass  # unreachable: the engine counted the skip; the fire has no record

    async def _claim_loop(self) -> None:
        wake = self._claim_wake
        assert wake is not None
        outage = _Outage(self.store.description, "claiming fires")
        while True:
            if not self._claim_queue:  # (after a restart, claims may be waiting already)
                await wake.wait()
            wake.clear()
            await asyncio.sleep(0)  # gather every fire of this loop pass into one batch
            while self._claim_queue:
                batch: list[tuple[ClaimRequest, asyncio.Future[bool]]] = []
                rest: list[tuple[ClaimRequest, asyncio.Future[bool]]] = []
                seen: set[str] = set()
                for item in self._claim_queue:
                    if item[0].job_id in seen or len(batch) >= _BATCH:
                        rest.append(item)
                    else:
                        seen.add(item[0].job_id)
                        batch.append(item)
                self._claim_queue = rest
                self._claim_idle.clear()
                try:
                    await self._claim_batch(batch, outage)
                except BaseException:
                    # unresolved claims go back to the queue (the supervisor restarts the loop)
                    self._claim_queue = [b for b in batch if not b[1].done()] + self._claim_queue
                    raise
                finally:
                    self._claim_idle.set()

    async def _claim_batch(
        self, batch: list[tuple[ClaimRequest, asyncio.Future[bool]]], outage: _Outage
    ) -> None:
        if any(r.job_id in self._dirty for r, _ in batch):
            # A job added a moment ago must be in the database before it is claimed.
            await self._retry(outage, self.flush)
        key = secrets.token_hex(8)
        sent = [0.0]

        async def attempt(
            batch: list[tuple[ClaimRequest, asyncio.Future[bool]]] = batch,
            key: str = key,
            sent: list[float] = sent,
        ) -> dict[tuple[str, int], int]:
            sent[0] = time.monotonic()
            return await self.pg.claim_fires(
                [r for r, _ in batch],
                self.node_id,
                self.lease,
                key=key,
                max_lead=self.max_clock_lead,
            )

        won = await self._retry(outage, attempt)
        if won:
            fault_point("after_advance")
        for request, fut in batch:
            fire = (request.job_id, to_us(request.fire_ts))
            token = won.get(fire)
            if token == SKIPPED:  # recorded as skipped: a run is going on elsewhere
                self._skipped[fire] = True
                self.counters["claims_skipped"] += 1
                token = None
            elif token is not None:
                self._claimed[fire] = token
                self._confirmed[fire] = sent[0]
                self.counters["claims_won"] += 1
            elif fire not in self._skipped:
                self.counters["claims_lost"] += 1
            if not fut.done():
                fut.set_result(token is not None)
            elif token is not None:  # the engine gave up waiting: hand the fire back
                self._claimed.pop(fire, None)
                self._hand_back.append((fire[0], fire[1], token, False))
                self._wake_writer()

    async def _retry(self, outage: _Outage, call: Callable[[], Awaitable[T]]) -> T:
        """Run ``call`` until it succeeds, backing off while the database is unreachable."""
        delay = 0.05
        while True:
            try:
                result = await call()
            except self._errors as exc:
                if self._closing:
                    raise
                outage.failed(exc)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 2.0)
                continue
            outage.ok()
            return result

    # -- node liveness --------------------------------------------------------------------------

    def _back(self) -> None:
        """The node holds its lock (again): claim and take over fires again."""
        if self._fenced and not self._closing:
            self._fenced = False
            self._unfenced.set()
            if self.counters["fences"]:
                logger.warning("%s: has its database session back; claiming again", self.node_id)

    def _fence(self, silent_for: float) -> None:
        """Stop everything this node runs: it may be taken for dead (see
        :mod:`asyncron._liveness`).
        The fires are handed back once the database can be reached again (unless another
        node has taken them over by then)."""
        self._fenced = True
        self._unfenced.clear()
        self.counters["fences"] += 1
        for key, token in list(self._claimed.items()):
            del self._claimed[key]
            self._hand_back.append((key[0], key[1], token, False))
        stopping = [k for k in self._running if k not in self._ending]
        logger.warning(
            "%s: lost its database session %.1f s ago and could not take it back; it may be "
            "taken for dead, so it stops its %d run(s) and claims nothing until it is back",
            self.node_id,
            silent_for,
            len(stopping),
        )
        for key in stopping:
            self._hand_back.append((key[0], key[1], self._running[key], True))
            self._lose_lease(key, lost=False)
        self._wake_writer()

    # -- leases, fire outcomes, recovery --------------------------------------------------------

    async def _renew_loop(self) -> None:
        outage = _Outage(self.store.description, "renewing leases")
        period = self.lease / 3
        delay = period
        io = self._io
        assert io is not None
        while True:
            await asyncio.sleep(delay)
            delay = period
            fault_point("before_renew")
            try:
                # (bounded: an answer that never comes, a network cut, is an outage, and the
                # runs are stopped before their leases can lapse)
                budget = self._renew_budget(period)
                t0 = self._engine_time()
                db_now = await asyncio.wait_for(self.pg.database_time(), budget)
                t1 = self._engine_time()
                self._clock_offset = db_now - (t0 + t1) / 2
                # One statement at a time on this node's rows: a renewal never runs beside the
                # write of an outcome, so neither can be refused because of the other.
                async with io:
                    # fires running here, and fires won and about to start
                    held = [(k[0], k[1], t) for k, t in self._running.items()]
                    held += [(k[0], k[1], t) for k, t in self._claimed.items()]
                    sent = time.monotonic()
                    renewed = await asyncio.wait_for(
                        self.pg.renew_leases(self.node_id, held, self.lease),
                        self._renew_budget(period),
                    )
                    for job_id, fire_us, token in held:
                        key = (job_id, fire_us)
                        if key in renewed:
                            self._confirmed[key] = sent
                        elif self._running.get(key) == token:
                            self._lose_lease(key)
                        elif self._claimed.get(key) == token:
                            del self._claimed[key]  # not started: it will not be
                            self.counters["leases_lost"] += 1
            except self._errors as exc:
                outage.failed(exc)
                delay = self._expire_unconfirmed(period)
                continue
            outage.ok()
            stale = [
                k for k in self._confirmed if k not in self._running and k not in self._claimed
            ]
            for key in stale:
                del self._confirmed[key]

    def _renew_budget(self, period: float) -> float:
        """How long a renewal may wait for its answer: until the earliest instant a held lease
        may lapse (then the runs are stopped, see :meth:`_expire_unconfirmed`); with nothing
        held, ``period``."""
        now = time.monotonic()
        margin = min(0.1 * self.lease, 0.5)
        keys = [*self._running, *self._claimed]
        if not keys:
            return period
        soonest = min(self._confirmed.get(k, now) + self.lease - margin for k in keys)
        return max(0.05, soonest - now)

    def _expire_unconfirmed(self, period: float) -> float:
        """Stop the runs whose lease may have lapsed while the database could not be reached.

        A lease renewed (or granted) by a statement sent at local instant ``t`` expires on the
        database no earlier than ``t + lease``. Once that instant is near without a renewal,
        another node may take the fire over as soon as the database is back, so this node stops
        its run first (as when a renewal is refused): a ``rerun`` fire then runs again once,
        never twice at the same time. Returns how long to wait before the next renewal attempt.
        """
        now = time.monotonic()
        margin = min(0.1 * self.lease, 0.5)
        soonest = now + period
        for key in list(self._running):
            if key in self._ending:
                continue  # the run has ended; its outcome is waiting to be written
            expires = self._confirmed.get(key, now) + self.lease - margin
            if expires > now:
                soonest = min(soonest, expires)
            else:
                self._lose_lease(key)
        return max(0.01, min(period, soonest - now))

    def _lose_lease(self, key: tuple[str, int], *, lost: bool = True) -> None:
        """This node no longer holds the fire ``key`` (refused, possibly lapsed, or fenced):
        forget it (its outcome is not written) and stop the local run."""
        self._running.pop(key, None)
        self._confirmed.pop(key, None)
        if lost:
            self.counters["leases_lost"] += 1
        if self._engine is not None:
            hooks_of(self._engine).lease_lost(key[0], key[1] / 1_000_000)

    async def _write_fires(self) -> None:
        """Write what is queued: fires handed back, then outcomes (one statement at a time).

        Raises:
            Exception: the connection errors (the items stay queued).
        """
        io = self._io
        assert io is not None
        async with io:
            if self._hand_back:
                items = self._hand_back[:_BATCH]
                back = list({(h[0], h[1]): h for h in items}.values())
                done = await self.pg.hand_back(self.node_id, back)
                del self._hand_back[: len(items)]
                self.counters["handed_back"] += len(done)
            if not self._finishing:
                return
            batch = self._finishing[:_BATCH]
            # each fire once (the first outcome queued for it)
            unique: dict[tuple[str, int], tuple[str, int, int, str, str | None]] = {}
            for b in batch:
                unique.setdefault((b[0], b[1]), b)
            written = await self.pg.finish_fires(self.node_id, list(unique.values()))
            del self._finishing[: len(batch)]
            for key, item in unique.items():
                self._ending.discard(key)
                if self._running.get(key) == item[2]:
                    del self._running[key]
                if key in written:
                    continue
                # the fire's token changed: another node took it over (this node's lease
                # lapsed); its outcome there wins, this one is not recorded
                self.counters["fenced_writes"] += 1
                logger.error(
                    "job %s: lease lost on the fire at %s (this node stopped renewing it "
                    "in time, e.g. paused or cut off); another node took it over, so this "
                    "run's outcome (%s) was not recorded",
                    key[0],
                    datetime.fromtimestamp(key[1] / 1_000_000, UTC).isoformat(),
                    item[3],
                )

    async def _finish_loop(self) -> None:
        wake = self._finish_wake
        assert wake is not None
        outage = _Outage(self.store.description, "recording fire outcomes")
        while True:
            if not self._finishing and not self._hand_back:  # (after a restart: may be queued)
                await wake.wait()
            wake.clear()
            await asyncio.sleep(0.002)  # gather the ends of a burst into one statement
            while self._finishing or self._hand_back:
                await self._retry(outage, self._write_fires)

    async def _recover_loop(self) -> None:
        outage = _Outage(self.store.description, "recovering expired leases")
        wake = self._recover_wake
        assert wake is not None
        period = min(self.poll_interval, self.lease / 3, self.node_timeout / 6)
        since_prune = 0.0
        while True:
            try:
                await asyncio.wait_for(wake.wait(), period)
            except TimeoutError:
                pass
            wake.clear()
            since_prune += period
            if (
                self._fenced
                or self._closing
                or (self._engine is not None and hooks_of(self._engine).stopping)
            ):
                continue  # a node that may be taken for dead (or is stopping) takes nothing
            try:
                sent = time.monotonic()
                found = await self.pg.recover_expired(
                    self.node_id, self.lease, node_timeout=self.node_timeout
                )
                if since_prune > 60:
                    since_prune = 0.0
                    await self.pg.prune(self.fire_retention)
            except self._errors as exc:
                outage.failed(exc)
                continue
            outage.ok()
            for rec in found:
                if rec.state == "abandoned":
                    self.counters["recovered_abandoned"] += 1
                    logger.warning(
                        "job %s: the run scheduled at %s on node %s was cut short (node dead or "
                        "lease expired); recorded as abandoned (on_crash='abandon')",
                        rec.job_id,
                        datetime.fromtimestamp(rec.fire_ts, UTC).isoformat(),
                        rec.previous_owner,
                    )
                    continue
                self._confirmed[(rec.job_id, to_us(rec.fire_ts))] = sent
                await self._rerun(rec.job_id, rec.fire_ts, rec.attempt, rec.token, rec)

    async def _rerun(self, job_id: str, fire_ts: float, attempt: int, token: int, rec: Any) -> None:
        engine = self._engine
        key = (job_id, to_us(fire_ts))
        handed_back = bool(getattr(rec, "handed_back", False))
        fault_point("after_recover")
        job = None if engine is None else hooks_of(engine).job(job_id)
        busy = job is not None and job.running > 0
        if job is not None and not busy and job.opts.overlap != "allow_all":
            # a later fire of the job may be running on another node meanwhile (this fire's
            # node was cut off, or stopped): the overlap policy holds across nodes
            try:
                busy = await self.pg.running_elsewhere(self.node_id, job_id, key[1]) > 0
            except self._errors:
                busy = True
            if busy and not handed_back:
                # an interrupted run waits for that run to end: given back, it is taken again
                # at a later sweep (re-run once, never beside another run of the job)
                try:
                    await self.pg.release_fire(self.node_id, job_id, key[1], token)
                except self._errors:
                    pass  # it expires again by itself
                return
        if handed_back and busy and job is not None and job.opts.overlap != "allow_all":
            # a fire handed back while this job runs here (or elsewhere): the policy skips it
            self._ending.add(key)
            self._running[key] = token
            self._finishing.append(
                (key[0], key[1], token, "skipped", "skipped: the previous run was still going")
            )
            self._wake_writer()
            assert engine is not None
            hooks_of(engine).count_skip(job, fire_ts, "overlap: the previous run is still going")
            return
        self._claimed[key] = token
        if engine is None:
            started = False
        else:
            started = hooks_of(engine).run_recovered(
                job_id, fire_ts, attempt, recovering=not handed_back
            )
        if started:
            self._claimed.pop(key, None)
            self._running.setdefault(key, token)
            if handed_back:
                self.counters["taken_handed_back"] += 1
                return
            self.counters["recovered_rerun"] += 1
            logger.warning(
                "job %s: re-running the fire scheduled at %s (attempt %d): node %s died or "
                "stopped renewing its lease (on_crash='rerun')",
                job_id,
                datetime.fromtimestamp(fire_ts, UTC).isoformat(),
                attempt,
                rec.previous_owner,
            )
            return
        self._claimed.pop(key, None)
        if handed_back:
            self._hand_back.append((key[0], key[1], token, False))  # for another node
            self._wake_writer()
            return
        try:
            await self.pg.release_fire(self.node_id, job_id, key[1], token)
        except self._errors:
            pass  # it expires again by itself

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

    # -- remote changes -------------------------------------------------------------------------

    def _on_notify(self, payload: str) -> None:
        node, _, ids = payload.partition(":")
        if node == self.node_id:
            return  # our own write
        if ids == "!recover":  # fires were handed back: take them now
            if self._recover_wake is not None:
                self._recover_wake.set()
            return
        if self._changes_wake is not None:
            self._changes_wake.set()

    def _on_listener_lost(self) -> None:
        if self._listener_ok and not self._closing:
            logger.warning(
                "%s: LISTEN connection lost; polling for changes every %.1f s until it is back",
                self.store.description,
                self.poll_interval,
            )
        self._listener_ok = False
        if self._changes_wake is not None:
            self._changes_wake.set()

    async def _changes_loop(self) -> None:
        wake = self._changes_wake
        assert wake is not None
        outage = _Outage(self.store.description, "reading job changes")
        delay = self.poll_interval
        while True:
            if not self._listener_ok:
                try:
                    await self.pg.listen(self._on_notify, self._on_listener_lost)
                    if not self._listener_ok and delay > self.poll_interval:
                        logger.warning("%s: LISTEN connection is back", self.store.description)
                    self._listener_ok = True
                    delay = self.poll_interval
                except self._errors:
                    delay = min(delay * 2, 5.0)
            try:
                await asyncio.wait_for(
                    wake.wait(), self.poll_interval if not self._listener_ok else 10.0
                )
            except TimeoutError:
                pass
            wake.clear()
            try:
                await self._apply_changes()
            except self._errors as exc:
                outage.failed(exc)
                continue
            outage.ok()

    async def _apply_changes(self) -> None:
        # Sequence numbers may commit out of order: re-read a window behind the last one seen;
        # applying is idempotent (definition digests are compared).
        changes, top = await self.pg.changes_since(max(0, self._change_seq - 256))
        self._change_seq = max(self._change_seq, top)
        ids = list(dict.fromkeys(job_id for job_id, node in changes if node != self.node_id))
        if not ids:
            return
        rows = {row.id: row for row in await self.pg.get_jobs(ids)}
        for job_id in ids:
            row = rows.get(job_id)
            try:
                await self._apply_remote(job_id, row)
            except Exception:
                logger.exception("job %s: could not apply a change made on another node", job_id)

    async def _apply_remote(self, job_id: str, row: StoredJob | None) -> None:
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

    def _engine_time(self) -> float:
        engine = self._engine
        if engine is None:
            import time

            return time.time()
        return engine.clock.time()

    async def open(self, engine: AsyncScheduler) -> None:
        """Open the store, load every job, and start claiming, renewing, recovering and
        listening.

        Raises:
            StoreVersionError, StoreError: from the store; nothing is loaded.
        """
        self._errors = (*connection_errors(), StoreError)
        self._closing = False
        await super().open(engine)
        for job_id, job in hooks_of(engine).jobs():
            self._fingerprints[job_id] = _fingerprint(job)
        for row in await self.pg.list_jobs():
            self._def_hashes.setdefault(row.id, definition_hash(row))
        self._change_seq = await self.pg.last_change()
        try:
            t0 = engine.clock.time()
            db_now = await self.pg.database_time()
            self._clock_offset = db_now - (t0 + engine.clock.time()) / 2
        except self._errors:
            self._clock_offset = 0.0
        if abs(self._clock_offset) > self.max_early_wait:
            logger.warning(
                "%s: this node's clock differs from the database's by %+.1f s; fires are claimed "
                "by the database clock (fix the clock: NTP)",
                self.node_id,
                -self._clock_offset,
            )
        self._claim_wake = asyncio.Event()
        self._finish_wake = asyncio.Event()
        self._changes_wake = asyncio.Event()
        self._recover_wake = asyncio.Event()
        self._io = asyncio.Lock()
        self._fenced = True  # until the keeper holds this node's lock
        self._unfenced.clear()
        self._keeper = NodeKeeper(
            NodeSession(self.pg, self.node_id, secrets.randbits(62) + 1),
            self.node_timeout,
            self._errors,
            self._fence,
            self._back,
        )
        if not await self._keeper.start(self.pg.connect_timeout):
            logger.warning(
                "%s: could not register this node in the database yet; it claims nothing "
                "until it has",
                self.node_id,
            )
        loop = asyncio.get_running_loop()
        for name, body in (
            ("claims", self._claim_loop),
            ("renew", self._renew_loop),
            ("finish", self._finish_loop),
            ("recover", self._recover_loop),
            ("changes", self._changes_loop),
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
                if self._closing:
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
        self._closing = True
        self._claim_answered.set()
        for _, fut in self._claim_queue:
            if not fut.done():
                fut.set_result(False)
        self._claim_queue.clear()
        deadline = time.monotonic() + 5.0
        try:  # a claim statement on its way: learn what it won
            await asyncio.wait_for(self._claim_idle.wait(), 5.0)
        except TimeoutError:
            pass
        for key, token in list(self._claimed.items()):
            self._hand_back.append((key[0], key[1], token, False))
        self._claimed.clear()
        if self._io is not None:
            while (self._finishing or self._hand_back) and time.monotonic() < deadline:
                try:
                    await asyncio.wait_for(
                        self._write_fires(), max(0.05, deadline - time.monotonic())
                    )
                except Exception:  # unreachable: the leases expire and the fires are recovered
                    break
        self._finishing.clear()
        self._hand_back.clear()
        self._ending.clear()
        tasks, self._tasks = self._tasks, []
        await _cancel_all([*tasks, *self._side_tasks])
        keeper, self._keeper = self._keeper, None
        if keeper is not None:
            await keeper.stop()
        self._claim_wake = self._finish_wake = self._changes_wake = None
        self._recover_wake = None
        self._listener_ok = False
        await super().close()

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

    # -- catch-up runs are claimed too ----------------------------------------------------------

    async def _run_catchup(
        self,
        engine: AsyncScheduler,
        pending: list[tuple[str, list[datetime]]],
        previous: asyncio.Task[None] | None,
    ) -> None:
        """Missed fires replayed at start (misfire mode ``"all"``) run on the node that claims
        them, not on every node that starts."""
        claimed: list[tuple[str, list[datetime]]] = []
        for job_id, fires in pending:
            job = hooks_of(engine).job(job_id)
            if job is None:
                continue
            mine = []
            for fire in fires:
                if await self.claim(job, fire.timestamp()):
                    key = (job_id, to_us(fire.timestamp()))
                    token = self._claimed.pop(key)
                    self._finishing.append((key[0], key[1], token, "succeeded", None))
                    mine.append(fire)
            if mine:
                claimed.append((job_id, mine))
        if self._finish_wake is not None:
            self._finish_wake.set()
        await super()._run_catchup(engine, claimed, previous)

    # -- monitoring -----------------------------------------------------------------------------

    def statistics(self) -> dict[str, Any]:
        """Cluster counters and state: claims won/lost, recoveries, leases lost, fenced writes,
        running fires, clock offset to the database, listener state."""
        return {
            **self.counters,
            "node_id": self.node_id,
            "running_fires": len(self._running),
            "clock_offset": self._clock_offset,
            "listening": self._listener_ok,
        }


def _fingerprint(job: _JobState) -> tuple[Any, ...]:
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
