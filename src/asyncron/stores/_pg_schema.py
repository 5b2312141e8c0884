"""The PostgreSQL store's tables, and their migration from one schema version to the next.

:func:`migrate` runs at every open, in one transaction under an advisory lock, so that several
nodes starting at once do not race each other: one migrates, the others wait and then find the
schema ready. A schema newer than :data:`SCHEMA_VERSION` is refused and left unchanged.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..errors import StoreError, StoreVersionError

if TYPE_CHECKING:
    import asyncpg  # type: ignore[import-untyped]

__all__ = ["SCHEMA_VERSION", "check_readable", "migrate"]

#: The schema this version writes. Older schemas are migrated at open; newer ones are refused.
SCHEMA_VERSION = 3

# Step n brings a schema at version n - 1 to version n. ``{s}`` is the quoted schema name.
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


async def migrate(conn: asyncpg.Connection, s: str, description: str) -> None:
    """Create the schema ``s`` (quoted) or bring it to :data:`SCHEMA_VERSION`, in one
    transaction on ``conn``.

    Raises:
        StoreVersionError: the schema is newer than this asyncron; nothing was changed.
    """
    async with conn.transaction():
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
                f"{description} has schema version {version}, newer than the version "
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


async def check_readable(conn: asyncpg.Connection, s: str, description: str) -> None:
    """Check, without writing anything, that the schema ``s`` (quoted) holds a store of exactly
    :data:`SCHEMA_VERSION` (what a read-only open needs: it may not migrate).

    Raises:
        StoreError: the schema has no asyncron store.
        StoreVersionError: the store's schema is older (a read-write open migrates it) or
            newer than this asyncron.
    """
    name = s.strip('"')
    found = await conn.fetchval("SELECT to_regclass($1)", f"{s}.meta")
    if found is None:
        raise StoreError(f"{description}: schema {name} holds no asyncron store")
    row = await conn.fetchval(f"SELECT value FROM {s}.meta WHERE key = 'schema_version'")
    version = 0 if row is None or not str(row).isdigit() else int(row)
    if version > SCHEMA_VERSION:
        raise StoreVersionError(
            f"{description} has schema version {version}, newer than the version "
            f"{SCHEMA_VERSION} this asyncron understands; upgrade asyncron"
        )
    if version < SCHEMA_VERSION:
        raise StoreVersionError(
            f"{description} has schema version {version}, older than {SCHEMA_VERSION}; a "
            "read-only open does not migrate it (a scheduler opening it read-write does)"
        )
