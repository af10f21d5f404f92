"""The log page's counts in SQLite: logs per time bucket and level, per level and per
service, for one log query (the search's words and filters), in one scan. Without text
the covering index ``logs_time`` (migration 12) answers; with text, the matches are
counted."""

from __future__ import annotations

import sqlite3
from dataclasses import replace
from typing import Any

from backlight_server.query import logstats
from backlight_server.store.queries import LogQuery
from backlight_server.store.sqlite.reads import log_where

Row = dict[str, Any]


def log_stats(conn: sqlite3.Connection, query: LogQuery, buckets: int) -> Row:
    start_ms, end_ms = query.start_ms, query.end_ms
    if start_ms is None or end_ms is None:
        source, clause, args, _ = log_where(conn, query)
        if query.text:
            lo, hi = conn.execute(
                f"SELECT min(logs.ts_ns), max(logs.ts_ns) FROM {source} WHERE {clause}", args
            ).fetchone()
        else:  # one aggregate a statement: each is a seek in the time index, not a scan
            lo = conn.execute(f"SELECT min(logs.ts_ns) FROM {source} WHERE {clause}", args)
            hi = conn.execute(f"SELECT max(logs.ts_ns) FROM {source} WHERE {clause}", args)
            lo, hi = lo.fetchone()[0], hi.fetchone()[0]
        if not isinstance(lo, int) or not isinstance(hi, int):
            return logstats.empty(start_ms, end_ms, buckets)
        start_ms = start_ms if start_ms is not None else lo / 1e6
        end_ms = end_ms if end_ms is not None else hi / 1e6 + 1
    first, last, width = logstats.window(start_ms, end_ms, buckets)
    ranged = replace(query, start_ms=start_ms, end_ms=end_ms)
    # one scan without the level and service filters: the facets are counted without
    # their own filter, and the histogram with both (query.logstats.fold)
    source, clause, args, _ = log_where(conn, ranged, skip=("level", "service"))
    width_ns, first_ns = int(width * 1e6), int(first * 1e6)
    rows = [
        (int(b), str(level), str(svc), int(n))
        for b, level, svc, n in conn.execute(
            f"SELECT (logs.ts_ns - ?) / ? AS b, logs.level, logs.service, count(*) "
            f"FROM {source} WHERE {clause} GROUP BY b, logs.level, logs.service",
            [first_ns, width_ns, *args],
        )
    ]
    level = query.level.lower() if query.level else None
    cells, levels, services = logstats.fold(rows, level, query.service)
    return logstats.stats(first, last, width, cells, levels, services)
