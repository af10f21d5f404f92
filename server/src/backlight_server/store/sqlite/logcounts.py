"""The log page's counts kept at write time (migration 13): logs per minute and per hour ×
project × level × service in ``log_counts``. The writer adds each batch in the transaction
that stores its logs; the retention purge drops the buckets it empties and counts again
the two it cuts through. Logs dated before 1970 are not kept here (``logstats`` counts
such times from ``logs``)."""

from __future__ import annotations

import sqlite3

NS = 1_000_000_000
WIDTHS_S = (3600, 60)  # widest first: a range is read from hours, then minutes, then rows

# ?1: the width in seconds; ?2: the largest log id before the batch (writes.MAX_LOG_ID)
_ADD = (
    "INSERT INTO log_counts (width_s, start_s, project_id, level, service, n) "
    "SELECT ?1, ts_ns / (?1 * 1000000000) * ?1, project_id, level, service, count(*) "
    "FROM logs WHERE id > ?2 AND ts_ns >= 0 GROUP BY 2, 3, 4, 5 "
    "ON CONFLICT (width_s, start_s, project_id, level, service) DO UPDATE SET n = n + excluded.n"
)
_RECOUNT = (
    "INSERT INTO log_counts (width_s, start_s, project_id, level, service, n) "
    "SELECT ?1, ?2, project_id, level, service, count(*) FROM logs "
    "WHERE ts_ns >= max(?2 * 1000000000, 0) AND ts_ns < (?2 + ?1) * 1000000000 "
    "GROUP BY project_id, level, service"
)


def add_since(conn: sqlite3.Connection, before_id: int) -> None:
    """Count the logs stored after ``before_id`` (one batch) into every width."""
    for width in WIDTHS_S:
        conn.execute(_ADD, (width, before_id))


def purge(conn: sqlite3.Connection, lo_ns: int, hi_ns: int) -> None:
    """After the logs dated before ``lo_ns`` or after ``hi_ns`` were deleted: drop the
    buckets wholly outside, count the two that hold ``lo_ns`` and ``hi_ns`` again."""
    for width in WIDTHS_S:
        lo_b, hi_b = lo_ns // (width * NS) * width, hi_ns // (width * NS) * width
        conn.execute(
            "DELETE FROM log_counts WHERE width_s = ? AND (start_s <= ? OR start_s >= ?)",
            (width, lo_b, hi_b),
        )
        for start in dict.fromkeys((lo_b, hi_b)):
            conn.execute(_RECOUNT, (width, start))
