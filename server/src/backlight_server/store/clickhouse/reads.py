"""Read queries of the ClickHouse store: rows fetched, then shaped by ``query/`` exactly as
for SQLite. Every statement runs unchanged on chdb and on a ClickHouse server."""

from __future__ import annotations

import time
from typing import Any, NamedTuple

from backlight_server.query import errorfacts, summaries
from backlight_server.query import requests as request_views
from backlight_server.query import serverseen as serverseen_rule
from backlight_server.query import timematch as rule
from backlight_server.query.derive import log_times, ms, span_times
from backlight_server.query.logstats import search_words
from backlight_server.query.timematch import MAX_CANDIDATES, Candidate, Flight, flight
from backlight_server.store.clickhouse import serverseen, timeline, together, tracecounts
from backlight_server.store.clickhouse.transport import NO_LIMIT, Params, Transport
from backlight_server.store.queries import ErrorGroupQuery, LogQuery, SessionQuery
from backlight_server.store.shapes import tidy

Row = dict[str, Any]
REPLAY_PAGE_BYTES = 8 * 1024 * 1024
DAY_MS = 86_400_000
EMPTY = {"spans": 0, "logs": 0, "errors": 0, "worst_level": None}


def _same(a: str, b: str) -> str:
    """SQL for SQLite's ``a IS b`` on Nullable columns: equal, or both NULL."""
    return f"(ifNull({a} = {b}, 0) OR ({a} IS NULL AND {b} IS NULL))"


def _rows(tx: Transport, sql: str, params: Params | None = None) -> list[Row]:
    return [tidy(r.items()) for r in tx.records(sql, params)]


# --- sessions ----------------------------------------------------------------------------

# A session's rows folded into one (see schema.py): counters add up, first and last win.
_FOLD = """
SELECT secure_id, any(project_id) AS project_id, min(started_ms) AS started_ms,
    max(last_ms) AS last_ms, any(url) AS url, nullIf(max(last_url).2, '') AS last_url,
    any(user_agent) AS user_agent, any(sdk_version) AS sdk_version,
    any(environment) AS environment, any(service) AS service,
    any(app_version) AS app_version, nullIf(max(identifier).2, '') AS identifier,
    nullIf(max(user_metadata).2, '') AS user_metadata, sum(pages) AS pages,
    sum(event_count) AS event_count, sum(network_count) AS network_count,
    sum(fe_error_count) AS fe_error_count, sum(dropped_events) AS dropped_events,
    sum(dropped_other) AS dropped_other
FROM sessions WHERE {where} GROUP BY secure_id
"""


def _folded(where: str) -> str:
    return (
        "SELECT *, last_ms - started_ms AS duration_ms FROM ("
        + _FOLD.format(where=where)
        + ") AS s"
    )


def _be_errors(tx: Transport, sids: list[str]) -> dict[str, int]:
    """Backend errors per session: by session id, and by the ids of its requests for those
    recorded before the browser sent the request (indexed lookups, no join)."""
    if not sids:
        return {}
    owners = {
        r[0]: r[1]
        for r in tx.query(
            "SELECT DISTINCT assumeNotNull(request_id), session_id FROM network "
            "WHERE session_id IN {sids:Array(String)} AND request_id IS NOT NULL",
            {"sids": sids},
        )
    }
    found: dict[str, set[int]] = {}
    for eid, sid, rid in tx.query(
        "SELECT id, session_id, request_id FROM errors WHERE session_id IN {sids:Array(String)} "
        "AND source != 'frontend' UNION ALL SELECT id, session_id, request_id FROM errors "
        "WHERE request_id IN {rids:Array(String)} AND session_id IS NULL "
        "AND source != 'frontend'",
        {"sids": sids, "rids": sorted(owners)},
    ):
        owner = sid if sid is not None else owners.get(rid)
        if owner is not None:
            found.setdefault(owner, set()).add(int(eid))
    return {sid: len(ids) for sid, ids in found.items()}


def _with_be_errors(tx: Transport, sessions: list[Row]) -> list[Row]:
    counts = _be_errors(tx, [s["secure_id"] for s in sessions])
    for s in sessions:
        s["be_error_count"] = counts.get(s["secure_id"], 0)
    return sessions


def _like(text: str) -> str:
    return "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def list_sessions(tx: Transport, query: SessionQuery) -> Row:
    inner, outer = ["1"], ["1"]
    params: dict[str, Any] = {}
    if query.project_id:
        inner.append("project_id = {p:String}")
        params["p"] = query.project_id
    if query.start_ms is not None:
        outer.append("started_ms >= {start:Float64}")
        params["start"] = query.start_ms
    if query.end_ms is not None:
        outer.append("started_ms < {end:Float64}")
        params["end"] = query.end_ms
    if query.user:
        outer.append("identifier ILIKE {user:String}")
        params["user"] = _like(query.user)
    if query.url_contains:
        outer.append("(url ILIKE {u:String} OR last_url ILIKE {u:String})")
        params["u"] = _like(query.url_contains)
    if query.has_errors is not None:
        cond = (
            "(fe_error_count > 0 OR secure_id IN (SELECT assumeNotNull(session_id) FROM errors "
            "WHERE session_id IS NOT NULL) OR secure_id IN (SELECT session_id FROM network "
            "WHERE request_id IN (SELECT assumeNotNull(request_id) FROM errors "
            "WHERE session_id IS NULL AND request_id IS NOT NULL)))"
        )
        outer.append(cond if query.has_errors else f"NOT {cond}")
    base = f"{_folded(' AND '.join(inner))} WHERE {' AND '.join(outer)}"
    total = tx.query(f"SELECT count() FROM ({base})", params)[0][0]
    page = _rows(
        tx,
        f"{base} ORDER BY started_ms DESC, secure_id LIMIT {{lim:UInt64}} OFFSET {{off:UInt64}}",
        {**params, "lim": query.limit, "off": query.offset},
    )
    return {
        "total": int(total),
        "limit": query.limit,
        "offset": query.offset,
        "sessions": _with_be_errors(tx, page),
    }


def _session_row(tx: Transport, secure_id: str) -> Row | None:
    """The folded session, without ``be_error_count`` (its caller counts its errors): its
    rows as stored, folded here as ``_FOLD`` folds them (half the cost of the engine's
    ``GROUP BY`` for a handful of rows)."""
    rows = tx.records("SELECT * FROM sessions WHERE secure_id = {sid:String}", {"sid": secure_id})
    return tidy(fold_session(rows).items()) if rows else None


_COUNTERS = (
    "pages",
    "event_count",
    "network_count",
    "fe_error_count",
    "dropped_events",
    "dropped_other",
)


def _first(values: list[Any]) -> Any:
    """``any``: the first value that is not NULL."""
    return next((v for v in values if v is not None), None)


def _latest(values: list[Any]) -> Any:
    """``nullIf(max(pair).2, '')`` over (time, text) pairs; a pair of another shape (what a
    stored NaN becomes) counts as the earliest."""
    pairs = [
        (float(v[0]) if isinstance(v[0], int | float) else float("-inf"), v[1])
        for v in values
        if isinstance(v, list) and len(v) == 2 and isinstance(v[1], str)
    ]
    best = max(pairs, default=(0.0, ""))[1]
    return best or None


def _sum(values: list[Any]) -> int:
    return sum(int(v) for v in values if isinstance(v, int | float))


def fold_session(rows: list[Row]) -> Row:
    """A session's stored rows (one or more, as they came) folded into one, as the engine
    folds them: first of each ``any``, earliest start, latest end and latest of each
    (time, text) pair, counters added up; ``duration_ms`` the difference."""
    col = {k: [r.get(k) for r in rows] for k in rows[0]}
    numbers = {
        k: [v for v in col[k] if isinstance(v, int | float)] for k in ("started_ms", "last_ms")
    }
    started = min(numbers["started_ms"], default=None)
    last = max(numbers["last_ms"], default=None)
    out: Row = {
        "secure_id": rows[0].get("secure_id"),
        "project_id": rows[0].get("project_id"),
        "started_ms": started,
        "last_ms": last,
    }
    for key in ("url", "last_url", "user_agent", "sdk_version", "environment", "service"):
        out[key] = _latest(col[key]) if key == "last_url" else _first(col[key])
    out["app_version"] = _first(col["app_version"])
    out["identifier"] = _latest(col["identifier"])
    out["user_metadata"] = _latest(col["user_metadata"])
    for key in _COUNTERS:
        out[key] = _sum(col[key])
    duration = last - started if last is not None and started is not None else None
    # the engine's JSON writes a whole Float64 without a fraction: read back, an int
    if isinstance(duration, float) and duration.is_integer() and abs(duration) < 2**53:
        duration = int(duration)
    out["duration_ms"] = duration
    return out


def session_info(tx: Transport, secure_id: str) -> tuple[str, float] | None:
    rows = tx.query(
        "SELECT any(project_id), min(started_ms) FROM sessions WHERE secure_id = {sid:String} "
        "GROUP BY secure_id",
        {"sid": secure_id},
        NO_LIMIT,
    )
    return (rows[0][0], float(rows[0][1])) if rows else None


def _session_parts(tx: Transport, secure_id: str, detail: bool, summaries_up_to: int) -> Row | None:
    """Three rounds of statements run together (``together``): what the session id alone
    names (its row, its requests seen by the server, and the rest in ``session_timeline``);
    then its requests' traces (``request_traces``) and matching by time; then the
    errors of its requests and traces and their span and log counts."""
    session, seen_rows, own = together.three(
        lambda: _session_row(tx, secure_id),
        lambda: serverseen.spans_read(tx, secure_id, serverseen_rule.MAX_SCAN),
        lambda: timeline.read(tx, secure_id, detail),
    )
    network, console, track = own[timeline.NETWORK], own[timeline.CONSOLE], own[timeline.TRACK]
    by_session = own[timeline.ERROR]
    if session is None:
        return None
    browser = {n["request_id"] for n in network if isinstance(n["request_id"], str)}
    server, seen = serverseen.find(tx, secure_id, browser, seen_rows, by_session)
    for item in server if detail else []:
        item["detail"] = None
    rids = sorted(browser | {n["request_id"] for n in server})
    summarise = len(network) + len(server) <= summaries_up_to
    known = Known(secure_id, by_session)
    links: list[tuple[str, str]] = []
    timed: dict[str, summaries.Timed] = {}
    if summarise and rids:
        flights = [
            f
            for f in (flight(n["request_id"], n["start_ms"], n["end_ms"]) for n in network)
            if f is not None
        ]
        links, timed = together.two(
            lambda: _links(tx, rids),
            lambda: rule.session_summaries(Rows(tx, known), secure_id, flights),
        )
    owners = summaries.trace_owners(rids, [(r, t) for r, t in links if t])
    tids = sorted(owners) if summarise and rids else []
    traceless = sorted({r for r, t in links if not t})
    errors, counted = together.two(
        lambda: _SessionErrors(tx, secure_id, by_session, rids, tids, detail, browser),
        lambda: tracecounts.counts(tx, tids, traceless),
    )
    network = serverseen_rule.merge(network, server)
    if summarise:
        summary = _merge(
            rids,
            owners,
            counted,
            [(int(e["id"]), e["trace_id"]) for e in errors.by_trace],
            [(int(e["id"]), e["request_id"]) for e in errors.by_request],
            timed,
        )
        for item in network:
            item["backend"] = summary.get(item["request_id"], EMPTY)
    else:
        for item in network:
            item["backend"] = None
    mine = errors.of_session()
    session["be_error_count"] = sum(1 for e in mine if e["source"] != "frontend")
    return {
        "session": session,
        "network": network,
        "server_seen": seen,
        "console": console,
        "errors": [e for e in mine if e["source"] == "frontend"],
        "backend_errors": [e for e in mine if e["source"] != "frontend"],
        "track": track,
    }


_SESSION_ERROR = (
    "id, group_id, ts_ms, source, type, message, stack, raw_stack, request_id, trace_id, "
    "span_id, service, url"
)


class _SessionErrors:
    """Every error a session's page needs: by the session id (its errors, and the
    candidates for matching by time: from ``session_timeline``, in the first round), then
    in one statement of
    two indexed lookups (one ``OR`` would scan: a skip index only answers for its own
    column) by its request ids (recorded before the browser sent the request) and by its
    requests' trace ids (the summaries)."""

    @staticmethod
    def _columns(detail: bool) -> str:
        return _SESSION_ERROR + ", session_id" + (", attributes" if detail else "")

    def __init__(
        self,
        tx: Transport,
        secure_id: str,
        by_session: list[Row],
        rids: list[str],
        tids: list[str],
        detail: bool,
        browser: set[str],
    ) -> None:
        self.secure_id = secure_id
        self.browser = browser
        self.keys = [k.strip() for k in _SESSION_ERROR.split(",")] + (
            ["attributes"] if detail else []
        )
        columns = self._columns(detail)
        rows = (
            _rows(
                tx,
                f"SELECT 1 AS branch, {columns} FROM errors "
                "WHERE request_id IN {rids:Array(String)} "
                f"UNION ALL SELECT 2 AS branch, {columns} FROM errors "
                "WHERE trace_id IN {tids:Array(String)}",
                {"rids": rids, "tids": tids},
            )
            if rids or tids
            else []
        )
        self.by_session = by_session
        self.by_request = [r for r in rows if r["branch"] == 1]
        self.by_trace = [r for r in rows if r["branch"] == 2]

    def of_session(self) -> list[Row]:
        """The session's errors: by its id, and (recorded before the browser sent the
        request) by the ids of its network rows; in time order."""
        mine = self.by_session + [
            e
            for e in self.by_request
            if e["session_id"] is None and e["request_id"] in self.browser
        ]
        return sorted(
            ({k: e.get(k) for k in self.keys} for e in mine),
            key=lambda e: (_order(e["ts_ms"]), _order(e["id"])),
        )


def _order(value: object) -> float:
    """A sort key of any stored value: a number as itself, anything else last."""
    return float(value) if isinstance(value, int | float) else float("inf")


class Known(NamedTuple):
    """A session's errors already fetched (all with its session id): matching by time
    takes its error candidates from them instead of a statement of its own."""

    session_id: str
    errors: list[Row]

    def candidates(self, lo_ms: float, hi_ms: float) -> list[Candidate]:
        """The rule of ``Rows.candidates`` for errors, over these rows."""
        out = [
            Candidate("error", int(e["id"]), float(e["ts_ms"]), e["trace_id"], 0)
            for e in self.errors
            if e["source"] != "frontend"
            and e["request_id"] == e["trace_id"]
            and isinstance(e["ts_ms"], int | float)
            and lo_ms <= e["ts_ms"] <= hi_ms
        ]
        return out[:MAX_CANDIDATES]


def get_session(tx: Transport, secure_id: str) -> Row | None:
    return _session_parts(tx, secure_id, True, 1 << 62)


def get_session_overview(tx: Transport, secure_id: str, summaries_up_to: int) -> Row | None:
    return _session_parts(tx, secure_id, False, summaries_up_to)


def get_replay(
    tx: Transport, secure_id: str, after_seq: int, limit: int, max_bytes: int = REPLAY_PAGE_BYTES
) -> Row:
    """As the SQLite store's ``get_replay``: each batch's items as JSON text, not decoded."""
    rows = tx.query(
        "SELECT seq, data FROM replay_chunks WHERE session_id = {sid:String} "
        "AND seq > {after:Int64} ORDER BY seq LIMIT {lim:UInt64}",
        {"sid": secure_id, "after": after_seq, "lim": limit + 1},
    )
    parts: list[bytes] = []
    size, last_seq, more = 0, None, False
    for count, (seq, data) in enumerate(rows):
        if count >= limit or (count and size >= max_bytes):
            more = True
            break
        text = data.strip()
        if text[:1] == "[" and text[-1:] == "]":
            items = text[1:-1].strip().encode()
            if items:
                parts.append(items)
                size += len(items)
        last_seq = seq
    return {"events_json": parts, "next_seq": last_seq if more else None}


# --- requests and traces -------------------------------------------------------------------


def _links(tx: Transport, request_ids: list[str]) -> list[tuple[str, str]]:
    """(request id, trace id) of records whose request id is not their trace id, from the
    small ``request_traces`` table; trace id ``""``: such a record without a trace."""
    return [
        (r[0], r[1])
        for r in tx.query(
            "SELECT DISTINCT request_id, trace_id FROM request_traces "
            "WHERE request_id IN {ids:Array(String)}",
            {"ids": request_ids},
        )
    ]


def _trace_ids_for_request(tx: Transport, request_id: str) -> tuple[list[str], bool]:
    """The request's traces, and whether it has records without a trace."""
    links = _links(tx, [request_id])
    traces = request_views.request_trace_ids(request_id, [t for _, t in links if t])
    return traces, any(not t for _, t in links)


_SPAN = (
    "SELECT trace_id, span_id, parent_span_id, name, kind, start_ns, end_ns, status_code, "
    "status_message, service, environment, session_id, request_id, attributes, events "
    "FROM spans WHERE {where} ORDER BY start_ns"
)
_LOG_COLUMNS = (
    "SELECT id, ts_ns, trace_id, span_id, level, severity_number, body, service, environment, "
    "session_id, request_id, attributes FROM logs "
)
# Reads of logs by trace id go through the logs' trace index (a projection, schema version
# 3); the engine otherwise uses such an index only in parts of a million rows or more.
_BY_TRACE = " SETTINGS min_table_rows_to_use_projection_index = 0"
_LOG = "SELECT * FROM (" + _LOG_COLUMNS + "WHERE {where}) ORDER BY ts_ns, id LIMIT {lim}"
_ERROR_FIELDS = (
    "id, group_id, ts_ms, source, type, message, stack, raw_stack, session_id, "
    "request_id, trace_id, span_id, service, environment, url, attributes"
)
_ERROR_COLUMNS = "SELECT " + _ERROR_FIELDS + " FROM errors "
_ERROR = "SELECT * FROM (" + _ERROR_COLUMNS + "WHERE {where}) ORDER BY ts_ms, id"


def _match(
    tx: Transport, b: Row | None, request_id: str, session: str | None
) -> tuple[Known | None, tuple[list[int], list[int]]]:
    """The errors of the request's session, and the error and log ids matched to the
    request by time (``timematch``)."""
    if b is None or session is None:
        return None, ([], [])
    known = Known(
        session,
        _rows(tx, _ERROR_COLUMNS + "WHERE session_id = {sid:String}", {"sid": session}),
    )
    ids = rule.for_request(Rows(tx, known), request_id, session, b["start_ms"], b["end_ms"])
    return known, ids


def _timed(
    tx: Transport,
    logs: list[Row],
    errors: list[Row],
    known: Known | None,
    matched: tuple[list[int], list[int]],
) -> tuple[list[Row], list[Row]]:
    if known is None:
        return request_views.with_timed(logs, errors, [], [])
    error_ids, log_ids = matched
    more = set(error_ids) - {e["id"] for e in errors}
    more_errors = [e for e in known.errors if e["id"] in more]
    log_ids = sorted(set(log_ids) - {lg["id"] for lg in logs})[: max(0, 5000 - len(logs))]
    more_logs = (
        log_times(
            _rows(
                tx,
                _LOG.format(where="id IN {ids:Array(UInt64)}", lim=len(log_ids)),
                {"ids": log_ids},
            )
        )
        if log_ids
        else []
    )
    return request_views.with_timed(logs, errors, more_logs, more_errors)


def get_request(tx: Transport, request_id: str) -> Row:
    """Two rounds of statements run together (``together``): the browser's record and the
    request's traces; then the traces' spans, logs and errors, and matching by time."""
    rid = {"rid": request_id}
    browser, (traces, traceless) = together.two(
        lambda: _rows(
            tx,
            "SELECT id, session_id, request_id, type, method, url, status, start_ms, end_ms, "
            "error, detail FROM network WHERE request_id = {rid:String} ORDER BY start_ms, id",
            rid,
        ),
        lambda: _trace_ids_for_request(tx, request_id),
    )
    b = browser[0] if browser else None
    session = b["session_id"] if b is not None and isinstance(b["session_id"], str) else None
    params = {**rid, "traces": traces}
    # Rows that carry the request id and a trace id are in one of ``traces`` (which holds
    # every trace seen with this request id); those without a trace are looked up apart.
    where = "trace_id IN {traces:Array(String)}" + _BY_TRACE
    if traceless:
        where += (
            " UNION ALL " + _LOG_COLUMNS + "WHERE request_id = {rid:String} AND trace_id IS NULL"
        )
    # Errors without a trace are looked up only where ``request_traces`` holds one (the
    # view ``errors_request_traces`` adds the pair (request id, "") for each).
    error_where = "trace_id IN {traces:Array(String)}"
    if traceless:
        error_where += (
            " UNION ALL " + _ERROR_COLUMNS + "WHERE request_id = {rid:String} AND trace_id IS NULL"
        )
    spans, logs, exact, (known, matched) = together.run(
        lambda: span_times(
            _rows(tx, _SPAN.format(where="trace_id IN {traces:Array(String)}"), params)
        ),
        lambda: log_times(_rows(tx, _LOG.format(where=where, lim=5000), params)),
        lambda: _rows(tx, _ERROR.format(where=error_where), params),
        lambda: _match(tx, b, request_id, session),
    )
    logs.sort(key=lambda lg: (lg["ts_ns"], lg["id"]))
    errors = sorted(exact, key=lambda e: (e["ts_ms"], e["id"]))
    logs, errors = _timed(tx, logs, errors, known, matched)
    return request_views.request_view(request_id, browser, traces, spans, logs, errors)


def get_trace(tx: Transport, trace_id: str) -> Row:
    tid = {"tid": trace_id}
    spans = span_times(_rows(tx, _SPAN.format(where="trace_id = {tid:String}"), tid))
    logs = log_times(
        _rows(tx, _LOG.format(where="trace_id = {tid:String}" + _BY_TRACE, lim=5000), tid)
    )
    errors = _rows(tx, _ERROR.format(where="trace_id = {tid:String}"), tid)
    return request_views.trace_view(trace_id, spans, logs, errors)


# --- error groups --------------------------------------------------------------------------

_GROUPS = """
SELECT g.group_id AS id, g.project_id AS project_id, g.fingerprint AS fingerprint,
    g.first.2 AS type, substring(g.first.3, 1, 1024) AS message, g.first.4 AS source,
    nullIf(g.first.5, '') AS stack, g.first_ms AS first_ms, g.last_ms AS last_ms,
    g.n AS count, g.sessions AS sessions,
    multiIf(st.state = '', 'open', st.state = 'resolved' AND g.received > st.updated, 'open',
            st.state) AS state
FROM (
    SELECT group_id, any(project_id) AS project_id, any(fingerprint) AS fingerprint,
        min((ts_ms, type, message, source, ifNull(stack, ''))) AS first,
        min(ts_ms) AS first_ms, max(ts_ms) AS last_ms, count() AS n,
        uniqExact(session_id) AS sessions, max(received_ms) AS received
    FROM errors WHERE {where} GROUP BY group_id
) AS g
LEFT JOIN (
    SELECT group_id, argMax(state, updated_ms) AS state, max(updated_ms) AS updated
    FROM group_states WHERE {state_where} GROUP BY group_id
) AS st ON g.group_id = st.group_id
"""


def _sparklines(tx: Transport, group_ids: list[int], now_ms: float) -> dict[int, list[int]]:
    start = (now_ms // DAY_MS - 13) * DAY_MS
    out = {g: [0] * 14 for g in group_ids}
    if not group_ids:
        return out
    for gid, day, n in tx.query(
        "SELECT group_id, toInt64(floor((ts_ms - {start:Float64}) / {day:Float64})) AS d, "
        "count() FROM errors WHERE group_id IN {ids:Array(UInt64)} AND ts_ms >= {start:Float64} "
        "GROUP BY group_id, d",
        {"start": start, "day": DAY_MS, "ids": group_ids},
    ):
        if gid in out and 0 <= day < 14:
            out[gid][day] = int(n)
    return out


def list_error_groups(tx: Transport, query: ErrorGroupQuery) -> Row:
    where, state_where, outer = ["1"], ["1"], ["1"]
    params: dict[str, Any] = {}
    if query.project_id:
        where.append("project_id = {p:String}")
        state_where.append("project_id = {p:String}")
        params["p"] = query.project_id
    if query.state:
        outer.append("state = {state:String}")
        params["state"] = query.state
    base = (
        "SELECT * FROM ("
        + _GROUPS.format(where=" AND ".join(where), state_where=" AND ".join(state_where))
        + f") WHERE {' AND '.join(outer)}"
    )
    total = tx.query(f"SELECT count() FROM ({base})", params)[0][0]
    groups = _rows(
        tx,
        base + " ORDER BY last_ms DESC, id LIMIT {lim:UInt64} OFFSET {off:UInt64}",
        {**params, "lim": query.limit, "off": query.offset},
    )
    ids = [g["id"] for g in groups]
    lines = _sparklines(tx, ids, time.time() * 1000)
    users = _users(tx, ids)
    for g in groups:
        g["sparkline"] = lines[g["id"]]
        g["users"] = users.get(g["id"], 0)
    return {"total": int(total), "limit": query.limit, "offset": query.offset, "groups": groups}


def _users(tx: Transport, group_ids: list[int]) -> dict[int, int]:
    """Distinct identified users per group over its instances' sessions (each session's
    latest identifier, as the sessions are folded when read)."""
    if not group_ids:
        return {}
    pairs = tx.query(
        "SELECT e.group_id, s.identifier FROM (SELECT DISTINCT group_id, session_id "
        "FROM errors WHERE group_id IN {ids:Array(UInt64)} AND session_id IS NOT NULL) AS e "
        "INNER JOIN (SELECT secure_id, nullIf(max(identifier).2, '') AS identifier "
        "FROM sessions WHERE secure_id IN (SELECT session_id FROM errors "
        "WHERE group_id IN {ids:Array(UInt64)} AND session_id IS NOT NULL) "
        "GROUP BY secure_id) AS s ON s.secure_id = e.session_id",
        {"ids": group_ids},
    )
    return errorfacts.users_by_group((int(g), ident) for g, ident in pairs)


def get_error_group(tx: Transport, group_id: int, limit: int) -> Row | None:
    params = {"g": group_id}
    rows = _rows(
        tx,
        _GROUPS.format(where="group_id = {g:UInt64}", state_where="group_id = {g:UInt64}"),
        params,
    )
    if not rows:
        return None
    group = rows[0]
    group["sparkline"] = _sparklines(tx, [group_id], time.time() * 1000)[group_id]
    instances = _rows(
        tx,
        "SELECT id, ts_ms, source, type, message, stack, raw_stack, session_id, request_id, "
        "trace_id, span_id, service, environment, url, attributes FROM errors "
        "WHERE group_id = {g:UInt64} ORDER BY ts_ms DESC, id LIMIT {lim:UInt64}",
        {**params, "lim": limit},
    )
    for inst in instances:
        inst["session_secure_id"] = inst["session_id"]
        inst["timestamp"] = inst["ts_ms"]
    return {"group": group, "instances": instances}


def group_project(tx: Transport, group_id: int) -> str | None:
    rows = tx.query(
        "SELECT project_id FROM errors WHERE group_id = {g:UInt64} LIMIT 1",
        {"g": group_id},
        NO_LIMIT,
    )
    return str(rows[0][0]) if rows else None


# --- logs ----------------------------------------------------------------------------------


def text_filter(text: str, params: dict[str, Any]) -> str:
    """User text → conditions: every word (``query.logstats.search_words``) must occur in
    the body as a substring, in any case: ``lowerUTF8(body) LIKE '%word%'``, which the
    ngram index on ``lowerUTF8(body)`` (schema version 8) narrows to the granules that
    hold every three-character piece of the word; at most 32 words."""
    conds: list[str] = []
    for word in search_words(text):
        name = f"t{len(params)}"
        params[name] = _like(word)
        conds.append(f"lowerUTF8(body) LIKE {{{name}:String}}")
    return " AND ".join(conds)


def log_where(
    tx: Transport, query: LogQuery, params: dict[str, Any], skip: tuple[str, ...] = ()
) -> str:
    """The WHERE clause of a log query (its parameters added to ``params``); the filters
    named in ``skip`` (``level``, ``service``) are left out (facet counts)."""
    where: list[str] = ["1"]
    if query.text:
        cond = text_filter(query.text, params)
        if cond:
            where.append(cond)
    if query.project_id:
        where.append("project_id = {p:String}")
        params["p"] = query.project_id
    if query.session_id:
        where.append(
            "(session_id = {sid:String} OR trace_id IN (SELECT assumeNotNull(request_id) "
            "FROM network WHERE session_id = {sid:String} AND request_id IS NOT NULL))"
        )
        params["sid"] = query.session_id
    if query.request_id:
        params["traces"] = _trace_ids_for_request(tx, query.request_id)[0]
        params["timed"] = _timed_log_ids(tx, query.request_id)
        params["rid"] = query.request_id
        where.append(
            "(trace_id IN {traces:Array(String)} OR request_id = {rid:String} "
            "OR id IN {timed:Array(UInt64)})"
        )
    if query.service and "service" not in skip:
        where.append("service = {svc:String}")
        params["svc"] = query.service
    if query.level and "level" not in skip:
        where.append("level = {lvl:String}")
        params["lvl"] = query.level.lower()
    if query.start_ms is not None:
        where.append("ts_ns >= {start:Int64}")
        params["start"] = int(query.start_ms * 1e6)
    if query.end_ms is not None:
        where.append("ts_ns < {end:Int64}")
        params["end"] = int(query.end_ms * 1e6)
    return " AND ".join(where)


def search_logs(tx: Transport, query: LogQuery) -> Row:
    params: dict[str, Any] = {}
    where = log_where(tx, query, params)
    rows = _rows(
        tx,
        "SELECT id, ts_ns, trace_id, span_id, level, body, service, environment, session_id, "
        f"request_id, attributes FROM logs WHERE {where} "
        "ORDER BY ts_ns DESC, id DESC LIMIT {lim:UInt64} OFFSET {off:UInt64}",
        {**params, "lim": query.limit + 1, "off": query.offset},
    )
    rids = sorted({r["request_id"] for r in rows if r["request_id"]})
    owners = (
        dict(
            (r[0], r[1])
            for r in tx.query(
                "SELECT assumeNotNull(request_id), any(session_id) FROM network "
                "WHERE request_id IN {ids:Array(String)} GROUP BY request_id",
                {"ids": rids},
            )
        )
        if rids
        else {}
    )
    for lg in log_times(rows):
        lg["session_secure_id"] = owners.get(lg["request_id"]) or lg["session_id"]
    return {
        "logs": rows[: query.limit],
        "limit": query.limit,
        "offset": query.offset,
        "has_more": len(rows) > query.limit,
    }


def _timed_log_ids(tx: Transport, request_id: str) -> list[int]:
    rows = tx.query(
        "SELECT session_id, start_ms, end_ms FROM network WHERE request_id = {rid:String} "
        "ORDER BY start_ms LIMIT 1",
        {"rid": request_id},
    )
    if not rows:
        return []
    return rule.for_request(Rows(tx), request_id, rows[0][0], rows[0][1], rows[0][2])[1][:5000]


# --- counts --------------------------------------------------------------------------------


def counts(tx: Transport, project_id: str | None) -> Row:
    p = {"p": project_id or ""}
    mine = "({p:String} = '' OR project_id = {p:String})"
    first_session = tx.query(
        f"SELECT min(started_ms), uniqExact(secure_id) FROM sessions WHERE {mine}", p
    )[0]
    first_span = tx.query(
        f"SELECT min(start_ns), count() FROM (SELECT start_ns FROM spans WHERE {mine} "
        "LIMIT 100000)",
        p,
    )[0]
    mine_n = "({p:String} = '' OR project_id = {p:String})"
    linked = tx.query(
        f"SELECT request_id, start_ms FROM network WHERE request_id IS NOT NULL AND {mine_n} "
        "AND (request_id IN (SELECT trace_id FROM spans) OR request_id IN "
        "(SELECT request_id FROM spans WHERE request_id != trace_id)) "
        "ORDER BY start_ms LIMIT 1",
        p,
    )
    figures = tx.query(
        "SELECT countIf(request_id IS NOT NULL), countIf(request_id IS NULL), "
        "countIf(request_id IS NOT NULL AND error IN ('cors', 'network')) "
        f"FROM network WHERE {mine_n}",
        p,
    )[0]
    logs = tx.query(f"SELECT count() FROM (SELECT 1 FROM logs WHERE {mine} LIMIT 100000)", p)[0][0]
    return {
        "sessions": int(first_session[1]),
        "first_session_ms": first_session[0] if first_session[1] else None,
        "spans": int(first_span[1]),
        "first_span_ms": ms(first_span[0]) if first_span[1] else None,
        "logs": int(logs),
        "first_linked_request": (
            {"request_id": linked[0][0], "start_ms": linked[0][1]} if linked else None
        ),
        "requests_with_id": int(figures[0]),
        "requests_without_id": int(figures[1]),
        "requests_with_id_failed": int(figures[2]),
    }


# --- the web UI's session page: backend summaries --------------------------------------------


def _summaries(
    tx: Transport,
    request_ids: list[str],
    links: list[tuple[str, str]],
    owners: dict[str, list[str]],
    errors_by_trace: list[tuple[int, str]],
    errors_by_request: list[tuple[int, str]],
    timed: dict[str, summaries.Timed],
) -> dict[str, Row]:
    traceless = sorted({r for r, t in links if not t})
    counted = tracecounts.counts(tx, list(owners), traceless)
    return _merge(request_ids, owners, counted, errors_by_trace, errors_by_request, timed)


def _merge(
    request_ids: list[str],
    owners: dict[str, list[str]],
    counted: tracecounts.Counts,
    errors_by_trace: list[tuple[int, str]],
    errors_by_request: list[tuple[int, str]],
    timed: dict[str, summaries.Timed],
) -> dict[str, Row]:
    spans, logs, by_request = counted
    return summaries.merge(
        request_ids,
        owners,
        spans_by_trace=spans,
        logs_by_trace=logs,
        logs_by_request=by_request,
        errors_by_trace=errors_by_trace,
        errors_by_request=errors_by_request,
        timed=timed,
    )


def backend_summaries(tx: Transport, request_ids: list[str]) -> dict[str, Row]:
    ids = sorted({r for r in request_ids if isinstance(r, str)})
    if not ids:
        return {}
    links = _links(tx, ids)
    owners = summaries.trace_owners(ids, [(r, t) for r, t in links if t])
    by_trace: list[tuple[int, str]] = []
    by_request: list[tuple[int, str]] = []
    for branch, eid, key in tx.query(
        "SELECT 1 AS branch, id, assumeNotNull(request_id) FROM errors "
        "WHERE request_id IN {ids:Array(String)} UNION ALL SELECT 2 AS branch, id, "
        "assumeNotNull(trace_id) FROM errors WHERE trace_id IN {tids:Array(String)}",
        {"ids": ids, "tids": list(owners)},
    ):
        (by_request if branch == 1 else by_trace).append((int(eid), key))
    timed = rule.summaries(Rows(tx), ids)
    return _summaries(tx, ids, links, owners, by_trace, by_request, timed)


# --- matching by time: the rows -------------------------------------------------------------


class Rows:
    """``query.timematch.MatchRows`` over a ClickHouse transport; ``known``: a session's
    errors at hand."""

    def __init__(self, tx: Transport, known: Known | None = None) -> None:
        self.tx = tx
        self.known = known

    def candidates(self, session_id: str, lo_ms: float, hi_ms: float) -> list[Candidate]:
        p = {"sid": session_id, "lo": lo_ms, "hi": hi_ms, "n": MAX_CANDIDATES}
        if self.known is not None and self.known.session_id == session_id:
            found = self.known.candidates(lo_ms, hi_ms)
        else:
            found = [
                Candidate("error", int(eid), float(ts), tid, 0)
                for eid, ts, tid in self.tx.query(
                    "SELECT id, ts_ms, trace_id FROM errors WHERE session_id = {sid:String} "
                    f"AND {_same('request_id', 'trace_id')} AND source != 'frontend' "
                    "AND ts_ms BETWEEN {lo:Float64} AND {hi:Float64} LIMIT {n:UInt64}",
                    p,
                )
            ]
        found += [
            Candidate("log", int(lid), ms(ts) or 0.0, tid, int(sev))
            for lid, ts, tid, sev in self.tx.query(
                "SELECT id, ts_ns, trace_id, severity_number FROM logs "
                f"WHERE session_id = {{sid:String}} AND {_same('request_id', 'trace_id')} "
                "AND ts_ns BETWEEN {lo:Float64} * 1e6 AND {hi:Float64} * 1e6 LIMIT {n:UInt64}",
                p,
            )
        ]
        return found

    def linked_traces(self, session_id: str, trace_ids: set[str]) -> set[str]:
        tids = {"tids": sorted(trace_ids), "sid": session_id}
        # the session's requests its backend saw: by key in ``session_requests``
        linked = {
            r[0]
            for r in self.tx.query(
                "SELECT DISTINCT assumeNotNull(request_id) FROM network "
                "WHERE request_id IN {tids:Array(String)} UNION ALL "
                f"SELECT DISTINCT request_id FROM ({serverseen.BY_SESSION}) "
                "WHERE request_id IN {tids:Array(String)}",
                tids,
            )
        }
        owners: dict[str, set[str]] = {}
        for rid, tid in self.tx.query(
            "SELECT DISTINCT request_id, trace_id FROM request_traces "
            "WHERE trace_id IN {tids:Array(String)}",
            tids,
        ):
            owners.setdefault(rid, set()).add(tid)
        if owners:
            for (rid,) in self.tx.query(
                "SELECT DISTINCT assumeNotNull(request_id) FROM network "
                "WHERE request_id IN {rids:Array(String)}",
                {"rids": sorted(owners)},
            ):
                linked |= owners.get(rid, set())
        return linked

    def flights(self, session_id: str, lo_ms: float, hi_ms: float) -> list[Flight]:
        rows = self.tx.query(
            "SELECT request_id, start_ms, end_ms FROM network WHERE session_id = {sid:String} "
            "AND request_id IS NOT NULL AND start_ms <= {hi:Float64} AND end_ms >= {lo:Float64}",
            {"sid": session_id, "lo": lo_ms, "hi": hi_ms},
        )
        return [f for f in (flight(*row) for row in rows) if f is not None]

    def session_ranges(self, request_ids: list[str]) -> list[tuple[str, float, float]]:
        return [
            (r[0], float(r[1]), float(r[2]))
            for r in self.tx.query(
                "SELECT session_id, min(start_ms), max(end_ms) FROM network "
                "WHERE request_id IN {ids:Array(String)} GROUP BY session_id",
                {"ids": request_ids},
            )
        ]


def app_versions(tx: Transport, session_ids: list[str]) -> dict[str, str]:
    ids = sorted({s for s in session_ids if isinstance(s, str)})[:1000]
    if not ids:
        return {}
    rows = tx.query(
        "SELECT secure_id, any(app_version) FROM sessions "
        "WHERE secure_id IN {ids:Array(String)} GROUP BY secure_id",
        {"ids": ids},
    )
    return {str(r[0]): r[1] for r in rows if isinstance(r[1], str) and r[1]}
