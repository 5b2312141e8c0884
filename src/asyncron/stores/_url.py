"""Store URLs: ``memory://``, ``json:///path/state.json``, ``sqlite:///path/jobs.db``."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import unquote, urlsplit

from ..abc import Store
from ..errors import InvalidJobError
from .jsonfile import JsonFileStore
from .memory import MemoryStore
from .sqlite import SQLiteStore

__all__ = ["store_from_url"]


def store_from_url(url: str) -> Store:
    """The store a URL names. A bare path ending in ``.json``, ``.db``, ``.sqlite`` or
    ``.sqlite3`` is accepted too.

    ``json:///abs/path`` and ``sqlite:///abs/path`` are absolute; ``json://rel/path`` (two
    slashes) is relative to the working directory.

    Raises:
        InvalidJobError: unknown scheme or a missing path (the message lists what is allowed).
    """
    if not isinstance(url, str) or not url:
        raise InvalidJobError(f"store: expected a Store or a store URL, got {url!r}")
    if "://" not in url:
        suffix = Path(url).suffix.lower()
        if suffix == ".json":
            url = "json://" + url
        elif suffix in (".db", ".sqlite", ".sqlite3"):
            url = "sqlite://" + url
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    path = unquote(parts.netloc + parts.path)
    if scheme == "memory":
        return MemoryStore()
    if scheme in ("json", "sqlite") and not path:
        raise InvalidJobError(f"store: the URL {url!r} has no file path")
    if scheme == "json":
        return JsonFileStore(path)
    if scheme == "sqlite":
        return SQLiteStore(path)
    raise InvalidJobError(
        f"store: unknown store URL {url!r}; use memory://, json:///path/state.json or "
        f"sqlite:///path/jobs.db (PostgreSQL: a separate store)"
    )
