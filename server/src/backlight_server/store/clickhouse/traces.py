"""The trace list in ClickHouse: spans folded by trace id at read time (the columns it
needs, over the time range asked), newest first by start.

A trace is dated by its earliest span; with a range, spans that start before the range are
not read, so a trace that began before the range and has spans inside it is listed from
those spans only (SQLite's ``traces`` table dates it by its whole)."""

from __future__ import annotations

from typing import Any

from backlight_server.query.traces import page, trace_row
from backlight_server.store.clickhouse.transport import Transport
from backlight_server.store.queries import TraceQuery

Row = dict[str, Any]


def list_traces(tx: Transport, query: TraceQuery) -> Row:
    where: list[str] = ["1"]
    having: list[str] = ["1"]
    params: dict[str, Any] = {"lim": query.limit + 1, "off": query.offset}
    if query.project_id:
        where.append("project_id = {p:String}")
        params["p"] = query.project_id
    if query.start_ms is not None:
        where.append("start_ns >= {lo:Int64}")
        params["lo"] = int(query.start_ms * 1e6)
    if query.end_ms is not None:
        having.append("first < {hi:Int64}")
        params["hi"] = int(query.end_ms * 1e6)
    if query.min_ms is not None:
        having.append("last - first >= {dmin:Int64}")
        params["dmin"] = int(query.min_ms * 1e6)
    if query.max_ms is not None:
        having.append("last - first <= {dmax:Int64}")
        params["dmax"] = int(query.max_ms * 1e6)
    if query.status == "error":
        having.append("errors > 0")
    elif query.status == "ok":
        having.append("errors = 0")
    if query.service:
        having.append("has(services, {svc:String})")
        params["svc"] = query.service
    if query.name:
        having.append("countIf(positionCaseInsensitiveUTF8(name, {name:String}) > 0) > 0")
        params["name"] = query.name
    rows = tx.query(
        "SELECT trace_id, any(project_id), min(start_ns) AS first, max(end_ns) AS last, "
        "count(), countIf(status_code = 2) AS errors, argMin(name, start_ns), "
        "argMin(service, start_ns), groupUniqArray(toString(service)) AS services "
        f"FROM spans WHERE {' AND '.join(where)} GROUP BY trace_id "
        f"HAVING {' AND '.join(having)} "
        "ORDER BY first DESC, trace_id LIMIT {lim:UInt64} OFFSET {off:UInt64}",
        params,
    )
    return page([trace_row(*r) for r in rows], query.limit, query.offset)
