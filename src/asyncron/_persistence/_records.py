"""The stored form of a journal's job: its record, its seal, its encrypted fields.

- :class:`JobRecord`: what the journal keeps per persisted job beyond the engine's own
  :class:`~asyncron._core._state.JobState`: the encoded trigger, arguments and options, the
  versions written, and the identities of the values they were encoded from (so that a change
  is re-encoded only when the engine's value is a new object).
- :func:`record_bytes`: the canonical bytes a record's seal covers.
- :class:`RecordCodec`: encrypting and sealing on the way to the store (:meth:`~RecordCodec.snapshot`
  makes the :class:`~asyncron.abc.StoredJob` a write stores), checking seals and decrypting on
  the way back (:meth:`~RecordCodec.unseal`, :meth:`~RecordCodec.open`).

With a keyring in production mode (``test_mode=False``) a record's function reference and
arguments are encrypted and the whole record is sealed (AES-GCM MAC over :func:`record_bytes`);
without one, fields are stored as plain tagged JSON. Nothing here does I/O.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from .._core._state import JobState
from .._crypto import is_envelope
from .._serialize import DecryptionError, dumps, encode_arguments, encode_value
from .._stored import job_options_doc
from ..abc import StoredJob
from ..errors import InvalidJobError, TamperedRecordError
from ._settings import JournalSettings

__all__ = [
    "NO_RESULT",
    "SEALED_REF",
    "JobRecord",
    "RecordCodec",
    "record_bytes",
    "stored_time",
]

#: What a sealed record stores as its ``func_ref``: the real reference is encrypted in its seal.
SEALED_REF = "<sealed>"
_ACTIVE = frozenset({"pending", "paused", "running"})

#: A :attr:`JobRecord.result_src` no result is: the result is encoded again at the next write.
NO_RESULT = object()


def record_bytes(doc: dict[str, Any]) -> bytes:
    """The canonical bytes a record's seal covers: every field but ``version`` and the seal's
    own MAC, keys sorted. ``pending``, ``paused`` and ``running`` count as one status, so that
    ``asyncron pause``/``resume`` (which have no key) keep the seal valid; a change to or from
    a final status (completed, failed, ...) is detected like any other edit.

    Raises:
        ValueError: the record holds a non-finite number.
    """
    body = dict(doc)
    body.pop("version", None)
    if body.get("status") in _ACTIVE:
        body["status"] = "active"
    options = dict(body.get("options") or {})
    seal = options.get("seal")
    if isinstance(seal, dict):
        options["seal"] = {k: v for k, v in seal.items() if k != "mac"}
    body["options"] = options
    text = json.dumps(
        body, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    )
    return text.encode("utf-8")


def stored_time(ts: object) -> datetime | None:
    """A stored POSIX time as a datetime, or None when it is missing or out of range."""
    try:
        return datetime.fromtimestamp(ts, UTC) if isinstance(ts, int | float) else None
    except (ValueError, OverflowError, OSError):
        return None


class JobRecord:
    """What the journal keeps per persisted job beyond the engine's own record.

    ``arguments`` and ``ref_env`` are None when they must be (re-)encrypted at the next write;
    ``sources`` are the engine's ``(func, args, kwargs, trigger)`` the record was encoded from.
    """

    __slots__ = (
        "arguments",
        "func_ref",
        "last_fire",
        "options",
        "opts_doc",
        "opts_src",
        "ref_env",
        "result_doc",
        "result_src",
        "running_fire",
        "sources",
        "trigger_doc",
        "version",
    )

    def __init__(self, func_ref: str, trigger_doc: dict[str, Any], arguments: Any) -> None:
        self.func_ref = func_ref
        self.trigger_doc = trigger_doc
        self.arguments = arguments  # None: must be (re-)encrypted at the next write
        self.ref_env: Any = None  # the encrypted func_ref of a sealed record (None: re-encrypt)
        self.last_fire: float | None = None
        self.running_fire: float | None = None
        self.options: dict[str, Any] = {}
        self.version = 0
        self.result_src: Any = None
        self.result_doc: Any = None
        self.sources: tuple[Any, ...] = ()
        self.opts_src: Any = None
        self.opts_doc: dict[str, Any] = {}


class RecordCodec:
    """Encrypts, seals and opens records with the journal's keyring (read from ``settings``
    at each use)."""

    def __init__(self, settings: JournalSettings) -> None:
        self._settings = settings

    @property
    def encrypting(self) -> bool:
        """Fields are encrypted: a keyring, in production mode."""
        s = self._settings
        return s.keyring is not None and not s.test_mode

    @property
    def sealing(self) -> bool:
        """Records are sealed: a keyring in production mode, on a store of this process only
        (the nodes sharing a PostgreSQL store rewrite each other's rows; the database's own
        access control is the boundary there)."""
        return self.encrypting and not self._settings.store.supports_claims

    def seal(self, raw: bytes, job_id: str, field: str = "arguments") -> Any:
        """The stored form of the JSON bytes ``raw``: an envelope when encrypting, else the
        JSON value itself."""
        keyring = self._settings.keyring
        if keyring is None or not self.encrypting:
            return json.loads(raw)
        return keyring.encrypt(raw, job_id=job_id, field=field)

    def reuse(self, stored: Any) -> Any:
        """The stored value if it can be written back as is (same key), else None."""
        keyring = self._settings.keyring
        if keyring is None or not self.encrypting:
            return None if is_envelope(stored) else stored
        if is_envelope(stored) and stored.get("kid") == keyring.active:
            return stored
        return None

    def open(self, stored: Any, job_id: str, field: str) -> bytes:
        """The JSON bytes of a stored field, decrypted if it is an envelope.

        Raises:
            DecryptionError: encrypted, but no keyring (or not its key).
        """
        if is_envelope(stored):
            keyring = self._settings.keyring
            if keyring is None:
                kid = stored.get("kid") if isinstance(stored, dict) else None
                raise DecryptionError(
                    f"job {job_id!r} field {field}: encrypted with key id {kid!r} but no keyring "
                    f"is configured; pass keyring=Keyring(...)"
                )
            return keyring.decrypt(stored, job_id=job_id, field=field)
        return dumps(stored).encode("utf-8")

    def unseal(self, row: StoredJob) -> str:
        """Check a record's seal and return its function reference (decrypted when sealed).

        Raises:
            TamperedRecordError: the seal does not match, is malformed, or is missing where
                this journal requires seals.
            DecryptionError: sealed with a key id not in the keyring, or no keyring at all.
        """
        seal = row.options.get("seal")
        if seal is None:
            if self.sealing and not self._settings.accept_unsealed:
                raise TamperedRecordError(
                    f"job {row.id!r}: the record has no seal, but this store's records are sealed "
                    f"(a keyring in production mode): it was written without the keyring, in "
                    f"test mode or by an older asyncron, or its seal was removed. If you have "
                    f"just configured the keyring or upgraded, start once with "
                    f"accept_unsealed=True to seal the existing records"
                )
            return row.func_ref
        kid = seal.get("mac", {}).get("kid") if isinstance(seal, dict) else None
        keyring = self._settings.keyring
        if keyring is None:
            raise DecryptionError(
                f"job {row.id!r}: the record is sealed (key id {kid!r}) but no keyring is "
                f"configured; pass keyring=Keyring(...)"
            )
        if not isinstance(seal, dict):
            raise TamperedRecordError(f"job {row.id!r}: the record's seal is malformed")
        keyring.verify(seal.get("mac"), record_bytes(row.to_doc()), job_id=row.id)
        return keyring.decrypt(seal.get("ref"), job_id=row.id, field="func_ref").decode()

    def snapshot(self, job: JobState, rec: JobRecord) -> StoredJob:
        """The record to write for ``job`` now: what changed since the last write is encoded
        (and encrypted) again, the version counts up, and the record is sealed when
        :attr:`sealing`. A result that is not JSON data is not stored."""
        if rec.arguments is None:
            rec.arguments = self.seal(
                encode_arguments(job.args, job.kwargs, max_bytes=1 << 62), job.id
            )
        if rec.result_src is not job.result or (rec.result_doc is None and job.result is not None):
            rec.result_src = job.result
            if job.result is None:
                rec.result_doc = None
            else:
                try:
                    plain = dumps(encode_value(job.result, "result")).encode("utf-8")
                    rec.result_doc = self.seal(plain, job.id, "result")
                except InvalidJobError:
                    rec.result_doc = None  # results that are not JSON data are not stored
        opts = getattr(job, "opts", None)
        if opts is not None and opts is not rec.opts_src:
            rec.opts_src = opts
            rec.opts_doc = job_options_doc(opts)
        options = dict(rec.options)
        if rec.opts_doc:
            options["job"] = rec.opts_doc
        rec.version += 1
        nxt = job.next_fire
        sealing = self.sealing
        keyring = self._settings.keyring
        if sealing:
            assert keyring is not None
            if rec.ref_env is None:
                rec.ref_env = keyring.encrypt(
                    rec.func_ref.encode(), job_id=job.id, field="func_ref"
                )
            options["seal"] = {"ref": rec.ref_env}
        snap = StoredJob(
            id=job.id,
            name=job.name,
            func_ref=SEALED_REF if sealing else rec.func_ref,
            trigger=rec.trigger_doc,
            arguments=rec.arguments,
            status=job.status.value,
            next_run=None if nxt is None else nxt.timestamp(),
            last_run=job.last_run,
            last_fire=rec.last_fire,
            running_fire=rec.running_fire if job.running else None,
            run_count=job.run_count,
            failure_count=job.failure_count,
            max_runs=job.max_runs,
            error=job.error,
            result=rec.result_doc,
            options=options,
            version=rec.version,
        )
        if sealing:
            assert keyring is not None
            options["seal"]["mac"] = keyring.seal(record_bytes(snap.to_doc()), job_id=job.id)
        return snap
