"""Read queries. Each takes a read-only connection and returns plain JSON-able data."""

from __future__ import annotations

import sqlite3
import time
import zlib
from typing import Any

import orjson

from backlight_server.query import errorfacts, summaries
from backlight_server.query import requests as request_views
from backlight_server.query import serverseen as seen_rule
from backlight_server.query.derive import log_times, ms, span_times
from backlight_server.store.queries import ErrorGroupQuery, LogQuery, SessionQuery
from backlight_server.store.shapes import (
    JSON_COLUMNS,
    NUMBER_COLUMNS,
    json_column,
    network_detail,
    number_column,
    tidy,
)
from backlight_server.store.sqlite import serverseen, timematch
from backlight_server.store.sqlite.logtext import text_match

Row = dict[str, Any]
REPLAY_PAGE_BYTES = 8 * 1024 * 1024
DAY_MS = 86_400_000


def _row(row: sqlite3.Row) -> Row:
    return tidy((key, row[key]) for key in row.keys())  # noqa: SIM118 - not a mapping


def _rows(cur: sqlite3.Cursor) -> list[Row]:
    """Every row of ``cur`` as ``_row`` shapes it; the columns to shape are found once, not
    per row (a session page of 5,000 requests reads 5,000 rows)."""
    names = [d[0] for d in cur.description or ()]
    unique = list(dict.fromkeys(names))
    json_keys = [key for key in unique if key in JSON_COLUMNS]
    number_keys = [key for key in unique if key in NUMBER_COLUMNS and key not in JSON_COLUMNS]
    out: list[Row] = []
    for values in cur.fetchall():
        row = dict(zip(names, values, strict=True))
        for key in json_keys:
            value = json_column(key, row[key])
            row[key] = network_detail(value) if key == "detail" else value
        for key in number_keys:
            if not isinstance(row[key], int | float):
                row[key] = number_column(row[key])
        out.append(row)
    return out


def _marks(n: int) -> str:
    return ",".join("?" * n)


# --- sessions -------------------------------------------------------------------------

_BE_ERRORS = (
    "(SELECT count(*) FROM errors e WHERE e.session_id = s.secure_id AND e.source != 'frontend')"
)


def list_sessions(conn: sqlite3.Connection, query: SessionQuery) -> Row:
    project_id, start_ms, end_ms = query.project_id, query.start_ms, query.end_ms
    identifier, has_errors, url_contains = query.user, query.has_errors, query.url_contains
    limit, offset = query.limit, query.offset
    where: list[str] = ["1"]
    args: list[Any] = []
    if project_id:
        where.append("s.project_id = ?")
        args.append(project_id)
    if start_ms is not None:
        where.append("s.started_ms >= ?")
        args.append(start_ms)
    if end_ms is not None:
        where.append("s.started_ms < ?")
        args.append(end_ms)
    if identifier:
        where.append("s.identifier LIKE ? ESCAPE '\\'")
        args.append("%" + _like(identifier) + "%")
    if url_contains:
        where.append("(s.url LIKE ? ESCAPE '\\' OR s.last_url LIKE ? ESCAPE '\\')")
        args += ["%" + _like(url_contains) + "%"] * 2
    if has_errors is not None:
        cond = (
            "(s.fe_error_count > 0 OR EXISTS (SELECT 1 FROM errors e WHERE "
            "e.session_id = s.secure_id))"
        )
        where.append(cond if has_errors else f"NOT {cond}")
    clause = " AND ".join(where)
    total = conn.execute(f"SELECT count(*) FROM sessions s WHERE {clause}", args).fetchone()[0]
    cur = conn.execute(
        f"SELECT s.*, {_BE_ERRORS} AS be_error_count, s.last_ms - s.started_ms AS duration_ms "
        f"FROM sessions s WHERE {clause} ORDER BY s.started_ms DESC LIMIT ? OFFSET ?",
        [*args, limit, offset],
    )
    return {"total": total, "limit": limit, "offset": offset, "sessions": _rows(cur)}


def _like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def get_session(conn: sqlite3.Connection, secure_id: str) -> Row | None:
    row = conn.execute(
        f"SELECT s.*, {_BE_ERRORS} AS be_error_count, s.last_ms - s.started_ms AS duration_ms "
        "FROM sessions s WHERE secure_id = ?",
        (secure_id,),
    ).fetchone()
    if row is None:
        return None
    session = _row(row)
    network = _rows(
        conn.execute(
            "SELECT id, request_id, type, method, url, status, start_ms, end_ms, error, detail "
            "FROM network WHERE session_id = ? ORDER BY start_ms",
            (secure_id,),
        )
    )
    server, seen = _server_seen(conn, secure_id, network)
    for item in server:
        item["detail"] = None
    summary = _session_summaries(conn, secure_id, network, server)
    network = seen_rule.merge(network, server)
    none = {"spans": 0, "logs": 0, "errors": 0, "worst_level": None}
    for item in network:
        item["backend"] = summary.get(item["request_id"], none)
    console = _rows(
        conn.execute(
            "SELECT ts_ms, level, message, args FROM console WHERE session_id = ? ORDER BY ts_ms",
            (secure_id,),
        )
    )
    errors = _rows(
        conn.execute(
            "SELECT id, group_id, ts_ms, source, type, message, stack, raw_stack, request_id, "
            "trace_id, span_id, service, url, attributes FROM errors WHERE session_id = ? "
            "ORDER BY ts_ms",
            (secure_id,),
        )
    )
    track = _rows(
        conn.execute(
            "SELECT ts_ms, event, properties FROM track_events WHERE session_id = ? ORDER BY ts_ms",
            (secure_id,),
        )
    )
    return {
        "session": session,
        "network": network,
        "server_seen": seen,
        "console": console,
        "errors": [e for e in errors if e["source"] == "frontend"],
        "backend_errors": [e for e in errors if e["source"] != "frontend"],
        "track": track,
    }


def _chunk(data: object, cap: int) -> bytes | None:
    """A stored replay chunk (zlib of a JSON array) → the array's items as JSON text, or
    None when it is damaged. Decompression stops past ``cap`` bytes."""
    if not isinstance(data, bytes):
        return None
    inflater = zlib.decompressobj()
    try:
        text = inflater.decompress(data, cap + 1)
    except zlib.error:
        return None
    if len(text) > cap or not inflater.eof:
        return None
    text = text.strip()
    if text[:1] != b"[" or text[-1:] != b"]":
        return None
    return text[1:-1].strip()


def get_replay(
    conn: sqlite3.Connection,
    secure_id: str,
    after_seq: int,
    limit: int,
    max_bytes: int = REPLAY_PAGE_BYTES,
) -> Row:
    """A page of rrweb events: batches after ``after_seq``, at most ``limit`` of them and
    about ``max_bytes`` of JSON (always at least one batch). The events are not decoded:
    ``events_json`` holds each batch's items as JSON text, in batch order (each batch in
    timestamp order), for the caller to join into one array."""
    cur = conn.execute(
        "SELECT seq, data FROM replay_chunks WHERE session_id = ? AND seq > ? ORDER BY seq LIMIT ?",
        (secure_id, after_seq, limit + 1),
    )
    parts: list[bytes] = []
    size, last_seq, more = 0, None, False
    for count, (seq, data) in enumerate(cur):
        if count >= limit or (count and size >= max_bytes):
            more = True
            break
        text = _chunk(data, max(max_bytes, 64 * 1024 * 1024))
        if text:
            parts.append(text)
            size += len(text)
        last_seq = seq
    return {"events_json": parts, "next_seq": last_seq if more else None}


# --- requests and traces -----------------------------------------------------------------


def _trace_ids_for_request(conn: sqlite3.Connection, request_id: str) -> list[str]:
    linked: list[object] = []
    for sql in (
        "SELECT DISTINCT trace_id FROM spans WHERE request_id = ? AND request_id != trace_id",
        "SELECT DISTINCT trace_id FROM logs WHERE request_id = ? AND request_id IS NOT trace_id"
        " AND trace_id IS NOT NULL",
        "SELECT DISTINCT trace_id FROM errors WHERE request_id = ? AND trace_id IS NOT NULL",
    ):
        linked += [r[0] for r in conn.execute(sql, (request_id,))]
    return request_views.request_trace_ids(request_id, linked)


def _span_rows(conn: sqlite3.Connection, where: str, args: list[Any]) -> list[Row]:
    spans = _rows(
        conn.execute(
            "SELECT trace_id, span_id, parent_span_id, name, kind, start_ns, end_ns, status_code, "
            "status_message, service, environment, session_id, request_id, attributes, events "
            f"FROM spans WHERE {where} ORDER BY start_ns",
            args,
        )
    )
    return span_times(spans)


def _log_rows(conn: sqlite3.Connection, where: str, args: list[Any], limit: int) -> list[Row]:
    logs = _rows(
        conn.execute(
            "SELECT id, ts_ns, trace_id, span_id, level, severity_number, body, service, "
            f"environment, session_id, request_id, attributes FROM logs WHERE {where} "
            "ORDER BY ts_ns LIMIT ?",
            [*args, limit],
        )
    )
    return log_times(logs)


def _error_rows(conn: sqlite3.Connection, where: str, args: list[Any]) -> list[Row]:
    return _rows(
        conn.execute(
            "SELECT id, group_id, ts_ms, source, type, message, stack, raw_stack, session_id, "
            "request_id, trace_id, span_id, service, environment, url, attributes "
            f"FROM errors WHERE {where} ORDER BY ts_ms",
            args,
        )
    )


def _timed(
    conn: sqlite3.Connection,
    browser: list[Row],
    request_id: str,
    logs: list[Row],
    errors: list[Row],
) -> tuple[list[Row], list[Row]]:
    """The request's logs and errors, each marked ``match``: ``"exact"`` (by request id or
    trace) or ``"time"`` (a record with only the session id, recorded while this was the
    session's one request in flight: see ``timematch``)."""
    b = browser[0] if browser else None
    if b is None or not isinstance(b["session_id"], str):
        return request_views.with_timed(logs, errors, [], [])
    error_ids, log_ids = timematch.for_request(
        conn, request_id, b["session_id"], b["start_ms"], b["end_ms"]
    )
    error_ids = sorted(set(error_ids) - {e["id"] for e in errors})
    log_ids = sorted(set(log_ids) - {lg["id"] for lg in logs})[: max(0, 5000 - len(logs))]
    more_errors = (
        _error_rows(conn, f"id IN ({_marks(len(error_ids))})", error_ids) if error_ids else []
    )
    more_logs = (
        _log_rows(conn, f"id IN ({_marks(len(log_ids))})", log_ids, len(log_ids)) if log_ids else []
    )
    return request_views.with_timed(logs, errors, more_logs, more_errors)


def get_request(conn: sqlite3.Connection, request_id: str) -> Row:
    browser = _rows(
        conn.execute(
            "SELECT id, session_id, request_id, type, method, url, status, start_ms, end_ms, error,"
            " detail FROM network WHERE request_id = ? ORDER BY start_ms",
            (request_id,),
        )
    )
    traces = _trace_ids_for_request(conn, request_id)
    m = _marks(len(traces))
    in_traces = f"trace_id IN ({m})" if traces else "0"
    spans = _span_rows(
        conn, f"{in_traces} OR (request_id = ? AND request_id != trace_id)", [*traces, request_id]
    )
    logs = _log_rows(
        conn,
        f"({in_traces} AND trace_id IS NOT NULL) OR "
        "(request_id = ? AND request_id IS NOT trace_id)",
        [*traces, request_id],
        5000,
    )
    errors = _error_rows(
        conn,
        f"({in_traces} AND trace_id IS NOT NULL) OR (request_id = ? AND request_id IS NOT NULL)",
        [*traces, request_id],
    )
    logs, errors = _timed(conn, browser, request_id, logs, errors)
    return request_views.request_view(request_id, browser, traces, spans, logs, errors)


def get_trace(conn: sqlite3.Connection, trace_id: str) -> Row:
    spans = _span_rows(conn, "trace_id = ?", [trace_id])
    logs = _log_rows(conn, "trace_id = ?", [trace_id], 5000)
    errors = _error_rows(conn, "trace_id = ?", [trace_id])
    return request_views.trace_view(trace_id, spans, logs, errors)


# --- errors ------------------------------------------------------------------------------


def _sparkline(conn: sqlite3.Connection, group_id: int, now_ms: float) -> list[int]:
    start = (now_ms // DAY_MS - 13) * DAY_MS
    counts = [0] * 14
    for day, n in conn.execute(
        "SELECT CAST((ts_ms - ?) / ? AS INTEGER), count(*) FROM errors "
        "WHERE group_id = ? AND ts_ms >= ? GROUP BY 1",
        (start, DAY_MS, group_id, start),
    ):
        if 0 <= day < 14:
            counts[day] = n
    return counts


def list_error_groups(conn: sqlite3.Connection, query: ErrorGroupQuery) -> Row:
    project_id, state, limit, offset = query.project_id, query.state, query.limit, query.offset
    where: list[str] = ["1"]
    args: list[Any] = []
    if project_id:
        where.append("project_id = ?")
        args.append(project_id)
    if state:
        where.append("state = ?")
        args.append(state)
    clause = " AND ".join(where)
    total = conn.execute(f"SELECT count(*) FROM error_groups WHERE {clause}", args).fetchone()[0]
    groups = _rows(
        conn.execute(
            "SELECT g.*, (SELECT count(DISTINCT session_id) FROM errors e "
            "WHERE e.group_id = g.id) AS sessions FROM error_groups g "
            f"WHERE {clause} ORDER BY last_ms DESC LIMIT ? OFFSET ?",
            [*args, limit, offset],
        )
    )
    now = time.time() * 1000
    users = _users(conn, [g["id"] for g in groups])
    for g in groups:
        g["sparkline"] = _sparkline(conn, g["id"], now)
        g["users"] = users.get(g["id"], 0)
    return {"total": total, "limit": limit, "offset": offset, "groups": groups}


def _users(conn: sqlite3.Connection, group_ids: list[int]) -> dict[int, int]:
    """Distinct identified users per group, over all its instances' sessions (as the
    ``sessions`` column): each (group, session) once, then its session's identifier."""
    if not group_ids:
        return {}
    pairs = conn.execute(
        "SELECT d.group_id, s.identifier FROM (SELECT DISTINCT group_id, session_id "
        "FROM errors WHERE group_id IN (SELECT value FROM json_each(?)) "
        "AND session_id IS NOT NULL) d JOIN sessions s ON s.secure_id = d.session_id "
        "WHERE s.identifier IS NOT NULL",
        (orjson.dumps(group_ids).decode(),),
    ).fetchall()
    return errorfacts.users_by_group((r[0], r[1]) for r in pairs)


def get_error_group(conn: sqlite3.Connection, group_id: int, limit: int) -> Row | None:
    row = conn.execute(
        "SELECT g.*, (SELECT count(DISTINCT session_id) FROM errors e WHERE e.group_id = g.id) "
        "AS sessions FROM error_groups g WHERE id = ?",
        (group_id,),
    ).fetchone()
    if row is None:
        return None
    group = _row(row)
    group["sparkline"] = _sparkline(conn, group_id, time.time() * 1000)
    instances = _rows(
        conn.execute(
            "SELECT id, ts_ms, source, type, message, stack, raw_stack, session_id, request_id, "
            "trace_id, span_id, service, environment, url, attributes FROM errors "
            "WHERE group_id = ? ORDER BY ts_ms DESC LIMIT ?",
            (group_id, limit),
        )
    )
    for inst in instances:
        inst["session_secure_id"] = inst["session_id"]
        inst["timestamp"] = inst["ts_ms"]
    return {"group": group, "instances": instances}


# --- logs --------------------------------------------------------------------------------


def log_where(
    conn: sqlite3.Connection,
    query: LogQuery,
    skip: tuple[str, ...] = (),
    below_id: int | None = None,
) -> tuple[str, str, list[Any], str]:
    """``(FROM source, WHERE clause, arguments, ORDER BY)`` of a log query (with text:
    newest first stored, walking the index; without: newest by time);
    the filters named in ``skip`` (``level``, ``service``) are left out (facet counts);
    ``below_id`` (with text): only logs stored before that one (a walk continued)."""
    where: list[str] = ["1"]
    args: list[Any] = []
    source, indexed = "logs", False
    match, likes = text_match(query.text) if query.text else ("", [])
    if match:
        # Walk the trigram index newest row first and stop at the limit: a common word
        # costs the same as a rare one. (Results are newest first by arrival order.)
        source, indexed = "logs_fts JOIN logs ON logs.id = logs_fts.rowid", True
        where.append("logs_fts MATCH ?")
        args.append(match)
    for pattern in likes:
        where.append("logs.body LIKE ? ESCAPE '\\'")
        args.append(pattern)
    if query.project_id:
        where.append("logs.project_id = ?")
        args.append(query.project_id)
    if query.session_id:
        where.append(
            "(logs.session_id = ? OR logs.trace_id IN (SELECT request_id FROM network "
            "WHERE session_id = ? AND request_id IS NOT NULL))"
        )
        args += [query.session_id, query.session_id]
    if query.request_id:
        traces = _trace_ids_for_request(conn, query.request_id)
        timed = _timed_log_ids(conn, query.request_id)
        where.append(
            f"(logs.trace_id IN ({_marks(len(traces))}) OR logs.request_id = ?"
            f" OR logs.id IN ({_marks(len(timed))}))"
        )
        args += [*traces, query.request_id, *timed]
    if query.service and "service" not in skip:
        where.append("logs.service = ?")
        args.append(query.service)
    if query.level and "level" not in skip:
        where.append("logs.level = ?")
        args.append(query.level.lower())
    if query.start_ms is not None:
        where.append("logs.ts_ns >= ?")
        args.append(int(query.start_ms * 1e6))
    if query.end_ms is not None:
        where.append("logs.ts_ns < ?")
        args.append(int(query.end_ms * 1e6))
    if below_id is not None and (indexed or likes):
        where.append("logs_fts.rowid < ?" if indexed else "logs.id < ?")
        args.append(below_id)
    order = "logs_fts.rowid DESC" if indexed else "logs.id DESC" if likes else "logs.ts_ns DESC"
    return source, " AND ".join(where), args, order


_LOG_COLUMNS = (
    "logs.id, logs.ts_ns, logs.trace_id, logs.span_id, logs.level, logs.body, logs.service, "
    "logs.environment, logs.session_id, logs.request_id, logs.attributes, "
    "(SELECT n.session_id FROM network n WHERE n.request_id = logs.request_id LIMIT 1) "
    "AS network_session"
)


def _found_logs(rows: list[Row], limit: int, offset: int) -> Row:
    for lg in log_times(rows):
        lg["session_secure_id"] = lg.pop("network_session") or lg["session_id"]
    return {"logs": rows[:limit], "limit": limit, "offset": offset, "has_more": len(rows) > limit}


def search_logs(conn: sqlite3.Connection, query: LogQuery) -> Row:
    limit, offset = query.limit, query.offset
    source, clause, args, order = log_where(conn, query)
    rows = _rows(
        conn.execute(
            f"SELECT {_LOG_COLUMNS} FROM {source} WHERE {clause} ORDER BY {order} LIMIT ? OFFSET ?",
            [*args, limit + 1, offset],
        )
    )
    return _found_logs(rows, limit, offset)


def logs_by_id(conn: sqlite3.Connection, ids: list[int], limit: int, offset: int) -> Row:
    """``search_logs``' answer for a search whose matches are known: ``ids``, the page's
    rows and one more (whether there are more), newest stored first."""
    sql = f"SELECT {_LOG_COLUMNS} FROM logs WHERE logs.id IN ({_marks(len(ids))}) "
    rows = _rows(conn.execute(sql + "ORDER BY logs.id DESC", ids)) if ids else []
    return _found_logs(rows, limit, offset)


def _timed_log_ids(conn: sqlite3.Connection, request_id: str) -> list[int]:
    """Logs matched to the request by time (``timematch``), for the log search."""
    row = conn.execute(
        "SELECT session_id, start_ms, end_ms FROM network WHERE request_id = ? "
        "ORDER BY start_ms LIMIT 1",
        (request_id,),
    ).fetchone()
    if row is None or not isinstance(row[0], str):
        return []
    return timematch.for_request(conn, request_id, row[0], row[1], row[2])[1][:5000]


def counts(conn: sqlite3.Connection, project_id: str | None) -> Row:
    """What the server has observed so far: for the setup page and ``backlight doctor``."""
    p = project_id
    first_session = conn.execute(
        "SELECT min(started_ms), count(*) FROM sessions WHERE ?1 IS NULL OR project_id = ?1", (p,)
    ).fetchone()
    first_span = conn.execute(
        "SELECT min(start_ns), count(*) FROM (SELECT start_ns FROM spans "
        "WHERE ?1 IS NULL OR project_id = ?1 LIMIT 100000)",
        (p,),
    ).fetchone()
    # the requests in time order first (a scan and a sort; "LIMIT -1" keeps the subquery
    # from being merged), then the spans looked up for each until one links: not for all
    linked = conn.execute(
        "SELECT request_id, start_ms FROM (SELECT n.request_id, n.start_ms FROM network n "
        "JOIN sessions s ON s.secure_id = n.session_id WHERE +n.request_id IS NOT NULL "
        "AND (?1 IS NULL OR s.project_id = ?1) ORDER BY n.start_ms LIMIT -1) n "
        "WHERE EXISTS (SELECT 1 FROM spans WHERE spans.trace_id = n.request_id) "
        "OR EXISTS (SELECT 1 FROM spans WHERE spans.request_id = n.request_id "
        "AND spans.request_id != spans.trace_id) LIMIT 1",
        (p,),
    ).fetchone()
    with_id, without_id, cors = conn.execute(  # one scan for the three counts
        "SELECT count(n.request_id), count(*) - count(n.request_id), "
        "count(CASE WHEN n.request_id IS NOT NULL AND n.error IN ('cors', 'network') "
        "THEN 1 END) FROM network n JOIN sessions s ON s.secure_id = n.session_id "
        "WHERE ?1 IS NULL OR s.project_id = ?1",
        (p,),
    ).fetchone()
    logs = conn.execute(
        "SELECT count(*) FROM (SELECT 1 FROM logs WHERE ?1 IS NULL OR "
        "project_id = ?1 LIMIT 100000)",
        (p,),
    ).fetchone()
    return {
        "sessions": first_session[1],
        "first_session_ms": first_session[0],
        "spans": first_span[1],
        "first_span_ms": ms(first_span[0]) if first_span[0] else None,
        "logs": logs[0],
        "first_linked_request": dict(linked) if linked else None,
        "requests_with_id": with_id,
        "requests_without_id": without_id,
        "requests_with_id_failed": cors,
    }


# --- the web UI's session page --------------------------------------------------------------

_IDS = "(SELECT value FROM json_each(?))"


def _backend_summaries(
    conn: sqlite3.Connection,
    request_ids: list[str],
    timed: dict[str, summaries.Timed] | None = None,
) -> dict[str, Row]:
    """Per request id: spans, logs, errors and the worst log level of its backend side
    (merged by ``query.summaries``, whose docstring says what counts).

    A few indexed lookups over all the ids at once, so a session with thousands of
    requests costs milliseconds. Errors and logs matched by time (``timematch``): ``timed``
    when the caller has them, else looked up.
    """
    ids = orjson.dumps(request_ids).decode()
    pairs: list[tuple[str, str]] = []
    for sql in (
        f"SELECT DISTINCT request_id, trace_id FROM spans WHERE request_id IN {_IDS} "
        "AND request_id != trace_id",
        f"SELECT DISTINCT request_id, trace_id FROM logs WHERE request_id IN {_IDS} "
        "AND request_id IS NOT trace_id AND trace_id IS NOT NULL",
    ):
        pairs += conn.execute(sql, (ids,)).fetchall()
    owners = summaries.trace_owners(request_ids, pairs)
    tids = orjson.dumps(list(owners)).decode()
    return summaries.merge(
        request_ids,
        owners,
        spans_by_trace=conn.execute(
            f"SELECT trace_id, count(*) FROM spans WHERE trace_id IN {_IDS} GROUP BY trace_id",
            (tids,),
        ),
        logs_by_trace=conn.execute(
            f"SELECT trace_id, count(*), max(severity_number) FROM logs WHERE trace_id IN "
            f"{_IDS} AND trace_id IS NOT NULL GROUP BY trace_id",
            (tids,),
        ),
        logs_by_request=conn.execute(
            f"SELECT request_id, count(*), max(severity_number) FROM logs WHERE request_id IN "
            f"{_IDS} AND request_id IS NOT trace_id AND trace_id IS NULL GROUP BY request_id",
            (ids,),
        ),
        errors_by_trace=conn.execute(
            f"SELECT id, trace_id FROM errors WHERE trace_id IN {_IDS} AND trace_id IS NOT NULL",
            (tids,),
        ),
        errors_by_request=conn.execute(
            f"SELECT id, request_id FROM errors WHERE request_id IN {_IDS} "
            "AND request_id IS NOT NULL",
            (ids,),
        ),
        timed=timematch.summaries(conn, request_ids) if timed is None else timed,
    )


def backend_summaries(conn: sqlite3.Connection, request_ids: list[str]) -> dict[str, Row]:
    """Backend summaries (spans, logs, errors, worst_level) of the given request ids."""
    ids = sorted({r for r in request_ids if isinstance(r, str)})  # stored ids may be anything
    return _backend_summaries(conn, ids) if ids else {}


def _server_seen(
    conn: sqlite3.Connection, secure_id: str, network: list[Row]
) -> tuple[list[Row], Row]:
    """The session's requests seen by the server (``query.serverseen``): those of its
    backend records that none of its network rows has."""
    known = {n["request_id"] for n in network if isinstance(n["request_id"], str)}
    return serverseen.find(conn, secure_id, known)


def _session_summaries(
    conn: sqlite3.Connection, secure_id: str, network: list[Row], server: list[Row]
) -> dict[str, Row]:
    """``backend_summaries`` of all of a session's network rows and of its requests seen
    by the server (the flights for matching by time are the network rows, so they are not
    read again; nothing is matched by time to a request the browser did not record)."""
    ids = sorted({n["request_id"] for n in [*network, *server] if isinstance(n["request_id"], str)})
    if not ids:
        return {}
    flights = [
        f
        for f in (timematch.flight(n["request_id"], n["start_ms"], n["end_ms"]) for n in network)
        if f is not None
    ]
    return _backend_summaries(conn, ids, timematch.session_summaries(conn, secure_id, flights))


def get_session_overview(
    conn: sqlite3.Connection, secure_id: str, summaries_up_to: int = 1000
) -> Row | None:
    """``get_session`` for the UI's session page: network rows without headers and bodies
    (the request view loads those). Each row has its ``backend`` summary when the session
    has at most ``summaries_up_to`` requests; larger sessions get ``backend: None`` and the
    page asks ``backend_summaries`` for the rows in view."""
    row = conn.execute(
        f"SELECT s.*, {_BE_ERRORS} AS be_error_count, s.last_ms - s.started_ms AS duration_ms "
        "FROM sessions s WHERE secure_id = ?",
        (secure_id,),
    ).fetchone()
    if row is None:
        return None
    network = _rows(
        conn.execute(
            "SELECT id, request_id, type, method, url, status, start_ms, end_ms, error "
            "FROM network WHERE session_id = ? ORDER BY start_ms",
            (secure_id,),
        )
    )
    server, seen = _server_seen(conn, secure_id, network)
    if len(network) + len(server) <= summaries_up_to:
        summary = _session_summaries(conn, secure_id, network, server)
        network = seen_rule.merge(network, server)
        none = {"spans": 0, "logs": 0, "errors": 0, "worst_level": None}
        for item in network:
            item["backend"] = summary.get(item["request_id"], none)
    else:
        network = seen_rule.merge(network, server)
        for item in network:
            item["backend"] = None
    console = _rows(
        conn.execute(
            "SELECT ts_ms, level, message, args FROM console WHERE session_id = ? ORDER BY ts_ms",
            (secure_id,),
        )
    )
    errors = _rows(
        conn.execute(
            "SELECT id, group_id, ts_ms, source, type, message, stack, raw_stack, request_id, "
            "trace_id, span_id, service, url FROM errors WHERE session_id = ? ORDER BY ts_ms",
            (secure_id,),
        )
    )
    track = _rows(
        conn.execute(
            "SELECT ts_ms, event, properties FROM track_events WHERE session_id = ? ORDER BY ts_ms",
            (secure_id,),
        )
    )
    return {
        "session": _row(row),
        "network": network,
        "server_seen": seen,
        "console": console,
        "errors": [e for e in errors if e["source"] == "frontend"],
        "backend_errors": [e for e in errors if e["source"] != "frontend"],
        "track": track,
    }


def app_versions(conn: sqlite3.Connection, session_ids: list[str]) -> dict[str, str]:
    ids = sorted({s for s in session_ids if isinstance(s, str)})[:1000]
    if not ids:
        return {}
    marks = ",".join("?" * len(ids))
    rows = conn.execute(
        f"SELECT secure_id, app_version FROM sessions WHERE secure_id IN ({marks})", ids
    ).fetchall()
    return {str(r[0]): r[1] for r in rows if isinstance(r[1], str) and r[1]}
