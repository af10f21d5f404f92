"""The session view's reads at 10M rows (ClickHouse schema version 10, issue 19).

Span and log counts per trace kept at ingest:

- The counts table agrees with counting the records themselves, for every shape a
  summary reads: spans only, logs only, logs without a trace (by request id), any
  severity, the same trace in several inserts and seconds.
- The session view reads its counts there: no statement of it reads ``spans``.
- A folder made before version 10 gets the counts of the rows it holds (the backfill).
- Retention: the TTL of a count row is its records' own, and the purge removes a second's
  counts once the whole second is before the cutoff (the rule in ``tracecounts.py``).

The session row: its stored rows read by key and folded in Python exactly as the
engine's ``GROUP BY`` folds them, whatever they hold.

The request view: errors without a trace looked up only for requests that have some.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from blstores import (
    SESSION_REQUESTS_IN_SPANS,
    TIMELINE_IN_SOURCES,
    Recording,
    browser,
    chdb_store,
    error,
    hex_id,
    log,
    now_ms,
    request,
    session,
    span,
)

from backlight_server.pipeline.model import TelemetryBatch
from backlight_server.store.clickhouse import ClickhouseStore, reads, schema, tracecounts
from backlight_server.store.clickhouse import migrations as ch_migrations
from backlight_server.store.clickhouse import serverseen as ch_serverseen
from backlight_server.store.clickhouse import timeline as ch_timeline
from backlight_server.store.clickhouse.schema import VERSIONS, Layout, ttl_statements
from backlight_server.store.clickhouse.transport import NO_LIMIT, Transport
from backlight_server.store.clickhouse.writes import SESSION_COLUMNS

SEC = 10**9
Row = dict[str, Any]


async def _load(store: ClickhouseStore, ns: int) -> dict[str, str]:
    """Traces of every shape, over two inserts and several seconds."""
    p = store.default_project()
    ids = {k: hex_id(16) for k in ("both", "spans_only", "logs_only", "rid", "negative")}
    both, rid = ids["both"], ids["rid"]
    first = TelemetryBatch(
        spans=[span(p, both, "api", start_ns=ns + i * SEC // 2) for i in range(5)]
        + [span(p, ids["spans_only"], "api", start_ns=ns)],
        logs=[log(p, "a", "api", trace_id=both, severity=s, ts_ns=ns + s) for s in (9, 17, 5)]
        + [log(p, "b", "api", trace_id=ids["logs_only"], severity=13, ts_ns=ns)]
        + [log(p, "c", "api", request_id=rid, severity=21, ts_ns=ns + i * SEC) for i in range(3)]
        + [log(p, "d", "api", trace_id=ids["negative"], severity=-7, ts_ns=ns)],
    )
    again = TelemetryBatch(
        spans=[span(p, both, "worker", start_ns=ns + 3 * SEC)],
        logs=[log(p, "e", "worker", trace_id=both, severity=1, ts_ns=ns + 3 * SEC)],
    )
    for batch in (first, again):
        await store.write_telemetry(batch, 10)
    return ids


def _recount(tx: Transport, tids: list[str], rids: list[str]) -> tuple[Any, ...]:
    """What the counts table must say, counted in the records."""
    spans = tx.query(
        "SELECT trace_id, count() FROM spans WHERE trace_id IN {t:Array(String)} GROUP BY trace_id",
        {"t": tids},
    )
    logs = tx.query(
        "SELECT assumeNotNull(trace_id), count(), max(severity_number) FROM logs "
        "WHERE trace_id IN {t:Array(String)} GROUP BY trace_id",
        {"t": tids},
    )
    by_request = tx.query(
        "SELECT assumeNotNull(request_id), count(), max(severity_number) FROM logs "
        "WHERE request_id IN {r:Array(String)} AND trace_id IS NULL GROUP BY request_id",
        {"r": rids},
    )
    return (
        sorted((k, int(n)) for k, n in spans),
        sorted((k, int(n), int(w)) for k, n, w in logs),
        sorted((k, int(n), int(w)) for k, n, w in by_request),
    )


def _counts(tx: Transport, tids: list[str], rids: list[str]) -> tuple[Any, ...]:
    return tuple(sorted(part) for part in tracecounts.counts(tx, tids, rids))


async def test_counts_kept_at_ingest_equal_counting_the_records(tmp_path: Path) -> None:
    store = chdb_store(tmp_path / "chdb")
    store.open()
    try:
        ids = await _load(store, int((now_ms() - 60_000) * 1e6))
        tids = [ids[k] for k in ("both", "spans_only", "logs_only", "negative")] + [hex_id(16)]
        found = _counts(store.tx, tids, [ids["rid"], hex_id(16)])
        expected = _recount(store.tx, tids, [ids["rid"]])
        rows = store.tx.query("SELECT count() FROM trace_counts", settings=NO_LIMIT)
    finally:
        store.close()
    assert found == expected
    both = ids["both"]
    assert (both, 6) in found[0] and (both, 4, 17) in found[1]
    assert (ids["negative"], 1, -7) in found[1]  # a span row's "no level" is below any
    assert found[2] == [(ids["rid"], 3, 21)]
    assert int(rows[0][0]) < 18  # grouped per key and second, not a row per record


async def test_the_session_view_counts_without_reading_spans(tmp_path: Path) -> None:
    store = chdb_store(tmp_path / "chdb")
    store.open()
    try:
        p = store.default_project()
        info = session(p)
        sid, t0 = info.secure_id, now_ms() - 60_000
        rid = hex_id(16)
        await store.write_browser(browser(info, 0, network=[request(sid, rid, t0)]), 1)
        ns = int(t0 * 1e6)
        await store.write_telemetry(
            TelemetryBatch(
                spans=[span(p, rid, "api", start_ns=ns), span(p, rid, "api", start_ns=ns + 1)],
                logs=[log(p, "x", "api", trace_id=rid, severity=13, ts_ns=ns)],
            ),
            10,
        )
        recording = Recording(store.tx)
        store._tx = recording
        view = store.get_session(sid)
        store._tx = recording.tx
    finally:
        store.close()
    assert view is not None
    assert view["network"][0]["backend"] == {
        "spans": 2,
        "logs": 1,
        "errors": 0,
        "worst_level": "warn",
    }
    assert not [s for s in recording.statements if "FROM spans" in s]
    assert len([s for s in recording.statements if "FROM trace_counts" in s]) == 1


async def test_a_folder_made_before_version_10_gets_the_counts_of_its_rows(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "chdb"
    # the previous release: its versions, and its tables' TTLs
    monkeypatch.setattr(ch_migrations, "VERSIONS", VERSIONS[:9])
    newer = ("trace_counts", "session_requests", "session_timeline")  # versions 10–12
    older = {k: v for k, v in schema.TTL_COLUMNS.items() if k not in newer}
    monkeypatch.setattr(schema, "TTL_COLUMNS", older)
    monkeypatch.setattr(ch_serverseen, "BY_SESSION", SESSION_REQUESTS_IN_SPANS)
    monkeypatch.setattr(ch_timeline, "BY_SESSION", TIMELINE_IN_SOURCES)
    old = chdb_store(folder)
    old.open()
    try:
        ids = await _load(old, int((now_ms() - 60_000) * 1e6))
        tables = old.tx.query("SELECT name FROM system.tables WHERE name = 'trace_counts'")
    finally:
        old.close()
    assert tables == []
    monkeypatch.undo()
    new = chdb_store(folder)
    new.open()
    try:
        tids = [ids[k] for k in ("both", "spans_only", "logs_only", "negative")]
        found = _counts(new.tx, tids, [ids["rid"]])
        expected = _recount(new.tx, tids, [ids["rid"]])
        version = ch_migrations.current(new.tx)
    finally:
        new.close()
    assert version == len(VERSIONS) >= 10
    assert found == expected and found[0]


async def test_the_purge_drops_whole_seconds_before_the_cutoff(tmp_path: Path) -> None:
    store = chdb_store(tmp_path / "chdb")
    store.open()
    try:
        p = store.default_project()
        cutoff_s = int(now_ms() / 1000) - 40 * 86_400
        cutoff_ms = cutoff_s * 1000 + 700  # 0.7 s into its second
        old, edge, new = hex_id(16), hex_id(16), hex_id(16)
        at = cutoff_s * SEC
        await store.write_telemetry(
            TelemetryBatch(
                spans=[
                    span(p, old, "api", start_ns=at - 5 * SEC),
                    # end 0.5 s and 0.8 s into the cutoff's second: one before the cutoff
                    span(p, edge, "api", start_ns=at + SEC // 2 - 5_000_000),
                    span(p, edge, "api", start_ns=at + 8 * SEC // 10 - 5_000_000),
                    span(p, new, "api", start_ns=at + 5 * SEC),
                ],
                logs=[log(p, "old", "api", trace_id=old, ts_ns=at - SEC)],
            ),
            10,
        )
        store.purge_before(cutoff_ms)
        found = _counts(store.tx, [old, edge, new], [])
        edge_spans = store.get_trace(edge)["span_count"]
    finally:
        store.close()
    assert found[0] == sorted([(edge, 2), (new, 1)]) and found[1] == []
    assert edge_spans == 1  # the records of the cutoff's second: counted until the next purge


def test_a_count_row_expires_with_its_records() -> None:
    lay = Layout(ttl_days=30)
    [table, *_] = tracecounts.version_10(lay)
    assert "TTL toDateTime(sec) + INTERVAL 30 DAY" in table
    # and again at every start, with the retention then set (as for every table)
    assert "ALTER TABLE trace_counts MODIFY TTL toDateTime(sec) + INTERVAL 30 DAY" in (
        ttl_statements(lay)
    )


async def test_the_engine_expires_count_rows_past_the_retention(tmp_path: Path) -> None:
    store = chdb_store(tmp_path / "chdb", Layout(ttl_days=30))
    store.open()
    try:
        p = store.default_project()
        old, new = hex_id(16), hex_id(16)
        t = now_ms()
        await store.write_telemetry(
            TelemetryBatch(
                spans=[
                    span(p, old, "api", start_ns=int((t - 31 * 86_400_000) * 1e6)),
                    span(p, new, "api", start_ns=int((t - 29 * 86_400_000) * 1e6)),
                ]
            ),
            10,
        )
        for table in ("trace_counts", "spans"):
            store.tx.command(f"OPTIMIZE TABLE {table} FINAL", settings=NO_LIMIT)
        found = _counts(store.tx, [old, new], [])
        kept = store.tx.query("SELECT DISTINCT trace_id FROM spans", settings=NO_LIMIT)
    finally:
        store.close()
    assert found[0] == [(new, 1)]
    assert kept == [[new]]


def _raw(p: str, sid: str, t: float, **values: Any) -> list[Any]:
    """A stored row of ``sessions`` as a writer could leave it, with ``values`` over it."""
    row: dict[str, Any] = {
        "project_id": p,
        "secure_id": sid,
        "started_ms": t,
        "last_ms": t,
        "url": None,
        "last_url": [0.0, ""],
        "user_agent": None,
        "sdk_version": None,
        "environment": None,
        "service": None,
        "app_version": None,
        "identifier": [0.0, ""],
        "user_metadata": [0.0, ""],
        "pages": 0,
        "event_count": 0,
        "network_count": 0,
        "fe_error_count": 0,
        "dropped_events": 0,
        "dropped_other": 0,
    }
    row.update(values)
    return [row[c] for c in SESSION_COLUMNS]


async def test_the_session_row_is_folded_as_the_engine_folds_it(tmp_path: Path) -> None:
    """Rows of one session in separate parts (no merge has folded them): the view's fold
    equals the engine's ``GROUP BY`` fold (``reads._FOLD``), and the view runs no
    ``GROUP BY`` on ``sessions``."""
    store = chdb_store(tmp_path / "chdb")
    store.open()
    try:
        p = store.default_project()
        sid, t = hex_id(10), now_ms() - 60_000
        rows = [
            _raw(p, sid, t + 5, url="http://a.test/1", pages=1, network_count=3),
            _raw(p, sid, t, last_ms=t + 900, last_url=[t + 900, "http://a.test/9"], pages=2),
            _raw(p, sid, t + 1, user_agent="UA", app_version="1.2", dropped_other=7),
            _raw(p, sid, t + 2, identifier=[t + 50, "ann"], user_metadata=[t + 50, '{"a":1}']),
            _raw(p, sid, t + 3, identifier=[t + 50, "bob"], last_url=[t + 900, "http://a.test/8"]),
            _raw(p, sid, t + 4, last_ms=t + 400.25, event_count=-2, fe_error_count=2**40),
        ]
        store.tx.command("SYSTEM STOP MERGES sessions")
        for row in rows:  # one insert each: a part each
            store.writer.insert("sessions", [row])
        engine = reads._rows(store.tx, reads._folded("secure_id = {sid:String}"), {"sid": sid})
        recording = Recording(store.tx)
        store._tx = recording
        view = store.get_session_overview(sid)
        store._tx = recording.tx
        parts = store.tx.query(
            "SELECT count() FROM system.parts WHERE active AND table = 'sessions'",
            settings=NO_LIMIT,
        )
    finally:
        store.close()
    assert int(parts[0][0]) >= len(rows)
    assert view is not None
    mine = {k: v for k, v in view["session"].items() if k != "be_error_count"}
    assert mine == engine[0]
    assert list(mine) == list(engine[0])  # and in the same order
    assert mine["identifier"] == "bob" and mine["last_url"] == "http://a.test/9"
    assert mine["duration_ms"] == 900 and isinstance(mine["duration_ms"], int)
    reads_of_sessions = [s for s in recording.statements if "FROM sessions" in s]
    assert reads_of_sessions and not [s for s in reads_of_sessions if "GROUP BY" in s]


def test_the_fold_survives_any_stored_value() -> None:
    """What a stored NaN or an odd pair comes back as (JSON null, other shapes)."""
    odd: list[Row] = [
        {
            "secure_id": "s",
            "project_id": "p",
            "started_ms": None,
            "last_ms": "x",
            "url": 5,
            "last_url": [None, "http://late"],
            "identifier": ["x", "y", "z"],
            "user_metadata": None,
            "pages": None,
            "event_count": 1.5,
            "network_count": "9",
            "fe_error_count": 0,
            "dropped_events": 0,
            "dropped_other": 0,
            "user_agent": None,
            "sdk_version": None,
            "environment": None,
            "service": None,
            "app_version": None,
        },
    ]
    out = reads.fold_session(odd)
    assert out["started_ms"] is None and out["duration_ms"] is None
    assert out["last_url"] == "http://late" and out["identifier"] is None
    assert out["pages"] == 0 and out["event_count"] == 1 and out["network_count"] == 0


async def test_the_request_view_looks_up_traceless_errors_only_where_there_are_some(
    tmp_path: Path,
) -> None:
    """``request_traces`` says whether a request has records without a trace: only then
    does the request view's errors statement look them up by request id."""
    store = chdb_store(tmp_path / "chdb")
    store.open()
    try:
        p = store.default_project()
        plain, bare = hex_id(16), hex_id(16)
        await store.write_telemetry(
            TelemetryBatch(
                spans=[span(p, plain, "api"), span(p, bare, "api")],
                errors=[
                    error(p, "in the trace", request_id=plain, trace_id=plain),
                    error(p, "no trace", request_id=bare),
                ],
            ),
            10,
        )
        recording = Recording(store.tx)
        store._tx = recording
        answers: dict[str, list[str]] = {}
        lookups: dict[str, list[str]] = {}
        for rid in (plain, bare):
            recording.statements.clear()
            answers[rid] = [e["message"] for e in store.get_request(rid)["errors"]]
            lookups[rid] = [s for s in recording.statements if "trace_id IS NULL" in s]
        store._tx = recording.tx
    finally:
        store.close()
    assert answers == {plain: ["in the trace"], bare: ["no trace"]}
    assert not [s for s in lookups[plain] if "FROM errors" in s]
    assert [s for s in lookups[bare] if "FROM errors" in s]
