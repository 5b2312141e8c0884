"""File helpers shared by the embedded stores: the exclusive lock, atomic writes, quarantine."""

from __future__ import annotations

import contextlib
import logging
import os
from datetime import UTC, datetime
from pathlib import Path

from ..errors import StoreError, StoreLockedError

__all__ = ["FileLock", "atomic_write", "move_aside"]

logger = logging.getLogger("asyncron.stores")

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]


class FileLock:
    """An exclusive, non-blocking lock on ``<path>.lock`` held while a store is open.

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
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            raise StoreError(f"{what}: cannot create the lock file {self.path}: {exc}") from exc
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
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        view = memoryview(data)
        while view:
            written = os.write(fd, view)
            view = view[written:]
        os.fsync(fd)
    except BaseException:
        os.close(fd)
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    os.close(fd)
    os.replace(tmp, path)
    fsync_dir(path.parent)


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
