"""What the parts of one cluster node share: its settings, its standing in the cluster, and
its book of the fires it holds.

:class:`NodeState` is plain state and a few queueing steps that never wait; each part
(:mod:`._claims`, :mod:`._leases`, :mod:`._outcomes`, :mod:`._recovery`, :mod:`._changes`)
gets the one instance of its :class:`~asyncron._cluster.ClusterJournal` and changes it only
from the scheduler's event loop, so no lock guards it. The one lock it holds, :attr:`io`,
orders this node's *statements* on its own fire rows (renewals, outcomes, hand-backs): one
at a time, so that neither can be refused, or deadlocked, because of the other.

A fire is named by its key, ``(job id, fire instant in UTC microseconds)``, and held under a
token the database gave it (a zombie's write with an old token changes nothing). Its life on
this node::

    claim won -> claimed -> (the engine starts the run) -> running -> ending -> written
                    \\-> handed back (stopping, fenced, cancelled job: not run here)

Also here: :class:`Outage` (a database outage logged once), :meth:`NodeState.retry` (a call
retried with backoff through one) and :func:`cancel_all` (background loops stopped for sure).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, TypeVar

from .._core._hooks import hooks_of
from ..stores.postgres import PostgresStore

if TYPE_CHECKING:
    from .._scheduler import AsyncScheduler

__all__ = ["BATCH", "HandBack", "Key", "NodeState", "Outage", "Outcome", "cancel_all"]

logger = logging.getLogger("asyncron")

T = TypeVar("T")

#: At most this many fires go into one statement.
BATCH = 1000

#: A fire: (job id, fire instant in UTC microseconds).
Key = tuple[str, int]
#: An outcome to write: (job id, fire us, token, state, error).
Outcome = tuple[str, int, int, str, str | None]
#: A fire to hand back: (job id, fire us, token, started).
HandBack = tuple[str, int, int, bool]


class Outage:
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


async def cancel_all(tasks: list[asyncio.Task[None]], within: float = 5.0) -> None:
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


class NodeState:
    """One node's settings, standing and fires (see the module's docstring).

    The settings are the :class:`~asyncron._cluster.ClusterJournal`'s arguments of the same
    names, already checked.
    """

    def __init__(
        self,
        pg: PostgresStore,
        node_id: str,
        *,
        lease: float,
        poll_interval: float,
        max_clock_lead: float,
        max_early_wait: float,
        fire_retention: float,
        node_timeout: float,
    ) -> None:
        self.pg = pg
        self.node_id = node_id
        self.lease = lease
        self.poll_interval = poll_interval
        self.max_clock_lead = max_clock_lead
        self.max_early_wait = max_early_wait
        self.fire_retention = fire_retention
        self.node_timeout = node_timeout
        #: The engine, while the journal is open.
        self.engine: AsyncScheduler | None = None
        #: The exception types meaning "the database cannot be reached" (set at open).
        self.errors: tuple[type[BaseException], ...] = ()
        #: True while this node may be taken for dead (its session lost for too long): it runs
        #: nothing and claims nothing until it has its lock back (see ``_leases``).
        self.fenced = False
        #: Set whenever :attr:`fenced` turns False.
        self.unfenced = asyncio.Event()
        #: True from the start of ``close()``: claim nothing, take nothing over.
        self.closing = False
        #: The database clock minus the engine's clock, seconds.
        self.clock_offset = 0.0
        #: Counters for monitoring (``ClusterJournal.counters``).
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
        # -- the book of fires --
        #: Fires this node won and has not started yet: key -> token.
        self.claimed: dict[Key, int] = {}
        #: Fires running here (or ended, their outcome not written yet): key -> token.
        self.running: dict[Key, int] = {}
        #: When each held lease was last known good: the local monotonic instant at which the
        #: statement that granted or renewed it was sent (the database's expiry is later).
        self.confirmed: dict[Key, float] = {}
        #: Fires whose end is queued in :attr:`finishing` (each is queued once).
        self.ending: set[Key] = set()
        #: Outcomes waiting to be written.
        self.finishing: list[Outcome] = []
        #: Fires waiting to be handed back, written before the outcomes.
        self.hand_back: list[HandBack] = []
        #: Wakes the writer of outcomes and hand-backs (while open).
        self.finish_wake: asyncio.Event | None = None
        #: One statement at a time on this node's own fire rows (while open).
        self.io: asyncio.Lock | None = None

    @property
    def description(self) -> str:
        """The store's description, for log messages."""
        return self.pg.description

    def engine_time(self) -> float:
        """Now, by the engine's clock (the system clock while no engine is attached)."""
        engine = self.engine
        return time.time() if engine is None else engine.clock.time()

    def stopping(self) -> bool:
        """True once this node takes nothing new: it is closing, or its scheduler stops."""
        engine = self.engine
        return self.closing or (engine is not None and hooks_of(engine).stopping)

    def wake_writer(self) -> None:
        """Tell the writer that outcomes or hand-backs are queued."""
        if self.finish_wake is not None:
            self.finish_wake.set()

    def started(self, key: Key) -> bool:
        """The engine started the run of a claimed fire: it is running now (True), unless it
        was never this node's to run (False)."""
        token = self.claimed.pop(key, None)
        if token is None:
            return False
        self.running[key] = token
        return True

    def give_back(self, key: Key, token: int, *, started: bool = False) -> None:
        """Queue the fire ``key`` to be handed back for another node to take: one never
        started is run by the taker as it is; a ``started`` one (cut short here) is recovered
        per its ``on_crash``."""
        self.hand_back.append((key[0], key[1], token, started))
        self.wake_writer()

    def end(self, key: Key, token: int, state: str, error: str | None = None) -> None:
        """Queue the outcome of the fire ``key`` (once: the first outcome queued wins)."""
        self.ending.add(key)
        self.finishing.append((key[0], key[1], token, state, error))
        self.wake_writer()

    async def retry(self, outage: Outage, call: Callable[[], Awaitable[T]]) -> T:
        """Run ``call`` until it succeeds, backing off while the database is unreachable.

        Raises:
            Exception: a connection error once the journal is closing.
        """
        delay = 0.05
        while True:
            try:
                result = await call()
            except self.errors as exc:
                if self.closing:
                    raise
                outage.failed(exc)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 2.0)
                continue
            outage.ok()
            return result
