"""Wake-ups: how a node hears what the other nodes did.

A node that writes a job (added, changed, removed) appends its id to the ``changes`` log and
sends a ``NOTIFY`` carrying ids only; a node that hands fires back sends ``<node>:!recover``.
:class:`RemoteChanges` keeps a ``LISTEN`` connection open for them. The contract:

- a change notification (or, while the listener is down, a poll every ``poll_interval``
  seconds) makes the node read the change log since the last entry it saw and hand each job
  changed elsewhere, with its stored row (None: removed), to ``apply``; entries may commit
  out of order, so a window behind the last one is read again, and ``apply`` must be
  idempotent;
- a ``!recover`` notification makes the node sweep for fires to take over at once;
- the node's own notifications are ignored; a lost listener is logged once and reopened.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from ..abc import StoredJob
from ._state import NodeState, Outage

__all__ = ["RemoteChanges"]

logger = logging.getLogger("asyncron")


class RemoteChanges:
    """Listens for (or polls) the other nodes' changes and hands them to ``apply``.

    Args:
        node: the node's shared state.
        apply: applies one job's stored row (None: removed) to the engine.
        on_handed_back: called when another node handed fires back.
    """

    def __init__(
        self,
        node: NodeState,
        apply: Callable[[str, StoredJob | None], Awaitable[None]],
        on_handed_back: Callable[[], None],
    ) -> None:
        self.node = node
        self._apply = apply
        self._on_handed_back = on_handed_back
        self._wake: asyncio.Event | None = None
        self._seq = 0
        #: True while the LISTEN connection is open.
        self.listening = False

    async def open(self) -> None:
        """Start from the newest change (the jobs were loaded just now).

        Raises:
            Exception: the connection errors of the store.
        """
        self._seq = await self.node.pg.last_change()
        self._wake = asyncio.Event()

    def closed(self) -> None:
        self._wake = None
        self.listening = False

    def _on_notify(self, payload: str) -> None:
        node_id, _, ids = payload.partition(":")
        if node_id == self.node.node_id:
            return  # our own write
        if ids == "!recover":  # fires were handed back: take them now
            self._on_handed_back()
            return
        if self._wake is not None:
            self._wake.set()

    def _on_listener_lost(self) -> None:
        if self.listening and not self.node.closing:
            logger.warning(
                "%s: LISTEN connection lost; polling for changes every %.1f s until it is back",
                self.node.description,
                self.node.poll_interval,
            )
        self.listening = False
        if self._wake is not None:
            self._wake.set()

    async def loop(self) -> None:
        """Listen, and read the change log at each wake-up, until cancelled."""
        node = self.node
        wake = self._wake
        assert wake is not None
        outage = Outage(node.description, "reading job changes")
        delay = node.poll_interval
        while True:
            if not self.listening:
                try:
                    await node.pg.listen(self._on_notify, self._on_listener_lost)
                    if not self.listening and delay > node.poll_interval:
                        logger.warning("%s: LISTEN connection is back", node.description)
                    self.listening = True
                    delay = node.poll_interval
                except node.errors:
                    delay = min(delay * 2, 5.0)
            try:
                await asyncio.wait_for(
                    wake.wait(), node.poll_interval if not self.listening else 10.0
                )
            except TimeoutError:
                pass
            wake.clear()
            try:
                await self._read()
            except node.errors as exc:
                outage.failed(exc)
                continue
            outage.ok()

    async def _read(self) -> None:
        node = self.node
        # Sequence numbers may commit out of order: re-read a window behind the last one seen;
        # applying is idempotent (definition digests are compared).
        changes, top = await node.pg.changes_since(max(0, self._seq - 256))
        self._seq = max(self._seq, top)
        ids = list(dict.fromkeys(job_id for job_id, by in changes if by != node.node_id))
        if not ids:
            return
        rows = {row.id: row for row in await node.pg.get_jobs(ids)}
        for job_id in ids:
            try:
                await self._apply(job_id, rows.get(job_id))
            except Exception:
                logger.exception("job %s: could not apply a change made on another node", job_id)
