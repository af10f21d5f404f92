"""The log page's counts in SQLite: logs per time bucket and level, per level and per
service, for one log query.

- Without text, session or request (any time range, project, level, service): read from
  the counts kept at write time (``log_counts``, logcounts.py): whole hours from the hourly
  rows when the histogram's bucket width is a multiple of an hour, whole minutes from the
  minute rows when it is a multiple of a minute, and only the partial minutes at the
  range's two ends (or a range whose buckets are narrower than a minute: at most
  ``buckets`` × 30 s) from the ``logs_time`` index. The cost follows the range's length in
  hours and minutes, not the number of logs.
- With text, a session or a request: the matches are counted, the newest ``MAX_COUNTED``
  at most (newest first in the order the search lists them, before the level and service
  filters); ``capped`` says when more matched.

``log_page`` answers the log page's two reads at once: with text, the rows of the page are
taken from the matches it counts (one walk of the trigram index, not two)."""

from __future__ import annotations

import sqlite3
from typing import Any

from backlight_server.query import logstats
from backlight_server.store.queries import LogQuery
from backlight_server.store.sqlite import reads
from backlight_server.store.sqlite.logcounts import NS, WIDTHS_S
from backlight_server.store.sqlite.reads import log_where

Row = dict[str, Any]
Cell = tuple[int, str, str, int]  # (bucket index, level, service, count)
Match = tuple[Any, Any, Any, Any]  # (id, ts_ns, level, service) as stored
MAX_COUNTED = 5_000


def log_stats(conn: sqlite3.Connection, query: LogQuery, buckets: int) -> Row:
    if query.text or query.session_id or query.request_id:
        return _counted(conn, query, buckets)
    start_ms, end_ms = query.start_ms, query.end_ms
    if start_ms is None or end_ms is None:
        source, clause, args, _ = log_where(conn, query)
        # one aggregate a statement: each is a seek in the time index, not a scan
        lo = conn.execute(f"SELECT min(logs.ts_ns) FROM {source} WHERE {clause}", args)
        hi = conn.execute(f"SELECT max(logs.ts_ns) FROM {source} WHERE {clause}", args)
        lo, hi = lo.fetchone()[0], hi.fetchone()[0]
        if not isinstance(lo, int) or not isinstance(hi, int):
            return logstats.empty(start_ms, end_ms, buckets)
        start_ms = start_ms if start_ms is not None else lo / 1e6
        end_ms = end_ms if end_ms is not None else hi / 1e6 + 1
    first, last, width = logstats.window(start_ms, end_ms, buckets)
    first_ns, width_ns = int(first * 1e6), int(width * 1e6)
    # the same bounds as log_where: ts_ns >= int(start * 1e6) and < int(end * 1e6)
    lo_ns, hi_ns = int(start_ms * 1e6), int(end_ms * 1e6)
    widths = tuple(w for w in WIDTHS_S if width_ns % (w * NS) == 0)
    rows: list[Cell] = []
    for kept, a, b in pieces(lo_ns, hi_ns, widths):
        project = " AND project_id = ?" if query.project_id else ""
        extra = [query.project_id] if query.project_id else []
        if kept:
            sql = (
                "SELECT (start_s * 1000000000 - ?) / ?, level, service, sum(n) FROM log_counts "
                f"WHERE width_s = ? AND start_s >= ? AND start_s < ?{project} GROUP BY 1, 2, 3"
            )
            args = [first_ns, width_ns, kept, a // NS, b // NS, *extra]
        else:
            sql = (
                "SELECT (ts_ns - ?) / ?, level, service, count(*) FROM logs "
                f"WHERE ts_ns >= ? AND ts_ns < ?{project} GROUP BY 1, 2, 3"
            )
            args = [first_ns, width_ns, a, b, *extra]
        rows += [(int(i), str(lv), str(svc), int(n)) for i, lv, svc, n in conn.execute(sql, args)]
    level = query.level.lower() if query.level else None
    cells, levels, services = logstats.fold(rows, level, query.service)
    return logstats.stats(first, last, width, cells, levels, services)


def pieces(lo_ns: int, hi_ns: int, widths: tuple[int, ...]) -> list[tuple[int, int, int]]:
    """``[lo_ns, hi_ns)`` cut into ``(width in s, start, end)``: the whole buckets of the
    widest kept width in the middle, its ends cut by the next width, and so on; what no
    width covers has width 0 (counted from the rows). Times before 1970 are never kept."""
    if lo_ns >= hi_ns:
        return []
    if not widths:
        return [(0, lo_ns, hi_ns)]
    step = widths[0] * NS
    a, b = -(-lo_ns // step) * step, hi_ns // step * step
    if a >= b or a < 0:
        return pieces(lo_ns, hi_ns, widths[1:])
    return [*pieces(lo_ns, a, widths[1:]), (widths[0], a, b), *pieces(b, hi_ns, widths[1:])]


def _counted(conn: sqlite3.Connection, query: LogQuery, buckets: int) -> Row:
    """Count the newest ``MAX_COUNTED`` matches (without the level and service filters:
    the facets count without their own filter, ``query.logstats.fold``)."""
    found, capped = _matches(conn, query)
    return _count(found, query, buckets, capped)


def _matches(conn: sqlite3.Connection, query: LogQuery) -> tuple[list[Match], bool]:
    """The newest ``MAX_COUNTED`` matches of the query without its level and service
    filters, in the search's order, and whether more matched."""
    source, clause, args, order = log_where(conn, query, skip=("level", "service"))
    found: list[Match] = conn.execute(
        f"SELECT logs.id, logs.ts_ns, logs.level, logs.service FROM {source} WHERE {clause} "
        f"ORDER BY {order} LIMIT ?",
        [*args, MAX_COUNTED + 1],
    ).fetchall()
    return found[:MAX_COUNTED], len(found) > MAX_COUNTED


def _count(found: list[Match], query: LogQuery, buckets: int, capped: bool) -> Row:
    times = [ts for _id, ts, _lv, _svc in found if isinstance(ts, int)]
    if not times:
        return logstats.empty(query.start_ms, query.end_ms, buckets)
    start_ms = query.start_ms if query.start_ms is not None else min(times) / 1e6
    end_ms = query.end_ms if query.end_ms is not None else max(times) / 1e6 + 1
    first, last, width = logstats.window(start_ms, end_ms, buckets)
    first_ns, width_ns = int(first * 1e6), int(width * 1e6)
    counts: dict[tuple[int, str, str], int] = {}
    for _id, ts, lv, svc in found:
        if isinstance(ts, int):
            key = ((ts - first_ns) // width_ns, str(lv), str(svc))
            counts[key] = counts.get(key, 0) + 1
    rows = [(i, lv, svc, n) for (i, lv, svc), n in counts.items()]
    level = query.level.lower() if query.level else None
    cells, levels, services = logstats.fold(rows, level, query.service)
    return logstats.stats(first, last, width, cells, levels, services, capped=capped)


def log_page(conn: sqlite3.Connection, query: LogQuery, buckets: int) -> Row:
    """``search_logs`` and ``log_stats`` of one query. With text, one walk of the index:
    the newest ``MAX_COUNTED`` matches are counted, and the page's rows are those of them
    that pass the level and service filters (in the same order), fetched by id; when the
    page lies past what was counted, the walk goes on from the last match counted."""
    if not (query.text and logstats.search_words(query.text)):  # else listed by time
        return {
            "logs": reads.search_logs(conn, query),
            "stats": log_stats(conn, query, buckets),
        }
    found, capped = _matches(conn, query)
    stats = _count(found, query, buckets, capped)
    level = query.level.lower() if query.level else None
    picked = [
        row_id
        for row_id, _ts, lv, svc in found
        if (level is None or lv == level) and (query.service is None or svc == query.service)
    ]
    end = query.offset + query.limit + 1  # the page and one more: whether there are more
    ids = picked[query.offset : end]
    if capped and len(picked) < end:  # the walk goes on past the matches counted
        source, clause, args, order = log_where(conn, query, below_id=found[-1][0])
        more = conn.execute(
            f"SELECT logs.id FROM {source} WHERE {clause} ORDER BY {order} LIMIT ? OFFSET ?",
            [*args, end - query.offset - len(ids), max(0, query.offset - len(picked))],
        )
        ids += [row[0] for row in more]
    page = reads.logs_by_id(conn, ids, query.limit, query.offset)
    return {"logs": page, "stats": stats}
