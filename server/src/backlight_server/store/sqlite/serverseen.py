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
_NOT_KNOWN = "request_id NOT IN (SELECT value FROM json_each(:known))"


def _ms(column: str) -> str:
    """``derive.ms`` in SQLite: an integer split into whole milliseconds and the rest."""
    return (
        f"CASE typeof({column}) WHEN 'integer' THEN {column} / 1000000 + "
        f"({column} % 1000000) / 1e6 ELSE {column} / 1e6 END"
    )


# Spans through ``spans_session_requests`` (migration 15: holds only such spans, covering),
# errors through ``errors_session``; the ids the browser has are left out as they are
# read, so a session of thousands of requests the browser recorded reads index entries only.
REQUESTS = (
    "SELECT rid, min(a) AS lo, max(b), count(*) OVER (), sum(sum(s)) OVER (), "
    "sum(sum(e)) OVER () FROM ("
    f"SELECT request_id AS rid, {_ms('start_ns')} AS a, {_ms('end_ns')} AS b, 1 AS s, 0 AS e "
    "FROM (SELECT request_id, start_ns, end_ns FROM spans WHERE session_id = :sid "
    f"AND (kind = {SERVER_KIND} OR request_id != trace_id) AND {_NOT_KNOWN} LIMIT :scan) "
    "UNION ALL SELECT request_id, ts_ms, ts_ms, 0, 1 FROM (SELECT request_id, ts_ms "
    "FROM errors WHERE session_id = :sid AND source != 'frontend' "
    "AND request_id IS NOT NULL AND request_id IS NOT trace_id "
    f"AND {_NOT_KNOWN} LIMIT :scan)) GROUP BY rid ORDER BY lo, rid LIMIT :limit"
)
_ROOT = "SELECT request_id, kind, name, service, start_ns, end_ns, attributes FROM spans "
_IDS = "(SELECT value FROM json_each(:ids))"
# ``+session_id``: by the trace and request indexes, not the session's (all its spans)
ROOTS = (
    f"{_ROOT}WHERE trace_id IN {_IDS} AND request_id = trace_id AND +session_id = :sid "
    f"AND kind = {SERVER_KIND} UNION ALL {_ROOT}WHERE request_id IN {_IDS} "
    "AND request_id != trace_id AND +session_id = :sid "
    f"AND (kind = {SERVER_KIND} OR parent_span_id IS NULL) LIMIT :n"
)


class Rows:
    """``query.serverseen.SeenRows`` over one SQLite connection."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    def requests(
        self, session_id: str, known: list[str], scan: int, limit: int
    ) -> list[tuple[object, ...]]:
        args = {"sid": session_id, "known": orjson.dumps(known).decode()}
        return list(self.conn.execute(REQUESTS, {**args, "scan": scan, "limit": limit}))

    def roots(self, session_id: str, request_ids: list[str]) -> list[Row]:
        ids = orjson.dumps(request_ids).decode()
        cur = self.conn.execute(ROOTS, {"ids": ids, "sid": session_id, "n": serverseen.MAX_SCAN})
        return [tidy((key, row[key]) for key in row.keys()) for row in cur]  # noqa: SIM118


def find(conn: sqlite3.Connection, session_id: str, known: set[str]) -> tuple[list[Row], Row]:
    return serverseen.find(Rows(conn), session_id, known)
