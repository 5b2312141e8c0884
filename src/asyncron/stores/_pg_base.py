"""What every part of the PostgreSQL store shares: identifiers, URLs, the fire identity's
instant, the definition digest, the connection errors the journal retries, and the record of a
fire as the monitoring functions return it.

Imports nothing of asyncpg at module level: asyncpg is the optional extra
(``asyncron[postgres]``), imported when a store is first opened (see :func:`asyncpg_module`).
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from types import ModuleType
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from .._serialize import dumps
from ..abc import StoredJob
from ..errors import StoreError

__all__ = [
    "SKIPPED",
    "FireRecord",
    "asyncpg_module",
    "check_schema",
    "connection_errors",
    "definition_hash",
    "redact",
    "split_schema",
    "to_us",
]

_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,50}$")

#: The job statuses that are never due.
FINAL = ["completed", "failed", "cancelled", "skipped"]

#: The token :meth:`PostgresStore.claim_fires` returns for a fire it recorded as skipped.
SKIPPED = 0

# Errors that mean "the connection or the server went away": retried by the journal.
_CONNECTION_ERRORS: tuple[type[BaseException], ...] = (OSError, ConnectionError, TimeoutError)


def asyncpg_module() -> ModuleType:
    """The asyncpg module, imported on first use.

    asyncpg is an optional extra: importing :mod:`asyncron.stores.postgres` must work without it
    (the CLI and the docs import the store class), so it is imported here, when a store is opened
    or a connection made, and not at module level. Python caches the module after the first call.

    Raises:
        StoreError: asyncpg is not installed.
    """
    try:
        import asyncpg  # type: ignore[import-untyped]  # lazy: the optional [postgres] extra
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise StoreError(
            "the PostgreSQL store needs asyncpg: pip install 'asyncron[postgres]'"
        ) from exc
    module: ModuleType = asyncpg
    return module


def connection_errors() -> tuple[type[BaseException], ...]:
    """Exception types that mean the database is (temporarily) unreachable."""
    asyncpg = asyncpg_module()
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


def check_schema(schema: str) -> str:
    """``schema``, checked to be a plain identifier (it is written into SQL text, quoted).

    Raises:
        ValueError: a name that is not letters, digits and ``_``, or is too long.
    """
    if not _IDENT.match(schema):
        raise ValueError(
            f"schema: expected letters, digits and '_' (not starting with a digit, at most "
            f"51 characters), got {schema!r}"
        )
    return schema


def split_schema(dsn: str) -> tuple[str, str | None]:
    """Take a ``schema=`` query parameter out of the URL (asyncpg would pass it to the server).

    Raises:
        ValueError: not a ``postgresql://`` URL.
    """
    parts = urlsplit(dsn)
    if parts.scheme not in ("postgresql", "postgres", "postgresql+asyncpg"):
        raise ValueError(f"dsn: expected a postgresql:// URL, got {redact(dsn)!r}")
    query = parse_qsl(parts.query, keep_blank_values=True)
    schema = next((v for k, v in query if k == "schema"), None)
    rest = [(k, v) for k, v in query if k != "schema"]
    scheme = "postgresql"
    return urlunsplit((scheme, parts.netloc, parts.path, urlencode(rest), parts.fragment)), schema


def redact(dsn: str) -> str:
    """The URL without its password (for messages)."""
    return re.sub(r"(://[^:/@]*:)[^@]*@", r"\1***@", dsn)
