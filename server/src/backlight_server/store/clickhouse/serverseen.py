"""Requests seen by the server in ClickHouse: the rows ``query.serverseen`` (the rule) reads,
and the table that serves them (schema version 11, issue 24).

Spans are ordered by trace id, so a session's spans lie in as many granules as it has
requests: the session view reads none of them (issue 19). A materialized view keeps, per
session and request id, the earliest start and latest end of the spans that name a
request of their own (server spans, and spans whose request id is not their trace id) in a
small ``AggregatingMergeTree`` ordered by session: ``session_requests``, one row per
session, request id and second of the spans' end (so a row expires with its spans, as
``trace_counts`` rows do). The session view reads its requests there by key, its backend
errors by session as it already does, and the root spans of the (at most
``serverseen.MAX_ROWS``) requests kept by trace id (the spans' sort key) and request id
(its bloom filter), only when there are such requests.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from backlight_server.query import serverseen
from backlight_server.query.derive import ms, number
from backlight_server.query.serverseen import SERVER_KIND
from backlight_server.store.clickhouse.tracecounts import LOOKUP_TABLE_SETTINGS
from backlight_server.store.clickhouse.transport import Transport
from backlight_server.store.shapes import tidy

if TYPE_CHECKING:  # schema.py imports this module to register version_11
    from backlight_server.store.clickhouse.schema import Layout

Row = serverseen.Row
TTL_TIME = "toDateTime(sec)"  # the second of a row's spans' end, as their TTL reads it
_FROM_SPANS = (
    "SELECT session AS session_id, request_id, sec, min(start_ns) AS first_ns, "
    "max(end_ns) AS last_ns, count() AS spans FROM (SELECT assumeNotNull(session_id) AS "
    "session, request_id, intDiv(end_ns, 1000000000) AS sec, start_ns, end_ns FROM spans "
    f"WHERE session_id IS NOT NULL AND (kind = {SERVER_KIND} OR request_id != trace_id)) "
    "GROUP BY session, request_id, sec"
)
_ROOT = "SELECT request_id, kind, name, service, start_ns, end_ns, attributes FROM spans "
# A session's rows of ``session_requests`` (read at call time: a test of an upgrade from an
# older version stands in the same rows read from ``spans``).
BY_SESSION = (
    "SELECT request_id, first_ns, last_ns FROM session_requests WHERE session_id = {sid:String}"
)


def version_11(lay: Layout) -> list[str]:
    """The table and its view; on one node, the rows of the spans stored before (a
    cluster's shards each run ``backfill()`` once: docs/scaling.md)."""
    on = lay.on()
    out = [
        f"""CREATE TABLE IF NOT EXISTS session_requests{on} (
            session_id String, request_id String, sec Int64,
            first_ns SimpleAggregateFunction(min, Int64),
            last_ns SimpleAggregateFunction(max, Int64),
            spans SimpleAggregateFunction(sum, UInt64)
        ) ENGINE = {lay.engine("AggregatingMergeTree")}
        PARTITION BY toYYYYMM({TTL_TIME})
        ORDER BY (session_id, request_id, sec){lay.ttl(TTL_TIME)}
        SETTINGS {LOOKUP_TABLE_SETTINGS}""",
        f"CREATE MATERIALIZED VIEW IF NOT EXISTS spans_session_requests{on} "
        f"TO session_requests AS {_FROM_SPANS}",
    ]
    if not lay.cluster:
        out.append(backfill())
    return out


def backfill() -> str:
    """The rows of the spans stored before the view existed."""
    return (
        "INSERT INTO session_requests (session_id, request_id, sec, first_ns, last_ns, spans) "
        f"SETTINGS max_partitions_per_insert_block = 0 {_FROM_SPANS}"
    )


_KNOWN_IDS = (
    "(SELECT assumeNotNull(request_id) FROM network WHERE session_id = {sid:String} "
    "AND request_id IS NOT NULL)"
)
SpanRow = tuple[object, object, object]  # request id, first and last ns


def spans_read(tx: Transport, session_id: str, scan: int) -> list[SpanRow]:
    """At most ``scan`` rows of ``session_requests`` of the session whose request id the
    browser did not record (its ids read from ``network`` here: as a parameter they would
    be a long statement to parse)."""
    return [
        (r[0], r[1], r[2])
        for r in tx.query(
            f"SELECT * FROM ({BY_SESSION}) WHERE request_id NOT IN {_KNOWN_IDS} LIMIT {{n:UInt64}}",
            {"sid": session_id, "n": scan},
        )
    ]


def tally(
    spans: list[SpanRow], errors: list[Row], known: set[str], scan: int, limit: int
) -> list[tuple[object, ...]]:
    """``SeenRows.requests`` from the rows read: ``spans_read``'s, and the session's errors
    (any stored value: what is not text or a number names nothing)."""
    picked = [
        (e.get("request_id"), e.get("ts_ms"))
        for e in errors
        if e.get("source") != "frontend"
        and isinstance(e.get("request_id"), str)
        and e.get("request_id") != e.get("trace_id")
        and e.get("request_id") not in known
    ][:scan]
    spans_at = [(rid, ms(first), ms(last)) for rid, first, last in spans]
    errors_at = [(rid, number(ts), number(ts)) for rid, ts in picked]
    ranges: dict[str, tuple[float, float]] = {}
    for rid, lo, hi in spans_at + errors_at:
        if not isinstance(rid, str) or lo is None:
            continue
        hi = lo if hi is None else hi
        was = ranges.get(rid)
        ranges[rid] = (lo, hi) if was is None else (min(was[0], lo), max(was[1], hi))
    ordered = sorted(ranges.items(), key=lambda kv: (kv[1][0], kv[0]))[:limit]
    total = len(ranges)
    return [(rid, lo, hi, total, len(spans), len(picked)) for rid, (lo, hi) in ordered]


class Rows:
    """``query.serverseen.SeenRows`` over a ClickHouse transport, its requests tallied
    already (``tally``) from rows the session view read in its first round."""

    def __init__(self, tx: Transport, got: list[tuple[object, ...]]) -> None:
        self.tx = tx
        self.got = got

    def requests(
        self, session_id: str, known: list[str], scan: int, limit: int
    ) -> list[tuple[object, ...]]:
        return self.got

    def roots(self, session_id: str, request_ids: list[str]) -> list[Row]:
        rows = self.tx.records(
            "SELECT * FROM ("
            + _ROOT
            + "WHERE trace_id IN {ids:Array(String)} AND request_id = trace_id "
            f"AND session_id = {{sid:String}} AND kind = {SERVER_KIND} UNION ALL "
            + _ROOT
            + "WHERE request_id IN {ids:Array(String)} AND request_id != trace_id "
            f"AND session_id = {{sid:String}} AND (kind = {SERVER_KIND} "
            "OR parent_span_id IS NULL)) LIMIT {n:UInt64}",
            {"ids": request_ids, "sid": session_id, "n": serverseen.MAX_SCAN},
        )
        return [tidy(r.items()) for r in rows]


def find(
    tx: Transport, session_id: str, known: set[str], spans: list[SpanRow], errors: list[Row]
) -> tuple[list[Row], Row]:
    """``serverseen.find`` from the rows of ``spans_read`` and the session's errors."""
    got = tally(spans, errors, known, serverseen.MAX_SCAN, serverseen.MAX_ROWS)
    return serverseen.find(Rows(tx, got), session_id, known)
