"""The log page's counts in ClickHouse: logs per time bucket and level, per level and per
service, for one log query (the search's words and filters, ``reads.log_where``)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from backlight_server.query import logstats
from backlight_server.store.clickhouse.reads import log_where
from backlight_server.store.clickhouse.transport import Transport
from backlight_server.store.queries import LogQuery

Row = dict[str, Any]


def log_stats(tx: Transport, query: LogQuery, buckets: int) -> Row:
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
    ranged = replace(query, start_ms=start_ms, end_ms=end_ms)
    # one scan without the level and service filters (query.logstats.fold)
    params = {"first": int(first * 1e6), "width": int(width * 1e6)}
    where = log_where(tx, ranged, params, skip=("level", "service"))
    scanned = [
        (int(b), str(level), str(svc), int(n))
        for b, level, svc, n in tx.query(
            "SELECT intDiv(ts_ns - {first:Int64}, {width:Int64}) AS b, toString(level), "
            f"toString(service), count() FROM logs WHERE {where} GROUP BY b, level, service",
            params,
        )
    ]
    level = query.level.lower() if query.level else None
    cells, levels, services = logstats.fold(scanned, level, query.service)
    return logstats.stats(first, last, width, cells, levels, services)
