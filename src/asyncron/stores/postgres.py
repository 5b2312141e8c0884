"""The PostgreSQL store: several scheduler processes on one database, each fire run once.

Built on asyncpg (``pip install 'asyncron[postgres]'``). Everything lives in one schema
(``asyncron`` by default), created and migrated by :meth:`PostgresStore.open` under an advisory
lock, so several nodes starting at once do not race each other.

Tables:

- ``jobs``: one row per job. ``doc`` is the :class:`~asyncron.abc.StoredJob` document the
  journal wrote (the job's *definition*; run statistics in it are those of the last writer),
  ``def_hash`` a digest of the definition (writes that change no definition are not announced,
  and those that change nothing are not written), ``last_claimed_us`` the claim watermark (the
  scheduled instant, in UTC microseconds, of the newest fire claimed; only claims move it, and
  only forward), ``next_run`` the next fire after the watermark, ``version`` the row's fencing
  counter.
- ``fires``: the fire identity ``(job_id, fire_us)`` as primary key (RELIABILITY R1), with its
  owner node, lease expiry (database clock), attempt number, fencing ``token`` and final state
  (``running``, ``succeeded``, ``failed``, ``cancelled``, ``abandoned``).
- ``changes``: a short log of job ids whose definition changed, read by the other nodes when a
  ``NOTIFY`` (ids only, a hint: R12) arrives or, when the listener is down, by polling.
- ``meta``: the schema version.

A claim is one statement: lock the job row, check that the fire is newer than the watermark
and due by the database clock, move the watermark and ``next_run``, and insert the fire
identity (``ON CONFLICT DO NOTHING``): the advance and the fire record commit together (R1), and
the condition is the fire identity plus the watermark, never a status (R2). Leases expire on
the database clock and every later write presents the fire's token (R3).

The parts: :mod:`._pg_base` (what they all share), :mod:`._pg_schema` (the tables and their
migrations), :mod:`._pg_sql` (the statements of claims, leases, outcomes and recovery),
:mod:`._pg_jobs` (the pool, the lifecycle and the ``Store`` contract), :mod:`._pg_node` (a node's
membership: its advisory lock and heartbeat), and here :class:`PostgresStore`, the
``ClaimStore`` half: claims, leases, outcomes, recovery, the change log and ``LISTEN``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, Any, ClassVar

from ..abc import ClaimRequest, ClaimStore, Recovered

# ``x as x``: re-exported, the journal and the tests import them from here
from ._pg_base import SKIPPED as SKIPPED
from ._pg_base import FireRecord, asyncpg_module, definition_hash
from ._pg_base import connection_errors as connection_errors
from ._pg_base import to_us as to_us
from ._pg_jobs import PostgresJobs
from ._pg_node import NodeSession
from ._pg_schema import SCHEMA_VERSION

if TYPE_CHECKING:
    import asyncpg  # type: ignore[import-untyped]

__all__ = [
    "SCHEMA_VERSION",
    "ClaimRequest",
    "FireRecord",
    "NodeSession",
    "PostgresStore",
    "Recovered",
    "definition_hash",
]


class PostgresStore(PostgresJobs, ClaimStore):
    """Jobs in PostgreSQL, shared by any number of scheduler processes.

    Args:
        dsn: a ``postgresql://`` URL (libpq syntax; ``?schema=name`` selects the schema too).
        schema: the schema holding the tables (created if missing). Letters, digits, ``_``.
        min_size, max_size: connection pool bounds.
        connect_timeout: seconds for one connection attempt.
        application_name: shown in ``pg_stat_activity`` (monitoring; tests use it to find the
            scheduler's connections).
        read_only: only read (``asyncron jobs``): the schema must hold a store of this
            version and is neither created nor migrated; every write is refused by the server
            (``StoreError``).

    Use it through :class:`asyncron.ClusterJournal` (what ``postgresql://`` URLs select): the
    plain single-process journal would not claim fires.

    The ``Store`` half (pool, lifecycle, job records) is :class:`._pg_jobs.PostgresJobs`; this
    class adds the ``ClaimStore`` half, on the ``fires``, ``changes`` and ``nodes`` tables.

    Raises:
        ValueError: a schema name that is not a plain identifier.
    """

    supports_claims: ClassVar[bool] = True

    async def claim_fire(
        self, job_id: str, fire_ts: float, owner: str, lease_seconds: float
    ) -> bool:
        won = await self.claim_fires([ClaimRequest(job_id, fire_ts, None)], owner, lease_seconds)
        return any(token != SKIPPED for token in won.values())

    # -- claims, leases, recovery ---------------------------------------------------------------

    async def claim_fires(
        self,
        requests: Sequence[ClaimRequest],
        owner: str,
        lease_seconds: float,
        *,
        key: str | None = None,
        max_lead: float = 0.25,
    ) -> dict[tuple[str, int], int]:
        """Claim fires in one statement; returns ``{(job_id, fire_us): token}`` for those won.

        A fire is won when it is newer than the job's claim watermark, due by the database
        clock (at most ``max_lead`` seconds early) and not recorded yet. A won fire of a job
        that already has ``max_running`` fires running on *other* nodes under a live lease is
        recorded as ``skipped`` instead, and its token is :data:`SKIPPED` (the overlap policy,
        applied cluster-wide; the claiming node applies it to its own runs itself). A negative
        ``max_running`` counts this node's running fires too (``-1``: none may be running). ``key`` identifies the
        attempt: repeating a call with the same key after a lost connection returns what the
        first call won (a claim whose commit was not acknowledged is not lost, and not doubled).
        Requests must name each job at most once.

        Raises:
            Exception: the connection errors of :func:`connection_errors` (retry them), or
                ``StoreError``.
        """
        if not requests:
            return {}
        rows = await self._p().fetch(
            self._sql.claim,
            [r.job_id for r in requests],
            [to_us(r.fire_ts) for r in requests],
            [None if r.next_ts is None else to_us(r.next_ts) for r in requests],
            [r.on_crash for r in requests],
            key or "",
            owner,
            int(max_lead * 1_000_000),
            float(lease_seconds),
            [r.max_running for r in requests],
        )
        return {(r["job_id"], int(r["fire_us"])): int(r["token"]) for r in rows}

    async def renew_leases(
        self, owner: str, fires: Sequence[tuple[str, int, int]], lease_seconds: float
    ) -> set[tuple[str, int]]:
        """Extend the leases of ``owner``'s running fires ``(job_id, fire_us, token)``; returns
        those renewed. A fire missing from the result was lost (lease expired on the database
        clock, or taken over): its run must stop."""
        if not fires:
            return set()
        rows = await self._p().fetch(
            self._sql.renew,
            owner,
            float(lease_seconds),
            [f[0] for f in fires],
            [f[1] for f in fires],
            [f[2] for f in fires],
        )
        return {(r["job_id"], int(r["fire_us"])) for r in rows}

    async def finish_fires(
        self, owner: str, outcomes: Sequence[tuple[str, int, int, str, str | None]]
    ) -> set[tuple[str, int]]:
        """Record the end of fires ``(job_id, fire_us, token, state, error)``; returns those
        written. A write whose token no longer matches (a zombie's) changes nothing."""
        if not outcomes:
            return set()
        rows = await self._p().fetch(
            self._sql.finish,
            owner,
            [o[0] for o in outcomes],
            [o[1] for o in outcomes],
            [o[2] for o in outcomes],
            [o[3] for o in outcomes],
            [o[4] for o in outcomes],
        )
        return {(r["job_id"], int(r["fire_us"])) for r in rows}

    async def recover_expired(
        self, owner: str, lease_seconds: float, limit: int = 100, node_timeout: float = 1.2
    ) -> list[Recovered]:
        """Take over running fires whose lease expired (database clock), fires handed back, and
        the running fires of dead nodes (session lock free and heartbeat older than
        ``node_timeout`` seconds), ``SKIP LOCKED`` so that nodes sweeping at once share the
        work. ``rerun`` fires become ``owner``'s (attempt + 1); ``abandon`` fires are recorded
        as abandoned; handed-back fires become ``owner``'s with their attempt unchanged."""
        rows = await self._p().fetch(
            self._sql.recover, owner, float(lease_seconds), limit, float(node_timeout)
        )
        return [
            Recovered(
                r["job_id"],
                int(r["fire_us"]) / 1_000_000,
                r["state"],
                int(r["attempt"]),
                int(r["token"]),
                r["previous_owner"] or "",
                bool(r["handed_back"]),
            )
            for r in rows
        ]

    async def hand_back(
        self, owner: str, fires: Sequence[tuple[str, int, int, bool]]
    ) -> set[tuple[str, int]]:
        """Give back ``owner``'s fires ``(job_id, fire_us, token, started)`` for another node to
        take at once: a fire never started is run by the taker as it is; a started one (cut
        short) is recovered per its ``on_crash``. Announces it, so that the other nodes sweep
        now. Returns the fires handed back (a fire taken over meanwhile is not)."""
        if not fires:
            return set()
        async with self._p().acquire() as conn, conn.transaction():
            rows = await conn.fetch(
                self._sql.hand_back,
                owner,
                [f[0] for f in fires],
                [f[1] for f in fires],
                [f[2] for f in fires],
                [f[3] for f in fires],
            )
            if rows:
                await conn.execute("SELECT pg_notify($1, $2)", self.channel, owner + ":!recover")
        return {(r["job_id"], int(r["fire_us"])) for r in rows}

    async def running_elsewhere(self, owner: str, job_id: str, fire_us: int) -> int:
        """How many other fires of the job run on other nodes under a live lease."""
        return int(
            await self._p().fetchval(
                f"SELECT count(*) FROM {self._s}.fires WHERE job_id = $1 AND fire_us <> $2 "
                f"AND state = 'running' AND owner <> $3 AND lease_until > clock_timestamp()",
                job_id,
                fire_us,
                owner,
            )
        )

    async def record_skip(self, owner: str, job_id: str, fire_us: int, on_crash: str) -> bool:
        """Record the fire as ``skipped`` (overlap) unless it has a record already; True when
        recorded. Unlike a claim it ignores the job's claim watermark: a fire that every node
        skipped unclaimed gets its record even after a later fire was claimed, and since a
        skip never runs, it cannot double a run (a fire that has a record keeps it)."""
        rows = await self._p().fetch(
            f"INSERT INTO {self._s}.fires (job_id, fire_us, owner, state, attempt, token, "
            f"on_crash, claimed_at, lease_until, finished_at, error) "
            f"SELECT j.id, $2, $3, 'skipped', 1, {SKIPPED}, $4, now(), clock_timestamp(), "
            f"clock_timestamp(), 'skipped: the previous run was still going (overlap)' "
            f"FROM {self._s}.jobs j WHERE j.id = $1 "
            f"ON CONFLICT (job_id, fire_us) DO NOTHING RETURNING job_id",
            job_id,
            fire_us,
            owner,
            on_crash,
        )
        return bool(rows)

    async def release_fire(self, owner: str, job_id: str, fire_us: int, token: int) -> None:
        """Give back a fire taken by :meth:`recover_expired` that this node cannot run: it
        expires at once for another node to take."""
        await self._p().execute(
            f"UPDATE {self._s}.fires SET lease_until = clock_timestamp() - interval '1 second', "
            f"attempt = attempt - 1, token = token + 1, owner = coalesce(previous_owner, owner) "
            f"WHERE job_id = $1 AND fire_us = $2 AND owner = $3 AND token = $4",
            job_id,
            fire_us,
            owner,
            token,
        )

    async def recent_fires(self, job_id: str, limit: int) -> list[dict[str, Any]]:
        """The job's last ``limit`` fires that ended (run to an outcome anywhere in the cluster),
        oldest first: ``fire_us``, ``owner``, ``state``, ``attempt``, ``started`` and
        ``finished`` (POSIX seconds), ``error``."""
        rows = await self._p().fetch(
            f"SELECT fire_us, owner, state, attempt, error, "
            f"extract(epoch FROM coalesce(recovered_at, claimed_at))::float8 AS started, "
            f"extract(epoch FROM finished_at)::float8 AS finished "
            f"FROM {self._s}.fires WHERE job_id = $1 AND state NOT IN ('running', 'skipped') "
            f"AND finished_at IS NOT NULL ORDER BY fire_us DESC, attempt DESC LIMIT $2",
            job_id,
            limit,
        )
        return [dict(r) for r in reversed(rows)]

    async def database_time(self) -> float:
        """The database server's clock, POSIX seconds."""
        value = await self._p().fetchval("SELECT extract(epoch FROM clock_timestamp())::float8")
        return float(value)

    async def changes_since(self, seq: int, limit: int = 5000) -> tuple[list[tuple[str, str]], int]:
        """Changed job ids after ``seq`` as ``(job_id, node)``, and the newest seq seen."""
        rows = await self._p().fetch(
            f"SELECT seq, job_id, node FROM {self._s}.changes WHERE seq > $1 ORDER BY seq LIMIT $2",
            seq,
            limit,
        )
        top = max((int(r["seq"]) for r in rows), default=seq)
        return [(r["job_id"], r["node"]) for r in rows], top

    async def last_change(self) -> int:
        """The newest change sequence number (0 when none)."""
        value = await self._p().fetchval(f"SELECT coalesce(max(seq), 0) FROM {self._s}.changes")
        return int(value)

    async def prune(self, fire_retention: float, change_retention: float = 3600.0) -> None:
        """Delete finished fire records older than ``fire_retention`` seconds and old change
        entries. The claim watermark keeps stale fires unclaimable after their rows are gone."""
        await self._p().execute(
            f"DELETE FROM {self._s}.fires WHERE state <> 'running' "
            f"AND finished_at < clock_timestamp() - make_interval(secs => $1)",
            float(fire_retention),
        )
        await self._p().execute(
            f"DELETE FROM {self._s}.changes WHERE at < clock_timestamp() - make_interval(secs => $1)",
            float(change_retention),
        )
        await self._p().execute(
            f"DELETE FROM {self._s}.nodes n WHERE n.beat < clock_timestamp() - interval '1 hour' "
            f"AND NOT EXISTS (SELECT 1 FROM {self._s}.fires f WHERE f.owner = n.node_id "
            f"AND f.state = 'running')"
        )

    async def list_fires(self, job_id: str | None = None) -> list[FireRecord]:
        """Fire records (newest last), optionally of one job: what ran where, and how it ended."""
        where, args = ("WHERE job_id = $1", [job_id]) if job_id is not None else ("", [])
        rows = await self._p().fetch(
            f"SELECT job_id, fire_us, owner, state, attempt, token, on_crash, error "
            f"FROM {self._s}.fires {where} ORDER BY fire_us, job_id",
            *args,
        )
        return [
            FireRecord(
                r["job_id"],
                int(r["fire_us"]) / 1_000_000,
                r["owner"],
                r["state"],
                int(r["attempt"]),
                int(r["token"]),
                r["on_crash"],
                r["error"],
            )
            for r in rows
        ]

    async def listen(
        self,
        on_notify: Callable[[str], None],
        on_lost: Callable[[], None],
    ) -> None:
        """Open the dedicated LISTEN connection; ``on_notify(payload)`` for each notification,
        ``on_lost()`` once when the connection ends.

        Raises:
            Exception: the connection could not be made (retry later).
        """
        asyncpg = asyncpg_module()
        old, self._listener = self._listener, None
        if old is not None:
            old.terminate()
        conn = await asyncpg.connect(
            self.dsn,
            timeout=self.connect_timeout,
            server_settings={"application_name": self.application_name},
        )

        def notified(_c: Any, _pid: int, _channel: str, payload: str) -> None:
            on_notify(payload)

        def terminated(_c: Any) -> None:
            on_lost()

        conn.add_termination_listener(terminated)
        await conn.add_listener(self.channel, notified)
        self._listener = conn

    def listener_alive(self) -> bool:
        """True while the LISTEN connection is open."""
        return self._listener is not None and not self._listener.is_closed()

    async def run(self, func: Callable[[asyncpg.Connection], Awaitable[Any]]) -> Any:
        """Run ``func(connection)`` with a pooled connection (escape hatch for tools)."""
        async with self._p().acquire() as conn:
            return await func(conn)
