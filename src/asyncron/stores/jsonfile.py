"""The JSON file store: one human-readable file, rewritten atomically on every batch."""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .._serialize import dumps
from ..abc import StoredJob
from ..errors import StoreError, StoreVersionError
from ._base import ThreadedStore
from ._files import FileLock, atomic_write, move_aside, remove_stale_temps
from ._records import RECORD_ERRORS, record_id, split_document

__all__ = ["JsonFileStore"]

logger = logging.getLogger("asyncron.stores")

FORMAT = "asyncron.jobs"
#: The file format this version writes. Older versions are migrated on load; newer are refused.
VERSION = 1


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
    unreadable job record is kept verbatim in the file and reported, the others load.

    Args:
        path: the file (created with its first write; the directory must exist).
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self._lock = FileLock(self.path)
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
        self._lock.acquire(self.description)
        try:
            remove_stale_temps(self.path)
            self._load()
        except BaseException:
            self._lock.release()
            raise

    def _load(self) -> None:
        self._jobs, self._texts, self._bad_rows, self.quarantined = {}, {}, [], []
        self.quarantined_ids = []
        self.moved_aside = None
        try:
            raw = self.path.read_bytes()
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
            self.moved_aside = move_aside(self.path, f"{type(exc).__name__}: {exc}")
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
            await self._run(self._lock.release)
        self._shutdown_worker()

    def _render(self, texts: dict[str, str]) -> bytes:
        rows = [*texts.values(), *self._bad_rows]
        body = ",\n".join(rows)
        return f'{{"format":"{FORMAT}","version":{VERSION},"jobs":[\n{body}\n]}}\n'.encode()

    async def write_batch(self, put: Sequence[StoredJob], remove: Sequence[str] = ()) -> None:
        self._check_open()
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
            atomic_write(self.path, self._render(rendered))
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
