"""The data dir is private: created 0700, its files (database, -wal, -shm, token) 0600.

SQLite gives the -wal and -shm files the mode of the database file, so creating the
database 0600 before SQLite opens it keeps all three private. Existing files that others
may read are set to 0600 (they are Backlight's own); an existing data dir that others may
enter is only warned about, since an operator may have chosen a shared folder on purpose.
"""

from __future__ import annotations

import errno
import logging
import os
import secrets
import stat
import time
from collections.abc import Callable
from pathlib import Path

log = logging.getLogger("backlight.datadir")
DIR_MODE = 0o700
FILE_MODE = 0o600
_warned: set[Path] = set()
_NO_LINKS = {errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EMLINK, errno.ENOSYS}


def ensure_dir(folder: Path) -> None:
    """Create ``folder`` 0700 (missing parents with the usual mode); warn if it is open."""
    try:
        folder.mkdir(mode=DIR_MODE, parents=True)
        return
    except FileExistsError:
        pass
    mode = stat.S_IMODE(folder.stat().st_mode)
    if mode & 0o077 and folder not in _warned:
        _warned.add(folder)
        log.warning(
            "data dir %s has mode %04o: other users may list it (the files in it are "
            "0600); `chmod 700 %s` makes it private",
            folder,
            mode,
            folder,
        )


def tighten(path: Path) -> None:
    """Make an existing file of ours 0600 if others may read or write it."""
    try:
        mode = stat.S_IMODE(path.stat().st_mode)
    except FileNotFoundError:
        return
    if not mode & 0o077:
        return
    try:
        path.chmod(FILE_MODE)
    except PermissionError:
        log.warning("%s has mode %04o and cannot be made 0600 (not its owner)", path, mode)
        return
    log.warning("%s had mode %04o; set to 0600", path, mode)


def create_database_file(path: Path) -> None:
    """Create the (empty) database 0600 before SQLite does, or tighten what exists.

    Opening it for writing here also turns a read-only file, folder or file system into a
    clear ``OSError`` (EROFS, EACCES) instead of a database that SQLite silently opens
    read-only.
    """
    ensure_dir(path.parent)
    for suffix in ("", "-wal", "-shm"):
        tighten(path.with_name(path.name + suffix))
    fd = os.open(path, os.O_RDWR | os.O_CREAT, FILE_MODE)
    os.close(fd)


def read_or_create_secret(path: Path, make: Callable[[], str]) -> str:
    """The secret kept in ``path``, made with ``make()`` if there is none yet.

    Safe when several processes start at once: the secret is written whole to a file of
    its own, then hard-linked into place; whoever links first wins and the others read it.
    """
    ensure_dir(path.parent)
    tighten(path)
    existing = _read_secret(path)
    if existing is not None:
        return existing
    secret = make()
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
    try:
        with os.fdopen(fd, "w") as f:
            f.write(secret + "\n")
            f.flush()
            os.fsync(f.fileno())
        os.link(tmp, path)
        return secret
    except FileExistsError:
        return _wait_for_secret(path)
    except OSError as exc:
        if exc.errno not in _NO_LINKS:
            raise
        return _create_exclusive(path, secret)  # a file system without hard links
    finally:
        tmp.unlink(missing_ok=True)


def _create_exclusive(path: Path, secret: str) -> str:
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
    except FileExistsError:
        return _wait_for_secret(path)
    with os.fdopen(fd, "w") as f:
        f.write(secret + "\n")
    return secret


def _read_secret(path: Path) -> str | None:
    try:
        text = path.read_text("utf-8").strip()
    except FileNotFoundError:
        return None
    if not text:
        raise SystemExit(
            f"{path} is empty: delete it (a new token is made on the next start) "
            "or set BACKLIGHT_AUTH_TOKEN"
        )
    return text


def _wait_for_secret(path: Path) -> str:
    """Read a secret another process is writing (only needed without hard links)."""
    deadline = time.monotonic() + 2.0
    while True:
        try:
            secret = _read_secret(path)
        except SystemExit:
            if time.monotonic() > deadline:
                raise
            secret = None
        if secret is not None:
            return secret
        if time.monotonic() > deadline:
            raise SystemExit(f"{path} vanished while another process was creating it")
        time.sleep(0.05)
