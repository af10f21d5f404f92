"""Alerts in ClickHouse (schema version 2): rules, cursors, the outbox, the delivery log.

Nothing is updated in place: a rule, a cursor or an outbox row changes by a new row with a
higher version, and reads take the latest. The evaluator's cursor is a ``received_ms``
(the time the writing server inserted the error); each read goes back ``OVERLAP_MS``
before it, for inserts that finished late or came from a server whose clock is behind, and
the outbox keeps one row per key, so what is read twice is enqueued once. Group
resolutions are the ``resolved`` rows of ``group_states`` (written at commit), read the
same way by their ``updated_ms``.

Logs carry no arrival order, so ``log_counts`` recounts a rule's window whole, and only
when the project has logs it did not have at the last count (a count of the rows at or
after the last window's start: primary-key columns only); the window's count reads only
its own range of the key (project, time) and skips granules by the token index.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

from backlight_server.query.derive import log_times
from backlight_server.store.base import LogCounts, OutboxRow, Row
from backlight_server.store.clickhouse.reads import text_filter
from backlight_server.store.clickhouse.transport import NO_LIMIT, Transport
from backlight_server.store.queries import LogQuery

OVERLAP_MS = 5_000.0
MAX_SPAN_MS = 60_000.0  # one read covers at most a minute of arrivals
IDLE_SPAN_MS = 30_000.0  # an empty read moves the cursor once its span is this long
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


class ReadBack:
    """The errors of each project this store read for the evaluator *and* then enqueued
    (``enqueue_alerts`` for that project came next): a later read skips them, so the
    overlap is read again only for what it did not hold before (late inserts), and a
    page never repeats. Safe whoever holds the cursor: what it skips is already in the
    outbox. A read not followed by its enqueue (a failed evaluation) is forgotten, and
    read again. In memory: a restart, or another server, reads the overlap once more
    (the outbox keys keep that from sending twice)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._done: dict[str, dict[int, float]] = {}
        self._read: dict[str, dict[int, float]] = {}

    def skip(self, project_id: str, lo: float) -> list[int]:
        with self._lock:
            done = self._done.get(project_id, {})
            kept = {i: ms for i, ms in done.items() if ms > lo}
            self._done[project_id] = kept
            return sorted(kept)

    def read(self, project_id: str, rows: list[Row]) -> None:
        with self._lock:
            self._read[project_id] = {int(r["id"]): float(r["received_ms"]) for r in rows}

    def enqueued(self, project_id: str) -> None:
        with self._lock:
            got = self._read.pop(project_id, None)
            if got:
                self._done.setdefault(project_id, {}).update(got)


def errors_after(
    tx: Transport, project_id: str, cursor: str, limit: int, seen: ReadBack
) -> tuple[list[Row], str]:
    """Rows received after ``cursor`` (a ``received_ms``), and again those of the
    ``OVERLAP_MS`` before it that ``seen`` does not hold, in (received_ms, id) order. A
    full page leaves the cursor at its last row (the rest of the same span is the next
    page); a page that is not full moves it to the end of the span read; an empty read
    keeps it unless the span reached ``IDLE_SPAN_MS`` (so an idle project's cursor is
    written seldom)."""
    now = time.time() * 1000
    try:
        after = float(cursor)
    except ValueError:
        after = now
    hi = min(after + MAX_SPAN_MS, now)
    lo = after - OVERLAP_MS
    skip = seen.skip(project_id, lo)
    rows = tx.records(
        "SELECT id, group_id, ts_ms, received_ms, source, type, message, stack, session_id, "
        "request_id, service, environment FROM errors WHERE project_id = {p:String} "
        "AND received_ms > {lo:Float64} AND received_ms <= {hi:Float64} "
        + ("AND id NOT IN {skip:Array(UInt64)} " if skip else "")
        + "ORDER BY received_ms, id LIMIT {n:UInt64}",
        {"p": project_id, "lo": lo, "hi": hi, "n": max(1, limit), "skip": skip},
    )
    seen.read(project_id, rows)
    if not rows:
        return [], (str(hi) if hi - after >= IDLE_SPAN_MS else cursor)
    _annotate(tx, rows)
    if len(rows) >= limit:
        return rows, str(max(after, float(rows[-1]["received_ms"])))
    return rows, str(max(hi, after))


def _annotate(tx: Transport, rows: list[Row]) -> None:
    """Each instance's group figures, whether it made its group or reopened it, its user:
    three statements (the groups' states; their figures with the first instance after a
    resolution; the sessions' users)."""
    gids = sorted({int(r["group_id"]) for r in rows})
    states = {
        int(g): (str(s), float(at))
        for g, s, at in tx.query(
            "SELECT group_id, argMax(state, updated_ms), max(updated_ms) FROM group_states "
            "WHERE group_id IN {g:Array(UInt64)} GROUP BY group_id",
            {"g": gids},
        )
    }
    resolved = {g: at for g, (state, at) in states.items() if state == "resolved"}
    rg = sorted(resolved)
    groups: dict[int, tuple[Any, Any, Any, Any]] = {}
    reopened: dict[int, tuple[float, int]] = {}
    for g, n, lo, hi, first, back, after_n in tx.query(
        "SELECT group_id, count(), min(ts_ms), max(ts_ms), min((received_ms, id)), "
        "minIf((received_ms, id), received_ms > transform(group_id, {rg:Array(UInt64)}, "
        "{ra:Array(Float64)}, inf)), countIf(received_ms > transform(group_id, "
        "{rg:Array(UInt64)}, {ra:Array(Float64)}, inf)) "
        "FROM errors WHERE group_id IN {g:Array(UInt64)} GROUP BY group_id",
        {"g": gids, "rg": rg, "ra": [resolved[g] for g in rg]},
    ):
        groups[int(g)] = (n, lo, hi, first)
        if int(after_n) > 0:
            reopened[int(g)] = (float(back[0]), int(back[1]))
    sids = sorted({str(r["session_id"]) for r in rows if r["session_id"]})
    users = (
        {
            str(s): (u, m)
            for s, u, m in tx.query(
                "SELECT secure_id, nullIf(max(identifier).2, ''), "
                "nullIf(max(user_metadata).2, '') FROM sessions "
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
            user=users.get(r["session_id"] or "", (None, None))[0],
            user_metadata=users.get(r["session_id"] or "", (None, None))[1],
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


def spike_counts(
    tx: Transport, project_id: str, asks: list[tuple[float, str, list[str]]]
) -> list[dict[str, int]]:
    """``error_counts`` for many (since, by, keys) in one statement: the instances of the
    groups and services asked, per (group, service), counted at each ``since``."""
    if not asks:
        return []
    sinces = sorted({since for since, _, _ in asks})
    gids = sorted({int(k) for _, by, keys in asks if by == "group" for k in keys})
    services = sorted({k for _, by, keys in asks if by != "group" for k in keys})
    rows = tx.query(
        "SELECT toString(group_id), ifNull(service, ''), "
        "sumForEach(arrayMap(t -> toUInt64(ts_ms >= t), {t:Array(Float64)})) FROM errors "
        "WHERE project_id = {p:String} AND ts_ms >= {lo:Float64} AND (group_id IN "
        "{g:Array(UInt64)} OR ifNull(service, '') IN {s:Array(String)}) "
        "GROUP BY group_id, service",
        {"p": project_id, "t": sinces, "lo": sinces[0], "g": gids, "s": services},
    )
    out: list[dict[str, int]] = []
    for since, by, keys in asks:
        at = sinces.index(since)
        counts = dict.fromkeys(keys, 0)
        for gid, service, per in rows:
            key = str(gid) if by == "group" else str(service)
            if key in counts:
                counts[key] += int(per[at])
        out.append(counts)
    return out


def _log_where(query: LogQuery, environment: str | None, params: dict[str, Any]) -> str:
    """The log search's conditions (``reads.text_filter``: its words, its rules)."""
    where = ["project_id = {p:String}", "ts_ns >= {start:Int64}"]
    params |= {"p": query.project_id or "", "start": int((query.start_ms or 0) * 1e6)}
    if query.text:
        cond = text_filter(query.text, params)
        if cond:
            where.append(cond)
    for column, value in (
        ("service", query.service),
        ("level", query.level.lower() if query.level else None),
        ("environment", environment),
    ):
        if value is not None:
            where.append(f"{column} = {{{column}_v:String}}")
            params[f"{column}_v"] = value
    return " AND ".join(where)


def _since(tx: Transport, project_id: str, start_ns: int) -> int:
    return int(
        tx.query(
            "SELECT count() FROM logs WHERE project_id = {p:String} AND ts_ns >= {s:Int64}",
            {"p": project_id, "s": start_ns},
        )[0][0]
    )


def log_counts(
    tx: Transport, query: LogQuery, environment: str | None, bucket_ms: float, cursor: str
) -> LogCounts:
    """The cursor is ``<start ns>:<rows of the project at or after it>``: unchanged rows
    there mean no new log can be in a window starting at or after that start."""
    project = query.project_id or ""
    start_ns = int((query.start_ms or 0) * 1e6)
    anchor, _, seen = cursor.partition(":")
    known = anchor.lstrip("-").isdigit() and seen.isdigit() and int(anchor) <= start_ns
    if known and _since(tx, project, int(anchor)) == int(seen):
        return LogCounts({}, None, cursor, False)
    # the rows first, then the count: a log inserted between the two is counted next time
    now_rows = _since(tx, project, start_ns)
    params: dict[str, Any] = {"b": max(1, int(bucket_ms * 1e6))}
    where = _log_where(query, environment, params)
    buckets = {
        int(b): int(n)
        for b, n in tx.query(
            f"SELECT intDiv(ts_ns, {{b:Int64}}) AS bucket, count() FROM logs WHERE {where} "
            "GROUP BY bucket",
            params,
        )
    }
    sample = None
    if buckets:
        found = tx.records(
            "SELECT id, ts_ns, level, body, service, environment, session_id, request_id, "
            f"trace_id FROM logs WHERE {where} ORDER BY ts_ns DESC, id DESC LIMIT 1",
            params,
        )
        sample = log_times([dict(r) for r in found])[0] if found else None
    return LogCounts(buckets, sample, f"{start_ns}:{now_rows}", True)


def resolutions_after(tx: Transport, cursor: str, limit: int) -> tuple[list[Row], str]:
    now = time.time() * 1000
    try:
        after = float(cursor)
    except ValueError:
        return [], str(now)
    hi = now
    rows = tx.records(
        "SELECT project_id, group_id, updated_ms AS at_ms FROM group_states "
        "WHERE state = 'resolved' AND updated_ms > {lo:Float64} AND updated_ms <= {hi:Float64} "
        "ORDER BY updated_ms, group_id LIMIT {n:UInt64}",
        {"lo": after - OVERLAP_MS, "hi": hi, "n": limit},
    )
    out: list[Row] = [
        {
            "id": f"{int(r['group_id'])}@{float(r['at_ms']):.3f}",
            "project_id": str(r["project_id"]),
            "group_id": int(r["group_id"]),
            "at_ms": float(r["at_ms"]),
        }
        for r in rows
    ]
    if len(out) == limit:
        return out, str(max(after, float(out[-1]["at_ms"])))
    return out, str(max(hi, after))


def fired_groups(tx: Transport, rule_ids: list[str], group_ids: list[int]) -> list[Row]:
    if not rule_ids or not group_ids:
        return []
    return tx.records(
        "SELECT DISTINCT rule_id, toInt64(channel) AS channel, group_id, key FROM ("
        "SELECT rule_id, channel, JSONExtractUInt(event, 'group_id') AS group_id, "
        "JSONExtractString(event, 'key') AS key FROM alert_outbox "
        "WHERE rule_id IN {r:Array(String)} "
        "AND JSONType(event, 'group_id') IN ('Int64', 'UInt64')) "
        "WHERE group_id IN {g:Array(UInt64)} ORDER BY rule_id, channel, group_id, key",
        {"r": rule_ids, "g": group_ids},
    )


def last_slot(tx: Transport, rule_id: str) -> float | None:
    rows = tx.query(
        "SELECT max(slot_ms), count() FROM alert_outbox WHERE rule_id = {r:String}",
        {"r": rule_id},
    )
    return float(rows[0][0]) if rows and int(rows[0][1]) > 0 else None


def last_slots(tx: Transport, rule_ids: list[str]) -> dict[str, float]:
    if not rule_ids:
        return {}
    rows = tx.query(
        "SELECT rule_id, max(slot_ms) FROM alert_outbox WHERE rule_id IN {r:Array(String)} "
        "GROUP BY rule_id",
        {"r": sorted(rule_ids)},
    )
    return {str(r): float(ms) for r, ms in rows}


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
