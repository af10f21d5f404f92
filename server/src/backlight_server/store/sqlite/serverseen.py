"""Requests seen by the server in SQLite: the rows ``query.serverseen`` (the rule) reads.

The session's spans and errors through their ``session_id`` indexes, each scan capped;
the root spans of the (at most ``serverseen.MAX_ROWS``) requests kept through the trace
and request indexes.
"""

from __future__ import annotations

import sqlite3

import orjson

from backlight_server.query import serverseen
from backlight_server.query.serverseen import SERVER_KIND
from backlight_server.store.shapes import tidy

Row = serverseen.Row
_IDS = "(SELECT value FROM json_each(?))"
_ROOT = "request_id, kind, name, service, start_ns, end_ns, attributes"


class Rows:
    """``query.serverseen.SeenRows`` over one SQLite connection."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    def requests(self, session_id: str, scan: int) -> list[tuple[object, ...]]:
        return list(
            self.conn.execute(
                "SELECT 0, request_id, min(start_ns) / 1e6, max(end_ns) / 1e6, count(*) FROM ("
                "SELECT request_id, start_ns, end_ns FROM spans WHERE session_id = ? "
                f"AND (kind = {SERVER_KIND} OR request_id != trace_id) LIMIT ?) "
                "GROUP BY request_id UNION ALL "
                "SELECT 1, request_id, min(ts_ms), max(ts_ms), count(*) FROM ("
                "SELECT request_id, ts_ms FROM errors WHERE session_id = ? "
                "AND source != 'frontend' AND request_id IS NOT NULL "
                "AND request_id IS NOT trace_id LIMIT ?) GROUP BY request_id",
                (session_id, scan, session_id, scan),
            )
        )

    def roots(self, session_id: str, request_ids: list[str]) -> list[Row]:
        ids = orjson.dumps(request_ids).decode()
        cur = self.conn.execute(
            f"SELECT {_ROOT} FROM spans WHERE trace_id IN {_IDS} AND request_id = trace_id "
            f"AND session_id = ? AND kind = {SERVER_KIND} "
            f"UNION ALL SELECT {_ROOT} FROM spans WHERE request_id IN {_IDS} "
            "AND request_id != trace_id AND session_id = ? "
            f"AND (kind = {SERVER_KIND} OR parent_span_id IS NULL) LIMIT ?",
            (ids, session_id, ids, session_id, serverseen.MAX_SCAN),
        )
        return [tidy((key, row[key]) for key in row.keys()) for row in cur]  # noqa: SIM118


def find(conn: sqlite3.Connection, session_id: str, known: set[str]) -> tuple[list[Row], Row]:
    return serverseen.find(Rows(conn), session_id, known)
