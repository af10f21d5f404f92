"""The log page's counts kept at write time in ClickHouse (schema version 9): logs per
minute × project × level × service in ``log_counts``, a ``SummingMergeTree`` filled by the
materialized view ``logs_counts`` from every insert into ``logs`` (rows of one key are
added up by merges; reads add them up with ``sum``). Its TTL is the logs' TTL counted from
the minute's end, so a minute goes when its last log does. The retention purge takes out
the minutes it empties and counts the two it cuts through again (``purge``)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from backlight_server.store.clickhouse.transport import NO_LIMIT, Transport

if TYPE_CHECKING:
    from backlight_server.store.clickhouse.schema import Layout

NS = 1_000_000_000
WIDTH_S = 60
TTL_COLUMN = "toDateTime(start_s + 60)"  # the minute's end
_MINUTE = "intDiv(ts_ns, 60000000000) * 60"
_SELECT = (
    f"SELECT project_id, {_MINUTE} AS start_s, level, service, count() AS n FROM logs "
    "WHERE ts_ns >= 0{cond} GROUP BY project_id, start_s, level, service"
)


def version_9(lay: Layout) -> list[str]:
    """``log_counts``, its view, and the counts of the logs already stored (inserted once
    with a deduplication token: servers upgrading together add them once). Logs written
    between the view's creation and that insert are counted twice: upgrade with ingest
    stopped for exact counts (docs/scaling.md, "Log search"). On a cluster the insert is
    left out: each shard runs it once by hand (docs/scaling.md), as for ``trace_counts``."""
    on = lay.on()
    out = [
        f"""CREATE TABLE IF NOT EXISTS log_counts{on} (
            start_s Int64, project_id LowCardinality(String), level LowCardinality(String),
            service LowCardinality(String), n UInt64
        ) ENGINE = {lay.engine("SummingMergeTree", "n")}
        PARTITION BY toYYYYMM(toDateTime(start_s))
        ORDER BY (start_s, project_id, level, service){lay.ttl(TTL_COLUMN)}
        SETTINGS non_replicated_deduplication_window = 100""",
        f"""CREATE MATERIALIZED VIEW IF NOT EXISTS logs_counts{on} TO log_counts
        AS {_SELECT.format(cond="")}""",
    ]
    if not lay.cluster:
        out.append(BACKFILL)
    return out


# the counts of the logs stored before version 9 (``version_9``; on a cluster, by hand)
BACKFILL = (
    "INSERT INTO log_counts (project_id, start_s, level, service, n) "
    "SETTINGS insert_deduplicate = 1, insert_deduplication_token = 'log_counts_v9' "
    + _SELECT.format(cond="")
)


def purge(tx: Transport, lo_ns: int, hi_ns: int) -> None:
    """After the logs dated before ``lo_ns`` or after ``hi_ns`` were deleted: delete the
    minutes wholly outside and the two holding ``lo_ns`` and ``hi_ns``, then count those
    two again from ``logs``."""
    step = WIDTH_S * NS
    lo_b, hi_b = lo_ns // step * WIDTH_S, hi_ns // step * WIDTH_S
    p = {"lo": lo_b, "hi": hi_b}
    cond = "start_s <= {lo:Int64} OR start_s >= {hi:Int64}"
    if int(tx.query(f"SELECT count() FROM log_counts WHERE {cond}", p, NO_LIMIT)[0][0]):
        tx.command(f"DELETE FROM log_counts WHERE {cond}", p, NO_LIMIT)
    for start in dict.fromkeys((lo_b, hi_b)):
        span = {"a": max(start * NS, 0), "b": (start + WIDTH_S) * NS}
        tx.command(
            "INSERT INTO log_counts (project_id, start_s, level, service, n) "
            + _SELECT.format(cond=" AND ts_ns >= {a:Int64} AND ts_ns < {b:Int64}"),
            span,
            NO_LIMIT,
        )
