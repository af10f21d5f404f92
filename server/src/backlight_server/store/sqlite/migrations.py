"""Named, versioned schema migrations: ``migrations/NNNN_name.sql``, tracked in user_version.

A step that SQL cannot express is a Python function in ``PYTHON_STEPS``, numbered with the
files (a change of the error fingerprint ships a ``regroup`` step; it ends by giving each
group the id of its new fingerprint).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from importlib import resources

from backlight_server.store.sqlite import regroup, rekey

Step = str | Callable[[sqlite3.Connection], None]
PYTHON_STEPS: dict[int, tuple[str, Callable[[sqlite3.Connection], None]]] = {
    3: ("0003_regroup_errors", regroup.apply),  # issue 17: runtime/library frames out
    5: ("0005_group_ids_from_fingerprints", rekey.apply),  # issue 19: ids need no counter
}


def _migrations() -> list[tuple[int, str, Step]]:
    folder = resources.files("backlight_server.store.sqlite") / "migrations"
    found: list[tuple[int, str, Step]] = [(n, name, fn) for n, (name, fn) in PYTHON_STEPS.items()]
    for item in folder.iterdir():
        if item.name.endswith(".sql"):
            number = int(item.name.split("_", 1)[0])
            found.append((number, item.name, item.read_text("utf-8")))
    numbers = [number for number, _name, _step in found]
    if len(set(numbers)) != len(numbers):  # e.g. two branches each added step 3
        names = sorted(name for number, name, _step in found if numbers.count(number) > 1)
        raise RuntimeError(f"two migrations share a number: {', '.join(names)}")
    return sorted(found, key=lambda step: step[0])


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
                if callable(sql):
                    sql(conn)
                else:
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
