"""The PostgreSQL store's first half: its connection pool, its lifecycle, and the
:class:`~asyncron.abc.Store` contract on the ``jobs`` table (what any store does).

The second half, claims, leases and outcomes on the ``fires`` table, is
:class:`asyncron.stores.postgres.PostgresStore`, built on this class.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

from .._serialize import dumps
from ..abc import Store, StoredJob
from ..errors import StoreError
from ._pg_base import FINAL, asyncpg_module, check_schema, definition_hash, redact, split_schema
from ._pg_schema import check_readable, migrate
from ._pg_sql import statements

if TYPE_CHECKING:
    import asyncpg  # type: ignore[import-untyped]

__all__ = ["PostgresJobs"]

logger = logging.getLogger("asyncron.stores")


class PostgresJobs(Store):
    """Job records in PostgreSQL: the pool, open and close, and the ``Store`` contract.

    See :class:`~asyncron.stores.postgres.PostgresStore` for the arguments.

    Raises:
        ValueError: a schema name that is not a plain identifier, or a URL that is not
            ``postgresql://``.
    """

    def __init__(
        self,
        dsn: str,
        *,
        schema: str | None = None,
        min_size: int = 1,
        max_size: int = 6,
        connect_timeout: float = 5.0,
        application_name: str = "asyncron",
        read_only: bool = False,
    ) -> None:
        dsn, url_schema = split_schema(dsn)
        schema = check_schema(schema or url_schema or "asyncron")
        self.dsn = dsn
        self.schema = schema
        self.min_size = min_size
        self.max_size = max_size
        self.connect_timeout = connect_timeout
        self.application_name = application_name
        #: Opened read-only: the schema is not created or migrated, the server refuses every
        #: write of this store's sessions (``default_transaction_read_only``).
        self.read_only = read_only
        #: The NOTIFY channel of this schema.
        self.channel = f"asyncron_{schema}"[:63]
        #: Set by the journal: written into the change log so a node ignores its own changes.
        self.node_id = ""
        self._pool: asyncpg.Pool | None = None
        self._listener: asyncpg.Connection | None = None
        self._s = f'"{schema}"'
        self._sql = statements(self._s)

    # -- lifecycle ------------------------------------------------------------------------------

    @property
    def description(self) -> str:
        return f"PostgreSQL store {redact(self.dsn)} (schema {self.schema})"

    def _p(self) -> asyncpg.Pool:
        if self._pool is None:
            raise StoreError(f"{self.description}: the store is not open")
        return self._pool

    async def open(self) -> None:
        if self._pool is not None:
            return
        asyncpg = asyncpg_module()
        settings = {"application_name": self.application_name}
        if self.read_only:
            settings["default_transaction_read_only"] = "on"
        try:
            self._pool = await asyncpg.create_pool(
                self.dsn,
                min_size=self.min_size,
                max_size=self.max_size,
                timeout=self.connect_timeout,
                command_timeout=30.0,
                # No statement cache invalidation surprises across schema migrations.
                max_inactive_connection_lifetime=60.0,
                server_settings=settings,
            )
            async with self._p().acquire() as conn:
                if self.read_only:
                    await check_readable(conn, self._s, self.description)
                else:
                    await migrate(conn, self._s, self.description)
        except StoreError:
            await self.close()
            raise
        except Exception as exc:
            await self.close()
            raise StoreError(f"{self.description}: cannot be opened: {exc}") from exc

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
        """Insert or replace job records and delete the ids in ``remove``, in one transaction;
        announce (change log and ``NOTIFY``) the new, removed and redefined jobs.

        A write that changes a job's record but not its definition (:func:`definition_hash`:
        run statistics, say) is written and not announced; one equal to the stored record but
        for its version is not written (several nodes scheduling the same job at start-up).
        Once claims have moved a job's next fire, only claims and definition changes move it;
        the claim watermark is never touched here. The stored version is the larger of the
        written one and the stored one plus one. Rows are written in id order, so two nodes
        writing the same jobs never deadlock.

        Raises:
            StoreError: the write failed, or the store was opened read-only; nothing was
                changed.
        """
        if self.read_only:
            raise StoreError(f"{self.description} was opened read-only: nothing was written")
        # by id, each with its position in the batch (the order list_jobs keeps)
        rows, order = _by_id(put)
        s = self._s
        try:
            async with self._p().acquire() as conn, conn.transaction():
                changed: list[str] = []
                if rows:
                    result = await conn.fetch(
                        self._sql.upsert,
                        [j.id for j in rows],
                        [dumps(j.to_doc()) for j in rows],
                        [definition_hash(j) for j in rows],
                        [j.status for j in rows],
                        [j.next_run for j in rows],
                        [j.version for j in rows],
                        order,
                    )
                    changed.extend(r["id"] for r in result if r["announce"])
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
        return await self._rows(sql, now, FINAL)

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


def _by_id(put: Sequence[StoredJob]) -> tuple[list[StoredJob], list[int]]:
    """The records in id order, and the position in ``put`` of each. A record written twice in
    one batch counts once, as its last copy (where ``put`` names it first)."""
    first: dict[str, int] = {}
    last: dict[str, StoredJob] = {}
    for pos, job in enumerate(put):
        first.setdefault(job.id, pos)
        last[job.id] = job
    ids = sorted(last)
    return [last[i] for i in ids], [first[i] for i in ids]
