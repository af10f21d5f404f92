"""Alerts in ClickHouse (schema version 2): rules, cursors, the outbox, the delivery log.

Nothing is updated in place: a rule, a cursor or an outbox row changes by a new row with a
higher version, and reads take the latest. The evaluator's cursor is a ``received_ms``
(the time the writing server inserted the error); each read goes back ``OVERLAP_MS``
before it, for inserts that finished late or came from a server whose clock is behind, and
the outbox keeps one row per key, so what is read twice is enqueued once.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

from backlight_server.store.base import OutboxRow, Row
from backlight_server.store.clickhouse.transport import NO_LIMIT, Transport

OVERLAP_MS = 5_000.0
MAX_SPAN_MS = 60_000.0  # one read covers at most a minute of arrivals
MAX_ROWS = 50_000
Insert = Callable[[str, Sequence[Sequence[Any]], str, Sequence[str]], None]

OUTBOX = (
    "key",
    "rule_id",
    "project_id",
    "channel",
    "slot_ms",
    "event",
    "state",
    "attempts",
    "next_ms",
    "last_error",
    "created_ms",
    "version",
)
DELIVERY = (
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
_lock = threading.Lock()
_last_version = [0]


def version() -> int:
    """Microseconds, strictly increasing in this process (a later state wins)."""
    with _lock:
        _last_version[0] = max(time.time_ns() // 1000, _last_version[0] + 1)
        return _last_version[0]


def token(prefix: str, keys: Sequence[str]) -> str:
    return prefix + hashlib.sha256("\n".join(keys).encode()).hexdigest()


_RULES = (
    "SELECT id, argMax(project_id, updated_ms) AS pid, argMax(body, updated_ms) AS text, "
    "max(updated_ms) AS at, argMax(deleted, updated_ms) AS gone FROM alert_rules"
)


def _rule(r: Row) -> Row:
    return {"id": r["id"], "project_id": r["pid"], "body": r["text"], "updated_ms": r["at"]}


def rules(tx: Transport, project_id: str | None) -> list[Row]:
    rows = tx.records(_RULES + " GROUP BY id HAVING gone = 0 ORDER BY at, id", {})
    out = [_rule(r) for r in rows]
    if project_id is not None:
        out = [r for r in out if r["project_id"] == project_id]
    return out


def get_rule(tx: Transport, rule_id: str) -> Row | None:
    rows = tx.records(_RULES + " WHERE id = {id:String} GROUP BY id", {"id": rule_id})
    return _rule(rows[0]) if rows and not rows[0]["gone"] else None


def cursors(tx: Transport) -> dict[str, str]:
    rows = tx.query(
        "SELECT project_id, argMax(position, version) FROM alert_cursors GROUP BY project_id",
        settings=NO_LIMIT,
    )
    return {str(p): str(v) for p, v in rows}


def errors_after(tx: Transport, project_id: str, cursor: str) -> tuple[list[Row], str]:
    try:
        after = float(cursor)
    except ValueError:
        after = time.time() * 1000
    hi = min(after + MAX_SPAN_MS, time.time() * 1000)
    rows = tx.records(
        "SELECT id, group_id, ts_ms, received_ms, source, type, message, stack, session_id, "
        "request_id, service, environment FROM errors WHERE project_id = {p:String} "
        "AND received_ms > {lo:Float64} AND received_ms <= {hi:Float64} "
        "ORDER BY received_ms, id LIMIT {n:UInt64}",
        {"p": project_id, "lo": after - OVERLAP_MS, "hi": hi, "n": MAX_ROWS},
    )
    if not rows:
        return [], str(max(hi, after))
    _annotate(tx, rows)
    return rows, str(max(hi, after))


def _annotate(tx: Transport, rows: list[Row]) -> None:
    """Each instance's group figures, whether it made its group or reopened it, its user."""
    gids = sorted({int(r["group_id"]) for r in rows})
    groups = {
        int(g): (n, lo, hi, first)
        for g, n, lo, hi, first in tx.query(
            "SELECT group_id, count(), min(ts_ms), max(ts_ms), min((received_ms, id)) "
            "FROM errors WHERE group_id IN {g:Array(UInt64)} GROUP BY group_id",
            {"g": gids},
        )
    }
    states = {
        int(g): (str(s), float(at))
        for g, s, at in tx.query(
            "SELECT group_id, argMax(state, updated_ms), max(updated_ms) FROM group_states "
            "WHERE group_id IN {g:Array(UInt64)} GROUP BY group_id",
            {"g": gids},
        )
    }
    reopened: dict[int, tuple[float, int]] = {}
    for gid, (state, at) in states.items():
        if state != "resolved":
            continue
        found = tx.query(
            "SELECT min((received_ms, id)) FROM errors WHERE group_id = {g:UInt64} "
            "AND received_ms > {at:Float64} HAVING count() > 0",
            {"g": gid, "at": at},
        )
        if found:
            reopened[gid] = (float(found[0][0][0]), int(found[0][0][1]))
    sids = sorted({str(r["session_id"]) for r in rows if r["session_id"]})
    users = (
        {
            str(s): u
            for s, u in tx.query(
                "SELECT secure_id, nullIf(max(identifier).2, '') FROM sessions "
                "WHERE secure_id IN {s:Array(String)} GROUP BY secure_id",
                {"s": sids},
            )
        }
        if sids
        else {}
    )
    for r in rows:
        gid, me = int(r["group_id"]), (float(r["received_ms"]), int(r["id"]))
        n, lo, hi, first = groups.get(gid, (1, r["ts_ms"], r["ts_ms"], None))
        state, _ = states.get(gid, ("open", 0.0))
        r.update(
            count=int(n),
            first_ms=float(lo),
            last_ms=float(hi),
            user=users.get(r["session_id"] or ""),
        )
        r["state"] = "open" if gid in reopened else state
        first_pair = (float(first[0]), int(first[1])) if first else None
        r["change"] = (
            "new" if first_pair == me else ("reopened" if reopened.get(gid) == me else None)
        )


def error_counts(
    tx: Transport, project_id: str, since_ms: float, by: str, keys: list[str]
) -> dict[str, int]:
    if by == "group":
        rows = tx.query(
            "SELECT toString(group_id), count() FROM errors WHERE project_id = {p:String} "
            "AND group_id IN {k:Array(UInt64)} AND ts_ms >= {t:Float64} GROUP BY group_id",
            {"p": project_id, "k": [int(k) for k in keys], "t": since_ms},
        )
    else:
        rows = tx.query(
            "SELECT ifNull(service, ''), count() FROM errors WHERE project_id = {p:String} "
            "AND ifNull(service, '') IN {k:Array(String)} AND ts_ms >= {t:Float64} "
            "GROUP BY ifNull(service, '')",
            {"p": project_id, "k": keys, "t": since_ms},
        )
    found = {str(k): int(n) for k, n in rows}
    return {k: found.get(k, 0) for k in keys}


def last_slot(tx: Transport, rule_id: str) -> float | None:
    rows = tx.query(
        "SELECT max(slot_ms), count() FROM alert_outbox WHERE rule_id = {r:String}",
        {"r": rule_id},
    )
    return float(rows[0][0]) if rows and int(rows[0][1]) > 0 else None


def new_outbox_rows(tx: Transport, rows: list[OutboxRow]) -> list[list[Any]]:
    """The rows whose keys the outbox does not hold yet (pending, version 0: any later
    state of a key wins over them)."""
    if not rows:
        return []
    known = {
        str(k)
        for (k,) in tx.query(
            "SELECT DISTINCT key FROM alert_outbox WHERE key IN {k:Array(String)}",
            {"k": [r.key for r in rows]},
        )
    }
    now = time.time() * 1000
    out: list[list[Any]] = []
    seen: set[str] = set()
    for r in rows:
        if r.key in known or r.key in seen:
            continue
        seen.add(r.key)
        head = [r.key, r.rule_id, r.project_id, r.channel, r.slot_ms, r.event]
        out.append([*head, "pending", 0, r.slot_ms, "", now, 0])
    return out


def due(tx: Transport, now_ms: float, limit: int) -> list[Row]:
    return tx.records(
        f"SELECT {', '.join(OUTBOX[:-1])} FROM alert_outbox FINAL "
        "WHERE state IN ('pending', 'sending') AND next_ms <= {now:Float64} "
        "ORDER BY next_ms, key LIMIT {n:UInt64}",
        {"now": now_ms, "n": limit},
    )


def marked(
    rows: list[Row], state: str, attempts: int, next_ms: float, error: str
) -> list[list[Any]]:
    v = version()
    return [
        [*(r[name] for name in OUTBOX[:6]), state, attempts, next_ms, error, r["created_ms"], v]
        for r in rows
    ]


def deliveries(tx: Transport, rule_id: str | None, limit: int, offset: int) -> Row:
    where = "WHERE rule_id = {r:String}" if rule_id else ""
    params: dict[str, Any] = {"r": rule_id or "", "n": limit, "o": offset}
    total = tx.query(f"SELECT count() FROM alert_deliveries {where}", params)[0][0]
    rows = tx.records(
        f"SELECT id, {', '.join(DELIVERY)} FROM alert_deliveries {where} "
        "ORDER BY at_ms DESC, id DESC LIMIT {n:UInt64} OFFSET {o:UInt64}",
        params,
    )
    for r in rows:
        r["ok"] = bool(r["ok"])
    return {"total": int(total), "limit": limit, "offset": offset, "deliveries": rows}
