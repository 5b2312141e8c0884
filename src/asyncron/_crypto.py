"""Encryption at rest for stored job arguments and results: AES-256-GCM with key ids.

Each encrypted value is an envelope ``{"$enc": "A256GCM", "kid": ..., "nonce": ..., "ct": ...}``.
The additional authenticated data binds the envelope to its job id, its field and its key id, so
a flipped bit, a truncated nonce, or a ciphertext copied from another job or field fails
authentication instead of passing garbage to a function (RELIABILITY R8, E2). Nonces are 96
random bits from the OS for every encryption (NIST SP 800-38D's random construction; ~2^32
encryptions per key before the collision bound matters, far beyond a job store's life).

A *seal* (:meth:`Keyring.seal`) authenticates a whole stored record (its function reference,
trigger, times, counts and options, not only the arguments): the record's canonical bytes are
the authenticated data of an AES-GCM operation with an empty plaintext, bound to the job id and
the key id, so any edit of the record fails :meth:`Keyring.verify`.

Key rotation follows Sidekiq Enterprise's versioned keys: a :class:`Keyring` holds every key
that may still be needed to decrypt, and one *active* key id used for every new encryption.
Rows written with an older key decrypt as long as that key is in the ring; each save re-encrypts
with the active key, and ``Journal.rotate_keys()`` rewrites every row at once.

``cryptography`` is imported lazily: install the ``asyncron[crypto]`` extra to use this module.
"""

from __future__ import annotations

import base64
import binascii
import os
from collections.abc import Mapping
from typing import Any

from .errors import DecryptionError, InvalidJobError, TamperedRecordError

__all__ = ["ENVELOPE_ALG", "SEAL_ALG", "Keyring", "is_envelope"]

ENVELOPE_ALG = "A256GCM"
#: A record seal: AES-256-GCM over an empty plaintext, the record being the authenticated data
#: (GMAC; NIST SP 800-38D, section 3), with a fresh 96-bit nonce per seal.
SEAL_ALG = "A256GCM-record"
_NONCE_BYTES = 12


def _aesgcm(key: bytes) -> Any:
    try:
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM
    except ImportError:  # pragma: no cover - depends on the environment
        raise InvalidJobError(
            "encryption at rest needs the 'cryptography' package: pip install 'asyncron[crypto]'"
        ) from None
    return AESGCM(key)


def is_envelope(value: object) -> bool:
    """True when ``value`` looks like an encryption envelope."""
    return isinstance(value, dict) and value.get("$enc") is not None


def _aad(job_id: str, field: str, kid: str) -> bytes:
    return f"asyncron/1\x00{job_id}\x00{field}\x00{kid}".encode()


def _key_bytes(kid: str, key: object) -> bytes:
    """The raw bytes of one keyring entry: bytes as given, or base64 text (URL-safe or standard).

    Raises:
        InvalidJobError: neither bytes nor valid base64 text (the key itself is never shown).
    """
    if isinstance(key, bytes | bytearray | memoryview):
        return bytes(key)
    if isinstance(key, str):
        try:
            # validate=True: a stray character is an error, not silently dropped
            return base64.b64decode(key.strip().encode("ascii"), altchars=b"-_", validate=True)
        except (binascii.Error, UnicodeEncodeError):
            raise InvalidJobError(
                f"keys[{kid!r}]: not valid base64 text ({len(key)} characters); expected a 32-byte "
                "AES-256 key as bytes or as the base64 text Keyring.generate_key() returns"
            ) from None
    raise InvalidJobError(f"keys[{kid!r}]: expected bytes or base64 text, got {type(key).__name__}")


class Keyring:
    """Named AES-256 keys, one of them active.

    Args:
        keys: key id -> 32-byte key (``bytes``, or URL-safe base64 text of 32 bytes).
        active: the id used for new encryptions (default: the last key given).

    Raises:
        InvalidJobError: no keys, a key of the wrong length, or ``active`` not among ``keys``.
    """

    def __init__(self, keys: Mapping[str, bytes | str], active: str | None = None) -> None:
        if not isinstance(keys, Mapping):
            raise InvalidJobError(
                f"keys: expected a mapping of key id -> 32-byte key (bytes or base64 text), got "
                f"{type(keys).__name__}; e.g. Keyring({{'k1': Keyring.generate_key()}})"
            )
        if not keys:
            raise InvalidJobError("keys: a keyring needs at least one key")
        self._keys: dict[str, bytes] = {}
        self._ciphers: dict[str, Any] = {}
        for kid, key in keys.items():
            if not isinstance(kid, str) or not kid:
                raise InvalidJobError(f"keys: key ids must be non-empty strings, got {kid!r}")
            raw = _key_bytes(kid, key)
            if len(raw) != 32:
                raise InvalidJobError(
                    f"keys[{kid!r}]: expected a 32-byte AES-256 key (Keyring.generate_key()), got "
                    f"{len(raw)} bytes"
                )
            self._keys[kid] = raw
        if active is None:
            active = list(self._keys)[-1]
        if active not in self._keys:
            raise InvalidJobError(
                f"active: key id {active!r} is not in the keyring ({', '.join(self._keys)})"
            )
        self.active = active

    @staticmethod
    def generate_key() -> str:
        """A new random 256-bit key, as URL-safe base64 text (store it in your secret manager)."""
        return base64.urlsafe_b64encode(os.urandom(32)).decode("ascii")

    @property
    def key_ids(self) -> tuple[str, ...]:
        return tuple(self._keys)

    def __repr__(self) -> str:  # never show key material
        return f"Keyring(key_ids={list(self._keys)!r}, active={self.active!r})"

    def _cipher(self, kid: str) -> Any:
        cipher = self._ciphers.get(kid)
        if cipher is None:
            cipher = self._ciphers[kid] = _aesgcm(self._keys[kid])
        return cipher

    def encrypt(self, plaintext: bytes, *, job_id: str, field: str) -> dict[str, str]:
        """Encrypt with the active key; the envelope is bound to ``job_id`` and ``field``."""
        kid = self.active
        nonce = os.urandom(_NONCE_BYTES)
        ct = self._cipher(kid).encrypt(nonce, plaintext, _aad(job_id, field, kid))
        return {
            "$enc": ENVELOPE_ALG,
            "kid": kid,
            "nonce": base64.b64encode(nonce).decode("ascii"),
            "ct": base64.b64encode(ct).decode("ascii"),
        }

    def decrypt(self, envelope: object, *, job_id: str, field: str) -> bytes:
        """Decrypt an envelope made by :meth:`encrypt` for the same job and field.

        Raises:
            DecryptionError: malformed envelope, key id not in the keyring, or authentication
                failure (wrong key, tampering, an envelope moved from another job or field).
                The message names the job, the field and the key id, never the data.
        """
        where = f"job {job_id!r} field {field}"
        if not (
            isinstance(envelope, dict)
            and envelope.get("$enc") == ENVELOPE_ALG
            and isinstance(envelope.get("kid"), str)
            and isinstance(envelope.get("nonce"), str)
            and isinstance(envelope.get("ct"), str)
        ):
            raise DecryptionError(f"{where}: not a valid {ENVELOPE_ALG} envelope")
        kid = envelope["kid"]
        if kid not in self._keys:
            raise DecryptionError(
                f"{where}: key id {kid!r} not in keyring (have: {', '.join(self._keys)}); add "
                f"that key to decrypt it"
            )
        try:
            nonce = base64.b64decode(envelope["nonce"], validate=True)
            ct = base64.b64decode(envelope["ct"], validate=True)
        except ValueError:
            raise DecryptionError(f"{where}: envelope is not valid base64") from None
        if len(nonce) != _NONCE_BYTES:
            raise DecryptionError(f"{where}: nonce has {len(nonce)} bytes, expected 12")
        from cryptography.exceptions import InvalidTag

        try:
            plain: bytes = self._cipher(kid).decrypt(nonce, ct, _aad(job_id, field, kid))
        except InvalidTag:
            raise DecryptionError(
                f"{where}: authentication failed with key id {kid!r} (wrong key, tampered data, "
                f"or data copied from another job)"
            ) from None
        return plain

    def seal(self, record: bytes, *, job_id: str) -> dict[str, str]:
        """A seal over ``record`` (canonical bytes) for job ``job_id``, with the active key."""
        kid = self.active
        nonce = os.urandom(_NONCE_BYTES)
        tag = self._cipher(kid).encrypt(nonce, b"", _aad(job_id, "record", kid) + b"\x00" + record)
        return {
            "$seal": SEAL_ALG,
            "kid": kid,
            "nonce": base64.b64encode(nonce).decode("ascii"),
            "tag": base64.b64encode(tag).decode("ascii"),
        }

    def verify(self, seal: object, record: bytes, *, job_id: str) -> None:
        """Check a seal made by :meth:`seal` for the same record bytes and job.

        Raises:
            DecryptionError: the seal's key id is not in the keyring (add that key).
            TamperedRecordError: a malformed seal, or one that does not match the record (an
                edit, a forgery, a record copied from another job). The message names the job
                and the key id, never the data.
        """
        where = f"job {job_id!r}"
        if not (
            isinstance(seal, dict)
            and seal.get("$seal") == SEAL_ALG
            and isinstance(seal.get("kid"), str)
            and isinstance(seal.get("nonce"), str)
            and isinstance(seal.get("tag"), str)
        ):
            raise TamperedRecordError(f"{where}: the record's seal is malformed")
        kid = seal["kid"]
        if kid not in self._keys:
            raise DecryptionError(
                f"{where}: the record is sealed with key id {kid!r}, which is not in the keyring "
                f"(have: {', '.join(self._keys)}); add that key to check it"
            )
        try:
            nonce = base64.b64decode(seal["nonce"], validate=True)
            tag = base64.b64decode(seal["tag"], validate=True)
        except ValueError:
            raise TamperedRecordError(f"{where}: the record's seal is not valid base64") from None
        if len(nonce) != _NONCE_BYTES or len(tag) != 16:
            raise TamperedRecordError(f"{where}: the record's seal has the wrong size")
        from cryptography.exceptions import InvalidTag

        try:
            self._cipher(kid).decrypt(nonce, tag, _aad(job_id, "record", kid) + b"\x00" + record)
        except InvalidTag:
            raise TamperedRecordError(
                f"{where}: the record does not match its seal (key id {kid!r}): it was edited "
                f"after asyncron wrote it, or copied from another job; it is kept untouched and "
                f"not run"
            ) from None
