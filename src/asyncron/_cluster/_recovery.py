"""Recovery: the fires no node is running any more.

Every node sweeps about once a second (sooner when another node announces fires handed
back) for fires whose lease expired, fires handed back, and the running fires of dead nodes
(:meth:`~asyncron.stores.postgres.PostgresStore.recover_expired`, ``SKIP LOCKED``, so nodes
sweeping at once share the work). The contract, per fire taken:

- ``on_crash="abandon"``: recorded as abandoned by the sweep itself, and logged;
- ``on_crash="rerun"``: run here once more (``current_run().recovering``, ``attempt`` + 1),
  unless a run of the job is going on (here or elsewhere) and its overlap policy forbids a
  second one: the fire is then given back, to be taken again at a later sweep, so it is
  re-run once and never beside another run of the job;
- a fire handed back (never started by the node that won it) runs here as it is, or is
  recorded as skipped when the overlap policy says so, or is handed back again;
- a node that is fenced or stopping takes nothing.
"""

from __future__ import annotations

import asyncio
import logging
import time
from datetime import UTC, datetime

from .._core._hooks import hooks_of
from .._faults import fault_point
from ..abc import Recovered
from ..stores.postgres import to_us
from ._state import NodeState, Outage

__all__ = ["Recovery"]

logger = logging.getLogger("asyncron")


class Recovery:
    """Sweeps for fires to take over, and re-runs or records them."""

    def __init__(self, node: NodeState) -> None:
        self.node = node
        self._wake: asyncio.Event | None = None

    def open(self) -> None:
        """Start taking fires over (the journal then runs :meth:`loop`)."""
        self._wake = asyncio.Event()

    def closed(self) -> None:
        self._wake = None

    def sweep_now(self) -> None:
        """Sweep at once (another node handed fires back)."""
        if self._wake is not None:
            self._wake.set()

    async def loop(self) -> None:
        """Sweep until cancelled."""
        node = self.node
        outage = Outage(node.description, "recovering expired leases")
        wake = self._wake
        assert wake is not None
        period = min(node.poll_interval, node.lease / 3, node.node_timeout / 6)
        since_prune = 0.0
        while True:
            try:
                await asyncio.wait_for(wake.wait(), period)
            except TimeoutError:
                pass
            wake.clear()
            since_prune += period
            if node.fenced or node.stopping():
                continue  # a node that may be taken for dead (or is stopping) takes nothing
            try:
                sent = time.monotonic()
                found = await node.pg.recover_expired(
                    node.node_id, node.lease, node_timeout=node.node_timeout
                )
                if since_prune > 60:
                    since_prune = 0.0
                    await node.pg.prune(node.fire_retention)
            except node.errors as exc:
                outage.failed(exc)
                continue
            outage.ok()
            for rec in found:
                if rec.state == "abandoned":
                    node.counters["recovered_abandoned"] += 1
                    logger.warning(
                        "job %s: the run scheduled at %s on node %s was cut short (node dead or "
                        "lease expired); recorded as abandoned (on_crash='abandon')",
                        rec.job_id,
                        datetime.fromtimestamp(rec.fire_ts, UTC).isoformat(),
                        rec.previous_owner,
                    )
                    continue
                node.confirmed[(rec.job_id, to_us(rec.fire_ts))] = sent
                await self._rerun(rec)

    async def _rerun(self, rec: Recovered) -> None:
        node = self.node
        engine = node.engine
        job_id, fire_ts, token = rec.job_id, rec.fire_ts, rec.token
        key = (job_id, to_us(fire_ts))
        handed_back = bool(getattr(rec, "handed_back", False))
        fault_point("after_recover")
        job = None if engine is None else hooks_of(engine).job(job_id)
        busy = job is not None and job.running > 0
        if job is not None and not busy and job.opts.overlap != "allow_all":
            # a later fire of the job may be running on another node meanwhile (this fire's
            # node was cut off, or stopped): the overlap policy holds across nodes
            try:
                busy = await node.pg.running_elsewhere(node.node_id, job_id, key[1]) > 0
            except node.errors:
                busy = True
            if busy and not handed_back:
                # an interrupted run waits for that run to end: given back, it is taken again
                # at a later sweep (re-run once, never beside another run of the job)
                await self._release(key, token)
                return
        if handed_back and busy and job is not None and job.opts.overlap != "allow_all":
            # a fire handed back while this job runs here (or elsewhere): the policy skips it
            node.running[key] = token
            node.end(key, token, "skipped", "skipped: the previous run was still going")
            assert engine is not None
            hooks_of(engine).count_skip(job, fire_ts, "overlap: the previous run is still going")
            return
        node.claimed[key] = token
        if engine is None:
            started = False
        else:
            started = hooks_of(engine).run_recovered(
                job_id, fire_ts, rec.attempt, recovering=not handed_back
            )
        if started:
            node.claimed.pop(key, None)
            node.running.setdefault(key, token)
            if handed_back:
                node.counters["taken_handed_back"] += 1
                return
            node.counters["recovered_rerun"] += 1
            logger.warning(
                "job %s: re-running the fire scheduled at %s (attempt %d): node %s died or "
                "stopped renewing its lease (on_crash='rerun')",
                job_id,
                datetime.fromtimestamp(fire_ts, UTC).isoformat(),
                rec.attempt,
                rec.previous_owner,
            )
            return
        node.claimed.pop(key, None)
        if handed_back:
            node.give_back(key, token)  # for another node
            return
        await self._release(key, token)

    async def _release(self, key: tuple[str, int], token: int) -> None:
        """Give a fire taken over back unrun: it expires at once for a later sweep."""
        node = self.node
        try:
            await node.pg.release_fire(node.node_id, key[0], key[1], token)
        except node.errors:
            pass  # it expires again by itself
