"""Error groups merged into the group of another fingerprint, and the aliases they leave
(docs/sourcemaps.md, "Grouping"): a frontend group whose errors a source map now names by
their original frames moves into ``group_id(project, new fingerprint)``.

Runs in one write transaction (the writer thread). Per move: the instances take the new
id (an ``UPDATE`` through the ``group_id`` index; their row ids stay, so the alert
evaluator, which reads by id, does not see them again), then the group becomes the new
one (no group there yet: its id and fingerprint change in place) or is folded into it
(counts add up, first/last seen widen, the state is ``open`` if any was, else
``resolved`` if any was, else ``ignored``: ``rekey.merged_state``). Its old id becomes an
alias of the new one; aliases that named the old id name the new one (kept flat), and an
alias of the new id itself is dropped (that group exists again).
"""

from __future__ import annotations

import sqlite3

from backlight_server.store.ids import group_id
from backlight_server.store.sqlite.rekey import merged_state

_GROUP = "SELECT count, first_ms, last_ms, state FROM error_groups WHERE id = ? AND project_id = ?"


def merge(
    conn: sqlite3.Connection, project_id: str, moves: list[tuple[int, str]], now_ms: float
) -> int:
    done = 0
    for old, fingerprint in moves:
        new = group_id(project_id, fingerprint)
        source = conn.execute(_GROUP, (old, project_id)).fetchone()
        if new == old or source is None:
            continue
        target = conn.execute(_GROUP, (new, project_id)).fetchone()
        conn.execute("UPDATE errors SET group_id = ? WHERE group_id = ?", (new, old))
        if target is None:
            conn.execute(
                "UPDATE error_groups SET id = ?, fingerprint = ? WHERE id = ?",
                (new, fingerprint, old),
            )
        else:
            conn.execute("DELETE FROM error_groups WHERE id = ?", (old,))
            conn.execute(
                "UPDATE error_groups SET count = ?, first_ms = ?, last_ms = ?, state = ? "
                "WHERE id = ?",
                (
                    source[0] + target[0],
                    min(source[1], target[1]),
                    max(source[2], target[2]),
                    merged_state([target[3], source[3]]),
                    new,
                ),
            )
        conn.execute("DELETE FROM group_aliases WHERE old_id = ?", (new,))
        conn.execute(
            "UPDATE group_aliases SET new_id = ?, fingerprint = ? WHERE new_id = ?",
            (new, fingerprint, old),
        )
        conn.execute(
            "INSERT OR REPLACE INTO group_aliases (old_id, project_id, new_id, fingerprint, "
            "merged_ms) VALUES (?, ?, ?, ?, ?)",
            (old, project_id, new, fingerprint, now_ms),
        )
        done += 1
    return done


def aliases(conn: sqlite3.Connection, group_ids: list[int]) -> dict[int, tuple[int, str]]:
    ids = sorted({int(g) for g in group_ids if isinstance(g, int) and 0 < g < 2**63})[:1000]
    if not ids:
        return {}
    marks = ",".join("?" * len(ids))
    rows = conn.execute(
        f"SELECT old_id, new_id, fingerprint FROM group_aliases WHERE old_id IN ({marks})", ids
    ).fetchall()
    return {int(r[0]): (int(r[1]), str(r[2])) for r in rows}


_HEADS = """
SELECT g.id AS group_id, g.fingerprint, e.type, e.message, e.stack, e.raw_stack,
    e.session_id, e.attributes
FROM (SELECT id, fingerprint, last_ms FROM error_groups
      WHERE project_id = ? AND source = 'frontend' ORDER BY last_ms DESC LIMIT ?) g
JOIN errors e ON e.id = (SELECT id FROM errors WHERE group_id = g.id ORDER BY ts_ms DESC LIMIT 1)
ORDER BY g.last_ms DESC
"""


def heads(conn: sqlite3.Connection, project_id: str, limit: int) -> list[dict[str, object]]:
    """Each frontend group's fingerprint and latest instance, most recently seen first."""
    cur = conn.execute(_HEADS, (project_id, max(0, limit)))
    names = [d[0] for d in cur.description]
    return [dict(zip(names, r, strict=True)) for r in cur.fetchall()]
