"""The log page's counts kept at write time (SQLite ``log_counts``, migration 13;
ClickHouse ``log_counts`` by materialized view, schema 9), through ``Store.log_stats``,
on every store in ``blstores.STORES``.

To show that a count comes from the kept counts and not from the logs, a test deletes the
logs behind the store's back (not through the writer or the purge): whole minutes still
count, only the partial minutes at a range's ends are read from the logs."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from blstores import STORES, Opened, log, make

from backlight_server.pipeline.model import LogRecord, TelemetryBatch
from backlight_server.query import logstats
from backlight_server.store.base import Store
from backlight_server.store.clickhouse import ClickhouseStore
from backlight_server.store.clickhouse import logstats as ch_logstats
from backlight_server.store.queries import LogQuery
from backlight_server.store.sqlite import SqliteStore
from backlight_server.store.sqlite import logstats as sqlite_logstats

MS = 1_000_000
MINUTE = 60_000 * MS
HOUR = 60 * MINUTE
DAY_MS = 86_400_000


@pytest.fixture(params=STORES)
def kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def opened(kind: str, tmp_path: Path) -> Iterator[Opened]:
    store = make(kind, tmp_path)
    store.open()
    try:
        yield Opened(store, store.default_project())
    finally:
        store.close()


def _behind_the_store(store: Store, sqlite_sql: str, clickhouse_sql: str) -> None:
    """Run a statement on the store's data directly, not through its writer."""
    if isinstance(store, SqliteStore):
        conn = sqlite3.connect(store.path, timeout=30)
        try:
            conn.execute(sqlite_sql)
            conn.commit()
        finally:
            conn.close()
    else:
        assert isinstance(store, ClickhouseStore)
        store.tx.command(clickhouse_sql)


def _delete_logs_behind_the_store(store: Store) -> None:
    _behind_the_store(store, "DELETE FROM logs", "DELETE FROM logs WHERE 1")


_LEVELS = ((9, "api"), (17, "api"), (13, "billing"), (9, "worker"))


def _logs(p: str, times: list[int]) -> list[LogRecord]:
    return [
        log(p, f"line {i}", _LEVELS[i % 4][1], severity=_LEVELS[i % 4][0], ts_ns=ts)
        for i, ts in enumerate(times)
    ]


def _expected(
    logs: list[LogRecord], start_ms: float, end_ms: float, buckets: int, level: str | None = None
) -> dict[str, object]:
    """``log_stats`` counted by hand from the records."""
    first, last, width = logstats.window(start_ms, end_ms, buckets)
    rows: dict[tuple[int, str, str], int] = {}
    for lg in logs:
        if int(start_ms * 1e6) <= lg.ts_ns < int(end_ms * 1e6):
            key = ((lg.ts_ns - int(first * 1e6)) // int(width * 1e6), lg.level, lg.service)
            rows[key] = rows.get(key, 0) + 1
    cells, levels, services = logstats.fold(
        [(b, lv, svc, n) for (b, lv, svc), n in rows.items()], level, None
    )
    return logstats.stats(first, last, width, cells, levels, services)


async def test_kept_counts_answer_for_whole_minutes_and_hours(opened: Opened) -> None:
    store, p = opened.store, opened.project
    base = (time.time_ns() // HOUR - 30) * HOUR  # a whole hour, 30 hours ago
    inside = [base + k * 7 * MINUTE + 5_000 * MS for k in range(1, 29)]  # whole minutes
    edges = [base + 45_000 * MS, base + 200 * MINUTE + 10_000 * MS]  # partial minutes
    logs = _logs(p, [base + 5_000 * MS, *inside, *edges])
    await store.write_telemetry(TelemetryBatch(logs=logs[:10]), 10)
    await store.write_telemetry(TelemetryBatch(logs=logs[10:]), 10)
    start, end = base / MS + 30_000, base / MS + 200 * 60_000 + 30_000
    ranges = [
        (start, end, 60),  # 5-minute buckets: minutes, and rows at both ends
        (base / MS, base / MS + 10 * 3_600_000, 10),  # hours, then nothing
        (start, base / MS + 10 * 3_600_000 + 30_000, 10),  # hours, minutes, rows
        (start, start + 20 * 60_000, 60),  # 20-second buckets: rows only
        (start - 3_600_000, end, 7),  # 30-minute buckets starting before the first log
    ]
    for a, b, n in ranges:
        for level in (None, "error"):
            got = store.log_stats(LogQuery(start_ms=a, end_ms=b, level=level), n)
            assert got == _expected(logs, a, b, n, level), (a - base / MS, b - base / MS, n)
    assert store.log_stats(LogQuery(start_ms=start, end_ms=end), 60)["total"] == 30
    _delete_logs_behind_the_store(store)
    # the whole minutes are still counted: they come from the kept counts
    assert store.log_stats(LogQuery(start_ms=start, end_ms=end), 60)["total"] == 28
    whole = store.log_stats(LogQuery(start_ms=base / MS, end_ms=base / MS + 4 * 3_600_000), 4)
    assert whole == _expected(logs, base / MS, base / MS + 4 * 3_600_000, 4)
    assert whole["total"] == 31
    other = store.log_stats(
        LogQuery(project_id="not-this-one", start_ms=base / MS, end_ms=end + 29_000), 4
    )
    assert other["total"] == 0


async def test_kept_counts_follow_the_retention_purge(opened: Opened) -> None:
    store, p = opened.store, opened.project
    now_ns = time.time_ns()
    base = (now_ns // HOUR - 10 * 24) * HOUR  # a whole hour, 10 days ago
    times = [base + k * 13 * MINUTE + (k % 50) * 1_000 * MS for k in range(30)]  # 6.5 hours
    future = (now_ns // HOUR + 3 * 24) * HOUR  # 3 days ahead: purged as wrongly dated
    times += [future + 5_000 * MS, future + 40 * MINUTE]
    logs = _logs(p, times)
    await store.write_telemetry(TelemetryBatch(logs=logs), 10)
    cutoff_ns = base + 2 * HOUR + 20 * MINUTE + 30_000 * MS  # mid-hour, mid-minute
    assert store.purge_before(cutoff_ns / MS) >= 2
    kept = [lg for lg in logs if cutoff_ns <= lg.ts_ns < future]
    assert 0 < len(kept) < 30
    a, b = base / MS, base / MS + 7 * 3_600_000
    for n in (7, 60, 21):  # hourly buckets, 10 minutes, 20 minutes
        assert store.log_stats(LogQuery(start_ms=a, end_ms=b), n) == _expected(kept, a, b, n)
    later = store.log_stats(LogQuery(start_ms=a, end_ms=future / MS + 3_600_000), 30)
    assert later["total"] == len(kept)
    # the counts were taken out (and the cut minute and hour counted again), not left over
    _delete_logs_behind_the_store(store)
    for n in (7, 60):
        assert store.log_stats(LogQuery(start_ms=a, end_ms=b), n) == _expected(kept, a, b, n)
    assert store.log_stats(LogQuery(start_ms=a, end_ms=future / MS + 3_600_000), 30)[
        "total"
    ] == len(kept)


def _back_to_before_the_counts(store: Store) -> None:
    """Undo the migration that made the kept counts, as if the logs were written by the
    version before it."""
    _behind_the_store(
        store,
        "DROP TABLE log_counts",
        "DROP TABLE IF EXISTS logs_counts",
    )
    if isinstance(store, SqliteStore):
        _behind_the_store(store, "PRAGMA user_version = 12", "")
    else:
        _behind_the_store(store, "", "DROP TABLE log_counts")
        _behind_the_store(store, "", "DELETE FROM schema_versions WHERE version >= 9")


async def test_logs_written_before_the_migration_are_counted(kind: str, tmp_path: Path) -> None:
    store = make(kind, tmp_path)
    store.open()
    p = store.default_project()
    base = (time.time_ns() // HOUR - 5) * HOUR
    logs = _logs(p, [base + k * 11 * MINUTE + 7_000 * MS for k in range(20)])
    try:
        await store.write_telemetry(TelemetryBatch(logs=logs), 10)
        _back_to_before_the_counts(store)
    finally:
        store.close()
    store = make(kind, tmp_path)
    store.open()  # migrates: the counts of the logs stored are made
    try:
        later = _logs(p, [base + 4 * HOUR + 30_000 * MS])
        await store.write_telemetry(TelemetryBatch(logs=later), 10)
        a, b = base / MS, base / MS + 5 * 3_600_000
        for n in (5, 60):
            assert store.log_stats(LogQuery(start_ms=a, end_ms=b), n) == _expected(
                [*logs, *later], a, b, n
            )
        _delete_logs_behind_the_store(store)
        again = store.log_stats(LogQuery(start_ms=a, end_ms=b), 5)
        assert again == _expected([*logs, *later], a, b, 5)
        assert again["total"] == 21
    finally:
        store.close()


async def test_search_counts_are_capped(opened: Opened, monkeypatch: pytest.MonkeyPatch) -> None:
    store, p = opened.store, opened.project
    monkeypatch.setattr(sqlite_logstats, "MAX_COUNTED", 3)
    monkeypatch.setattr(ch_logstats, "MAX_COUNTED", 3)
    base = (time.time_ns() // MINUTE - 30) * MINUTE
    logs = [
        log(p, f"needle {i}", "api", severity=17 if i % 2 else 9, ts_ns=base + i * MINUTE)
        for i in range(5)
    ]
    await store.write_telemetry(TelemetryBatch(logs=[*logs, log(p, "hay", "api", ts_ns=base)]), 10)
    capped = store.log_stats(LogQuery(text="needle"), 60)
    assert capped["capped"] is True and capped["total"] == 3
    # the newest three: the histogram spans them
    assert capped["start_ms"] <= (base + 2 * MINUTE) / MS < capped["start_ms"] + capped["bucket_ms"]
    assert capped["levels"] == [{"level": "info", "count": 2}, {"level": "error", "count": 1}]
    exact = store.log_stats(LogQuery(text="needle", start_ms=(base + 3 * MINUTE) / MS), 60)
    assert exact["capped"] is False and exact["total"] == 2
    # without text the kept counts answer, exact and never capped
    assert store.log_stats(LogQuery(start_ms=base / MS), 60)["capped"] is False
    assert store.log_stats(LogQuery(start_ms=base / MS), 60)["total"] == 6
