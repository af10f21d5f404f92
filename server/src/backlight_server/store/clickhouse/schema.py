"""The ClickHouse schema and its versioned migrations.

Each version is a list of statements, applied in order and recorded in
``schema_versions``; a server refuses to start on a schema newer than it knows. The DDL
runs unchanged on an embedded engine (chdb) and on a server; with a cluster name, tables
are made ``Replicated*MergeTree`` ``ON CLUSTER``.

Layout (see docs/scaling.md):
- telemetry tables are ``MergeTree``, partitioned by day of their own time, ordered for the
  reads we run, with bloom-filter skip indexes on trace, session and request ids, and a
  token index on log bodies;
- rows that change are written as new rows and folded when read: sessions
  (``AggregatingMergeTree`` with simple aggregates: counters add up, first and last take
  the earliest and latest), error-group states (``ReplacingMergeTree`` by update time);
- every table has a TTL of ``{ttl_days}`` days on its time (set per signal at creation);
- replay chunks are stored as JSON text compressed with ZSTD;
- spans (ordered by trace id, with a bloom filter on it so a part without the trace is
  skipped) and logs (ordered by time, with an index projection by trace id: only the
  trace id, the severity and each row's offset in its part, in granules of 256 rows) serve
  the point reads of the session and request views (version 3; version 1 had a full copy
  of every log column in trace order, half of the logs' bytes);
- a day partition of the tables the views read that has had no insert for
  ``SETTLE_SECONDS`` is merged into one part by the engine's own merges (version 3): a
  point read costs about the same in every part it has to look in, whatever its size;
- span and log counts per trace (and of logs without a trace per request id) are kept in
  a small table ``trace_counts`` by materialized views (version 10, ``tracecounts.py``);
- request ids that are not their records' trace ids (highlight's SDKs) are kept in a small
  table ``request_traces`` by materialized views, so a request's traces are found by key.
- the requests a session's spans name (server spans, and spans whose request id is not
  their trace id) are kept per session in a small table ``session_requests`` by a
  materialized view (version 11, ``serverseen.py``): the session view lists the requests
  only its backend saw without reading spans.
- what the session id alone names (its network, console, track events and errors) is
  copied as it arrives into one table ordered by session id, ``session_timeline``, by
  materialized views (version 12, ``timeline.py``): the session view reads it in one
  statement;
- browser tables keep a deduplication window, so a retried batch, inserted again with the
  same token by whichever server receives it, is stored once.
"""

from __future__ import annotations

from dataclasses import dataclass

from backlight_server.store.clickhouse import (
    artifacts,
    fetchcfg,
    groups,
    logcounts,
    serverseen,
    timeline,
    tracecounts,
)

DEDUP = "non_replicated_deduplication_window = 10000"
# Row ids made by the engine as rows arrive (53 bits, exact in JavaScript; see store/ids.py).
RANDOM_ID = "bitAnd(rand64(), 9007199254740991)"


@dataclass(frozen=True)
class Layout:
    """Where tables are made: one node, or ``ON CLUSTER`` with replicated engines."""

    cluster: str = ""
    ttl_days: int = 0  # 0: keep all
    replay_ttl_days: int = 0  # 0: as ttl_days

    def engine(self, kind: str, args: str = "") -> str:
        if self.cluster:
            path = "'/clickhouse/tables/{shard}/{database}/{table}', '{replica}'"
            args = f"{path}, {args}" if args else path
            return f"Replicated{kind}({args})"
        return f"{kind}({args})"

    def on(self) -> str:
        return f" ON CLUSTER '{self.cluster}'" if self.cluster else ""

    def ttl(self, column: str, replay: bool = False) -> str:
        days = (self.replay_ttl_days or self.ttl_days) if replay else self.ttl_days
        return f" TTL {column} + INTERVAL {days} DAY" if days > 0 else ""


def _ms(column: str) -> str:
    return f"toDateTime(intDiv(toInt64({column}), 1000))"


def _ns(column: str) -> str:
    return f"toDateTime(intDiv({column}, 1000000000))"


def version_1(lay: Layout) -> list[str]:
    on = lay.on()
    mt = lay.engine("MergeTree")
    return [
        f"""CREATE TABLE IF NOT EXISTS projects{on} (
            id String, name String, created_ms Float64
        ) ENGINE = {lay.engine("ReplacingMergeTree")} ORDER BY id""",
        f"""CREATE TABLE IF NOT EXISTS sessions{on} (
            project_id LowCardinality(String),
            secure_id String,
            started_ms SimpleAggregateFunction(min, Float64),
            last_ms SimpleAggregateFunction(max, Float64),
            url SimpleAggregateFunction(any, Nullable(String)),
            last_url SimpleAggregateFunction(max, Tuple(Float64, String)),
            user_agent SimpleAggregateFunction(any, Nullable(String)),
            sdk_version SimpleAggregateFunction(any, Nullable(String)),
            environment SimpleAggregateFunction(any, Nullable(String)),
            service SimpleAggregateFunction(any, Nullable(String)),
            app_version SimpleAggregateFunction(any, Nullable(String)),
            identifier SimpleAggregateFunction(max, Tuple(Float64, String)),
            user_metadata SimpleAggregateFunction(max, Tuple(Float64, String)),
            pages SimpleAggregateFunction(sum, Int64),
            event_count SimpleAggregateFunction(sum, Int64),
            network_count SimpleAggregateFunction(sum, Int64),
            fe_error_count SimpleAggregateFunction(sum, Int64),
            dropped_events SimpleAggregateFunction(sum, Int64),
            dropped_other SimpleAggregateFunction(sum, Int64)
        ) ENGINE = {lay.engine("AggregatingMergeTree")}
        PARTITION BY toYYYYMM({_ms("started_ms")})
        ORDER BY (project_id, secure_id){lay.ttl(_ms("last_ms"), replay=True)}
        SETTINGS {DEDUP}""",
        f"""CREATE TABLE IF NOT EXISTS batches{on} (
            session_id String, seq Int64, received_ms Float64
        ) ENGINE = {lay.engine("ReplacingMergeTree")}
        PARTITION BY toYYYYMMDD({_ms("received_ms")})
        ORDER BY (session_id, seq){lay.ttl(_ms("received_ms"), replay=True)}
        SETTINGS {DEDUP}""",
        f"""CREATE TABLE IF NOT EXISTS replay_chunks{on} (
            session_id String, seq Int64, first_ms Float64, last_ms Float64,
            n_events Int64, data String CODEC(ZSTD(3))
        ) ENGINE = {mt}
        PARTITION BY toYYYYMMDD({_ms("first_ms")})
        ORDER BY (session_id, seq){lay.ttl(_ms("first_ms"), replay=True)}
        SETTINGS {DEDUP}""",
        f"""CREATE TABLE IF NOT EXISTS network{on} (
            id UInt64 DEFAULT {RANDOM_ID}, project_id LowCardinality(String), session_id String,
            request_id Nullable(String), type LowCardinality(String),
            method LowCardinality(String), url String, status Int64,
            start_ms Float64, end_ms Float64, error Nullable(String),
            detail Nullable(String) CODEC(ZSTD(1)),
            INDEX request_bf request_id TYPE bloom_filter(0.01) GRANULARITY 1
        ) ENGINE = {mt}
        PARTITION BY toYYYYMMDD({_ms("start_ms")})
        ORDER BY (session_id, start_ms){lay.ttl(_ms("start_ms"), replay=True)}
        SETTINGS {DEDUP}""",
        f"""CREATE TABLE IF NOT EXISTS console{on} (
            session_id String, ts_ms Float64, level LowCardinality(String),
            message String CODEC(ZSTD(1)), args Nullable(String) CODEC(ZSTD(1))
        ) ENGINE = {mt}
        PARTITION BY toYYYYMMDD({_ms("ts_ms")})
        ORDER BY (session_id, ts_ms){lay.ttl(_ms("ts_ms"), replay=True)}
        SETTINGS {DEDUP}""",
        f"""CREATE TABLE IF NOT EXISTS track_events{on} (
            session_id String, ts_ms Float64, event String,
            properties Nullable(String) CODEC(ZSTD(1))
        ) ENGINE = {mt}
        PARTITION BY toYYYYMMDD({_ms("ts_ms")})
        ORDER BY (session_id, ts_ms){lay.ttl(_ms("ts_ms"), replay=True)}
        SETTINGS {DEDUP}""",
        f"""CREATE TABLE IF NOT EXISTS spans{on} (
            project_id LowCardinality(String), trace_id String, span_id String,
            parent_span_id Nullable(String), name String, kind Int32,
            start_ns Int64, end_ns Int64, status_code Int32,
            status_message Nullable(String), service LowCardinality(String),
            environment LowCardinality(Nullable(String)), session_id Nullable(String),
            request_id String, attributes Nullable(String) CODEC(ZSTD(1)),
            events Nullable(String) CODEC(ZSTD(1)),
            INDEX request_bf request_id TYPE bloom_filter(0.01) GRANULARITY 1,
            INDEX session_bf session_id TYPE bloom_filter(0.01) GRANULARITY 1
        ) ENGINE = {mt}
        PARTITION BY toYYYYMMDD({_ns("end_ns")})
        ORDER BY (trace_id, start_ns){lay.ttl(_ns("end_ns"))}
        SETTINGS index_granularity = 2048""",
        f"""CREATE TABLE IF NOT EXISTS logs{on} (
            id UInt64 DEFAULT {RANDOM_ID}, project_id LowCardinality(String), ts_ns Int64,
            trace_id Nullable(String), span_id Nullable(String),
            severity_number Int32, level LowCardinality(String),
            body String CODEC(ZSTD(1)), service LowCardinality(String),
            environment LowCardinality(Nullable(String)), session_id Nullable(String),
            request_id Nullable(String), attributes Nullable(String) CODEC(ZSTD(1)),
            INDEX trace_bf trace_id TYPE bloom_filter(0.01) GRANULARITY 1,
            INDEX request_bf request_id TYPE bloom_filter(0.01) GRANULARITY 1,
            INDEX session_bf session_id TYPE bloom_filter(0.01) GRANULARITY 1,
            INDEX body_tokens lower(body) TYPE tokenbf_v1(8192, 3, 0) GRANULARITY 1,
            PROJECTION by_trace (SELECT * ORDER BY trace_id, ts_ns)
        ) ENGINE = {mt}
        PARTITION BY toYYYYMMDD({_ns("ts_ns")})
        ORDER BY (project_id, ts_ns){lay.ttl(_ns("ts_ns"))}
        SETTINGS allow_nullable_key = 1, lightweight_mutation_projection_mode = 'rebuild',
            index_granularity = 2048""",
        f"""CREATE TABLE IF NOT EXISTS errors{on} (
            id UInt64, group_id UInt64, project_id LowCardinality(String),
            fingerprint String, ts_ms Float64, received_ms Float64,
            source LowCardinality(String), type String, message String,
            stack Nullable(String) CODEC(ZSTD(1)), raw_stack Nullable(String) CODEC(ZSTD(1)),
            session_id Nullable(String), request_id Nullable(String),
            trace_id Nullable(String), span_id Nullable(String),
            service Nullable(String), environment Nullable(String), url Nullable(String),
            attributes Nullable(String) CODEC(ZSTD(1)),
            INDEX trace_bf trace_id TYPE bloom_filter(0.01) GRANULARITY 1,
            INDEX request_bf request_id TYPE bloom_filter(0.01) GRANULARITY 1,
            INDEX session_bf session_id TYPE bloom_filter(0.01) GRANULARITY 1
        ) ENGINE = {mt}
        PARTITION BY toYYYYMMDD({_ms("ts_ms")})
        ORDER BY (project_id, group_id, ts_ms){lay.ttl(_ms("ts_ms"))}
        SETTINGS {DEDUP}""",
        # Which traces belong to a request other than its own trace (highlight's SDKs: a
        # record whose request id is not its trace id), and which requests have logs or
        # errors without a trace: small, ordered by request id, filled by the views below.
        f"""CREATE TABLE IF NOT EXISTS request_traces{on} (
            request_id String, trace_id String, first_ns Int64,
            INDEX trace_bf trace_id TYPE bloom_filter(0.01) GRANULARITY 1
        ) ENGINE = {lay.engine("ReplacingMergeTree")}
        PARTITION BY toYYYYMM({_ns("first_ns")})
        ORDER BY (request_id, trace_id){lay.ttl(_ns("first_ns"))}""",
        f"""CREATE MATERIALIZED VIEW IF NOT EXISTS spans_request_traces{on} TO request_traces
        AS SELECT request_id, trace_id, start_ns AS first_ns FROM spans
        WHERE request_id != trace_id""",
        f"""CREATE MATERIALIZED VIEW IF NOT EXISTS logs_request_traces{on} TO request_traces
        AS SELECT assumeNotNull(request_id) AS request_id, ifNull(trace_id, '') AS trace_id,
            ts_ns AS first_ns FROM logs
        WHERE request_id IS NOT NULL AND NOT ifNull(request_id = trace_id, 0)""",
        f"""CREATE MATERIALIZED VIEW IF NOT EXISTS errors_request_traces{on} TO request_traces
        AS SELECT assumeNotNull(request_id) AS request_id, ifNull(trace_id, '') AS trace_id,
            toInt64(ts_ms * 1000000) AS first_ns FROM errors
        WHERE request_id IS NOT NULL AND NOT ifNull(request_id = trace_id, 0)""",
        f"""CREATE TABLE IF NOT EXISTS group_states{on} (
            project_id LowCardinality(String), group_id UInt64,
            state LowCardinality(String), updated_ms Float64
        ) ENGINE = {lay.engine("ReplacingMergeTree", "updated_ms")}
        ORDER BY (project_id, group_id)""",
        f"""CREATE TABLE IF NOT EXISTS leases{on} (
            name String, holder String, until_ms Float64, taken_ms Float64
        ) ENGINE = {lay.engine("ReplacingMergeTree", "taken_ms")}
        ORDER BY name""",
    ]


def version_2(lay: Layout) -> list[str]:
    """Alerts (issue 20): rules, the evaluator's cursor per project, the outbox (one row
    per key and state change, the latest version wins; inserted with a deduplication
    token), and the delivery log."""
    on = lay.on()
    replacing = lay.engine("ReplacingMergeTree", "version")
    return [
        f"""CREATE TABLE IF NOT EXISTS alert_rules{on} (
            id String, project_id String, body String CODEC(ZSTD(1)), updated_ms Float64,
            deleted UInt8
        ) ENGINE = {lay.engine("ReplacingMergeTree", "updated_ms")} ORDER BY id""",
        f"""CREATE TABLE IF NOT EXISTS alert_cursors{on} (
            project_id String, position String, version UInt64
        ) ENGINE = {replacing} ORDER BY project_id""",
        f"""CREATE TABLE IF NOT EXISTS alert_outbox{on} (
            key String, rule_id String, project_id String, channel UInt16, slot_ms Float64,
            event String CODEC(ZSTD(1)), state LowCardinality(String), attempts UInt32,
            next_ms Float64, last_error String, created_ms Float64, version UInt64
        ) ENGINE = {replacing} ORDER BY key SETTINGS {DEDUP}""",
        f"""CREATE TABLE IF NOT EXISTS alert_deliveries{on} (
            id UInt64 DEFAULT {RANDOM_ID}, at_ms Float64, rule_id String, channel UInt16,
            kind LowCardinality(String), key String, events UInt32, ok UInt8,
            status Nullable(Int32), error String, attempt UInt32
        ) ENGINE = {lay.engine("MergeTree")} ORDER BY (at_ms, id)""",
    ]


# A day partition whose parts are all older than this is merged into one part by the
# engine's background merges (once per partition that stops receiving rows).
SETTLE_SECONDS = 600
SETTLED_TABLES = ("network", "console", "track_events", "spans", "logs", "errors")
# The logs' trace index: each row's trace id, severity (so per-trace counts and worst
# levels need nothing else) and offset in its part, by trace id; granules of 256 rows in
# small compressed blocks, so a trace read decompresses a few KiB per part it looks in.
TRACE_INDEX = (
    "trace_index (SELECT _part_offset, severity_number ORDER BY trace_id) WITH SETTINGS "
    "(index_granularity = 256, min_compress_block_size = 4096, max_compress_block_size = 16384)"
)


def version_3(lay: Layout) -> list[str]:
    """Reads of the session and request views at 10M rows, and log bytes on disk (issue
    19). Applied in place: the projection and the index are built for existing parts by
    mutations that run in the background (reads are right meanwhile, only slower)."""
    on = lay.on()
    settle = (
        f"min_age_to_force_merge_seconds = {SETTLE_SECONDS}, "
        "min_age_to_force_merge_on_partition_only = 1"
    )
    return [
        f"ALTER TABLE logs{on} DROP PROJECTION IF EXISTS by_trace",
        f"ALTER TABLE logs{on} DROP INDEX IF EXISTS trace_bf",
        f"ALTER TABLE logs{on} ADD PROJECTION IF NOT EXISTS {TRACE_INDEX}",
        f"ALTER TABLE logs{on} MATERIALIZE PROJECTION trace_index",
        f"ALTER TABLE spans{on} ADD INDEX IF NOT EXISTS trace_bf trace_id "
        "TYPE bloom_filter(0.01) GRANULARITY 1",
        f"ALTER TABLE spans{on} MATERIALIZE INDEX trace_bf",
        *(f"ALTER TABLE {table}{on} MODIFY SETTING {settle}" for table in SETTLED_TABLES),
    ]


def version_5(lay: Layout) -> list[str]:
    """The alert evaluator's reads by arrival (issue 20): ``errors.received_ms`` (its
    cursor) and ``group_states.updated_ms`` (resolutions after a cursor) get min-max skip
    indexes, so each tick reads the parts and granules that arrived since, not the table."""
    on = lay.on()
    return [
        f"ALTER TABLE errors{on} ADD INDEX IF NOT EXISTS received_mm received_ms "
        "TYPE minmax GRANULARITY 1",
        f"ALTER TABLE errors{on} MATERIALIZE INDEX received_mm",
        f"ALTER TABLE group_states{on} ADD INDEX IF NOT EXISTS updated_mm updated_ms "
        "TYPE minmax GRANULARITY 1",
        f"ALTER TABLE group_states{on} MATERIALIZE INDEX updated_mm",
    ]


def version_8(lay: Layout) -> list[str]:
    """Log search on any substring (issue 22): an ngram bloom filter over
    ``lowerUTF8(body)`` (3-grams, 32 KiB per granule of 2,048 rows, 2 hashes) serves
    ``lowerUTF8(body) LIKE '%word%'`` (``reads.text_filter``); the token index it replaces
    could only find whole words. Built for existing parts by a background mutation."""
    on = lay.on()
    return [
        f"ALTER TABLE logs{on} ADD INDEX IF NOT EXISTS body_ngrams lowerUTF8(body) "
        "TYPE ngrambf_v1(3, 32768, 2, 0) GRANULARITY 1",
        f"ALTER TABLE logs{on} MATERIALIZE INDEX body_ngrams",
        f"ALTER TABLE logs{on} DROP INDEX IF EXISTS body_tokens",
    ]


VERSIONS = [
    version_1,
    version_2,
    version_3,
    artifacts.version_4,
    version_5,
    fetchcfg.version_6,
    groups.version_7,
    version_8,
    logcounts.version_9,
    tracecounts.version_10,
    serverseen.version_11,
    timeline.version_12,
]

# Each table's TTL: (time expression, whether replay retention applies). Applied again at
# every start (``ttl_statements``), so a changed retention setting takes effect.
TTL_COLUMNS = {
    "sessions": (_ms("last_ms"), True),
    "batches": (_ms("received_ms"), True),
    "replay_chunks": (_ms("first_ms"), True),
    "network": (_ms("start_ms"), True),
    "console": (_ms("ts_ms"), True),
    "track_events": (_ms("ts_ms"), True),
    "spans": (_ns("end_ns"), False),
    "logs": (_ns("ts_ns"), False),
    "errors": (_ms("ts_ms"), False),
    "request_traces": (_ns("first_ns"), False),
    "log_counts": (logcounts.TTL_COLUMN, False),
    "trace_counts": (tracecounts.TTL_TIME, False),
    "session_requests": (serverseen.TTL_TIME, False),
    "session_timeline": ("", False),  # each kind at its own table's: timeline.ttl_clause
}


def alert_ttls(lay: Layout) -> dict[str, str]:
    """The alert tables' TTLs (the hourly purge deletes the same rows at the retention;
    these are the backstop). The delivery log by its time. The outbox by when a key was
    made, in two steps: a key's intermediate states (pending, sending) a day past the
    retention, every row a day later. All states of a key share ``created_ms``, so its
    latest state (delivered, failed) goes last: an older state never outlives it (which
    would send the message again). Rules and cursors are not data over time: no TTL."""
    days = lay.ttl_days
    if days <= 0:
        return {"alert_deliveries": "", "alert_outbox": ""}
    made = _ms("created_ms")
    return {
        "alert_deliveries": f" TTL {_ms('at_ms')} + INTERVAL {days} DAY",
        "alert_outbox": f" TTL {made} + INTERVAL {days + 1} DAY DELETE WHERE state IN "
        f"('pending', 'sending'), {made} + INTERVAL {days + 2} DAY DELETE",
    }


def ttl_statements(lay: Layout) -> list[str]:
    """``ALTER TABLE … MODIFY TTL`` (or ``REMOVE TTL``) for every table, without rewriting
    existing parts: rows past the new TTL go at the next merge or purge."""
    ttls = {
        table: timeline.ttl_clause(lay) if table == "session_timeline" else lay.ttl(column, replay)
        for table, (column, replay) in TTL_COLUMNS.items()
    }
    out = []
    for table, ttl in {**ttls, **alert_ttls(lay)}.items():
        action = f"MODIFY{ttl}" if ttl else "REMOVE TTL"
        out.append(f"ALTER TABLE {table}{lay.on()} {action}")
    return out


def versions_table(lay: Layout) -> str:
    return (
        f"CREATE TABLE IF NOT EXISTS schema_versions{lay.on()} "
        f"(version UInt32, applied_ms Float64) ENGINE = {lay.engine('ReplacingMergeTree')} "
        "ORDER BY version"
    )
