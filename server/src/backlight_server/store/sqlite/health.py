"""Whether the store can write: which failures mean "storage unavailable", and the state.

A failure is a storage failure when SQLite says the disk is full, the database is
read-only, an I/O error happened or a file cannot be opened (or the OS says as much
before SQLite is reached). Those are not the job's fault: the whole group is refused with
``StorageUnavailable`` (503 + ``Retry-After``) and ``/healthz`` turns not ok until a
write succeeds again. Any other failure keeps the old behaviour.
"""

from __future__ import annotations

import errno
import os
import sqlite3
from pathlib import Path

from backlight_server.errors import StorageUnavailable
from backlight_server.store.base import Health

__all__ = ["Health", "free_bytes", "short_of_space", "storage_reason", "unavailable"]

_SQLITE_REASONS = {
    sqlite3.SQLITE_FULL: "disk full",
    sqlite3.SQLITE_READONLY: "read-only",
    sqlite3.SQLITE_IOERR: "I/O error",
    sqlite3.SQLITE_CANTOPEN: "cannot open the database file",
}
_MAYBE_FULL = (sqlite3.SQLITE_IOERR, sqlite3.SQLITE_CANTOPEN)
MIN_FREE_BYTES = 1024 * 1024
_OS_REASONS = {
    errno.ENOSPC: "disk full",
    errno.EDQUOT: "disk quota exceeded",
    errno.EROFS: "read-only file system",
    errno.EACCES: "permission denied",
    errno.EPERM: "permission denied",
    errno.EIO: "I/O error",
}


def free_bytes(folder: Path) -> int:
    """Space an unprivileged writer may still use on ``folder``'s file system."""
    st = os.statvfs(folder)
    return st.f_bavail * st.f_frsize


def short_of_space(folder: Path | None) -> bool:
    """Less than ``MIN_FREE_BYTES`` free where ``folder`` lives (False if unknown)."""
    try:
        return folder is not None and free_bytes(folder) < MIN_FREE_BYTES
    except OSError:
        return False


def storage_reason(exc: BaseException, folder: Path | None = None) -> str | None:
    """Why ``exc`` means the store cannot write, or None if it means something else.

    SQLite reports some writes that ran out of space as I/O errors (growing the -shm
    file, for one); with ``folder`` given, those say "disk full" when the disk is.
    """
    if isinstance(exc, sqlite3.Error):
        code = getattr(exc, "sqlite_errorcode", None)
        if not isinstance(code, int) or (code & 0xFF) not in _SQLITE_REASONS:
            return None
        words = _SQLITE_REASONS[code & 0xFF]
        if (code & 0xFF) in _MAYBE_FULL and short_of_space(folder):
            words = "disk full"
        return f"{words} ({exc.sqlite_errorname})"
    if isinstance(exc, OSError) and exc.errno is not None:
        return _OS_REASONS.get(exc.errno) or exc.strerror or type(exc).__name__
    return None


def unavailable(
    exc: BaseException, folder: Path | None = None, where: str = ""
) -> StorageUnavailable | None:
    """``exc`` as the error clients get, if it is a storage failure."""
    reason = storage_reason(exc, folder)
    return None if reason is None else StorageUnavailable(reason, where=where)
