"""The SQLite store: stdlib ``sqlite3`` on a dedicated worker thread, WAL mode."""

from __future__ import annotations

import json
import logging
import os
import sqlite3
from collections.abc import Sequence
from pathlib import Path

from .._faults import fault_point
from .._serialize import dumps
from ..abc import StoredJob
from ..errors import StoreError, StoreVersionError
from ._base import ThreadedStore
from ._files import FileLock, move_aside
from ._records import RECORD_ERRORS

__all__ = ["SQLiteStore"]

logger = logging.getLogger("asyncron.stores")

#: The schema this version writes. Older schemas are migrated at open; newer ones are refused.
SCHEMA_VERSION = 1

_SCHEMA = """
CREATE TABLE IF NOT EXISTS asyncron_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS asyncron_jobs (
    id TEXT PRIMARY KEY,
    status TEXT NOT NULL,
    next_run REAL,
    doc TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS asyncron_jobs_next_run ON asyncron_jobs (next_run);
"""
_FINAL = ("completed", "failed", "cancelled", "skipped")


def _schema_version(value: object, where: str) -> int:
    """The stored ``schema_version`` as a number.

    Raises:
        StoreVersionError: it is not a whole number (the database is not changed).
    """
    text = str(value)
    if not (text.isascii() and text.isdigit() and len(text) < 10):
        raise StoreVersionError(
            f"{where}: asyncron_meta.schema_version is {text[:40]!r}, not a version number (this "
            f"asyncron reads versions 1 to {SCHEMA_VERSION}); the database was not changed. "
            f"Restore it from a backup, or correct that row by hand"
        )
    return int(text)


class SQLiteStore(ThreadedStore):
    """Jobs in an SQLite database, for a single process.

    WAL mode, one transaction per batch (a crash leaves the last committed batch). The
    connection lives on the store's own thread, so the event loop never blocks on disk. An
    exclusive lock on ``<db>.lock`` refuses a second process. A file that is not an SQLite
    database is moved aside (with its ``-wal``/``-shm`` files) and a new database is created; a
    single unreadable record stays in the table, is reported, and is never rewritten.

    Args:
        path: the database file, or ``":memory:"``.
        synchronous: SQLite's ``PRAGMA synchronous`` (``"FULL"`` by default: a committed batch
            survives power loss; ``"NORMAL"`` survives process crashes only, and is faster).
    """

    def __init__(self, path: str | os.PathLike[str], *, synchronous: str = "FULL") -> None:
        if synchronous.upper() not in ("OFF", "NORMAL", "FULL", "EXTRA"):
            raise ValueError(
                f"synchronous: expected OFF, NORMAL, FULL or EXTRA, got {synchronous!r}"
            )
        self.path = Path(path) if str(path) != ":memory:" else None
        self._synchronous = synchronous.upper()
        self._lock = FileLock(self.path) if self.path is not None else None
        self._conn: sqlite3.Connection | None = None
        #: Reasons for each record that could not be read at the last open (kept in the table).
        self.quarantined: list[str] = []
        #: The id of each of those records.
        self.quarantined_ids: list[str] = []
        self._bad_ids: set[str] = set()
        #: Where a corrupt database was moved at the last open, if one was.
        self.moved_aside: Path | None = None

    @property
    def description(self) -> str:
        return f"SQLite database {self.path if self.path is not None else ':memory:'}"

    async def open(self) -> None:
        if self._conn is None:
            await self._run(self._open_sync)

    def _open_sync(self) -> None:
        if self._lock is not None:
            self._lock.acquire(self.description)
        try:
            try:
                self._conn = self._connect()
            except sqlite3.DatabaseError as exc:
                if self.path is None or "not a database" not in str(exc):
                    raise
                self.moved_aside = move_aside(self.path, f"{exc}", extra_suffixes=("-wal", "-shm"))
                self._conn = self._connect()
            self._scan()
        except sqlite3.Error as exc:
            self._close_sync()
            raise StoreError(f"{self.description}: cannot be opened: {exc}") from exc
        except BaseException:
            self._close_sync()
            raise

    def _connect(self) -> sqlite3.Connection:
        target = ":memory:" if self.path is None else str(self.path)
        conn = sqlite3.connect(target, isolation_level=None, timeout=5.0)
        try:
            conn.execute("PRAGMA journal_mode=WAL").fetchone()
            conn.execute(f"PRAGMA synchronous={self._synchronous}")
            conn.executescript(_SCHEMA)
            row = conn.execute(
                "SELECT value FROM asyncron_meta WHERE key='schema_version'"
            ).fetchone()
            if row is None:
                conn.execute(
                    "INSERT INTO asyncron_meta(key, value) VALUES ('schema_version', ?)",
                    (str(SCHEMA_VERSION),),
                )
            else:
                version = _schema_version(row[0], self.description)
                if version > SCHEMA_VERSION:
                    raise StoreVersionError(
                        f"{self.description} has schema version {version}, newer than the "
                        f"version {SCHEMA_VERSION} this asyncron understands; upgrade asyncron. "
                        f"The database was not changed"
                    )
                # Older schemas would be migrated here, one step per version, in a transaction.
        except BaseException:
            conn.close()
            raise
        return conn

    def _scan(self) -> None:
        assert self._conn is not None
        self.quarantined, self.quarantined_ids, self._bad_ids = [], [], set()
        for job_id, doc in self._conn.execute("SELECT id, doc FROM asyncron_jobs ORDER BY rowid"):
            try:
                StoredJob.from_doc(json.loads(doc))
            except RECORD_ERRORS as exc:
                why = "nested too deeply to be read" if isinstance(exc, RecursionError) else exc
                reason = f"{self.description}: record {job_id!r} kept but not loaded: {why}"
                logger.warning("%s", reason)
                self.quarantined.append(reason)
                self.quarantined_ids.append(str(job_id))
                self._bad_ids.add(job_id)

    async def close(self) -> None:
        if self._conn is not None or self._lock is not None:
            await self._run(self._close_sync)
        self._shutdown_worker()

    def _close_sync(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            conn.close()
        if self._lock is not None:
            self._lock.release()

    def _c(self) -> sqlite3.Connection:
        if self._conn is None:
            raise StoreError(f"{self.description}: the store is not open")
        return self._conn

    async def write_batch(self, put: Sequence[StoredJob], remove: Sequence[str] = ()) -> None:
        rows = [(j.id, j.status, j.next_run, dumps(j.to_doc())) for j in put]
        await self._run(self._write_sync, rows, [(i,) for i in remove])

    def _write_sync(
        self, rows: list[tuple[str, str, float | None, str]], remove: list[tuple[str]]
    ) -> None:
        conn = self._c()
        try:
            conn.execute("BEGIN IMMEDIATE")
            try:
                conn.executemany(
                    "INSERT INTO asyncron_jobs(id, status, next_run, doc) VALUES (?, ?, ?, ?) "
                    "ON CONFLICT(id) DO UPDATE SET status=excluded.status, "
                    "next_run=excluded.next_run, doc=excluded.doc",
                    rows,
                )
                if remove:
                    conn.executemany("DELETE FROM asyncron_jobs WHERE id=?", remove)
                fault_point("mid_store_write")
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
        except sqlite3.Error as exc:
            raise StoreError(f"{self.description}: write failed: {exc}") from exc

    def _rows(self, sql: str, params: tuple[object, ...] = ()) -> list[StoredJob]:
        out: list[StoredJob] = []
        try:
            cursor = self._c().execute(sql, params)
            for job_id, doc in cursor:
                if job_id in self._bad_ids:
                    continue
                try:
                    out.append(StoredJob.from_doc(json.loads(doc)))
                except RECORD_ERRORS:
                    continue  # written by someone else after open: reported at the next open
        except sqlite3.Error as exc:
            raise StoreError(f"{self.description}: read failed: {exc}") from exc
        return out

    async def get_job(self, job_id: str) -> StoredJob | None:
        rows = await self._run(
            self._rows, "SELECT id, doc FROM asyncron_jobs WHERE id=?", (job_id,)
        )
        return rows[0] if rows else None

    async def list_jobs(self) -> list[StoredJob]:
        return await self._run(self._rows, "SELECT id, doc FROM asyncron_jobs ORDER BY rowid")

    async def get_due(self, now: float, limit: int | None = None) -> list[StoredJob]:
        sql = (
            "SELECT id, doc FROM asyncron_jobs WHERE next_run IS NOT NULL AND next_run <= ? "
            f"AND status NOT IN {_FINAL!r} ORDER BY next_run, id"
        )
        if limit is not None:
            sql += f" LIMIT {int(limit)}"
        return await self._run(self._rows, sql, (now,))

    async def integrity_check(self) -> str:
        """SQLite's ``PRAGMA integrity_check`` result (``"ok"`` when healthy)."""

        def check() -> str:
            row = self._c().execute("PRAGMA integrity_check").fetchone()
            return str(row[0])

        return await self._run(check)
