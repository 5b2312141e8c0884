"""Claims: which node runs a fire.

When a fire is due the engine asks :meth:`Claims.claim`; the fire is queued, and the claim
loop sends every claim queued in the same loop pass to the database as one statement
(:meth:`~asyncron.stores.postgres.PostgresStore.claim_fires`), so a burst of fires costs one
round trip per node. Exactly one node wins a fire identity (job id, scheduled UTC instant).

The contract with the rest of the node:

- a won fire goes into ``NodeState.claimed`` with its token (its lease is then renewed by
  ``_leases``), unless it cannot run here after all: won for a job cancelled meanwhile, it is
  recorded as cancelled; won while the node stops or is fenced, it is handed back at once;
- the overlap policy holds across nodes: the claim itself counts the job's fires running
  elsewhere (:func:`cluster_limit`), and records the fire as ``skipped`` when too many run;
- a claim waits (the engine keeps its run slot) while the database is unreachable, while this
  node is fenced, and while a fire is due by this node's clock but not yet by the database's;
  a retried statement carries the same key, so a claim whose commit was not acknowledged is
  neither lost nor doubled;
- a fire the engine skips unclaimed (:meth:`Claims.fire_skipped`) still gets a record.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
from collections.abc import Awaitable, Callable

from .._core._hooks import hooks_of
from .._core._state import JobState
from .._faults import fault_point
from .._model import JobStatus
from ..stores.postgres import SKIPPED, ClaimRequest, to_us
from ._state import BATCH, Key, NodeState, Outage

__all__ = ["Claims", "cluster_limit"]

logger = logging.getLogger("asyncron")

_Queued = tuple[ClaimRequest, asyncio.Future[bool]]


def cluster_limit(job: JobState) -> int | None:
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


class Claims:
    """This node's claims: the queue, the batching loop, and skipped fires' records.

    Args:
        node: the node's shared state.
        unwritten: whether a job has changes not yet in the database (a job added a moment
            ago must be stored before its fires are claimed).
        flush: writes those changes.
    """

    def __init__(
        self,
        node: NodeState,
        unwritten: Callable[[str], bool],
        flush: Callable[[], Awaitable[None]],
    ) -> None:
        self.node = node
        self._unwritten = unwritten
        self._flush = flush
        # claims waiting for the next batch: (request, future)
        self._queue: list[_Queued] = []
        self._wake: asyncio.Event | None = None
        # claims of each job waiting for their answer (job id -> count)
        self._pending: dict[str, int] = {}
        self._answered = asyncio.Event()  # set (and replaced) at each answer
        # no claim statement on its way
        self._idle = asyncio.Event()
        self._idle.set()
        #: Tasks recording fires skipped here (see :meth:`fire_skipped`).
        self.side_tasks: set[asyncio.Task[None]] = set()
        # fires this node recorded as skipped (overlap, cluster-wide) until the engine hears of it
        self._skipped: dict[Key, bool] = {}
        self._skew_warned = False
        # the claim of each job queued last (done once it is in the queue)
        self._last: dict[str, asyncio.Future[None]] = {}

    def open(self) -> None:
        """Start taking claims (the journal then runs :meth:`loop`)."""
        self._wake = asyncio.Event()

    async def shut(self, within: float) -> None:
        """Take no more claims: answer every queued claim "lost", and wait up to ``within``
        seconds for a statement on its way to answer (what it won is in ``claimed`` then)."""
        self._answered.set()
        for _, fut in self._queue:
            if not fut.done():
                fut.set_result(False)
        self._queue.clear()
        try:
            await asyncio.wait_for(self._idle.wait(), within)
        except TimeoutError:
            pass

    def closed(self) -> None:
        self._wake = None

    async def claim(self, job: JobState, fire_ts: float) -> bool:
        """Claim the fire (``job``, ``fire_ts``) for this node; True when this node runs it
        (see the module's docstring for when it waits, and what becomes of a fire it won but
        cannot run)."""
        node = self.node
        # A job's fires are queued in the order the engine asked for them, whatever each one
        # waited for (the fence lifted, the database clock): once a later fire of the job is
        # claimed, the job's claim watermark passes the earlier ones, and a fire that no node
        # had claimed yet would be left with no record and no run.
        earlier = self._last.get(job.id)
        turn: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._last[job.id] = turn
        try:
            fut = await self._queued(job, fire_ts, earlier)
        finally:
            turn.set_result(None)
            if self._last.get(job.id) is turn:
                del self._last[job.id]
        if fut is None:
            return False
        self._pending[job.id] = self._pending.get(job.id, 0) + 1
        try:
            won = await fut
        finally:
            left = self._pending[job.id] - 1
            if left:
                self._pending[job.id] = left
            else:
                del self._pending[job.id]
            answered, self._answered = self._answered, asyncio.Event()
            answered.set()
        key = (job.id, to_us(fire_ts))
        if won:
            token = node.claimed.get(key)
            if token is None:
                return False  # dropped by a fence while the answer was on its way
            if job.status is JobStatus.CANCELLED:
                del node.claimed[key]
                node.end(key, token, "cancelled")
                return False
            if node.fenced or node.stopping():
                del node.claimed[key]
                node.give_back(key, token)
                return False
            fault_point("after_claim")
            fault_point("before_dispatch")
        elif self._skipped.pop(key, False) and node.engine is not None:
            hooks_of(node.engine).count_skip(
                job, fire_ts, "overlap: the previous run is still going"
            )
        return won

    async def _queued(
        self, job: JobState, fire_ts: float, earlier: asyncio.Future[None] | None
    ) -> asyncio.Future[bool] | None:
        """Queue the claim of the fire once it may be sent and ``earlier`` (the job's previous
        claim) is queued; its answer, or None when it is not to be claimed here."""
        node = self.node
        while node.fenced and not node.closing:
            # this node may be taken for dead: wait (the engine keeps the run slot) until it
            # has its session back, as while the database is unreachable
            try:
                await asyncio.wait_for(node.unfenced.wait(), 0.5)
            except TimeoutError:
                pass
        if node.closing:
            return None
        loop = asyncio.get_running_loop()
        lead = fire_ts - (node.engine_time() + node.clock_offset)
        if lead > node.max_clock_lead:
            if lead > node.max_early_wait:
                node.counters["claims_early"] += 1
                if not self._skew_warned:
                    self._skew_warned = True
                    logger.warning(
                        "%s: this node's clock is about %.1f s ahead of the database; its fires "
                        "are left to nodes with a correct clock (fix the clock: NTP)",
                        node.node_id,
                        lead,
                    )
                return None
            await asyncio.sleep(lead)
        if earlier is not None:
            await earlier
        nxt = job.next_fire
        request = ClaimRequest(
            job.id,
            fire_ts,
            None if nxt is None else job.next_ts,
            getattr(job.opts, "on_crash", "abandon"),
            cluster_limit(job),
        )
        fut: asyncio.Future[bool] = loop.create_future()
        self._queue.append((request, fut))
        if self._wake is not None and not node.closing:
            self._wake.set()
        else:
            fut.set_result(False)
        return fut

    def fire_skipped(self, job: JobState, fire_ts: float) -> None:
        """The engine skipped this fire unclaimed: a run of the job, or the claim of an
        earlier fire of it, is in flight here. Without a word to the database the fire could
        be left with no record at all: on a loaded machine, where a claim takes longer than
        the job's interval, every node may skip it so. Once this node's claims of the job are
        answered, the fire is claimed under the overlap limit counted over every node, this one
        included: with a run of the job going (here or elsewhere) it is recorded as skipped;
        with none (the run ended meanwhile, or the earlier claim was lost) it is won and handed
        back for a node to run at once; and if it cannot be claimed any more (a later fire was
        claimed meanwhile) and has no record, it is recorded as skipped."""
        if self.node.closing or self.node.fenced or self._wake is None:
            return
        task = asyncio.get_running_loop().create_task(self._skipped_here(job, fire_ts))
        self.side_tasks.add(task)
        task.add_done_callback(self.side_tasks.discard)

    async def _skipped_here(self, job: JobState, fire_ts: float) -> None:
        node = self.node
        await asyncio.sleep(0)  # (the engine computes the job's next fire first)
        while self._pending.get(job.id) and not node.closing:
            await self._answered.wait()
        if node.closing or node.fenced or self._wake is None:
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
        self._queue.append((request, fut))
        self._wake.set()
        won = await fut
        token = node.claimed.pop(key, None)
        if self._skipped.pop(key, False):
            return  # recorded as skipped (counted by the engine)
        if won and token is not None:
            engine = node.engine
            node.claimed[key] = token
            if engine is not None and hooks_of(engine).run_recovered(
                job.id, fire_ts, 1, recovering=False
            ):
                node.claimed.pop(key, None)
                node.running.setdefault(key, token)
                return  # no run of the job was going any more: it runs here, a little late
            # not now here: for a node to run at once
            node.claimed.pop(key, None)
            node.give_back(key, token)
            return
        try:  # lost: claimed by a node, or past a later fire claimed meanwhile
            await node.pg.record_skip(node.node_id, key[0], key[1], on_crash)
        except node.errors:
            pass  # unreachable: the engine counted the skip; the fire has no record

    async def loop(self) -> None:
        """Send the queued claims, in batches of one fire per job (a job's later fire waits
        for the answer about its earlier one), until cancelled."""
        wake = self._wake
        assert wake is not None
        outage = Outage(self.node.description, "claiming fires")
        while True:
            if not self._queue:  # (after a restart, claims may be waiting already)
                await wake.wait()
            wake.clear()
            await asyncio.sleep(0)  # gather every fire of this loop pass into one batch
            while self._queue:
                batch: list[_Queued] = []
                rest: list[_Queued] = []
                seen: set[str] = set()
                for item in self._queue:
                    if item[0].job_id in seen or len(batch) >= BATCH:
                        rest.append(item)
                    else:
                        seen.add(item[0].job_id)
                        batch.append(item)
                self._queue = rest
                self._idle.clear()
                try:
                    await self._send(batch, outage)
                except BaseException:
                    # unresolved claims go back to the queue (the supervisor restarts the loop)
                    self._queue = [b for b in batch if not b[1].done()] + self._queue
                    raise
                finally:
                    self._idle.set()

    async def _send(self, batch: list[_Queued], outage: Outage) -> None:
        node = self.node
        if any(self._unwritten(r.job_id) for r, _ in batch):
            # A job added a moment ago must be in the database before it is claimed.
            await node.retry(outage, self._flush)
        key = secrets.token_hex(8)
        sent = [0.0]

        async def attempt(
            batch: list[_Queued] = batch,
            key: str = key,
            sent: list[float] = sent,
        ) -> dict[tuple[str, int], int]:
            sent[0] = time.monotonic()
            return await node.pg.claim_fires(
                [r for r, _ in batch],
                node.node_id,
                node.lease,
                key=key,
                max_lead=node.max_clock_lead,
            )

        won = await node.retry(outage, attempt)
        if won:
            fault_point("after_advance")
        for request, fut in batch:
            fire = (request.job_id, to_us(request.fire_ts))
            token = won.get(fire)
            if token == SKIPPED:  # recorded as skipped: a run is going on elsewhere
                self._skipped[fire] = True
                node.counters["claims_skipped"] += 1
                token = None
            elif token is not None:
                node.claimed[fire] = token
                node.confirmed[fire] = sent[0]
                node.counters["claims_won"] += 1
            elif fire not in self._skipped:
                node.counters["claims_lost"] += 1
            if not fut.done():
                fut.set_result(token is not None)
            elif token is not None:  # the engine gave up waiting: hand the fire back
                node.claimed.pop(fire, None)
                node.give_back(fire, token)
