"""The PostgreSQL store: several scheduler processes on one database, each fire run once.

Built on asyncpg (``pip install 'asyncron[postgres]'``). Everything lives in one schema
(``asyncron`` by default), created and migrated by :meth:`PostgresStore.open` under an advisory
lock, so several nodes starting at once do not race each other.

Tables:

- ``jobs``: one row per job. ``doc`` is the :class:`~asyncron.abc.StoredJob` document the
  journal wrote (the job's *definition*; run statistics in it are those of the last writer),
  ``def_hash`` a digest of the definition (writes that change nothing are not written and not
  announced), ``last_claimed_us`` the claim watermark (the scheduled instant, in UTC
  microseconds, of the newest fire claimed; only claims move it, and only forward), ``next_run``
  the next fire after the watermark, ``version`` the row's fencing counter.
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
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import re
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from .._serialize import dumps
from ..abc import ClaimRequest, ClaimStore, Recovered, StoredJob
from ..errors import StoreError, StoreVersionError

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

logger = logging.getLogger("asyncron.stores")

#: The schema this version writes. Older schemas are migrated at open; newer ones are refused.
SCHEMA_VERSION = 3

_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,50}$")
_FINAL = ["completed", "failed", "cancelled", "skipped"]

# Errors that mean "the connection or the server went away": retried by the journal.
_CONNECTION_ERRORS: tuple[type[BaseException], ...] = (OSError, ConnectionError, TimeoutError)


def connection_errors() -> tuple[type[BaseException], ...]:
    """Exception types that mean the database is (temporarily) unreachable."""
    import asyncpg

    return (
        *_CONNECTION_ERRORS,
        asyncpg.PostgresConnectionError,
        asyncpg.InterfaceError,
        asyncpg.CannotConnectNowError,
        asyncpg.AdminShutdownError,
        asyncpg.ConnectionFailureError,
        # a connection the server terminated in the middle of an operation, then reused:
        # "cannot switch to state N; another operation is in progress"
        asyncpg.InternalClientError,
    )


def definition_hash(job: StoredJob) -> str:
    """A digest of what defines a job (not of its run statistics).

    Two nodes that schedule the same job the same way compute the same digest, so neither
    rewrites nor announces it. ``paused`` and ``cancelled`` are part of the definition; the other
    statuses are each node's own view of its runs.
    """
    status = job.status if job.status in ("paused", "cancelled") else "active"
    doc = {
        "name": job.name,
        "func_ref": job.func_ref,
        "trigger": job.trigger,
        "arguments": job.arguments,
        "max_runs": job.max_runs,
        "options": job.options,
        "status": status,
    }
    return hashlib.blake2b(dumps(doc).encode("utf-8"), digest_size=12).hexdigest()


def to_us(ts: float) -> int:
    """POSIX seconds to integer microseconds (the fire identity's instant)."""
    return round(ts * 1_000_000)


#: The token :meth:`PostgresStore.claim_fires` returns for a fire it recorded as skipped.
SKIPPED = 0


@dataclass(frozen=True, slots=True)
class FireRecord:
    """One row of the ``fires`` table (for monitoring and tests)."""

    job_id: str
    fire_ts: float
    owner: str
    state: str
    attempt: int
    token: int
    on_crash: str
    error: str | None


class PostgresStore(ClaimStore):
    """Jobs in PostgreSQL, shared by any number of scheduler processes.

    Args:
        dsn: a ``postgresql://`` URL (libpq syntax; ``?schema=name`` selects the schema too).
        schema: the schema holding the tables (created if missing). Letters, digits, ``_``.
        min_size, max_size: connection pool bounds.
        connect_timeout: seconds for one connection attempt.
        application_name: shown in ``pg_stat_activity`` (monitoring; tests use it to find the
            scheduler's connections).

    Use it through :class:`asyncron.ClusterJournal` (what ``postgresql://`` URLs select): the
    plain single-process journal would not claim fires.

    Raises:
        ValueError: a schema name that is not a plain identifier.
    """

    supports_claims: ClassVar[bool] = True

    def __init__(
        self,
        dsn: str,
        *,
        schema: str | None = None,
        min_size: int = 1,
        max_size: int = 6,
        connect_timeout: float = 5.0,
        application_name: str = "asyncron",
    ) -> None:
        dsn, url_schema = _split_schema(dsn)
        schema = schema or url_schema or "asyncron"
        if not _IDENT.match(schema):
            raise ValueError(
                f"schema: expected letters, digits and '_' (not starting with a digit, at most "
                f"51 characters), got {schema!r}"
            )
        self.dsn = dsn
        self.schema = schema
        self.min_size = min_size
        self.max_size = max_size
        self.connect_timeout = connect_timeout
        self.application_name = application_name
        #: The NOTIFY channel of this schema.
        self.channel = f"asyncron_{schema}"[:63]
        #: Set by the journal: written into the change log so a node ignores its own changes.
        self.node_id = ""
        self._pool: asyncpg.Pool | None = None
        self._listener: asyncpg.Connection | None = None
        s = f'"{schema}"'
        self._s = s
        self._sql_claim = f"""
WITH req AS (
    SELECT * FROM unnest($1::text[], $2::bigint[], $3::bigint[], $4::text[], $9::int[])
        AS r(job_id, fire_us, next_us, on_crash, max_running)
), prior AS (
    SELECT f.job_id, f.fire_us, f.token, f.state FROM {s}.fires f
    JOIN req r ON r.job_id = f.job_id AND r.fire_us = f.fire_us
    WHERE f.claim_key = $5 AND f.owner = $6
), locked AS (
    SELECT j.id, r.fire_us, r.next_us, r.on_crash,
        (r.max_running IS NOT NULL AND (
            SELECT count(*) FROM {s}.fires f
            WHERE f.job_id = j.id AND f.state = 'running'
              AND (f.owner <> $6 OR r.max_running < 0)
              AND f.lease_until > clock_timestamp()
        ) >= abs(r.max_running)) AS busy
    FROM {s}.jobs j JOIN req r ON r.job_id = j.id
    WHERE (j.last_claimed_us IS NULL OR j.last_claimed_us < r.fire_us)
      AND r.fire_us <= (extract(epoch FROM clock_timestamp()) * 1000000)::bigint + $7
    ORDER BY j.id
    FOR UPDATE OF j
), adv AS (
    UPDATE {s}.jobs j
    SET last_claimed_us = l.fire_us, next_run = l.next_us / 1000000.0, version = j.version + 1
    FROM locked l WHERE j.id = l.id
    RETURNING j.id, l.fire_us, l.on_crash, j.version, l.busy
), ins AS (
    INSERT INTO {s}.fires
        (job_id, fire_us, owner, state, attempt, token, on_crash, claim_key, claimed_at,
         lease_until, finished_at, error)
    SELECT id, fire_us, $6, CASE WHEN busy THEN 'skipped' ELSE 'running' END, 1,
           CASE WHEN busy THEN {SKIPPED} ELSE version END, on_crash, $5, now(),
           clock_timestamp() + make_interval(secs => $8),
           CASE WHEN busy THEN clock_timestamp() END,
           CASE WHEN busy THEN 'skipped: the previous run was still going (overlap)' END
    FROM adv
    ON CONFLICT (job_id, fire_us) DO NOTHING
    RETURNING job_id, fire_us, token
)
SELECT job_id, fire_us, token FROM ins
UNION ALL
SELECT job_id, fire_us, token FROM prior
"""
        # Renewals and outcomes lock their rows in (job_id, fire_us) order, so that two of them
        # (or any two statements of this module) can never wait for each other in a cycle.
        self._sql_renew = f"""
WITH r AS (
    SELECT * FROM unnest($3::text[], $4::bigint[], $5::bigint[]) AS r(job_id, fire_us, token)
), locked AS (
    SELECT f.job_id, f.fire_us FROM {s}.fires f
    JOIN r ON f.job_id = r.job_id AND f.fire_us = r.fire_us
    WHERE f.owner = $1 AND f.token = r.token AND f.state = 'running'
      AND f.lease_until > clock_timestamp()
    ORDER BY f.job_id, f.fire_us
    FOR UPDATE OF f
)
UPDATE {s}.fires f SET lease_until = clock_timestamp() + make_interval(secs => $2)
FROM locked l WHERE f.job_id = l.job_id AND f.fire_us = l.fire_us
RETURNING f.job_id, f.fire_us
"""
        # Returns the fires recorded now *and* those this node had recorded already (a write
        # retried after its commit was not acknowledged): only a fire missing from the answer
        # was taken over by another node.
        self._sql_finish = f"""
WITH r AS (
    SELECT * FROM unnest($2::text[], $3::bigint[], $4::bigint[], $5::text[], $6::text[])
        AS r(job_id, fire_us, token, state, error)
), locked AS (
    SELECT f.job_id, f.fire_us, r.state, r.error FROM {s}.fires f
    JOIN r ON f.job_id = r.job_id AND f.fire_us = r.fire_us
    WHERE f.owner = $1 AND f.token = r.token AND f.state = 'running'
    ORDER BY f.job_id, f.fire_us
    FOR UPDATE OF f
), upd AS (
    UPDATE {s}.fires f SET state = l.state, error = l.error, finished_at = clock_timestamp()
    FROM locked l WHERE f.job_id = l.job_id AND f.fire_us = l.fire_us
    RETURNING f.job_id, f.fire_us
)
SELECT job_id, fire_us FROM upd
UNION ALL
SELECT f.job_id, f.fire_us FROM {s}.fires f
JOIN r ON f.job_id = r.job_id AND f.fire_us = r.fire_us
WHERE f.owner = $1 AND f.token = r.token AND f.state NOT IN ('running', 'released')
"""
        # Hand fires back: 'released' (claimed, never started: the taker runs it as it is) or
        # expired now (started and cut short: recovered per on_crash). Then wake the sweepers.
        self._sql_hand_back = f"""
WITH r AS (
    SELECT * FROM unnest($2::text[], $3::bigint[], $4::bigint[], $5::bool[])
        AS r(job_id, fire_us, token, started)
), locked AS (
    SELECT f.job_id, f.fire_us, r.started FROM {s}.fires f
    JOIN r ON f.job_id = r.job_id AND f.fire_us = r.fire_us
    WHERE f.owner = $1 AND f.token = r.token AND f.state = 'running'
    ORDER BY f.job_id, f.fire_us
    FOR UPDATE OF f
)
UPDATE {s}.fires f SET
    state = CASE WHEN l.started THEN 'running' ELSE 'released' END,
    lease_until = clock_timestamp() - interval '1 second'
FROM locked l WHERE f.job_id = l.job_id AND f.fire_us = l.fire_us
RETURNING f.job_id, f.fire_us
"""
        # A fire is recovered when its lease expired, when it was handed back ('released'),
        # or when its owner is dead: the owner's session-level advisory lock is free (its
        # connection closed: the process died) *and* its heartbeat is older than $4 seconds
        # (a live node whose connection dropped gets that long to come back and stops its runs
        # before it). A node whose last heartbeat predates the server's start lost its
        # session to the restart, not necessarily its life: its fires wait for their leases.
        self._sql_recover = f"""
WITH dead_nodes AS MATERIALIZED (
    SELECT n.node_id FROM {s}.nodes n
    WHERE n.node_id <> $1
      AND n.beat < clock_timestamp() - make_interval(secs => $4)
      AND n.beat > pg_postmaster_start_time()
      AND pg_try_advisory_xact_lock(n.lock_key)
), dead AS (
    SELECT f.job_id, f.fire_us, f.state AS was FROM {s}.fires f
    WHERE (f.state = 'running' AND f.lease_until < clock_timestamp())
       OR f.state = 'released'
       OR (f.state = 'running' AND f.owner IN (SELECT node_id FROM dead_nodes))
    ORDER BY f.lease_until
    LIMIT $3
    FOR UPDATE OF f SKIP LOCKED
)
UPDATE {s}.fires f SET
    state = CASE WHEN d.was = 'released' OR f.on_crash = 'rerun' THEN 'running'
                 ELSE 'abandoned' END,
    previous_owner = f.owner,
    owner = CASE WHEN d.was = 'released' OR f.on_crash = 'rerun' THEN $1 ELSE f.owner END,
    attempt = f.attempt + CASE WHEN d.was <> 'released' AND f.on_crash = 'rerun' THEN 1
                               ELSE 0 END,
    token = f.token + 1,
    lease_until = clock_timestamp() + make_interval(secs => $2),
    finished_at = CASE WHEN d.was = 'released' OR f.on_crash = 'rerun' THEN NULL
                       ELSE clock_timestamp() END,
    error = CASE WHEN d.was = 'released' OR f.on_crash = 'rerun' THEN NULL
                 ELSE 'abandoned: node ' || f.owner || ' died or stopped renewing its lease' END,
    recovered_at = clock_timestamp()
FROM dead d WHERE f.job_id = d.job_id AND f.fire_us = d.fire_us
RETURNING f.job_id, f.fire_us, f.state, f.attempt, f.token, f.previous_owner,
    d.was = 'released' AS handed_back
"""

    # -- lifecycle ------------------------------------------------------------------------------

    @property
    def description(self) -> str:
        return f"PostgreSQL store {_redact(self.dsn)} (schema {self.schema})"

    def _p(self) -> asyncpg.Pool:
        if self._pool is None:
            raise StoreError(f"{self.description}: the store is not open")
        return self._pool

    async def open(self) -> None:
        if self._pool is not None:
            return
        try:
            import asyncpg
        except ImportError as exc:  # pragma: no cover - depends on the environment
            raise StoreError(
                "the PostgreSQL store needs asyncpg: pip install 'asyncron[postgres]'"
            ) from exc
        try:
            self._pool = await asyncpg.create_pool(
                self.dsn,
                min_size=self.min_size,
                max_size=self.max_size,
                timeout=self.connect_timeout,
                command_timeout=30.0,
                # No statement cache invalidation surprises across schema migrations.
                max_inactive_connection_lifetime=60.0,
                server_settings={"application_name": self.application_name},
            )
            await self._migrate()
        except StoreError:
            await self.close()
            raise
        except Exception as exc:
            await self.close()
            raise StoreError(f"{self.description}: cannot be opened: {exc}") from exc

    async def _migrate(self) -> None:
        s = self._s
        async with self._p().acquire() as conn, conn.transaction():
            # One node migrates at a time; the others wait and then find the schema ready.
            await conn.execute("SELECT pg_advisory_xact_lock(hashtext($1))", f"asyncron:{s}")
            await conn.execute(f"CREATE SCHEMA IF NOT EXISTS {s}")
            await conn.execute(
                f"CREATE TABLE IF NOT EXISTS {s}.meta (key text PRIMARY KEY, value text NOT NULL)"
            )
            row = await conn.fetchval(f"SELECT value FROM {s}.meta WHERE key = 'schema_version'")
            version = 0 if row is None else int(row)
            if version > SCHEMA_VERSION:
                raise StoreVersionError(
                    f"{self.description} has schema version {version}, newer than the version "
                    f"{SCHEMA_VERSION} this asyncron understands; upgrade asyncron. The database "
                    f"was not changed"
                )
            for step in range(version + 1, SCHEMA_VERSION + 1):
                for statement in _MIGRATIONS[step]:
                    await conn.execute(statement.format(s=s))
            await conn.execute(
                f"INSERT INTO {s}.meta (key, value) VALUES ('schema_version', $1) "
                f"ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                str(SCHEMA_VERSION),
            )

    async def close(self) -> None:
        listener, self._listener = self._listener, None
        if listener is not None:
            try:
                await listener.close(timeout=2.0)
            except Exception:
                listener.terminate()
        pool, self._pool = self._pool, None
        if pool is not None:
            try:
                await pool.close()
            except Exception:  # a server that went away: just drop the connections
                pool.terminate()

    async def drop_schema(self) -> None:
        """Drop the schema and everything in it (tests, teardown of a cluster)."""
        await self._p().execute(f"DROP SCHEMA IF EXISTS {self._s} CASCADE")

    # -- the Store contract -----------------------------------------------------------------------

    async def write_batch(self, put: Sequence[StoredJob], remove: Sequence[str] = ()) -> None:
        """Insert or update job definitions, in one transaction, announcing the changed ids.

        A record whose definition digest equals the stored one is not rewritten (several nodes
        scheduling the same job at start-up write it once). The claim watermark is never touched
        here. Rows are written in id order, so two nodes writing the same jobs never deadlock.

        Raises:
            StoreError: the write failed; nothing was changed.
        """
        rows = sorted(put, key=lambda j: j.id)
        s = self._s
        try:
            async with self._p().acquire() as conn, conn.transaction():
                changed: list[str] = []
                if rows:
                    result = await conn.fetch(
                        f"""
INSERT INTO {s}.jobs AS j (id, doc, def_hash, status, next_run, version)
SELECT * FROM unnest($1::text[], $2::jsonb[], $3::text[], $4::text[], $5::float8[], $6::bigint[])
ON CONFLICT (id) DO UPDATE SET
    doc = excluded.doc, def_hash = excluded.def_hash, status = excluded.status,
    next_run = excluded.next_run, version = j.version + 1
WHERE j.def_hash IS DISTINCT FROM excluded.def_hash
RETURNING id
""",
                        [j.id for j in rows],
                        [dumps(j.to_doc()) for j in rows],
                        [definition_hash(j) for j in rows],
                        [j.status for j in rows],
                        [j.next_run for j in rows],
                        [1] * len(rows),
                    )
                    changed.extend(r["id"] for r in result)
                if remove:
                    result = await conn.fetch(
                        f"DELETE FROM {s}.jobs WHERE id = ANY($1::text[]) RETURNING id",
                        sorted(remove),
                    )
                    changed.extend(r["id"] for r in result)
                if changed:
                    await conn.execute(
                        f"INSERT INTO {s}.changes (job_id, node) SELECT unnest($1::text[]), $2",
                        changed,
                        self.node_id,
                    )
                    payload = self.node_id + ":" + ",".join(changed)
                    if len(payload.encode("utf-8")) > 7000:  # NOTIFY's limit is 8000 bytes
                        payload = self.node_id + ":*"
                    await conn.execute("SELECT pg_notify($1, $2)", self.channel, payload)
        except StoreError:
            raise
        except Exception as exc:
            raise StoreError(f"{self.description}: write failed: {exc}") from exc

    async def get_job(self, job_id: str) -> StoredJob | None:
        rows = await self.get_jobs([job_id])
        return rows[0] if rows else None

    async def get_jobs(self, ids: Iterable[str]) -> list[StoredJob]:
        """The stored records with these ids (missing ids are left out)."""
        return await self._rows("WHERE id = ANY($1::text[])", list(ids))

    async def list_jobs(self) -> list[StoredJob]:
        return await self._rows("ORDER BY created, id")

    async def get_due(self, now: float, limit: int | None = None) -> list[StoredJob]:
        sql = "WHERE next_run IS NOT NULL AND next_run <= $1 AND status <> ALL($2::text[]) "
        sql += "ORDER BY next_run, id"
        if limit is not None:
            sql += f" LIMIT {int(limit)}"
        return await self._rows(sql, now, _FINAL)

    async def _rows(self, where: str, *args: Any) -> list[StoredJob]:
        try:
            rows = await self._p().fetch(
                f"SELECT id, doc, next_run, version FROM {self._s}.jobs {where}", *args
            )
        except StoreError:
            raise
        except Exception as exc:
            raise StoreError(f"{self.description}: read failed: {exc}") from exc
        out: list[StoredJob] = []
        for row in rows:
            try:
                doc = json.loads(row["doc"])
                # The cluster's view of the next fire (moved by claims) wins over the writer's.
                doc["next_run"] = row["next_run"]
                doc["version"] = int(row["version"])
                out.append(StoredJob.from_doc(doc))
            except (ValueError, TypeError) as exc:
                logger.warning(
                    "%s: record %r kept but not loaded: %s", self.description, row["id"], exc
                )
        return out

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
            self._sql_claim,
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
            self._sql_renew,
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
            self._sql_finish,
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
            self._sql_recover, owner, float(lease_seconds), limit, float(node_timeout)
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
                self._sql_hand_back,
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
        import asyncpg

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


class NodeSession:
    """This node's life as the database sees it: one dedicated connection that holds a
    session-level advisory lock (``nodes.lock_key``) and writes a heartbeat into ``nodes``.

    When the process dies its connection closes and the server frees the lock at once; the
    other nodes take its fires over once its heartbeat is also older than their
    ``node_timeout`` (see :meth:`PostgresStore.recover_expired`). A live node that loses this
    connection reconnects and takes its lock back (ending its old backend first, in case the
    server still keeps it), or stops its runs before that timeout.
    """

    def __init__(self, store: PostgresStore, node_id: str, lock_key: int) -> None:
        self.store = store
        self.node_id = node_id
        self.lock_key = lock_key
        self._conn: asyncpg.Connection | None = None
        self._pid: int | None = None
        self.on_lost: Callable[[], None] | None = None

    def alive(self) -> bool:
        """True while the connection holding the lock is open."""
        return self._conn is not None and not self._conn.is_closed()

    async def connect(self) -> None:
        """Open the connection, take the lock and register (or refresh) the node's row.

        Raises:
            Exception: the connection errors of :func:`connection_errors`; ``TimeoutError``
                when the lock stays taken (the old backend of this node lingers).
        """
        import asyncpg

        old, self._conn = self._conn, None
        if old is not None:
            old.terminate()
        st = self.store
        conn = await asyncpg.connect(
            st.dsn,
            timeout=st.connect_timeout,
            server_settings={"application_name": st.application_name},
        )
        try:
            if self._pid is not None:
                # the server may still keep our old session (and the lock) after a network cut
                await conn.execute(
                    "SELECT pg_terminate_backend(pid) FROM pg_locks WHERE locktype = 'advisory' "
                    "AND pid = $1 AND granted AND ((classid::bigint << 32) | objid::bigint) = $2",
                    self._pid,
                    self.lock_key,
                )
            for _ in range(50):
                if await conn.fetchval("SELECT pg_try_advisory_lock($1)", self.lock_key):
                    break
                await asyncio.sleep(0.02)  # a sweeper holds it for a moment, or the old session
            else:
                raise TimeoutError(f"node {self.node_id}: its advisory lock stays taken")
            self._pid = int(await conn.fetchval("SELECT pg_backend_pid()"))
            await conn.execute(
                f"INSERT INTO {st._s}.nodes (node_id, lock_key, pid) VALUES ($1, $2, $3) "
                f"ON CONFLICT (node_id) DO UPDATE SET lock_key = excluded.lock_key, "
                f"pid = excluded.pid, beat = clock_timestamp()",
                self.node_id,
                self.lock_key,
                self._pid,
            )
        except BaseException:
            conn.terminate()
            raise

        def terminated(_c: Any) -> None:
            if self.on_lost is not None:
                self.on_lost()

        conn.add_termination_listener(terminated)
        self._conn = conn

    async def beat(self) -> None:
        """Write the heartbeat through the locked connection (which proves the lock is held).

        Raises:
            Exception: the connection errors of :func:`connection_errors`.
        """
        conn = self._conn
        if conn is None or conn.is_closed():
            raise ConnectionError(f"node {self.node_id}: the node connection is closed")
        await conn.execute(
            f"UPDATE {self.store._s}.nodes SET beat = clock_timestamp() WHERE node_id = $1",
            self.node_id,
        )

    async def close(self) -> None:
        """Leave the cluster: delete the node's row (its remaining fires, if any, are left to
        their leases) and close the connection, which frees the lock."""
        conn, self._conn = self._conn, None
        if conn is None:
            return
        try:
            await asyncio.wait_for(
                conn.execute(f"DELETE FROM {self.store._s}.nodes WHERE node_id = $1", self.node_id),
                2.0,
            )
            await conn.close(timeout=2.0)
        except Exception:
            conn.terminate()


_MIGRATIONS: dict[int, list[str]] = {
    1: [
        """CREATE TABLE IF NOT EXISTS {s}.jobs (
            id text PRIMARY KEY,
            doc jsonb NOT NULL,
            def_hash text NOT NULL,
            status text NOT NULL,
            next_run double precision,
            last_claimed_us bigint,
            version bigint NOT NULL DEFAULT 1,
            created timestamptz NOT NULL DEFAULT clock_timestamp()
        )""",
        "CREATE INDEX IF NOT EXISTS jobs_next_run ON {s}.jobs (next_run)",
        """CREATE TABLE IF NOT EXISTS {s}.fires (
            job_id text NOT NULL,
            fire_us bigint NOT NULL,
            owner text NOT NULL,
            previous_owner text,
            state text NOT NULL,
            attempt integer NOT NULL,
            token bigint NOT NULL,
            on_crash text NOT NULL,
            claim_key text NOT NULL DEFAULT '',
            claimed_at timestamptz NOT NULL,
            lease_until timestamptz NOT NULL,
            recovered_at timestamptz,
            finished_at timestamptz,
            error text,
            PRIMARY KEY (job_id, fire_us)
        )""",
        "CREATE INDEX IF NOT EXISTS fires_running ON {s}.fires (lease_until) "
        "WHERE state = 'running'",
        "CREATE INDEX IF NOT EXISTS fires_finished ON {s}.fires (finished_at) "
        "WHERE state <> 'running'",
        """CREATE TABLE IF NOT EXISTS {s}.changes (
            seq bigserial PRIMARY KEY,
            job_id text NOT NULL,
            node text NOT NULL,
            at timestamptz NOT NULL DEFAULT clock_timestamp()
        )""",
    ],
    # 2: the cluster-wide overlap check counts a job's running fires
    2: [
        "CREATE INDEX IF NOT EXISTS fires_running_job ON {s}.fires (job_id) "
        "WHERE state = 'running'",
    ],
    # 3: live nodes (a session-level advisory lock and a heartbeat each), handed-back fires
    3: [
        """CREATE TABLE IF NOT EXISTS {s}.nodes (
            node_id text PRIMARY KEY,
            lock_key bigint NOT NULL,
            pid integer,
            started timestamptz NOT NULL DEFAULT clock_timestamp(),
            beat timestamptz NOT NULL DEFAULT clock_timestamp()
        )""",
        "CREATE INDEX IF NOT EXISTS fires_live_owner ON {s}.fires (owner) WHERE state = 'running'",
        "CREATE INDEX IF NOT EXISTS fires_released ON {s}.fires (lease_until) "
        "WHERE state = 'released'",
    ],
}


def _split_schema(dsn: str) -> tuple[str, str | None]:
    """Take a ``schema=`` query parameter out of the URL (asyncpg would pass it to the server)."""
    from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

    parts = urlsplit(dsn)
    if parts.scheme not in ("postgresql", "postgres", "postgresql+asyncpg"):
        raise ValueError(f"dsn: expected a postgresql:// URL, got {_redact(dsn)!r}")
    query = parse_qsl(parts.query, keep_blank_values=True)
    schema = next((v for k, v in query if k == "schema"), None)
    rest = [(k, v) for k, v in query if k != "schema"]
    scheme = "postgresql"
    return urlunsplit((scheme, parts.netloc, parts.path, urlencode(rest), parts.fragment)), schema


def _redact(dsn: str) -> str:
    """The URL without its password (for messages)."""
    return re.sub(r"(://[^:/@]*:)[^@]*@", r"\1***@", dsn)
