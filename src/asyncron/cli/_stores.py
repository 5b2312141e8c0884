"""Opening the store a command names with ``--store URL``, without creating one by mistake.

:func:`open_store_url` refuses a file path where no store file exists (and opens a file store
read-only when asked); :func:`opened` refuses a PostgreSQL schema without asyncron's tables
before opening it (opening would create them, and a typo in ``?schema=`` would then show an
empty store instead of an error). A file that is not an asyncron store is refused by the store
itself (``NotAStoreError``: exit code 2).
"""

from __future__ import annotations

import argparse
import contextlib
import os
from collections.abc import AsyncIterator

from ..abc import Store
from ..errors import InvalidJobError
from ..stores import store_from_url
from ..stores.postgres import PostgresStore
from ._common import CommandError

__all__ = ["is_postgres", "open_store_url", "opened", "probe", "store_arg"]

_POSTGRES_SCHEMES = ("postgresql", "postgres")


def store_arg(parser: argparse.ArgumentParser) -> None:
    """Add the required ``--store URL`` argument."""
    parser.add_argument(
        "--store", required=True, metavar="URL",
        help="the store: a path (jobs.db, /srv/app/jobs.json), sqlite:///jobs.db or "
        "json:///jobs.json (relative), sqlite:////srv/app/jobs.db (absolute), or "
        "postgresql://user@host/db?schema=NAME",
    )  # fmt: skip


def is_postgres(url: str) -> bool:
    """``url`` names a PostgreSQL store."""
    return url.split("://", 1)[0].lower() in _POSTGRES_SCHEMES


def open_store_url(url: str, *, read_only: bool = False) -> Store:
    """The store ``url`` names, refusing to create a new, empty one by mistake; a file store
    opens read-only when ``read_only``, and so does a PostgreSQL store (no migration, the server
    refuses writes).

    Raises:
        CommandError: bad URL, or no store file at that path.
    """
    if is_postgres(url):
        try:
            return PostgresStore(
                url, min_size=1, max_size=2, application_name="asyncron-cli", read_only=read_only
            )
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
    try:
        store = store_from_url(url, read_only=read_only)
    except InvalidJobError as exc:
        raise CommandError(str(exc)) from exc
    path = getattr(store, "path", None)
    if path is not None and not os.path.exists(path):
        raise CommandError(f"no store at {path} (from --store {url!r})")
    return store


async def _check_postgres_schema(store: PostgresStore) -> None:
    """Refuse a PostgreSQL schema that holds no asyncron store: opening the store would create
    one, and a typo in ``?schema=`` would then show an empty store instead of an error.

    Raises:
        CommandError: the server cannot be reached, or the schema has no store.
    """
    # imported here: asyncpg is an optional extra (asyncron[postgres])
    import asyncpg  # type: ignore[import-untyped]

    try:
        conn = await asyncpg.connect(store.dsn, timeout=10)
    except Exception as exc:
        raise CommandError(f"{store.description}: cannot connect: {exc}") from exc
    try:
        found = await conn.fetchval("SELECT to_regclass($1)", f'"{store.schema}".jobs')
    finally:
        await conn.close()
    if found is None:
        raise CommandError(
            f"no store in {store.description}: the schema has no asyncron tables "
            "(check ?schema= in the URL; the default schema is asyncron)"
        )


@contextlib.asynccontextmanager
async def opened(store: Store) -> AsyncIterator[Store]:
    """``store``, open for the block (a PostgreSQL schema is checked first); closed after."""
    if getattr(store, "supports_claims", False) and isinstance(store, PostgresStore):
        await _check_postgres_schema(store)
    await store.open()
    try:
        yield store
    finally:
        await store.close()


async def probe(store: Store) -> None:
    """Open and close ``store`` (read-only): raises what opening it raises."""
    async with opened(store):
        pass
