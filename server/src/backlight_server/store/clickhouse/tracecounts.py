"""Span and log counts per trace, kept at ingest (schema version 10, issue 19).

The session view shows, for each of its requests, how many spans and logs its traces hold
and the worst log level. Counting them in ``spans`` and ``logs`` at read time costs a
lookup in every part of two large tables; here materialized views keep the counts in a
small ``AggregatingMergeTree`` as rows arrive, so the view reads them from one table
ordered by key.

Rows of ``trace_counts``: ``kind`` 0 counts the spans and logs of a trace (key: the trace
id), ``kind`` 1 the logs without a trace of a request id (key: the request id). One row
per key and second of the records' own time (a span's end, a log's time), so each count
row lives exactly as long as the records it counts:
- its TTL is the records' TTL expression on the same second (``schema.TTL_COLUMNS``);
- the retention purge (``ClickhouseStore.purge_before``) deletes a second's counts once
  the whole second is outside the kept range: the records of the cutoff's own second are
  counted until the next purge (an hour later) although the purge removed those before
  the cutoff.
Counts add up, so a record inserted twice is counted twice, as a read of the table would
count it (telemetry inserts are not deduplicated; see writer.py).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from backlight_server.store.clickhouse.transport import Transport

if TYPE_CHECKING:  # schema.py imports this module to register version_10
    from backlight_server.store.clickhouse.schema import Layout

# A span row's severity: below any log's, so ``max`` gives the worst log level.
NO_LEVEL = -2147483648
_SEC_SPAN = "intDiv(end_ns, 1000000000)"
_SEC_LOG = "intDiv(ts_ns, 1000000000)"
# What each view selects from its table (and the backfill from the rows already stored).
_FROM_SPANS = f"SELECT 0 AS kind, trace_id AS key, {_SEC_SPAN} AS sec, toUInt64(1) AS spans, "
_FROM_SPANS += f"toUInt64(0) AS logs, toInt32({NO_LEVEL}) AS worst FROM spans"
_FROM_LOGS = (
    "SELECT if(trace_id IS NULL, 1, 0) AS kind, "
    "if(trace_id IS NULL, assumeNotNull(request_id), assumeNotNull(trace_id)) AS key, "
    f"{_SEC_LOG} AS sec, toUInt64(0) AS spans, toUInt64(1) AS logs, "
    "severity_number AS worst FROM logs WHERE trace_id IS NOT NULL OR request_id IS NOT NULL"
)
# Spans per trace; logs and their worst severity per trace; the same per request id for
# logs without a trace.
Counts = tuple[list[tuple[str, int]], list[tuple[str, int, int]], list[tuple[str, int, int]]]
# The TTL expression of a count row: the same instant as its records' (``schema._ns``).
TTL_TIME = "toDateTime(sec)"
# The settings of a small table read by key (these counts, a session's requests): granules
# of 256 rows in small compressed blocks, so that a view's lookup of 40 keys reads about 40
# granules of a few KiB (at 8,192 rows, 40 granules were 10 MiB to scan).
LOOKUP_TABLE_SETTINGS = (
    "index_granularity = 256, min_compress_block_size = 4096, "
    "max_compress_block_size = 16384, min_age_to_force_merge_seconds = 600, "
    "min_age_to_force_merge_on_partition_only = 1"
)


def version_10(lay: Layout) -> list[str]:
    """The counts table and its two views; on one node, the counts of the rows stored
    before (a cluster's shards each run the two ``INSERT``s once: docs/scaling.md)."""
    on = lay.on()
    out = [
        f"""CREATE TABLE IF NOT EXISTS trace_counts{on} (
            kind UInt8, key String, sec Int64,
            spans SimpleAggregateFunction(sum, UInt64),
            logs SimpleAggregateFunction(sum, UInt64),
            worst SimpleAggregateFunction(max, Int32)
        ) ENGINE = {lay.engine("AggregatingMergeTree")}
        PARTITION BY toYYYYMM({TTL_TIME})
        ORDER BY (key, kind, sec){lay.ttl(TTL_TIME)}
        SETTINGS {LOOKUP_TABLE_SETTINGS}""",
        f"CREATE MATERIALIZED VIEW IF NOT EXISTS spans_trace_counts{on} TO trace_counts "
        f"AS {_grouped('spans')}",
        f"CREATE MATERIALIZED VIEW IF NOT EXISTS logs_trace_counts{on} TO trace_counts "
        f"AS {_grouped('logs')}",
    ]
    if not lay.cluster:
        out += [backfill("spans"), backfill("logs")]
    return out


def _grouped(table: str) -> str:
    """The counts of a block of ``spans`` or ``logs`` rows (a view sees one insert at a
    time; the table adds up what the views and merges bring)."""
    select = _FROM_SPANS if table == "spans" else _FROM_LOGS
    return (
        "SELECT kind, key, sec, sum(spans) AS spans, sum(logs) AS logs, max(worst) AS worst "
        f"FROM ({select}) GROUP BY kind, key, sec"
    )


def backfill(table: str) -> str:
    """Counts of the rows of ``spans`` or ``logs`` stored before the views existed."""
    return (
        "INSERT INTO trace_counts (kind, key, sec, spans, logs, worst) "
        # records of any time, hostile ones included, in as many months as they span
        f"SETTINGS max_partitions_per_insert_block = 0 {_grouped(table)}"
    )


def counts(tx: Transport, tids: list[str], traceless: list[str]) -> Counts:
    """Spans per trace, logs and their worst severity per trace, and those of logs without
    a trace per request id (``traceless``): one read of the counts table."""
    if not tids and not traceless:
        return [], [], []
    spans: list[tuple[str, int]] = []
    logs: list[tuple[str, int, int]] = []
    by_request: list[tuple[str, int, int]] = []
    for kind, key, n_spans, n_logs, worst in tx.query(
        "SELECT kind, key, sum(spans), sum(logs), max(worst) FROM trace_counts "
        "WHERE (key IN {tids:Array(String)} AND kind = 0) "
        "OR (key IN {ids:Array(String)} AND kind = 1) GROUP BY kind, key",
        {"tids": tids, "ids": traceless},
    ):
        if not isinstance(key, str):
            continue
        n_spans, n_logs = _int(n_spans), _int(n_logs)
        if kind == 0 and n_spans:
            spans.append((key, n_spans))
        if n_logs:
            (logs if kind == 0 else by_request).append((key, n_logs, _int(worst)))
    return spans, logs, by_request


def _int(value: object) -> int:
    return int(value) if isinstance(value, int | float) else 0
