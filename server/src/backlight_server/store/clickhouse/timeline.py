"""A session's own rows in one table (schema version 12, issue 19).

The session view's first round read what the session id alone names from five tables: the
session row, its network, console, track events and errors. Each statement costs a few
milliseconds whatever it returns (about 1 ms to run at all, 2.5 ms to read a column of a
small table), so five of them cost 13–22 ms at 10M rows on two cores, where one statement
over one table ordered by session id costs about 4 (docs/benchmarks.md). Materialized views
copy each row of ``network``, ``console``, ``track_events`` and of ``errors`` with a session
id, as it is inserted, into ``session_timeline``: the session id, the kind of row, its time
and its columns as one JSON array (``formatRowNoNewline``), read back in one statement.
The session row stays in ``sessions`` (its rows are folded when read; see schema.py).

Each copy lives as long as its row:
- TTL per kind on the time its table's TTL reads (replay retention for network, console
  and track events; the retention of errors for errors), ``ttl_clause``;
- the retention purge (``ClickhouseStore.purge_before``) deletes by ``purge_ms``, the column its
  table's purge reads (a network row's end, the others' time), ``PURGE``.

A browser batch retried (on this server or another) is inserted again with the same
deduplication token; the engine drops the repeated block of the source table and, through
this table's own deduplication window, the views' repeated blocks.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import orjson

from backlight_server.store.clickhouse.transport import Transport
from backlight_server.store.shapes import tidy

if TYPE_CHECKING:  # schema.py imports this module to register version_12
    from backlight_server.store.clickhouse.schema import Layout

Row = dict[str, Any]

NETWORK, CONSOLE, TRACK, ERROR = 1, 2, 3, 4
# Each kind's columns, in the order of its JSON array (what the session view returns).
COLUMNS = {
    NETWORK: (
        "id", "request_id", "type", "method", "url", "status", "start_ms", "end_ms", "error",
        "detail",
    ),
    CONSOLE: ("ts_ms", "level", "message", "args"),
    TRACK: ("ts_ms", "event", "properties"),
    ERROR: (
        "id", "group_id", "ts_ms", "source", "type", "message", "stack", "raw_stack",
        "request_id", "trace_id", "span_id", "service", "url", "session_id", "attributes",
    ),
}  # fmt: skip
# Per kind: its table, its time (ordering and TTL), its purge time, and which rows.
_SOURCES = {
    NETWORK: ("network", "start_ms", "end_ms", "1"),
    CONSOLE: ("console", "ts_ms", "ts_ms", "1"),
    TRACK: ("track_events", "ts_ms", "ts_ms", "1"),
    ERROR: ("errors", "ts_ms", "ts_ms", "session_id IS NOT NULL"),
}
_VIEWS = {NETWORK: "network", CONSOLE: "console", TRACK: "track", ERROR: "errors"}
REPLAY_KINDS = (NETWORK, CONSOLE, TRACK)
_TIME = "toDateTime(intDiv(toInt64(ts), 1000))"  # the instant each source table's TTL reads
# A session's rows (read at call time: a test of an upgrade from an older version stands in
# the same rows read from the source tables, ``select``).
BY_SESSION = (
    "SELECT kind, row FROM session_timeline WHERE session_id = {sid:String} ORDER BY kind, ts, rank"
)


def select(kind: int) -> str:
    """The rows a view copies from its table (and the backfill from the rows stored before):
    ``rank`` orders rows of one time as the table's own read did (network by id)."""
    table, ts, end, where = _SOURCES[kind]
    rank = "id" if kind == NETWORK else "0"
    return (
        f"SELECT assumeNotNull(session_id) AS session_id, toUInt8({kind}) AS kind, "
        f"toFloat64({ts}) AS ts, toFloat64({end}) AS purge_ms, toUInt64({rank}) AS rank, "
        f"formatRowNoNewline('JSONCompactEachRow', {', '.join(COLUMNS[kind])}) AS row "
        f"FROM {table} WHERE {where}"
    )


def version_12(lay: Layout) -> list[str]:
    """The table and its four views; on one node, the rows stored before (a cluster's
    shards each run ``backfill`` once: docs/scaling.md)."""
    from backlight_server.store.clickhouse.schema import DEDUP

    on = lay.on()
    out = [
        f"""CREATE TABLE IF NOT EXISTS session_timeline{on} (
            session_id String, kind UInt8, ts Float64, purge_ms Float64, rank UInt64,
            row String CODEC(ZSTD(1))
        ) ENGINE = {lay.engine("MergeTree")}
        PARTITION BY toYYYYMM({_TIME})
        ORDER BY (session_id, kind, ts, rank){ttl_clause(lay)}
        SETTINGS {DEDUP}, min_age_to_force_merge_seconds = 600,
            min_age_to_force_merge_on_partition_only = 1""",
        *(
            f"CREATE MATERIALIZED VIEW IF NOT EXISTS {name}_timeline{on} TO session_timeline "
            f"AS {select(kind)}"
            for kind, name in _VIEWS.items()
        ),
    ]
    if not lay.cluster:
        out += [backfill(kind) for kind in _VIEWS]
    return out


def backfill(kind: int) -> str:
    """The copies of one kind's rows stored before the views existed."""
    return (
        "INSERT INTO session_timeline (session_id, kind, ts, purge_ms, rank, row) "
        f"SETTINGS max_partitions_per_insert_block = 0 {select(kind)}"
    )


def ttl_clause(lay: Layout) -> str:
    """`` TTL …`` of the table: each kind at its own table's retention ('' keeps all)."""
    replay = lay.replay_ttl_days or lay.ttl_days
    rules = [
        (replay, "IN", REPLAY_KINDS),
        (lay.ttl_days, "NOT IN", REPLAY_KINDS),
    ]
    kept = [
        f"{_TIME} + INTERVAL {days} DAY DELETE WHERE kind {op} {tuple(kinds)}"
        for days, op, kinds in rules
        if days > 0
    ]
    return f" TTL {', '.join(kept)}" if kept else ""


# The purge's condition: outside the kept range by its table's purge column.
PURGE = "NOT (purge_ms BETWEEN {lo:Float64} AND {hi:Float64})"


def read(tx: Transport, session_id: str, detail: bool) -> dict[int, list[Row]]:
    """A session's network, console, track events and errors (with its session id), each in
    its table's read order; without ``detail``, no network detail and no error attributes."""
    out: dict[int, list[Row]] = {kind: [] for kind in COLUMNS}
    for kind, text in tx.query(BY_SESSION, {"sid": session_id}):
        names = COLUMNS.get(kind) if isinstance(kind, int) else None
        values = _array(text)
        if names is None or values is None or len(values) != len(names):
            continue
        row = tidy(zip(names, values, strict=True))
        for key in ("id", "group_id"):
            if isinstance(row.get(key), str):  # a server that quotes 64-bit integers
                row[key] = int(row[key]) if row[key].isdigit() else row[key]
        if not detail:
            row.pop("detail" if kind == NETWORK else "attributes", None)
        out[kind].append(row)
    return out


def _array(text: object) -> list[Any] | None:
    if not isinstance(text, str):
        return None
    try:
        value = orjson.loads(text)
    except orjson.JSONDecodeError:
        return None
    return value if isinstance(value, list) else None
