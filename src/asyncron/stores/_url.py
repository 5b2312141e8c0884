"""Store URLs: ``memory://``, ``json:///state.json``, ``sqlite:///jobs.db``, and bare paths.

File URLs follow SQLAlchemy's convention for ``sqlite://`` URLs: after the scheme's ``://``,
one more slash starts the path, so ``sqlite:///jobs.db`` (three slashes) is ``jobs.db`` in the
working directory and ``sqlite:////var/lib/app/jobs.db`` (four) is the absolute path.
"""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import unquote, urlsplit

from ..abc import Store
from ..errors import InvalidJobError
from .jsonfile import JsonFileStore
from .memory import MemoryStore
from .sqlite import SQLiteStore

__all__ = ["store_from_path", "store_from_url"]

_SQLITE_SUFFIXES = (".db", ".sqlite", ".sqlite3")
_ALLOWED = (
    "use memory://, json:///state.json or sqlite:///jobs.db (three slashes: relative to the "
    "working directory; four, as in sqlite:////var/lib/app/jobs.db: absolute), or a path "
    "ending in .json, .db, .sqlite or .sqlite3 (PostgreSQL: a separate store)"
)


def store_from_path(
    path: str | os.PathLike[str], *, read_only: bool = False, default: str | None = None
) -> Store:
    """The file store for a bare path (no URL decoding: ``%``, ``?`` and ``#`` are part of the
    name): SQLite for ``.db``, ``.sqlite`` and ``.sqlite3``, JSON for ``.json``, else
    ``default`` (``"json"`` or ``"sqlite"``).

    Raises:
        InvalidJobError: another suffix and no ``default``.
    """
    suffix = os.path.splitext(os.fspath(path))[1].lower()
    kind = "sqlite" if suffix in _SQLITE_SUFFIXES else "json" if suffix == ".json" else default
    if kind == "sqlite":
        return SQLiteStore(path, read_only=read_only)
    if kind == "json":
        return JsonFileStore(path, read_only=read_only)
    raise InvalidJobError(
        f"store: {os.fspath(path)!r} is neither a store URL nor a store path; {_ALLOWED}"
    )


def store_from_url(url: str, *, read_only: bool = False) -> Store:
    """The store a URL names. A bare path ending in ``.json``, ``.db``, ``.sqlite`` or
    ``.sqlite3`` is accepted too, taken as it is.

    ``sqlite:///jobs.db`` and ``json:///state.json`` (three slashes) are relative to the working
    directory, ``sqlite:////abs/jobs.db`` (four) absolute, as in SQLAlchemy; ``%XX`` escapes are
    decoded. A URL with a host (``json://rel/x.json``), a query or a fragment is refused, and so
    is a three-slash URL that an older asyncron read as absolute when only the absolute reading
    names an existing place (``sqlite:///var/lib/app/jobs.db`` run outside ``/``): the error
    says to add the fourth slash.

    Args:
        read_only: open the file store read-only (see :class:`JsonFileStore`).

    Raises:
        InvalidJobError: unknown scheme, a missing path, or a URL refused as above (the message
            says what is allowed).
    """
    if not isinstance(url, str) or not url:
        raise InvalidJobError(f"store: expected a Store or a store URL, got {url!r}")
    if "://" not in url:
        return store_from_path(url, read_only=read_only)
    scheme = url.split("://", 1)[0].lower()
    if scheme == "memory":
        return MemoryStore()
    if scheme not in ("json", "sqlite"):
        raise InvalidJobError(f"store: unknown store URL {url!r}; {_ALLOWED}")
    path = _url_path(url, scheme)
    if scheme == "json":
        return JsonFileStore(path, read_only=read_only)
    return SQLiteStore(path, read_only=read_only)


def _url_path(url: str, scheme: str) -> str:
    """The file path of a ``json://`` or ``sqlite://`` URL.

    Raises:
        InvalidJobError: a host, query or fragment, no path, or an old absolute spelling.
    """
    parts = urlsplit(url)
    if parts.netloc:
        raise InvalidJobError(
            f"store: the URL {url!r} has a host part ({parts.netloc!r}); a file URL has none: "
            f"write {scheme}:///relative/path (three slashes) or {scheme}:////absolute/path (four)"
        )
    if parts.query or parts.fragment:
        raise InvalidJobError(
            f"store: the URL {url!r} has a query or fragment "
            f"({'?' + parts.query if parts.query else '#' + parts.fragment!r}); store URLs take "
            f"no options: escape '?' as %3F and '#' as %23 in a file name"
        )
    path = unquote(parts.path)[1:]  # the slash after "://" ends the (empty) host
    if not path:
        example = "jobs.db" if scheme == "sqlite" else "state.json"
        raise InvalidJobError(
            f"store: the URL {url!r} has no file path; write {scheme}:///{example} (relative) "
            f"or {scheme}:////abs/path/{example} (absolute); for no file, memory://"
        )
    if not os.path.isabs(path):
        _refuse_old_absolute_spelling(url, scheme, path)
    return path


def _refuse_old_absolute_spelling(url: str, scheme: str, path: str) -> None:
    """Refuse ``sqlite:///var/lib/app/jobs.db`` when that names nothing in the working directory
    but ``/var/lib/app/jobs.db`` exists (or could be created): asyncron 0.1 read three slashes
    as absolute, and quietly starting an empty store in the working directory would look
    like every job had been lost.

    Raises:
        InvalidJobError: only the absolute reading names an existing file or directory.
    """
    relative, absolute = Path(path), Path("/" + path)
    if relative.exists():
        return
    if absolute.exists() or (
        not relative.parent.is_dir() and absolute.parent.is_dir() and absolute.parent != Path("/")
    ):
        raise InvalidJobError(
            f"store: {url!r} names {path!r} relative to the working directory {os.getcwd()} "
            f"(three slashes: relative, as in SQLAlchemy), which does not exist, while "
            f"{str(absolute)!r} does{' (its directory)' if not absolute.exists() else ''}. For the "
            f"absolute path write {scheme}:///{absolute} (four slashes)"
        )
