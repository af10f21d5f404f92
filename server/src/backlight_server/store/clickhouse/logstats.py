"""The log page's counts in ClickHouse: logs per time bucket and level, per level and per
service, for one log query.

- Without text, session or request: whole minutes from ``log_counts`` (logcounts.py) when
  the histogram's bucket width is a multiple of a minute, the partial minutes at the
  range's two ends (or a range of buckets narrower than a minute) from ``logs``.
- With text, a session or a request: the matches are counted, the newest ``MAX_COUNTED``
  at most (newest by time, before the level and service filters); ``capped`` says when
  more matched."""

from __future__ import annotations

from typing import Any

from backlight_server.query import logstats
from backlight_server.store.clickhouse.logcounts import NS, WIDTH_S
from backlight_server.store.clickhouse.reads import log_where
from backlight_server.store.clickhouse.transport import Transport
from backlight_server.store.queries import LogQuery

Row = dict[str, Any]
Cell = tuple[int, str, str, int]
MAX_COUNTED = 5_000


def log_stats(tx: Transport, query: LogQuery, buckets: int) -> Row:
    if query.text or query.session_id or query.request_id:
        return _counted(tx, query, buckets)
    start_ms, end_ms = query.start_ms, query.end_ms
    if start_ms is None or end_ms is None:
        params: dict[str, Any] = {}
        where = log_where(tx, query, params)
        rows = tx.query(f"SELECT min(ts_ns), max(ts_ns), count() FROM logs WHERE {where}", params)
        if not rows or not int(rows[0][2]):
            return logstats.empty(start_ms, end_ms, buckets)
        start_ms = start_ms if start_ms is not None else int(rows[0][0]) / 1e6
        end_ms = end_ms if end_ms is not None else int(rows[0][1]) / 1e6 + 1
    first, last, width = logstats.window(start_ms, end_ms, buckets)
    # the same bounds as log_where: ts_ns >= int(start * 1e6) and < int(end * 1e6)
    lo_ns, hi_ns = int(start_ms * 1e6), int(end_ms * 1e6)
    p: dict[str, Any] = {"first": int(first * 1e6), "width": int(width * 1e6)}
    project = ""
    if query.project_id:
        project, p["p"] = " AND project_id = {p:String}", query.project_id
    step = WIDTH_S * NS
    a, b = -(-lo_ns // step) * step, hi_ns // step * step
    spans = [(False, lo_ns, hi_ns)]
    if p["width"] % step == 0 and 0 <= a < b:
        spans = [(False, lo_ns, a), (True, a, b), (False, b, hi_ns)]
    parts = []
    for i, (kept, lo, hi) in enumerate(spans):
        if lo >= hi:
            continue
        p[f"lo{i}"], p[f"hi{i}"] = (lo // NS, hi // NS) if kept else (lo, hi)
        table, col, at, count = (
            ("log_counts", "start_s", "start_s * 1000000000", "sum(n)")
            if kept
            else ("logs", "ts_ns", "ts_ns", "count()")
        )
        parts.append(
            f"SELECT intDiv({at} - {{first:Int64}}, {{width:Int64}}) AS b, "
            f"toString(level) AS lv, toString(service) AS svc, {count} AS c FROM {table} "
            f"WHERE {col} >= {{lo{i}:Int64}} AND {col} < {{hi{i}:Int64}}{project} "
            "GROUP BY b, lv, svc"
        )
    rows_: list[Cell] = []
    if parts:
        rows_ = [
            (int(i), str(lv), str(svc), int(n))
            for i, lv, svc, n in tx.query(" UNION ALL ".join(parts), p)
        ]
    level = query.level.lower() if query.level else None
    cells, levels, services = logstats.fold(rows_, level, query.service)
    return logstats.stats(first, last, width, cells, levels, services)


def _counted(tx: Transport, query: LogQuery, buckets: int) -> Row:
    """Count the newest ``MAX_COUNTED`` matches (without the level and service filters:
    the facets count without their own filter, ``query.logstats.fold``)."""
    params: dict[str, Any] = {"cap": MAX_COUNTED + 1}
    where = log_where(tx, query, params, skip=("level", "service"))
    found = [
        (int(ts), str(lv), str(svc))
        for ts, lv, svc in tx.query(
            "SELECT ts_ns, toString(level), toString(service) FROM logs "
            f"WHERE {where} ORDER BY ts_ns DESC LIMIT {{cap:UInt64}}",
            params,
        )
    ]
    capped = len(found) > MAX_COUNTED
    found = found[:MAX_COUNTED]
    if not found:
        return logstats.empty(query.start_ms, query.end_ms, buckets)
    start_ms = query.start_ms if query.start_ms is not None else found[-1][0] / 1e6
    end_ms = query.end_ms if query.end_ms is not None else found[0][0] / 1e6 + 1
    first, last, width = logstats.window(start_ms, end_ms, buckets)
    first_ns, width_ns = int(first * 1e6), int(width * 1e6)
    counts: dict[tuple[int, str, str], int] = {}
    for ts, lv, svc in found:
        key = ((ts - first_ns) // width_ns, lv, svc)
        counts[key] = counts.get(key, 0) + 1
    rows = [(i, lv, svc, n) for (i, lv, svc), n in counts.items()]
    level = query.level.lower() if query.level else None
    cells, levels, services = logstats.fold(rows, level, query.service)
    return logstats.stats(first, last, width, cells, levels, services, capped=capped)
