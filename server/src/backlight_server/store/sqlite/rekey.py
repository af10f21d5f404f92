"""Give every stored error group the id its fingerprint derives (``store/ids.py``).

A migration step (see ``migrations.py``), run once inside the migration's write
transaction, and the last part of every ``regroup`` step, so that groups whose fingerprint
changed take the id of their new one. Servers before issue 19 let SQLite number the groups
1, 2, 3…; each group now becomes ``group_id(project_id, fingerprint)`` and its instances
follow. Counts, times, states and frames are kept. Two fingerprints whose ids collide
(about 1 in 2**53 per pair) are merged into the older group, as regroup merges: counts add
up, first/last seen widen, the state is ``open`` if any was open, else ``resolved`` if any
was, else ``ignored``.

Cost: one hash per group, then (only if some id changes) one ``UPDATE`` of the instances
of the groups that move and two of the groups themselves: 20,000 groups with 200,000
instances take about 1 s, 100,000 with 2,000,000 about 10 s on the test machine. The
primary key stays unique at every row: moving groups first take the negative of their old
id (SQLite's own ids are positive), then their derived one.
"""

from __future__ import annotations

import sqlite3

from backlight_server.store.ids import group_id

_STATES = ("open", "resolved", "ignored")  # a merged group takes the first one present

_GROUPS = "SELECT id, project_id, fingerprint, count, first_ms, last_ms, state FROM error_groups"
_Row = tuple[int, str, str, int, float, float, str]


def merged_state(states: list[str]) -> str:
    return next((s for s in _STATES if s in states), states[0])


def _merge(conn: sqlite3.Connection, rows: list[_Row]) -> None:
    """Fold ``rows[1:]`` into ``rows[0]`` (their instances are moved by the caller)."""
    keeper = rows[0]
    for other in rows[1:]:
        conn.execute("DELETE FROM error_groups WHERE id = ?", (other[0],))
    conn.execute(
        "UPDATE error_groups SET count = ?, first_ms = ?, last_ms = ?, state = ? WHERE id = ?",
        (
            sum(r[3] for r in rows),
            min(r[4] for r in rows),
            max(r[5] for r in rows),
            merged_state([r[6] for r in rows]),
            keeper[0],
        ),
    )


def _move_instances(conn: sqlite3.Connection) -> None:
    """Point the instances of moved groups at the new ids. When a quarter or more of them
    move (every one, on a database numbered by an old server), the indexes on ``group_id``
    are dropped and built again after the update: random lookups through the index they
    change cost twice as much as a scan and a rebuild."""
    moving = conn.execute(
        "SELECT count(*) FROM errors WHERE group_id IN (SELECT old FROM temp.rekey)"
    ).fetchone()[0]
    total = conn.execute("SELECT count(*) FROM errors").fetchone()[0]
    indexes: list[tuple[str, str]] = []
    if moving * 4 >= total > 0:
        indexes = conn.execute(
            "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = 'errors' "
            "AND sql LIKE '%group_id%'"
        ).fetchall()
    for name, _sql in indexes:
        conn.execute(f'DROP INDEX "{name}"')
    conn.execute(
        "UPDATE errors SET group_id = (SELECT new FROM temp.rekey WHERE old = errors.group_id) "
        "WHERE group_id IN (SELECT old FROM temp.rekey)"
    )
    for _name, sql in indexes:
        conn.execute(sql)


def apply(conn: sqlite3.Connection) -> None:
    clusters: dict[int, list[_Row]] = {}
    for row in conn.execute(_GROUPS).fetchall():
        clusters.setdefault(group_id(row[1], row[2]), []).append(row)
    moves = [(r[0], new) for new, rows in clusters.items() for r in rows if r[0] != new]
    if not moves:
        return
    conn.execute("CREATE TEMP TABLE rekey (old INTEGER PRIMARY KEY, new INTEGER NOT NULL)")
    conn.executemany("INSERT INTO temp.rekey (old, new) VALUES (?, ?)", moves)
    _move_instances(conn)
    for rows in clusters.values():
        if len(rows) > 1:
            _merge(conn, sorted(rows))
    conn.execute("UPDATE error_groups SET id = -id WHERE id IN (SELECT old FROM temp.rekey)")
    conn.execute(
        "UPDATE error_groups SET id = (SELECT new FROM temp.rekey WHERE old = -error_groups.id) "
        "WHERE id IN (SELECT -old FROM temp.rekey)"
    )
    conn.execute("DROP TABLE temp.rekey")
