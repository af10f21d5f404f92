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
    """Apply every migration newer than the database; return the resulting version."""
    current = int(conn.execute("PRAGMA user_version").fetchone()[0])
    for number, _name, sql in _migrations():
        if number <= current:
            continue
        conn.execute("BEGIN IMMEDIATE")
        try:
            for statement in _split(sql):
                conn.execute(statement)
            conn.execute(f"PRAGMA user_version={number}")
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        current = number
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
