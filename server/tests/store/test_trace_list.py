"""The trace list in SQLite (``store/sqlite/traces.py``, migration 16): the list reads the
``traces`` table in its key's order (newest first) with every filter checked on the row, the
span names kept on the row, and a database of an older version upgraded with its traces.

The semantics of the filters are the conformance suite's
(``conformance/test_traces_logstats_contract.py``); these tests show where SQLite reads
them from."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

import pytest
from blstores import hex_id

from backlight_server.pipeline.model import SpanRecord, TelemetryBatch
from backlight_server.store.queries import TraceQuery
from backlight_server.store.sqlite import SqliteStore, migrations
from backlight_server.store.sqlite.migrations import _split
from backlight_server.store.sqlite.writes import INSERT_SPAN

pytestmark = pytest.mark.sqlite_only

MS = 1_000_000
PROJECT = "proj1111"


def _span(
    trace: str, service: str, name: str, start_ns: int, ms: float, error: bool = False
) -> SpanRecord:
    return SpanRecord(
        PROJECT,
        trace,
        hex_id(8),
        None,
        name,
        2,
        start_ns,
        start_ns + int(ms * MS),
        2 if error else 0,
        None,
        service,
        "test",
        None,
        trace,
        None,
        None,
    )


def _ids(store: SqliteStore, **fields: object) -> list[str]:
    page = store.list_traces(TraceQuery(**fields))  # type: ignore[arg-type]
    return [t["trace_id"] for t in page["traces"]]


def _plans(store: SqliteStore, query: TraceQuery) -> list[str]:
    """The query plan of each statement ``list_traces`` runs for ``query``."""
    statements: list[str] = []
    conn = sqlite3.connect(store.path)
    try:
        conn.set_trace_callback(statements.append)
        from backlight_server.store.sqlite.traces import list_traces

        list_traces(conn, query)
        conn.set_trace_callback(None)
        return [
            " / ".join(row[3] for row in conn.execute("EXPLAIN QUERY PLAN " + sql))
            for sql in statements
            if sql.lstrip().upper().startswith("SELECT")
        ]
    finally:
        conn.close()


async def test_the_list_walks_the_table_in_its_order(tmp_path: Path) -> None:
    """Every filter but a long trace's span name is checked on the row the walk is on:
    no sort, no index lookup back into the table, no look into spans."""
    store = SqliteStore(tmp_path / "backlight.db")
    store.open()
    try:
        t0 = time.time_ns() - 60_000 * MS
        await store.write_telemetry(
            TelemetryBatch(
                spans=[_span(hex_id(16), "api", "GET /", t0 + i * MS, 3) for i in range(5)]
            ),
            10,
        )
        for query in (TraceQuery(), TraceQuery(service="api", min_ms=2, max_ms=9, status="error")):
            assert _plans(store, query) == ["SCAN t"], query
        ranged = TraceQuery(start_ms=t0 / MS, end_ms=t0 / MS + 10, project_id=PROJECT, offset=2)
        assert _plans(store, ranged) == ["SEARCH t USING PRIMARY KEY (start_ns>? AND start_ns<?)"]
        # the span name: on the row; the spans only for a trace whose names it does not keep
        (plan,) = _plans(store, TraceQuery(name="get"))
        assert plan.startswith("SCAN t") and "TEMP B-TREE" not in plan, plan
    finally:
        store.close()


async def test_span_names_are_read_from_the_trace_row(tmp_path: Path) -> None:
    """With the spans gone behind the store's back, a trace is still found by a span's
    name, unless it has more names than its row keeps (those are looked up in spans)."""
    store = SqliteStore(tmp_path / "backlight.db")
    store.open()
    t0 = time.time_ns() - 60_000 * MS
    few, many = hex_id(16), hex_id(16)
    spans = [
        _span(few, "api", "POST /checkout", t0, 40),
        _span(few, "db", "SELECT orders", t0 + MS, 5),
    ]
    spans += [_span(many, "bulk", f"step {k}", t0 + 10 * MS + k, 1) for k in range(40)]
    try:
        await store.write_telemetry(TelemetryBatch(spans=spans[:20]), 10)
        await store.write_telemetry(TelemetryBatch(spans=spans[20:]), 10)
        assert _ids(store, name="select") == [few]
        assert _ids(store, name="step 39") == [many]
    finally:
        store.close()
    conn = sqlite3.connect(store.path)
    assert conn.execute("SELECT names FROM traces WHERE trace_id = ?", (few,)).fetchone() == (
        "POST /checkout\x1fSELECT orders",
    )
    assert conn.execute("SELECT names FROM traces WHERE trace_id = ?", (many,)).fetchone() == (
        None,
    )
    conn.execute("DELETE FROM spans")
    conn.commit()
    conn.close()
    store.open()
    try:
        assert _ids(store, name="select") == [few]
        assert _ids(store, name="checkout") == [few]
        assert _ids(store, name="step 39") == []  # not kept on its row: read from spans
    finally:
        store.close()


def test_a_database_from_before_keeps_its_traces(tmp_path: Path) -> None:
    """Spans stored by a server of schema 11 (before the trace list): the upgrade to 16
    lists them, newest first, with their names on the rows."""
    path = tmp_path / "backlight.db"
    conn = sqlite3.connect(path, isolation_level=None)
    for number, _name, step in migrations._migrations():
        if number > 11:
            break
        if callable(step):
            step(conn)
        else:
            for statement in _split(step):
                conn.execute(statement)
        conn.execute(f"PRAGMA user_version={number}")
    t0 = time.time_ns() - 60_000 * MS
    old, new, wide = hex_id(16), hex_id(16), hex_id(16)
    spans = [
        _span(old, "api", "GET /old", t0, 10),
        _span(new, "api", "POST /pay", t0 + 50 * MS, 80),
        _span(new, "billing", "charge", t0 + 60 * MS, 20, error=True),
        *(_span(wide, "bulk", f"{'x' * 40} {k}", t0 + 20 * MS + k, 1) for k in range(30)),
    ]
    conn.executemany(INSERT_SPAN, spans)
    conn.close()
    store = SqliteStore(path)
    store.open()
    try:
        assert _ids(store) == [new, wide, old]
        assert _ids(store, service="billing", status="error", min_ms=80) == [new]
        assert _ids(store, name="charge") == [new]
        assert _ids(store, name="x 29") == [wide]  # over 1,024 characters: from spans
        rows = store.list_traces(TraceQuery())["traces"]
        assert rows[0]["services"] == ["api", "billing"] and rows[0]["span_count"] == 2
    finally:
        store.close()
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == 16
    names = dict(conn.execute("SELECT trace_id, names FROM traces").fetchall())
    assert names == {old: "GET /old", new: "POST /pay\x1fcharge", wide: None}
    conn.close()
