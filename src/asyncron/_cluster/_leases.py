"""Leases: how long this node may go on running the fires it holds, and what it does when
it may not.

Each fire a node wins or takes over carries a lease on the database clock, ``lease`` seconds
long, renewed every ``lease / 3`` seconds by :meth:`Leases.renew_loop` (one statement for every
fire held). The contract:

- a fire whose renewal is refused (lease expired on the database clock, or taken over) is
  lost: its local run is stopped (``EngineHooks.lease_lost``) and its outcome is not written;
- while the database cannot be reached, a run is stopped *before* its lease may have lapsed
  (:meth:`Leases.expire_unconfirmed`, counting from the instant the statement that last
  granted or renewed it was sent), so another node that takes the fire over once the database
  is back never runs it beside this one;
- the node's liveness (:mod:`._liveness`, a session lock and heartbeat kept from a thread)
  fences the node when it may be taken for dead (:meth:`Leases.fence`: every run stopped and
  handed back, nothing claimed) and lifts the fence when it holds its lock again
  (:meth:`Leases.back`).
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import time

from .._core._hooks import hooks_of
from .._faults import fault_point
from ..stores.postgres import NodeSession
from ._liveness import NodeKeeper
from ._state import Key, NodeState, Outage

__all__ = ["Leases"]

logger = logging.getLogger("asyncron")


class Leases:
    """Renews this node's leases, stops the runs it may no longer hold, keeps it alive."""

    def __init__(self, node: NodeState) -> None:
        self.node = node
        self._keeper: NodeKeeper | None = None

    # -- liveness -------------------------------------------------------------------------------

    async def start_keeper(self) -> None:
        """Fence the node until it holds its session lock, and start keeping it (waits up to
        the store's connect timeout for the lock; logs when the node starts fenced)."""
        node = self.node
        node.fenced = True  # until the keeper holds this node's lock
        node.unfenced.clear()
        self._keeper = NodeKeeper(
            NodeSession(node.pg, node.node_id, secrets.randbits(62) + 1),
            node.node_timeout,
            node.errors,
            self.fence,
            self.back,
        )
        if not await self._keeper.start(node.pg.connect_timeout):
            logger.warning(
                "%s: could not register this node in the database yet; it claims nothing "
                "until it has",
                node.node_id,
            )

    async def stop_keeper(self) -> None:
        """Leave the ``nodes`` table and free the session lock."""
        keeper, self._keeper = self._keeper, None
        if keeper is not None:
            await keeper.stop()

    def back(self) -> None:
        """The node holds its lock (again): claim and take over fires again."""
        node = self.node
        if node.fenced and not node.closing:
            node.fenced = False
            node.unfenced.set()
            if node.counters["fences"]:
                logger.warning("%s: has its database session back; claiming again", node.node_id)

    def fence(self, silent_for: float) -> None:
        """Stop everything this node runs: it may be taken for dead (see :mod:`._liveness`).
        The fires are handed back once the database can be reached again (unless another
        node has taken them over by then)."""
        node = self.node
        node.fenced = True
        node.unfenced.clear()
        node.counters["fences"] += 1
        for key, token in list(node.claimed.items()):
            del node.claimed[key]
            node.hand_back.append((key[0], key[1], token, False))
        stopping = [k for k in node.running if k not in node.ending]
        logger.warning(
            "%s: lost its database session %.1f s ago and could not take it back; it may be "
            "taken for dead, so it stops its %d run(s) and claims nothing until it is back",
            node.node_id,
            silent_for,
            len(stopping),
        )
        for key in stopping:
            node.hand_back.append((key[0], key[1], node.running[key], True))
            self.lose(key, lost=False)
        node.wake_writer()

    # -- renewal --------------------------------------------------------------------------------

    async def renew_loop(self) -> None:
        """Renew every lease held, every ``lease / 3`` seconds, until cancelled."""
        node = self.node
        outage = Outage(node.description, "renewing leases")
        period = node.lease / 3
        delay = period
        io = node.io
        assert io is not None
        while True:
            await asyncio.sleep(delay)
            delay = period
            fault_point("before_renew")
            try:
                # (bounded: an answer that never comes, a network cut, is an outage, and the
                # runs are stopped before their leases can lapse)
                budget = self._budget(period)
                t0 = node.engine_time()
                db_now = await asyncio.wait_for(node.pg.database_time(), budget)
                t1 = node.engine_time()
                node.clock_offset = db_now - (t0 + t1) / 2
                # One statement at a time on this node's rows: a renewal never runs beside the
                # write of an outcome, so neither can be refused because of the other.
                async with io:
                    # fires running here, and fires won and about to start
                    held = [(k[0], k[1], t) for k, t in node.running.items()]
                    held += [(k[0], k[1], t) for k, t in node.claimed.items()]
                    sent = time.monotonic()
                    renewed = await asyncio.wait_for(
                        node.pg.renew_leases(node.node_id, held, node.lease),
                        self._budget(period),
                    )
                    for job_id, fire_us, token in held:
                        key = (job_id, fire_us)
                        if key in renewed:
                            node.confirmed[key] = sent
                        elif node.running.get(key) == token:
                            self.lose(key)
                        elif node.claimed.get(key) == token:
                            del node.claimed[key]  # not started: it will not be
                            node.counters["leases_lost"] += 1
            except node.errors as exc:
                outage.failed(exc)
                delay = self.expire_unconfirmed(period)
                continue
            outage.ok()
            stale = [k for k in node.confirmed if k not in node.running and k not in node.claimed]
            for key in stale:
                del node.confirmed[key]

    def _budget(self, period: float) -> float:
        """How long a renewal may wait for its answer: until the earliest instant a held lease
        may lapse (then the runs are stopped, see :meth:`expire_unconfirmed`); with nothing
        held, ``period``."""
        node = self.node
        now = time.monotonic()
        margin = min(0.1 * node.lease, 0.5)
        keys = [*node.running, *node.claimed]
        if not keys:
            return period
        soonest = min(node.confirmed.get(k, now) + node.lease - margin for k in keys)
        return max(0.05, soonest - now)

    def expire_unconfirmed(self, period: float) -> float:
        """Stop the runs whose lease may have lapsed while the database could not be reached.

        A lease renewed (or granted) by a statement sent at local instant ``t`` expires on the
        database no earlier than ``t + lease``. Once that instant is near without a renewal,
        another node may take the fire over as soon as the database is back, so this node stops
        its run first (as when a renewal is refused): a ``rerun`` fire then runs again once,
        never twice at the same time. Returns how long to wait before the next renewal attempt.
        """
        node = self.node
        now = time.monotonic()
        margin = min(0.1 * node.lease, 0.5)
        soonest = now + period
        for key in list(node.running):
            if key in node.ending:
                continue  # the run has ended; its outcome is waiting to be written
            expires = node.confirmed.get(key, now) + node.lease - margin
            if expires > now:
                soonest = min(soonest, expires)
            else:
                self.lose(key)
        return max(0.01, min(period, soonest - now))

    def lose(self, key: Key, *, lost: bool = True) -> None:
        """This node no longer holds the fire ``key`` (refused, possibly lapsed, or fenced):
        forget it (its outcome is not written) and stop the local run."""
        node = self.node
        node.running.pop(key, None)
        node.confirmed.pop(key, None)
        if lost:
            node.counters["leases_lost"] += 1
        if node.engine is not None:
            hooks_of(node.engine).lease_lost(key[0], key[1] / 1_000_000)
