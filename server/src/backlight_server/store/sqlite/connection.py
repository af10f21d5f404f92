"""Opening SQLite connections with the pragmas Backlight relies on."""

from __future__ import annotations

import random
import sqlite3
import time
from pathlib import Path

from backlight_server.store.sqlite.datadir import create_database_file


def open_writer(path: Path, synchronous: str) -> sqlite3.Connection:
    """The writable connection. Raises OSError or sqlite3.Error if the file is not writable."""
    create_database_file(path)  # 0600, in a 0700 folder; EROFS/EACCES surface here
    # the busy timeout is set at once: a fresh database's switch to WAL waits for the lock
    # when several processes start together
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=10.0)
    try:
        _switch_to_wal(conn)
        for pragma in (
            f"synchronous={'FULL' if synchronous == 'full' else 'NORMAL'}",
            "foreign_keys=OFF",
            "cache_size=-65536",
            "temp_store=MEMORY",
            "wal_autocheckpoint=4000",
        ):
            conn.execute(f"PRAGMA {pragma}")
    except BaseException:
        conn.close()
        raise
    return conn


def _switch_to_wal(conn: sqlite3.Connection, wait_s: float = 10.0) -> None:
    """``journal_mode=WAL``, retried while another process holds the lock.

    On a fresh file, the switch upgrades a shared lock to an exclusive one; when several
    processes start together SQLite answers SQLITE_BUSY at once there (the busy timeout
    does not apply to a lock upgrade), so wait a little and try again.
    """
    deadline = time.monotonic() + wait_s
    while True:
        try:
            conn.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            busy = getattr(exc, "sqlite_errorcode", 0) & 0xFF == sqlite3.SQLITE_BUSY
            if not busy or time.monotonic() > deadline:
                raise
            time.sleep(random.uniform(0.005, 0.05))


def open_reader(path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(
        f"file:{path}?mode=ro", uri=True, isolation_level=None, check_same_thread=False
    )
    conn.row_factory = sqlite3.Row
    conn.execute("PRAGMA busy_timeout=10000")
    conn.execute("PRAGMA cache_size=-32768")
    conn.execute("PRAGMA query_only=1")
    return conn


def set_time_limit(conn: sqlite3.Connection, ms: int) -> None:
    """Abort the next statements on ``conn`` once ``ms`` milliseconds have passed."""
    deadline = time.monotonic() + ms / 1000

    def check() -> int:
        return 1 if time.monotonic() > deadline else 0

    conn.set_progress_handler(check, 10000)
