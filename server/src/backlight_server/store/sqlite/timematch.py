"""Matching by time in SQLite: the rows ``query.timematch`` (the rule) reads.

Every lookup is indexed: candidates through the partial indexes ``logs_session_only`` and
``errors_session_only`` (migration 0004), which hold only such rows, by session and time.
"""

from __future__ import annotations

import sqlite3

import orjson

from backlight_server.query import timematch as rule
from backlight_server.query.derive import ms
from backlight_server.query.serverseen import SERVER_KIND
from backlight_server.query.summaries import Timed as Summary
from backlight_server.query.timematch import MAX_CANDIDATES, Candidate, Flight, flight

__all__ = ["flight", "for_request", "session_summaries", "summaries"]
_IDS = "(SELECT value FROM json_each(?))"


def _plain(conn: sqlite3.Connection) -> sqlite3.Cursor:
    """A cursor that yields plain tuples (faster than the connection's row factory)."""
    cur = conn.cursor()
    cur.row_factory = None
    return cur


class Rows:
    """``query.timematch.MatchRows`` over one SQLite connection."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    def candidates(self, session_id: str, lo_ms: float, hi_ms: float) -> list[Candidate]:
        """``BETWEEN`` two finite numbers only holds for a finite number (SQLite orders
        text and blobs after every number)."""
        found: list[Candidate] = []
        for eid, ts, tid in _plain(self.conn).execute(
            "SELECT id, ts_ms, trace_id FROM errors WHERE session_id = ? "
            "AND request_id IS trace_id AND source != 'frontend' AND ts_ms BETWEEN ? AND ? "
            "LIMIT ?",
            (session_id, lo_ms, hi_ms, MAX_CANDIDATES),
        ):
            found.append(Candidate("error", eid, float(ts), tid if type(tid) is str else None, 0))
        for lid, ts, tid, sev in _plain(self.conn).execute(
            "SELECT id, ts_ns, trace_id, severity_number FROM logs WHERE session_id = ? "
            "AND request_id IS trace_id AND ts_ns BETWEEN ? AND ? LIMIT ?",
            (session_id, lo_ms * 1e6, hi_ms * 1e6, MAX_CANDIDATES),
        ):  # REAL bounds: no overflow
            found.append(
                Candidate(
                    "log",
                    lid,
                    ms(ts) or 0.0,
                    tid if type(tid) is str else None,
                    sev if type(sev) is int else 0,
                )
            )
        return found

    def linked_traces(self, session_id: str, trace_ids: set[str]) -> set[str]:
        conn = self.conn
        tids = orjson.dumps(sorted(trace_ids)).decode()
        linked = {
            r
            for (r,) in conn.execute(
                f"SELECT DISTINCT request_id FROM network WHERE request_id IN {_IDS}", (tids,)
            )
        }
        # requests of the session its backend saw (query.serverseen): by the trace and
        # request indexes (``+session_id``: not by the session's, which holds all its spans)
        linked |= {
            r
            for (r,) in conn.execute(
                f"SELECT trace_id FROM spans WHERE trace_id IN {_IDS} AND request_id = trace_id "
                f"AND kind = {SERVER_KIND} AND +session_id = ? UNION SELECT request_id FROM "
                f"spans WHERE request_id IN {_IDS} AND request_id != trace_id AND +session_id = ?",
                (tids, session_id, tids, session_id),
            )
        }
        owners: dict[str, set[str]] = {}
        for sql in (
            f"SELECT DISTINCT trace_id, request_id FROM spans WHERE trace_id IN {_IDS} "
            "AND request_id != trace_id",
            f"SELECT DISTINCT trace_id, request_id FROM logs WHERE trace_id IN {_IDS} "
            "AND request_id IS NOT trace_id AND request_id IS NOT NULL",
            f"SELECT DISTINCT trace_id, request_id FROM errors WHERE trace_id IN {_IDS} "
            "AND request_id IS NOT trace_id AND request_id IS NOT NULL",
        ):
            for tid, rid in conn.execute(sql, (tids,)):
                owners.setdefault(rid, set()).add(tid)
        if owners:
            rids = orjson.dumps([r for r in owners if isinstance(r, str)]).decode()
            for (rid,) in conn.execute(
                f"SELECT DISTINCT request_id FROM network WHERE request_id IN {_IDS}", (rids,)
            ):
                linked |= owners.get(rid, set())
        return linked

    def flights(self, session_id: str, lo_ms: float, hi_ms: float) -> list[Flight]:
        rows = _plain(self.conn).execute(
            "SELECT request_id, start_ms, end_ms FROM network WHERE session_id = ? "
            "AND request_id IS NOT NULL AND start_ms <= ? AND end_ms >= ?",
            (session_id, hi_ms, lo_ms),
        )
        return [f for f in (flight(*row) for row in rows) if f is not None]

    def session_ranges(self, request_ids: list[str]) -> list[tuple[str, float, float]]:
        return list(
            self.conn.execute(
                "SELECT session_id, min(start_ms), max(end_ms) FROM network "
                f"WHERE request_id IN {_IDS} AND typeof(session_id) = 'text' "
                "AND start_ms BETWEEN -1e300 AND 1e300 AND end_ms BETWEEN -1e300 AND 1e300 "
                "GROUP BY session_id",
                (orjson.dumps(request_ids).decode(),),
            )
        )


def for_request(
    conn: sqlite3.Connection, request_id: str, session_id: str, start_ms: object, end_ms: object
) -> tuple[list[int], list[int]]:
    return rule.for_request(Rows(conn), request_id, session_id, start_ms, end_ms)


def summaries(conn: sqlite3.Connection, request_ids: list[str]) -> dict[str, Summary]:
    return rule.summaries(Rows(conn), request_ids)


def session_summaries(
    conn: sqlite3.Connection, session_id: str, network: list[Flight]
) -> dict[str, Summary]:
    return rule.session_summaries(Rows(conn), session_id, network)
