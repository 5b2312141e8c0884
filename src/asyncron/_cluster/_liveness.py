"""A cluster node's life as the database sees it, kept from a thread of its own.

The node's :class:`~asyncron.stores.postgres.NodeSession` (a connection holding the node's
session-level advisory lock, and a heartbeat written through it every ``node_timeout / 6``
seconds) lives on a private event loop in a daemon thread, so that a busy scheduler loop (a
burst of thousands of runs, a job that blocks the loop for a second) never makes the heartbeat
late. Other nodes take this node for dead only when its lock is free (its connection closed:
the process died, or the server ended the session) *and* its heartbeat is older than
``node_timeout``.

So a live node that loses the session must stop its runs before that: when the session cannot
be taken back within ``0.9 * node_timeout`` of the last heartbeat that proved the lock held,
the keeper *fences* the node (``on_fence``, run on the scheduler's loop: stop every run, claim
nothing) until it has its lock back (``on_back``). A session that never ended kept its lock
all along, so a heartbeat that is merely late fences nothing.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Callable

from ..stores.postgres import NodeSession

logger = logging.getLogger("asyncron")

__all__ = ["FENCE_AT", "NodeKeeper"]

#: The fraction of ``node_timeout`` after the last good heartbeat at which a node that cannot
#: show the database its session stops its runs (the other nodes wait the whole timeout).
FENCE_AT = 0.9


class NodeKeeper:
    """Keeps a :class:`NodeSession` alive in a thread; fences the node when it cannot.

    Args:
        session: the node's session (its connection is used only from the keeper's thread).
        node_timeout: seconds after which the other nodes may take this node for dead once its
            session has ended.
        errors: exception types meaning "the database cannot be reached".
        on_fence: called on the scheduler's loop with the seconds since the last good heartbeat
            when the node must stop its runs.
        on_back: called on the scheduler's loop when the node holds its lock (again).
    """

    def __init__(
        self,
        session: NodeSession,
        node_timeout: float,
        errors: tuple[type[BaseException], ...],
        on_fence: Callable[[float], None],
        on_back: Callable[[], None],
    ) -> None:
        self.session = session
        self.node_timeout = node_timeout
        self.errors: tuple[type[BaseException], ...] = (*errors, TimeoutError)
        self.on_fence = on_fence
        self.on_back = on_back
        self._main: asyncio.AbstractEventLoop | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._wake: asyncio.Event | None = None
        self._thread: threading.Thread | None = None
        self._first: asyncio.Future[bool] | None = None

    async def start(self, timeout: float) -> bool:
        """Start the thread and wait up to ``timeout`` seconds for the lock: True once held
        (otherwise the node stays fenced until the keeper gets it)."""
        self._main = asyncio.get_running_loop()
        self._first = self._main.create_future()
        self._thread = threading.Thread(
            target=self._run, name=f"asyncron-node-{self.session.node_id}", daemon=True
        )
        self._thread.start()
        try:
            return await asyncio.wait_for(asyncio.shield(self._first), timeout)
        except TimeoutError:
            return False

    async def stop(self) -> None:
        """Leave: the keeper deletes the node's row and closes its connection (freeing the
        lock), then its thread ends."""
        loop, stop, thread = self._loop, self._stop, self._thread
        if loop is not None and stop is not None:
            try:
                loop.call_soon_threadsafe(stop.set)
            except RuntimeError:  # its loop has ended already
                pass
        if thread is not None:
            await asyncio.to_thread(thread.join, 10.0)
        self._thread = None

    def _to_main(self, func: Callable[..., None], *args: object) -> None:
        main = self._main
        if main is not None and not main.is_closed():
            try:
                main.call_soon_threadsafe(func, *args)
            except RuntimeError:  # the scheduler's loop is closing
                pass

    def _started(self, ok: bool) -> None:
        first = self._first
        if first is not None and not first.done():
            first.set_result(ok)

    def _run(self) -> None:
        asyncio.run(self._keep())

    async def _keep(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = stop = asyncio.Event()
        self._wake = wake = asyncio.Event()
        loop = self._loop

        def lost() -> None:
            loop.call_soon_threadsafe(wake.set)

        self.session.on_lost = lost
        period = self.node_timeout / 6
        fence_after = self.node_timeout * FENCE_AT
        alive_at = time.monotonic()  # the node starts fenced: nothing to stop yet
        fenced = True
        failed = True
        delay = 0.02
        warned = False
        # a heartbeat still on its way: a late answer on an open connection is waited for until
        # the fence instant (cancelling it, or reconnecting, would end the session that holds
        # the lock, and so tell the other nodes that this live node is dead)
        beating: asyncio.Future[None] | None = None
        beat_sent = 0.0
        try:
            while not stop.is_set():
                now = time.monotonic()
                deadline = alive_at + fence_after
                alive = self.session.alive() and not failed
                if not alive and not fenced and now >= deadline:
                    fenced = True
                    self._to_main(self.on_fence, now - alive_at)
                if fenced:
                    budget = max(self.session.store.connect_timeout, 1.0)
                elif deadline - now > 0.05:
                    budget = deadline - now
                else:
                    budget = 0.3 if alive else 0.05
                wake.clear()
                sent = time.monotonic()
                try:
                    if alive:
                        if beating is None:
                            beat_sent = time.monotonic()
                            beating = asyncio.ensure_future(self.session.beat())
                        sent = beat_sent
                        done, _ = await asyncio.wait({beating}, timeout=budget)
                        if (
                            not done
                            and self.session.alive()
                            and time.monotonic() < alive_at + fence_after
                        ):
                            continue  # late, on an open connection: the lock is still held
                        task, beating = beating, None
                        if not done:  # too late (a network cut?): reconnect, and fence below
                            task.cancel()
                            raise TimeoutError(
                                f"node {self.session.node_id}: no answer to its heartbeat"
                            )
                        task.result()
                    else:
                        beating = None
                        await asyncio.wait_for(self.session.connect(), budget)
                except Exception as exc:  # any failure: the session cannot be shown alive
                    failed = True
                    if not isinstance(exc, self.errors):
                        logger.exception("node %s: heartbeat failed", self.session.node_id)
                    elif not warned:
                        warned = True
                        logger.warning(
                            "node %s: its database session failed (%s: %s); reconnecting",
                            self.session.node_id,
                            type(exc).__name__,
                            exc,
                        )
                    if not fenced and time.monotonic() >= alive_at + fence_after:
                        fenced = True
                        self._to_main(self.on_fence, time.monotonic() - alive_at)
                    try:
                        await asyncio.wait_for(stop.wait(), delay)
                    except TimeoutError:
                        pass
                    delay = min(delay * 2, 0.5)
                    continue
                failed = False
                delay = 0.02
                alive_at = sent
                if warned:
                    warned = False
                    logger.warning(
                        "node %s: its database session is back (%.2f s after the last heartbeat)",
                        self.session.node_id,
                        time.monotonic() - alive_at,
                    )
                if fenced:
                    fenced = False
                    self._to_main(self.on_back)
                    self._to_main(self._started, True)
                try:
                    await asyncio.wait_for(_first_of(stop, wake), period)
                except TimeoutError:
                    pass
        finally:
            if beating is not None:
                beating.cancel()
            await self.session.close()


async def _first_of(a: asyncio.Event, b: asyncio.Event) -> None:
    """Return when either event is set."""
    tasks = [asyncio.ensure_future(a.wait()), asyncio.ensure_future(b.wait())]
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in tasks:
            task.cancel()
