"""The SQLite store: stdlib ``sqlite3`` on a dedicated worker thread, WAL mode."""

from __future__ import annotations

import json
import logging
import os
import sqlite3
from collections.abc import Sequence
from pathlib import Path
from urllib.parse import quote

from .._faults import fault_point
from .._serialize import dumps
from ..abc import StoredJob
from ..errors import NotAStoreError, StoreCorruptError, StoreError, StoreVersionError
from . import _files
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

#: ``PRAGMA application_id`` of the databases this store creates ("asyn"): it marks a damaged
#: file as ours even when its tables cannot be read.
APPLICATION_ID = 0x6173796E
_MAGIC = b"SQLite format 3\x00"
_SQLITE_CORRUPT, _SQLITE_NOTADB = 11, 26


def _is_damage(exc: sqlite3.DatabaseError) -> bool:
    """Whether SQLite failed because the file is damaged or not a database (not, say, locked)."""
    code = getattr(exc, "sqlite_errorcode", None)
    if code is not None:
        return code & 0xFF in (_SQLITE_CORRUPT, _SQLITE_NOTADB)
    return "malformed" in str(exc) or "not a database" in str(exc)  # pragma: no cover


def _head(path: Path, size: int) -> bytes:
    """The first ``size`` bytes of ``path`` (empty when it cannot be read)."""
    try:
        with open(path, "rb") as file:
            return file.read(size)
    except OSError:
        return b""


def _truncation(path: Path) -> str | None:
    """Why the database file is shorter than its own header says, or None.

    Only checked without a ``-wal`` file: with one, pages still to be copied into the database
    file (a checkpoint cut short by a crash) make the sizes differ legitimately.
    """
    wal = path.with_name(path.name + "-wal")
    if wal.exists() and wal.stat().st_size > 0:
        return None
    head = _head(path, 100)
    if len(head) < 100 or not head.startswith(_MAGIC):
        return None  # empty (a new database) or no SQLite header: SQLite itself says what it is
    page_size = int.from_bytes(head[16:18], "big")
    page_size = 65536 if page_size == 1 else page_size
    pages = int.from_bytes(head[28:32], "big")
    size_is_valid = head[24:28] == head[92:96]  # the header's size is valid for this change
    actual = path.stat().st_size
    if size_is_valid and pages and actual < pages * page_size:
        return (
            f"truncated: its header counts {pages} pages of {page_size} bytes "
            f"({pages * page_size} bytes), the file has {actual}"
        )
    return None


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
    exclusive lock on ``<db>.lock`` (of the real file: symbolic links are resolved) refuses a
    second process. A damaged asyncron database (truncated, malformed, its header overwritten)
    is moved aside (with its ``-wal``/``-shm`` files) and a new database is created; a file that
    is not an asyncron store (another application's database, any other file) is refused with
    :class:`~asyncron.errors.NotAStoreError` and left byte for byte, no table added. A single
    unreadable record stays in the table, is reported, and is never rewritten.

    Args:
        path: the database file, or ``":memory:"``.
        synchronous: SQLite's ``PRAGMA synchronous`` (``"FULL"`` by default: a committed batch
            survives power loss; ``"NORMAL"`` survives process crashes only, and is faster).
        read_only: only read it: no lock file, no table, no journal-mode change, no ``-wal`` or
            ``-shm`` file when there is none, nothing moved aside (a damaged store raises
            :class:`~asyncron.errors.StoreCorruptError`); writes raise
            :class:`~asyncron.errors.StoreError`.
    """

    def __init__(
        self, path: str | os.PathLike[str], *, synchronous: str = "FULL", read_only: bool = False
    ) -> None:
        if synchronous.upper() not in ("OFF", "NORMAL", "FULL", "EXTRA"):
            raise ValueError(
                f"synchronous: expected OFF, NORMAL, FULL or EXTRA, got {synchronous!r}"
            )
        self.path = Path(path) if str(path) != ":memory:" else None
        self._synchronous = synchronous.upper()
        self.read_only = read_only
        #: The file behind ``path`` (symbolic links resolved), found at each open.
        self._real = self.path
        self._lock: FileLock | None = None
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
        if self.path is not None:
            self._real, self._lock = _files.claim_store_file(
                self.path, self.description, read_only=self.read_only
            )
        try:
            damage = self._connect_and_scan()
            if damage is not None:
                self.moved_aside = self._set_aside(damage)
                self._conn = self._connect()
                self._scan()
        except sqlite3.Error as exc:
            self._close_sync()
            raise StoreError(f"{self.description}: cannot be opened: {exc}") from exc
        except BaseException:
            self._close_sync()
            raise

    def _connect_and_scan(self) -> str | None:
        """Open the connection and read the records; when the file is damaged, the reason (and
        no connection is left open)."""
        if self._real is not None and (damage := _truncation(self._real)) is not None:
            return damage
        try:
            self._conn = self._connect_read_only() if self.read_only else self._connect()
            self._scan()
        except sqlite3.DatabaseError as exc:
            if self._real is None or not _is_damage(exc):
                raise
            conn, self._conn = self._conn, None
            if conn is not None:
                conn.close()
            return str(exc)
        return None

    def _looks_like_ours(self) -> bool:
        """Whether a damaged file was an asyncron database: our application id in its header,
        or our table names in its first pages (where SQLite keeps the schema)."""
        assert self._real is not None
        head = _head(self._real, 1 << 16)
        if head.startswith(_MAGIC) and int.from_bytes(head[68:72], "big") == APPLICATION_ID:
            return True
        return b"asyncron_jobs" in head

    def _set_aside(self, reason: str) -> Path:
        """Move a damaged database aside, if it is ours and the store may write.

        Raises:
            NotAStoreError: nothing says the file is an asyncron store; it is left as it was.
            StoreCorruptError: it is ours but read-only here; it is left where it is.
        """
        assert self._real is not None
        if not self._looks_like_ours():
            raise NotAStoreError(
                f"{self.description} is not an asyncron store: it cannot be read as an SQLite "
                f"database ({reason}) and nothing in it names asyncron's tables; it was left "
                f"untouched. Give the scheduler a file of its own, or, if this is an asyncron "
                f"store that was damaged, move it aside yourself"
            )
        if self.read_only:
            raise StoreCorruptError(
                f"{self.description} is an asyncron store that cannot be read ({reason}); "
                f"opened read-only, it was left where it is (a scheduler opening it moves it "
                f"aside)"
            )
        return move_aside(self._real, reason, extra_suffixes=("-wal", "-shm"))

    def _check_ours(self, conn: sqlite3.Connection, *, may_create: bool) -> None:
        """Refuse a database that is not an asyncron store, before anything is written to it
        (an empty one is ours to create when ``may_create``); mark ours with our application id.

        Raises:
            NotAStoreError: another application's database (or, not ``may_create``, an empty one).
        """
        tables = [
            name
            for (name,) in conn.execute(
                "SELECT name FROM sqlite_master WHERE type='table' ORDER BY name"
            )
        ]
        app_id = int(conn.execute("PRAGMA application_id").fetchone()[0])
        others = [t for t in tables if not t.startswith(("asyncron_", "sqlite_"))]
        if not {"asyncron_jobs", "asyncron_meta"} & set(tables):
            if others or app_id not in (0, APPLICATION_ID):
                what = (
                    f"{len(others)} table(s) of another application "
                    f"({', '.join(repr(t) for t in others[:5])}{', ...' if len(others) > 5 else ''})"
                    if others
                    else f"the application id {app_id:#010x} of another file format"
                )
                raise NotAStoreError(
                    f"{self.description} is not an asyncron store: it is an SQLite database with "
                    f"{what} and no asyncron tables; it was left untouched (no table added, "
                    f"journal mode unchanged). Give the scheduler a database file of its own"
                )
            if not may_create:
                raise NotAStoreError(
                    f"{self.description} is not an asyncron store: the database is empty (no "
                    f"asyncron tables); it was left untouched"
                )
        if may_create and app_id == 0 and not others:
            conn.execute(f"PRAGMA application_id={APPLICATION_ID}")

    def _connect_read_only(self) -> sqlite3.Connection:
        """A read-only connection that creates nothing beside the database file.

        Without a ``-wal`` file every committed change is in the database file itself, so it is
        opened as immutable: SQLite then creates no ``-wal`` or ``-shm`` file either. With one
        (a scheduler has the store open, or crashed), it is read through the WAL.
        """
        assert self._real is not None
        wal = self._real.with_name(self._real.name + "-wal")
        mode = "ro" if wal.exists() else "ro&immutable=1"
        uri = f"file:{quote(str(self._real))}?mode={mode}"
        conn = sqlite3.connect(uri, uri=True, isolation_level=None, timeout=5.0)
        try:
            self._check_ours(conn, may_create=False)
            row = conn.execute(
                "SELECT value FROM asyncron_meta WHERE key='schema_version'"
            ).fetchone()
            text = "" if row is None else str(row[0])
            if text.isascii() and text.isdigit() and int(text) > SCHEMA_VERSION:
                raise StoreVersionError(
                    f"{self.description} has schema version {text}, newer than the version "
                    f"{SCHEMA_VERSION} this asyncron understands; upgrade asyncron"
                )
        except BaseException:
            conn.close()
            raise
        return conn

    def _connect(self) -> sqlite3.Connection:
        target = ":memory:" if self.path is None else str(self._real)
        conn = sqlite3.connect(target, isolation_level=None, timeout=5.0)
        try:
            self._check_ours(conn, may_create=True)
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
        lock, self._lock = self._lock, None
        if lock is not None:
            lock.release()

    def _c(self) -> sqlite3.Connection:
        if self._conn is None:
            raise StoreError(f"{self.description}: the store is not open")
        return self._conn

    async def write_batch(self, put: Sequence[StoredJob], remove: Sequence[str] = ()) -> None:
        if self.read_only:
            raise StoreError(f"{self.description}: opened read-only; nothing was written")
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
