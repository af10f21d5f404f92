"""Opening SQLite connections with the pragmas Backlight relies on."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path


def open_writer(path: Path, synchronous: str) -> sqlite3.Connection:
    path.parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute(f"PRAGMA synchronous={'FULL' if synchronous == 'full' else 'NORMAL'}")
    conn.execute("PRAGMA busy_timeout=10000")
    conn.execute("PRAGMA foreign_keys=OFF")
    conn.execute("PRAGMA cache_size=-65536")
    conn.execute("PRAGMA temp_store=MEMORY")
    conn.execute("PRAGMA wal_autocheckpoint=4000")
    return conn


def open_reader(path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, isolation_level=None,
                           check_same_thread=False)
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
