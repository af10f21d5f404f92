"""Error groups merged into the group of another fingerprint, and the aliases they leave
(docs/sourcemaps.md, "Grouping"); schema version 7.

``errors`` is ordered by ``(project_id, group_id, ts_ms)``, so a group's instances take
their new id by ``INSERT … SELECT`` (same row ids and arrival times: the alert evaluator,
which reads by arrival, does not see them again) and a lightweight ``DELETE`` of the old
rows. The target's state is a new ``group_states`` row when it changes: ``open`` if either
group was, else ``resolved`` if either was, else ``ignored``. Aliases are rows of
``group_aliases`` (the latest per old id wins; ``new_id = 0`` is no alias), kept flat as in
SQLite. A merge that stops between its two statements (the server dies) leaves the
instances in both groups until the next regroup of the project moves the old group again.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from backlight_server.store.base import Row
from backlight_server.store.clickhouse.transport import NO_LIMIT, Transport
from backlight_server.store.ids import group_id

if TYPE_CHECKING:  # schema.py imports this module to register version_7
    from backlight_server.store.clickhouse.schema import Layout

_STATES = ("open", "resolved", "ignored")
_COLUMNS = (
    "id, group_id, project_id, fingerprint, ts_ms, received_ms, source, type, message, "
    "stack, raw_stack, session_id, request_id, trace_id, span_id, service, environment, "
    "url, attributes"
)
# The new values are aliased under other names: a SELECT alias named like a column would
# replace that column in the WHERE clause too (ClickHouse resolves aliases there).
_COPY = (
    f"INSERT INTO errors ({_COLUMNS}) SELECT "
    + _COLUMNS.replace("group_id, ", "{n:UInt64} AS moved_group_id, ", 1).replace(
        "fingerprint, ", "{f:String} AS moved_fingerprint, ", 1
    )
    + " FROM errors WHERE project_id = {p:String} AND group_id = {o:UInt64}"
)


def version_7(lay: Layout) -> list[str]:
    """Aliases of merged error groups (issue 21)."""
    return [
        f"""CREATE TABLE IF NOT EXISTS group_aliases{lay.on()} (
            old_id UInt64, project_id LowCardinality(String), new_id UInt64,
            fingerprint String, merged_ms Float64
        ) ENGINE = {lay.engine("ReplacingMergeTree", "merged_ms")} ORDER BY old_id"""
    ]


def _states(tx: Transport, project_id: str, ids: list[int]) -> dict[int, str]:
    """Each existing group's state as reads give it (a resolved group with an instance
    that arrived after its resolution reads open)."""
    rows = tx.query(
        "SELECT e.group_id, multiIf(s.state = '', 'open', s.state = 'resolved' AND "
        "e.received > s.updated, 'open', s.state) FROM (SELECT group_id, max(received_ms) "
        "AS received FROM errors WHERE project_id = {p:String} AND group_id IN "
        "{g:Array(UInt64)} GROUP BY group_id) AS e LEFT JOIN (SELECT group_id, "
        "argMax(state, updated_ms) AS state, max(updated_ms) AS updated FROM group_states "
        "WHERE project_id = {p:String} AND group_id IN {g:Array(UInt64)} GROUP BY group_id) "
        "AS s ON e.group_id = s.group_id",
        {"p": project_id, "g": ids},
        NO_LIMIT,
    )
    return {int(g): str(s) for g, s in rows}


def merge(tx: Transport, project_id: str, moves: list[tuple[int, str]]) -> int:
    targets = {old: (group_id(project_id, fp), fp) for old, fp in moves}
    states = _states(tx, project_id, sorted({*targets, *(n for n, _ in targets.values())}))
    done = 0
    for old, (new, fingerprint) in targets.items():
        if new == old or old not in states:
            continue
        p = {"p": project_id, "o": old, "n": new, "f": fingerprint}
        tx.command(_COPY, p, NO_LIMIT)
        tx.command(
            "DELETE FROM errors WHERE project_id = {p:String} AND group_id = {o:UInt64}",
            p,
            NO_LIMIT,
        )
        had = states.get(new)
        both = [s for s in (had, states.pop(old)) if s is not None]
        state = next((s for s in _STATES if s in both), both[0])
        now = time.time() * 1000
        if state != (had or "open"):
            tx.command(
                "INSERT INTO group_states (project_id, group_id, state, updated_ms) SELECT "
                "{p:String}, {n:UInt64}, {s:String}, {t:Float64}",
                {**p, "s": state, "t": now},
                NO_LIMIT,
            )
        states[new] = state
        _alias(tx, project_id, old, new, fingerprint, now)
        done += 1
    return done


def _alias(
    tx: Transport, project_id: str, old: int, new: int, fingerprint: str, now: float
) -> None:
    """``old`` → ``new``; aliases that named ``old`` name ``new``; ``new``'s own alias
    (if that group had been merged away before) is dropped."""
    pointing = [
        int(r[0])
        for r in tx.query(
            "SELECT old_id FROM group_aliases WHERE project_id = {p:String} GROUP BY old_id "
            "HAVING argMax(new_id, merged_ms) = {o:UInt64}",
            {"p": project_id, "o": old},
            NO_LIMIT,
        )
    ]
    rows = [(o, new, fingerprint) for o in [old, *pointing] if o != new] + [(new, 0, "")]
    for o, n, f in rows:
        tx.command(
            "INSERT INTO group_aliases (old_id, project_id, new_id, fingerprint, merged_ms) "
            "SELECT {o:UInt64}, {p:String}, {n:UInt64}, {f:String}, {t:Float64}",
            {"o": o, "p": project_id, "n": n, "f": f, "t": now},
            NO_LIMIT,
        )


def aliases(tx: Transport, group_ids: list[int]) -> dict[int, tuple[int, str]]:
    ids = sorted({int(g) for g in group_ids if isinstance(g, int) and 0 < g < 2**63})[:1000]
    if not ids:
        return {}
    rows = tx.query(
        "SELECT old_id, argMax(new_id, merged_ms), argMax(fingerprint, merged_ms) "
        "FROM group_aliases WHERE old_id IN {g:Array(UInt64)} GROUP BY old_id",
        {"g": ids},
    )
    return {int(o): (int(n), str(f)) for o, n, f in rows if int(n) != 0}


def heads(tx: Transport, project_id: str, limit: int) -> list[Row]:
    """Each frontend group's fingerprint and latest instance, most recently seen first."""
    return tx.records(
        "SELECT group_id, argMax(fingerprint, (ts_ms, id)) AS fingerprint, "
        "argMax(type, (ts_ms, id)) AS type, argMax(message, (ts_ms, id)) AS message, "
        "argMax(stack, (ts_ms, id)) AS stack, argMax(raw_stack, (ts_ms, id)) AS raw_stack, "
        "argMax(session_id, (ts_ms, id)) AS session_id, "
        "argMax(attributes, (ts_ms, id)) AS attributes, max(ts_ms) AS last_ms "
        "FROM errors WHERE project_id = {p:String} AND source = 'frontend' "
        "GROUP BY group_id ORDER BY last_ms DESC, group_id LIMIT {n:UInt64}",
        {"p": project_id, "n": max(0, limit)},
    )
