"""This node's membership of the cluster, as the database sees it (:class:`NodeSession`)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ._pg_base import asyncpg_module
from ._pg_jobs import PostgresJobs

if TYPE_CHECKING:
    import asyncpg  # type: ignore[import-untyped]

__all__ = ["NodeSession"]


class NodeSession:
    """This node's life as the database sees it: one dedicated connection that holds a
    session-level advisory lock (``nodes.lock_key``) and writes a heartbeat into ``nodes``.

    When the process dies its connection closes and the server frees the lock at once; the
    other nodes take its fires over once its heartbeat is also older than their
    ``node_timeout`` (see
    :meth:`~asyncron.stores.postgres.PostgresStore.recover_expired`). A live node that loses this
    connection reconnects and takes its lock back (ending its old backend first, in case the
    server still keeps it), or stops its runs before that timeout.
    """

    def __init__(self, store: PostgresJobs, node_id: str, lock_key: int) -> None:
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
        asyncpg = asyncpg_module()
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
