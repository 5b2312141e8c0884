"""The JSON file store: one human-readable file, rewritten atomically on every batch."""

from __future__ import annotations

import json
import logging
import os
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .._serialize import dumps
from ..abc import StoredJob
from ..errors import NotAStoreError, StoreCorruptError, StoreError, StoreVersionError
from . import _files
from ._base import ThreadedStore
from ._files import FileLock, atomic_write, move_aside, remove_stale_temps
from ._records import RECORD_ERRORS, record_id, split_document

__all__ = ["JsonFileStore"]

logger = logging.getLogger("asyncron.stores")

FORMAT = "asyncron.jobs"
#: The file format this version writes. Older versions are migrated on load; newer are refused.
VERSION = 1

#: How every file this store writes begins (a truncated file of ours begins with a part of it).
_SIGNATURE = b'{"format":"' + FORMAT.encode() + b'"'
_FORMAT_FIELD = re.compile(rb'"format"\s*:\s*"asyncron\.jobs"')


def looks_like_ours(raw: bytes) -> bool:
    """Whether unreadable bytes are a damaged asyncron jobs file (empty, zero-filled, truncated,
    or naming our format near its start) rather than another application's file."""
    head = raw.lstrip(b"\x00 \t\r\n")[:4096]
    return _SIGNATURE.startswith(head[: len(_SIGNATURE)]) or bool(_FORMAT_FIELD.search(head))


def _migrate(doc: dict[str, Any]) -> dict[str, Any]:
    """Bring an older file format up to :data:`VERSION` (the migration path: one step per
    version; there is only version 1 so far)."""
    return doc


class JsonFileStore(ThreadedStore):
    """Jobs in one JSON file, for a single process.

    Every batch rewrites the file atomically (temp file, fsync, rename, fsync of the directory),
    so a crash at any moment leaves the old or the new file, never a mix. An exclusive lock on
    ``<file>.lock`` refuses a second process. At open, a file that cannot be parsed is moved aside
    to ``<file>.corrupt-<timestamp>`` (never overwritten) and the store starts empty; a single
    unreadable job record is kept verbatim in the file and reported, the others load. A file
    that is not an asyncron jobs file at all (another application's ``config.json``) is refused
    with :class:`~asyncron.errors.NotAStoreError` and left as it was.

    The path may be a symbolic link: the store locks and rewrites the file it points to. A file
    with other hard links, a read-only file, a FIFO or a device is refused at open.

    Args:
        path: the file (created with its first write; the directory must exist).
        read_only: only read it: no lock file, no temp-file cleanup, nothing moved aside (an
            unreadable store raises :class:`~asyncron.errors.StoreCorruptError`); writes raise
            :class:`~asyncron.errors.StoreError`.
    """

    def __init__(self, path: str | os.PathLike[str], *, read_only: bool = False) -> None:
        self.path = Path(path)
        self.read_only = read_only
        #: The file behind ``path`` (symbolic links resolved), found at each open.
        self._real = self.path
        self._lock: FileLock | None = None
        self._jobs: dict[str, StoredJob] = {}
        self._texts: dict[str, str] = {}
        self._bad_rows: list[str] = []
        #: Reasons for each record that could not be read at the last open (kept in the file).
        self.quarantined: list[str] = []
        #: The id of each of those records (``#<index>`` when it has none).
        self.quarantined_ids: list[str] = []
        #: Where a corrupt file was moved at the last open, if one was.
        self.moved_aside: Path | None = None
        self._open = False

    @property
    def description(self) -> str:
        return f"JSON file {self.path}"

    async def open(self) -> None:
        if self._open:
            return
        await self._run(self._open_sync)
        self._open = True

    def _open_sync(self) -> None:
        self._claim_file()
        try:
            if not self.read_only:
                remove_stale_temps(self._real)
            self._load()
        except BaseException:
            self._release_file()
            raise

    def _claim_file(self) -> None:
        """Find the real file and, unless read-only, lock it."""
        self._real, self._lock = _files.claim_store_file(
            self.path, self.description, read_only=self.read_only
        )

    def _release_file(self) -> None:
        lock, self._lock = self._lock, None
        if lock is not None:
            lock.release()

    def _read_file(self) -> bytes:
        """The file's bytes.

        Raises:
            FileNotFoundError: there is none (a new store), unless read-only.
            StoreError: read-only and there is no file, or it cannot be read.
        """
        raw = _files.read_store_file(self._real, self.description)
        if raw is not None:
            return raw
        if self.read_only:
            raise StoreError(f"{self.description}: no such file (opened read-only: none created)")
        raise FileNotFoundError(self._real)

    def _set_aside(self, raw: bytes, exc: Exception) -> Path:
        """Move an unreadable file aside, if it is ours and the store may write.

        Raises:
            NotAStoreError: the file is not an asyncron jobs file; it is left as it was.
            StoreCorruptError: it is ours but read-only here; it is left where it is.
        """
        reason = f"{type(exc).__name__}: {exc}"
        if not looks_like_ours(raw):
            raise NotAStoreError(
                f"{self.description} is not an asyncron store ({reason}); it was left untouched. "
                f"Give the scheduler a file of its own, or, if this is an asyncron store that was "
                f"damaged, move it aside yourself"
            ) from exc
        if self.read_only:
            raise StoreCorruptError(
                f"{self.description} is an asyncron store that cannot be read ({reason}); opened "
                f"read-only, it was left where it is (a scheduler opening it moves it aside)"
            ) from exc
        return move_aside(self._real, reason)

    def _load(self) -> None:
        self._jobs, self._texts, self._bad_rows, self.quarantined = {}, {}, [], []
        self.quarantined_ids = []
        self.moved_aside = None
        try:
            raw = self._read_file()
        except FileNotFoundError:
            return
        except OSError as exc:
            raise StoreError(f"{self.description}: cannot be read: {exc}") from exc
        texts: list[str] | None = None  # each record's own text, once one of them is bad
        try:
            text = raw.decode("utf-8")
            try:
                doc = json.loads(text)
            except RecursionError:  # one record nested too deeply: read the records one by one
                doc, texts = split_document(text)
                doc["jobs"] = texts
            if not isinstance(doc, dict) or doc.get("format") != FORMAT:
                raise ValueError(f"not an asyncron jobs file (format {FORMAT!r} missing)")
            version = doc.get("version")
            if not isinstance(version, int) or isinstance(version, bool) or version < 1:
                raise ValueError(f"invalid version {version!r}")
            if version > VERSION:
                raise StoreVersionError(
                    f"{self.description} has format version {version}, newer than the version "
                    f"{VERSION} this asyncron understands; upgrade asyncron. The file was not "
                    f"changed"
                )
            doc = _migrate(doc)
            rows = doc.get("jobs")
            if not isinstance(rows, list):
                raise ValueError("'jobs' is not a list")
        except StoreVersionError:
            raise
        except (ValueError, UnicodeDecodeError) as exc:  # JSONDecodeError is a ValueError
            self.moved_aside = self._set_aside(raw, exc)
            return
        for index, row in enumerate(rows):
            try:
                if texts is not None:
                    row = json.loads(texts[index])
                job = StoredJob.from_doc(row)
                if job.id in self._jobs:
                    raise ValueError(f"job record {job.id!r}: duplicate id")
                self._texts[job.id] = dumps(row)
            except RECORD_ERRORS as exc:
                if texts is None:  # keep the record verbatim, even what dumps() refuses (NaN)
                    texts = split_document(text)[1] or []
                row_id = row.get("id") if isinstance(row, dict) else record_id(texts[index])
                row_id = row_id if isinstance(row_id, str) else f"#{index}"
                why = "nested too deeply to be read" if isinstance(exc, RecursionError) else exc
                reason = (
                    f"{self.description}: record #{index} ({row_id}) kept but not loaded: {why}"
                )
                logger.warning("%s", reason)
                self.quarantined.append(reason)
                self.quarantined_ids.append(row_id)
                self._bad_rows.append(texts[index])
                continue
            self._jobs[job.id] = job

    async def close(self) -> None:
        if self._open:
            self._open = False
            await self._run(self._release_file)
        self._shutdown_worker()

    def _render(self, texts: dict[str, str]) -> bytes:
        rows = [*texts.values(), *self._bad_rows]
        body = ",\n".join(rows)
        return f'{{"format":"{FORMAT}","version":{VERSION},"jobs":[\n{body}\n]}}\n'.encode()

    async def write_batch(self, put: Sequence[StoredJob], remove: Sequence[str] = ()) -> None:
        self._check_open()
        if self.read_only:
            raise StoreError(f"{self.description}: opened read-only; nothing was written")
        put = list(put)
        texts = [dumps(job.to_doc()) for job in put]
        await self._run(self._write_sync, put, texts, list(remove))

    def _write_sync(self, put: list[StoredJob], texts: list[str], remove: list[str]) -> None:
        jobs = dict(self._jobs)
        rendered = dict(self._texts)
        for job, text in zip(put, texts, strict=True):
            jobs[job.id] = job
            rendered[job.id] = text
        for job_id in remove:
            jobs.pop(job_id, None)
            rendered.pop(job_id, None)
        try:
            atomic_write(self._real, self._render(rendered))
        except OSError as exc:
            raise StoreError(f"{self.description}: write failed: {exc}") from exc
        self._jobs, self._texts = jobs, rendered

    def _check_open(self) -> None:
        if not self._open:
            raise StoreError(f"{self.description}: the store is not open")

    async def get_job(self, job_id: str) -> StoredJob | None:
        self._check_open()
        return self._jobs.get(job_id)

    async def list_jobs(self) -> list[StoredJob]:
        self._check_open()
        return list(self._jobs.values())
