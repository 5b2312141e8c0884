"""Outcomes: the final write of each fire this node ran, and the fires it hands back.

When the engine reports that a run of a fire held here has ended
(:meth:`OutcomeWriter.note_ended`), its outcome is queued once; the finish loop writes the
queue, the ends of a burst of runs in one statement, after the fires waiting to be handed
back. The contract:

- each write is fenced by the fire's token: the outcome of a fire another node took over
  meanwhile (this node's lease lapsed) is not recorded, and is counted and logged as such
  (``fenced_writes``); a write retried after its commit was not acknowledged is recognised;
- writes hold ``NodeState.io``, so an outcome never runs beside a renewal of the same node:
  neither is refused, nor deadlocked, because of the other;
- queued items survive an outage (retried with backoff) and are written at ``close()``
  while the database answers.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime

from .._core._state import JobState
from .._faults import fault_point
from ..stores.postgres import to_us
from ._state import BATCH, Key, NodeState, Outage, Outcome

__all__ = ["OutcomeWriter"]

logger = logging.getLogger("asyncron")


class OutcomeWriter:
    """Queues and writes the outcomes and hand-backs of this node's fires."""

    def __init__(self, node: NodeState) -> None:
        self.node = node

    def note_ended(self, job: JobState) -> None:
        """Queue the final write of this node's fires of ``job`` whose run has ended (once
        each: the engine reports a job's changes many times)."""
        node = self.node
        if not node.running:
            return
        live = {to_us(r.fire_ts) for r in job.runs or ()}
        ended = [
            k for k in node.running if k[0] == job.id and k[1] not in live and k not in node.ending
        ]
        if not ended:
            return
        state = "failed" if job.error else "succeeded"
        if job.error and job.error.startswith("CancelledError"):
            state = "cancelled"
        for key in ended:
            token = node.running[key]
            fault_point("before_finish")
            node.ending.add(key)
            node.finishing.append((key[0], key[1], token, state, job.error))
        node.wake_writer()

    def queued(self) -> bool:
        """Whether anything waits to be written."""
        return bool(self.node.finishing or self.node.hand_back)

    async def write(self) -> None:
        """Write what is queued: fires handed back, then outcomes (one statement at a time).

        Raises:
            Exception: the connection errors (the items stay queued).
        """
        node = self.node
        io = node.io
        assert io is not None
        async with io:
            if node.hand_back:
                items = node.hand_back[:BATCH]
                back = list({(h[0], h[1]): h for h in items}.values())
                done = await node.pg.hand_back(node.node_id, back)
                del node.hand_back[: len(items)]
                node.counters["handed_back"] += len(done)
            if not node.finishing:
                return
            batch = node.finishing[:BATCH]
            # each fire once (the first outcome queued for it)
            unique: dict[Key, Outcome] = {}
            for b in batch:
                unique.setdefault((b[0], b[1]), b)
            written = await node.pg.finish_fires(node.node_id, list(unique.values()))
            del node.finishing[: len(batch)]
            for key, item in unique.items():
                node.ending.discard(key)
                if node.running.get(key) == item[2]:
                    del node.running[key]
                if key in written:
                    continue
                # the fire's token changed: another node took it over (this node's lease
                # lapsed); its outcome there wins, this one is not recorded
                node.counters["fenced_writes"] += 1
                logger.error(
                    "job %s: lease lost on the fire at %s (this node stopped renewing it "
                    "in time, e.g. paused or cut off); another node took it over, so this "
                    "run's outcome (%s) was not recorded",
                    key[0],
                    datetime.fromtimestamp(key[1] / 1_000_000, UTC).isoformat(),
                    item[3],
                )

    async def loop(self) -> None:
        """Write the queue whenever something is added to it, until cancelled."""
        node = self.node
        wake = node.finish_wake
        assert wake is not None
        outage = Outage(node.description, "recording fire outcomes")
        while True:
            if not self.queued():  # (after a restart: may be queued)
                await wake.wait()
            wake.clear()
            await asyncio.sleep(0.002)  # gather the ends of a burst into one statement
            while self.queued():
                await node.retry(outage, self.write)
