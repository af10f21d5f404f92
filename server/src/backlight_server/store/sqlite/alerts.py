"""Alerts in SQLite: rules, cursors, the outbox and the delivery log (migration 0007);
group resolutions (migration 0008).

Reads take a reader connection; writes run on the writer thread (functions taking the
writable connection). The cursor is the last ``errors.id`` read: one writer assigns ids in
commit order, so nothing committed later can get a smaller one. The same holds for
``logs.id`` (the cursor of ``log_counts``) and ``group_resolutions.id`` (``#resolved``).
"""

from __future__ import annotations

import sqlite3
import time

from backlight_server.query.derive import log_times
from backlight_server.store.base import LogCounts, OutboxRow, Row
from backlight_server.store.queries import LogQuery
from backlight_server.store.sqlite.logtext import text_match

_ERRORS_AFTER = """
SELECT e.id, e.group_id, e.ts_ms, e.source, e.type, e.message, e.stack, e.session_id,
    e.request_id, e.service, e.environment, c.change,
    g.count, g.first_ms, g.last_ms, g.state, s.identifier AS user,
    s.user_metadata AS user_metadata
FROM errors e JOIN error_groups g ON g.id = e.group_id
LEFT JOIN error_changes c ON c.error_id = e.id
LEFT JOIN sessions s ON s.secure_id = e.session_id
WHERE e.id > ? AND e.id <= ? AND e.project_id = ? ORDER BY e.id LIMIT ?
"""
IDLE_IDS = 10_000  # an empty read keeps its cursor unless this many ids were passed
_OUTBOX = (
    "key, rule_id, project_id, channel, slot_ms, event, state, attempts, next_ms, "
    "last_error, created_ms"
)


def _rows(cur: sqlite3.Cursor) -> list[Row]:
    names = [d[0] for d in cur.description]
    return [dict(zip(names, r, strict=True)) for r in cur.fetchall()]


def rules(conn: sqlite3.Connection, project_id: str | None) -> list[Row]:
    sql = "SELECT id, project_id, body, updated_ms FROM alert_rules"
    if project_id is None:
        return _rows(conn.execute(sql + " ORDER BY updated_ms, id"))
    return _rows(conn.execute(sql + " WHERE project_id = ? ORDER BY updated_ms, id", (project_id,)))


def get_rule(conn: sqlite3.Connection, rule_id: str) -> Row | None:
    found = _rows(
        conn.execute(
            "SELECT id, project_id, body, updated_ms FROM alert_rules WHERE id = ?", (rule_id,)
        )
    )
    return found[0] if found else None


def save_rule(conn: sqlite3.Connection, rule_id: str, project_id: str, body: str) -> None:
    conn.execute(
        "INSERT INTO alert_rules (id, project_id, body, updated_ms) VALUES (?, ?, ?, ?) "
        "ON CONFLICT (id) DO UPDATE SET project_id = excluded.project_id, "
        "body = excluded.body, updated_ms = excluded.updated_ms",
        (rule_id, project_id, body, time.time() * 1000),
    )
    end = conn.execute("SELECT coalesce(max(id), 0) FROM errors").fetchone()[0]
    conn.execute(
        "INSERT OR IGNORE INTO alert_cursors (project_id, position) VALUES (?, ?)",
        (project_id, str(end)),
    )


def delete_rule(conn: sqlite3.Connection, rule_id: str) -> bool:
    return conn.execute("DELETE FROM alert_rules WHERE id = ?", (rule_id,)).rowcount > 0


def cursors(conn: sqlite3.Connection) -> dict[str, str]:
    return {
        str(p): str(v) for p, v in conn.execute("SELECT project_id, position FROM alert_cursors")
    }


def errors_after(
    conn: sqlite3.Connection, project_id: str, cursor: str, limit: int
) -> tuple[list[Row], str]:
    after = int(cursor) if cursor.isdigit() else 0
    # The end first: rows committed after it wait for the next read (each statement reads
    # its own snapshot).
    end = int(conn.execute("SELECT coalesce(max(id), 0) FROM errors").fetchone()[0])
    rows = _rows(conn.execute(_ERRORS_AFTER, (after, end, project_id, limit)))
    if not rows and end - after < IDLE_IDS:  # nothing of this project: keep the cursor
        return rows, cursor
    if len(rows) < limit:  # read up to the end: other projects' rows are passed too
        return rows, str(max(after, end))
    return rows, str(rows[-1]["id"])


def _position(text: str, end: int) -> int | None:
    """A cursor of ids; None when it is not one or is past the end (every row after some
    id was deleted, so ids start again below it)."""
    after = int(text) if text.isdigit() else None
    return None if after is None or after > end else after


def log_counts(
    conn: sqlite3.Connection,
    query: LogQuery,
    environment: str | None,
    bucket_ms: float,
    cursor: str,
) -> LogCounts:
    """Matching logs per time bucket, read through the log search's full-text index
    (``logtext.text_match``: its words, its rules) bounded by id: after the cursor, only the logs
    committed since (the index walks only their part of each word's list)."""
    end = int(conn.execute("SELECT coalesce(max(id), 0) FROM logs").fetchone()[0])
    after = _position(cursor, end)
    if after == end:
        return LogCounts({}, None, str(end), False)
    match, likes = text_match(query.text) if query.text else ("", [])
    source, ident = "logs", "logs.id"
    where: list[str] = []
    args: list[object] = []
    if match:
        source, ident = "logs_fts JOIN logs ON logs.id = logs_fts.rowid", "logs_fts.rowid"
        where.append("logs_fts MATCH ?")
        args.append(match)
    for pattern in likes:
        where.append("logs.body LIKE ? ESCAPE '\\'")
        args.append(pattern)
    where.append(f"{ident} > ? AND {ident} <= ?")
    args += [after or 0, end]
    for column, value in (
        ("project_id", query.project_id),
        ("service", query.service),
        ("level", query.level.lower() if query.level else None),
        ("environment", environment),
    ):
        if value is not None:
            where.append(f"logs.{column} = ?")
            args.append(value)
    if query.start_ms is not None:
        where.append("logs.ts_ns >= ?")
        args.append(int(query.start_ms * 1e6))
    clause = " AND ".join(where)
    bucket_ns = max(1, int(bucket_ms * 1e6))
    buckets = {
        int(b): int(n)
        for b, n in conn.execute(
            f"SELECT logs.ts_ns / ? AS b, count(*) FROM {source} WHERE {clause} GROUP BY b",
            [bucket_ns, *args],
        )
    }
    sample = None
    if buckets:
        found = _rows(
            conn.execute(
                "SELECT logs.id, logs.ts_ns, logs.level, logs.body, logs.service, "
                "logs.environment, logs.session_id, logs.request_id, logs.trace_id "
                f"FROM {source} WHERE {clause} ORDER BY {ident} DESC LIMIT 1",
                args,
            )
        )
        sample = log_times(found)[0] if found else None
    return LogCounts(buckets, sample, str(end), after is None)


def resolutions_after(conn: sqlite3.Connection, cursor: str, limit: int) -> tuple[list[Row], str]:
    end = int(conn.execute("SELECT coalesce(max(id), 0) FROM group_resolutions").fetchone()[0])
    after = _position(cursor, end)
    if after is None and cursor == "":
        return [], str(end)
    rows = _rows(
        conn.execute(
            "SELECT id, project_id, group_id, at_ms FROM group_resolutions "
            "WHERE id > ? AND id <= ? ORDER BY id LIMIT ?",
            (after or 0, end, limit),
        )
    )
    for r in rows:
        r["id"] = str(r["id"])
    return rows, (rows[-1]["id"] if len(rows) == limit else str(end))


def fired_groups(conn: sqlite3.Connection, rule_ids: list[str], group_ids: list[int]) -> list[Row]:
    if not rule_ids or not group_ids:
        return []
    return _rows(
        conn.execute(
            "SELECT DISTINCT rule_id, channel, group_id, key FROM (SELECT rule_id, channel, "
            "json_extract(event, '$.group_id') AS group_id, json_extract(event, '$.key') AS key "
            f"FROM alert_outbox WHERE rule_id IN ({', '.join('?' * len(rule_ids))}) "
            "AND json_valid(event)) "
            f"WHERE group_id IN ({', '.join('?' * len(group_ids))}) ORDER BY rule_id, channel",
            [*rule_ids, *group_ids],
        )
    )


def error_counts(
    conn: sqlite3.Connection, project_id: str, since_ms: float, by: str, keys: list[str]
) -> dict[str, int]:
    out: dict[str, int] = {}
    for key in keys:
        if by == "group":
            sql = "SELECT count(*) FROM errors WHERE group_id = ? AND ts_ms >= ?"
            value: object = int(key)
        else:
            sql = (  # no service counts as "" (the evaluator's key for it), as in ClickHouse
                "SELECT count(*) FROM errors WHERE ts_ms >= ? AND coalesce(service, '') = ? "
                "AND project_id = ?"
            )
            out[key] = int(conn.execute(sql, (since_ms, key, project_id)).fetchone()[0])
            continue
        out[key] = int(conn.execute(sql, (value, since_ms)).fetchone()[0])
    return out


def last_slot(conn: sqlite3.Connection, rule_id: str) -> float | None:
    row = conn.execute(
        "SELECT max(slot_ms) FROM alert_outbox WHERE rule_id = ?", (rule_id,)
    ).fetchone()
    return None if row is None or row[0] is None else float(row[0])


def last_slots(conn: sqlite3.Connection, rule_ids: list[str]) -> dict[str, float]:
    if not rule_ids:
        return {}
    return {
        str(r): float(ms)
        for r, ms in conn.execute(
            "SELECT rule_id, max(slot_ms) FROM alert_outbox "
            f"WHERE rule_id IN ({', '.join('?' * len(rule_ids))}) GROUP BY rule_id",
            rule_ids,
        )
    }


def enqueue(conn: sqlite3.Connection, rows: list[OutboxRow], project_id: str, cursor: str) -> int:
    """Rows and the cursor in one transaction: either both are committed or neither."""
    now = time.time() * 1000
    added = 0
    for r in rows:
        added += conn.execute(
            "INSERT OR IGNORE INTO alert_outbox (key, rule_id, project_id, channel, slot_ms, "
            "event, next_ms, created_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (r.key, r.rule_id, r.project_id, r.channel, r.slot_ms, r.event, r.slot_ms, now),
        ).rowcount
    conn.execute(
        "INSERT INTO alert_cursors (project_id, position) VALUES (?, ?) "
        "ON CONFLICT (project_id) DO UPDATE SET position = excluded.position",
        (project_id, cursor),
    )
    return added


def due(conn: sqlite3.Connection, now_ms: float, limit: int) -> list[Row]:
    return _rows(
        conn.execute(
            f"SELECT {_OUTBOX} FROM alert_outbox WHERE state IN ('pending', 'sending') "
            "AND next_ms <= ? ORDER BY next_ms, key LIMIT ?",
            (now_ms, limit),
        )
    )


def mark(
    conn: sqlite3.Connection, keys: list[str], state: str, attempts: int, next_ms: float, error: str
) -> None:
    conn.executemany(
        "UPDATE alert_outbox SET state = ?, attempts = ?, next_ms = ?, last_error = ? "
        "WHERE key = ?",
        [(state, attempts, next_ms, error, key) for key in keys],
    )


_DELIVERY = (
    "at_ms",
    "rule_id",
    "channel",
    "kind",
    "key",
    "events",
    "ok",
    "status",
    "error",
    "attempt",
)


def log_delivery(conn: sqlite3.Connection, entry: Row) -> None:
    conn.execute(
        f"INSERT INTO alert_deliveries ({', '.join(_DELIVERY)}) "
        f"VALUES ({', '.join('?' * len(_DELIVERY))})",
        tuple(entry[name] for name in _DELIVERY),
    )


def log_deliveries(conn: sqlite3.Connection, entries: list[Row]) -> None:
    conn.executemany(
        f"INSERT INTO alert_deliveries ({', '.join(_DELIVERY)}) "
        f"VALUES ({', '.join('?' * len(_DELIVERY))})",
        [tuple(entry[name] for name in _DELIVERY) for entry in entries],
    )


def deliveries(conn: sqlite3.Connection, rule_id: str | None, limit: int, offset: int) -> Row:
    where, params = ("WHERE rule_id = ?", [rule_id]) if rule_id else ("", [])
    total = conn.execute(f"SELECT count(*) FROM alert_deliveries {where}", params).fetchone()[0]
    rows = _rows(
        conn.execute(
            f"SELECT id, {', '.join(_DELIVERY)} FROM alert_deliveries {where} "
            "ORDER BY id DESC LIMIT ? OFFSET ?",
            [*params, limit, offset],
        )
    )
    for r in rows:
        r["ok"] = bool(r["ok"])
    return {"total": int(total), "limit": limit, "offset": offset, "deliveries": rows}
