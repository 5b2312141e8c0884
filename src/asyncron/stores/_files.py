"""File helpers shared by the embedded stores: finding the real file, the exclusive lock,
atomic writes, quarantine."""

from __future__ import annotations

import contextlib
import logging
import os
import stat
from datetime import UTC, datetime
from pathlib import Path

from .._faults import fault_point
from ..errors import NotAStoreError, StoreError, StoreLockedError

__all__ = [
    "FileLock",
    "atomic_write",
    "claim_store_file",
    "move_aside",
    "read_store_file",
    "real_store_file",
]

logger = logging.getLogger("asyncron.stores")

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

#: Open flags that never follow a symbolic link and never block on a FIFO (0 where unsupported).
_SAFE_OPEN = getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)

_NOT_REGULAR = (
    (stat.S_ISDIR, "a directory"),
    (stat.S_ISFIFO, "a FIFO (named pipe)"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISSOCK, "a socket"),
)


def _require_regular(mode: int, real: Path, what: str) -> None:
    """Raises NotAStoreError unless ``mode`` is a regular file's."""
    if stat.S_ISREG(mode):
        return
    kind = next((name for test, name in _NOT_REGULAR if test(mode)), "not a regular file")
    raise NotAStoreError(
        f"{what}: {real} is {kind}, not a regular file; a store is a regular file (or a path "
        f"where one can be created). Nothing was read or changed"
    )


def real_store_file(path: Path, what: str, *, writable: bool) -> Path:
    """The file a store path names, every symbolic link resolved, checked before anything opens
    it. The lock is named after this real file: named after the path as given, ``link.json``
    would open beside the owner of ``jobs.json``.

    A store opened to be written must have exactly one name (hard links are refused: the JSON
    store replaces its file on every write, which would silently split the names into two
    stores, and SQLite keys its ``-wal`` file on the name, so two names would corrupt it), must
    be writable (a ``0444`` file is refused, never replaced by a ``0644`` one), and its
    directory must exist and be writable.

    Raises:
        NotAStoreError: the path is a FIFO, a device, a directory or a socket.
        StoreError: the file cannot be inspected, or (``writable``) it has other hard links,
            it or its directory is read-only, or its directory does not exist.
    """
    real = Path(os.path.realpath(path))
    try:
        st = os.stat(real)
    except FileNotFoundError:
        if not real.parent.is_dir():
            raise StoreError(
                f"{what}: the directory {real.parent} does not exist; create it first"
            ) from None
        if writable and not os.access(real.parent, os.W_OK | os.X_OK):
            raise StoreError(
                f"{what}: the directory {real.parent} is not writable, so {real.name} cannot "
                f"be created there"
            ) from None
        return real
    except OSError as exc:
        raise StoreError(f"{what}: cannot inspect {real}: {exc.strerror or exc}") from exc
    _require_regular(st.st_mode, real, what)
    if not writable:
        return real
    if st.st_nlink > 1:
        raise StoreError(
            f"{what}: {real} has {st.st_nlink} hard links (names for one file); a store file must "
            f"have exactly one, or a scheduler opening it under another name would run beside "
            f"the one holding it. Remove the other names (find / -xdev -samefile {real}) or "
            f"give this scheduler a copy"
        )
    if not st.st_mode & 0o222 or not os.access(real, os.W_OK):
        raise StoreError(
            f"{what}: {real} is read-only (mode {stat.S_IMODE(st.st_mode):04o}); a scheduler "
            f"rewrites its store on every change and will not replace a read-only file with a "
            f"writable one. Make it writable (chmod u+w) or only read it (asyncron jobs, or "
            f"read_only=True)"
        )
    if not os.access(real.parent, os.W_OK | os.X_OK):
        raise StoreError(
            f"{what}: the directory {real.parent} is not writable; the store needs it for its "
            f"temporary and journal files"
        )
    return real


def claim_store_file(path: Path, what: str, *, read_only: bool) -> tuple[Path, FileLock | None]:
    """The real file behind ``path`` and, unless ``read_only``, its lock, held.

    The checks of :func:`real_store_file` run again once the lock is held, so a hard link made
    between the first look and the lock is still refused. A read-only store takes no lock and
    creates no lock file.

    Raises:
        StoreLockedError: another process (or store object) holds the lock.
        NotAStoreError, StoreError: from :func:`real_store_file`; no lock is left held.
    """
    real = real_store_file(path, what, writable=not read_only)
    if read_only:
        return real, None
    lock = FileLock(real)
    lock.acquire(what)
    try:
        real_store_file(real, what, writable=True)
    except BaseException:
        lock.release()
        raise
    return real, lock


def read_store_file(real: Path, what: str) -> bytes | None:
    """The bytes of the store file ``real`` (already resolved), or None when there is none.

    Opened without following a link and without blocking, then checked to be a regular file, so
    a FIFO or a device swapped in after :func:`real_store_file` can neither hang nor flood the
    read.

    Raises:
        NotAStoreError: it is not a regular file.
        StoreError: it cannot be read.
    """
    try:
        fd = os.open(real, os.O_RDONLY | _SAFE_OPEN)
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise StoreError(f"{what}: cannot be read: {exc}") from exc
    try:
        _require_regular(os.fstat(fd).st_mode, real, what)
        chunks = []
        while chunk := os.read(fd, 1 << 20):
            chunks.append(chunk)
        return b"".join(chunks)
    except OSError as exc:
        raise StoreError(f"{what}: cannot be read: {exc}") from exc
    finally:
        os.close(fd)


class FileLock:
    """An exclusive, non-blocking lock on ``<path>.lock`` held while a store is open; ``path``
    is the real file (:func:`real_store_file`), so every name of the store shares one lock.

    A lock file beside the data file (rather than a lock on the data file itself) survives the
    atomic rename that replaces the data file. ``flock`` locks are released by the kernel when
    the process dies, so a crash never leaves a stale lock behind; the pid written into the file
    is only there to make the error message useful.
    """

    def __init__(self, path: Path) -> None:
        self.path = path.with_name(path.name + ".lock")
        self._fd: int | None = None

    def acquire(self, what: str) -> None:
        """Take the lock.

        Raises:
            StoreLockedError: another process (or another store object) holds it.
            StoreError: the lock file cannot be created.
        """
        if self._fd is not None:
            return
        try:
            # Never through a link: writing the pid would truncate whatever it points to.
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT | _SAFE_OPEN, 0o644)
        except OSError as exc:
            hint = " (it is a symbolic link; remove it)" if os.path.islink(self.path) else ""
            raise StoreError(
                f"{what}: cannot create the lock file {self.path}{hint}: {exc}"
            ) from exc
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            os.close(fd)
            raise StoreError(f"{what}: the lock file {self.path} is not a regular file; remove it")
        try:
            if fcntl is not None:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            else:  # pragma: no cover - Windows
                import msvcrt

                msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
        except OSError:
            holder = ""
            with contextlib.suppress(OSError, ValueError):
                text = os.pread(fd, 32, 0).decode("ascii", "replace").strip()
                if text:
                    holder = f" (pid {int(text)})"
            os.close(fd)
            raise StoreLockedError(
                f"{what} is already open in another process{holder} (lock file {self.path}). "
                f"Two schedulers on one file would overwrite each other's jobs: stop the other "
                f"process or use another file; to share jobs between processes use the "
                f"PostgreSQL store"
            ) from None
        with contextlib.suppress(OSError):
            os.ftruncate(fd, 0)
            os.pwrite(fd, str(os.getpid()).encode("ascii"), 0)
        self._fd = fd

    def release(self) -> None:
        fd, self._fd = self._fd, None
        if fd is not None:
            with contextlib.suppress(OSError):
                os.ftruncate(fd, 0)
            os.close(fd)  # closing the descriptor drops the flock


def fsync_dir(directory: Path) -> None:
    """fsync a directory so a rename inside it is durable (no-op where unsupported)."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:  # pragma: no cover - platforms without directory fds
        return
    try:
        os.fsync(fd)
    except OSError:  # pragma: no cover
        pass
    finally:
        os.close(fd)


def atomic_write(path: Path, data: bytes) -> None:
    """Replace ``path`` with ``data`` so that a crash at any moment leaves either the old or the
    new content: write a temp file in the same directory, fsync it, ``os.replace`` it over the
    target, fsync the directory (the librefang #3626 zero-byte-file failure is what the last two
    steps prevent).

    Raises:
        OSError: the write failed; ``path`` is unchanged.
    """
    tmp = path.with_name(f"{path.name}.tmp-{os.getpid()}")
    with contextlib.suppress(FileNotFoundError):
        os.unlink(tmp)  # a leftover (or a planted link): never written through
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _SAFE_OPEN, 0o644)
    try:
        _keep_mode_and_owner(fd, path)
        view = memoryview(data)
        while view:
            written = os.write(fd, view)
            view = view[written:]
        os.fsync(fd)
        fault_point("mid_store_write")
    except BaseException:
        os.close(fd)
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    os.close(fd)
    os.replace(tmp, path)
    fsync_dir(path.parent)


def _keep_mode_and_owner(fd: int, path: Path) -> None:
    """Give the replacement file the permissions (and, where allowed, the owner) of the file it
    replaces: a ``0600`` store holding secrets must not come back ``0644``."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return
    if hasattr(os, "fchmod"):  # pragma: no branch - Windows has no fchmod before 3.13
        os.fchmod(fd, stat.S_IMODE(st.st_mode))
    if hasattr(os, "fchown") and (st.st_uid, st.st_gid) != (os.geteuid(), os.getegid()):
        with contextlib.suppress(OSError):
            os.fchown(fd, st.st_uid, st.st_gid)


def remove_stale_temps(path: Path) -> None:
    """Delete temp files left by a writer killed mid-write (call with the lock held)."""
    for stale in path.parent.glob(f"{path.name}.tmp-*"):
        with contextlib.suppress(OSError):
            stale.unlink()


def move_aside(path: Path, reason: str, *, extra_suffixes: tuple[str, ...] = ()) -> Path:
    """Rename a bad file to ``<name>.corrupt-<UTC timestamp>`` (never overwriting anything) and
    log a warning saying where it went. Companion files (``-wal``) follow with the same stamp.

    Returns:
        The new path of the file.
    """
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S.%fZ")
    target = path.with_name(f"{path.name}.corrupt-{stamp}")
    n = 1
    while target.exists():
        target = path.with_name(f"{path.name}.corrupt-{stamp}-{n}")
        n += 1
    os.rename(path, target)
    for suffix in extra_suffixes:
        companion = path.with_name(path.name + suffix)
        if companion.exists():
            os.rename(companion, target.with_name(target.name + suffix))
    fsync_dir(path.parent)
    logger.warning(
        "store file %s could not be read (%s); it was moved aside to %s and left untouched. "
        "The scheduler starts without it; inspect or restore that file by hand",
        path,
        reason,
        target,
    )
    return target
