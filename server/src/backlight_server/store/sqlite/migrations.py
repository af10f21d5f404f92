"""Named, versioned schema migrations: ``migrations/NNNN_name.sql``, tracked in user_version."""

from __future__ import annotations

import sqlite3
from importlib import resources


def _migrations() -> list[tuple[int, str, str]]:
    folder = resources.files("backlight_server.store.sqlite") / "migrations"
    found = []
    for item in folder.iterdir():
        if item.name.endswith(".sql"):
            number = int(item.name.split("_", 1)[0])
            found.append((number, item.name, item.read_text("utf-8")))
    return sorted(found)


def migrate(conn: sqlite3.Connection) -> int:
    """Apply every migration newer than the database; return the resulting version.

    Each step takes the write lock (``BEGIN IMMEDIATE``) before it reads ``user_version``,
    so processes starting together on one fresh file apply each migration exactly once:
    the others wait for the lock, then see the new version.
    """
    pending = _migrations()
    while True:
        conn.execute("BEGIN IMMEDIATE")
        try:
            current = int(conn.execute("PRAGMA user_version").fetchone()[0])
            step = next(((n, sql) for n, _name, sql in pending if n > current), None)
            if step is not None:
                number, sql = step
                for statement in _split(sql):
                    conn.execute(statement)
                conn.execute(f"PRAGMA user_version={number}")
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
        if step is None:
            return current


def _split(sql: str) -> list[str]:
    """Split a script into statements (triggers contain semicolons inside BEGIN…END)."""
    statements, buf = [], ""
    for line in sql.splitlines(keepends=True):
        if line.strip().startswith("--"):
            continue
        buf += line
        if sqlite3.complete_statement(buf):
            statements.append(buf.strip())
            buf = ""
    if buf.strip():
        statements.append(buf.strip())
    return statements
