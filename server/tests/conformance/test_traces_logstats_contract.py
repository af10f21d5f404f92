"""The trace list (``Store.list_traces``), the log page's counts (``Store.log_stats``) and
the log search on any substring, on every store in ``blstores.STORES``."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from blstores import STORES, Opened, hex_id, log, make, span

from backlight_server.pipeline.model import SpanRecord, TelemetryBatch
from backlight_server.store.queries import LogQuery, TraceQuery

MS = 1_000_000


@pytest.fixture(params=STORES)
def opened(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Opened]:
    store = make(request.param, tmp_path)
    store.open()
    try:
        yield Opened(store, store.default_project())
    finally:
        store.close()


def _span(
    p: str, trace: str, service: str, name: str, start_ns: int, ms: float, error: bool = False
) -> SpanRecord:
    return span(p, trace, service, start_ns=start_ns)._replace(
        name=name, end_ns=start_ns + int(ms * MS), status_code=2 if error else 0
    )


async def test_the_trace_list_filters_and_pages(opened: Opened) -> None:
    store, p = opened.store, opened.project
    t0 = (time.time_ns() // MS - 60_000) * MS
    slow, fast, failed, other = (hex_id(16) for _ in range(4))
    # the checkout trace arrives in two batches (two services): one row, folded
    await store.write_telemetry(
        TelemetryBatch(
            spans=[
                _span(p, slow, "api", "POST /checkout", t0, 900),
                _span(p, fast, "api", "GET /products", t0 + 10 * 1000 * MS, 12),
                _span(p, other, "billing", "charge card", t0 + 30 * 1000 * MS, 40),
            ]
        ),
        10,
    )
    await store.write_telemetry(
        TelemetryBatch(
            spans=[
                _span(p, slow, "inventory", "reserve_stock", t0 + 100 * MS, 1200),
                _span(p, failed, "api", "POST /pay", t0 + 20 * 1000 * MS, 80),
                _span(p, failed, "billing", "charge card", t0 + 20_010 * MS, 50, error=True),
            ]
        ),
        10,
    )

    def ids(**fields: object) -> list[str]:
        page = store.list_traces(TraceQuery(**fields))  # type: ignore[arg-type]
        return [t["trace_id"] for t in page["traces"]]

    assert ids() == [other, failed, fast, slow]  # newest first, by the earliest span
    rows = {t["trace_id"]: t for t in store.list_traces(TraceQuery())["traces"]}
    checkout = rows[slow]
    assert checkout["name"] == "POST /checkout" and checkout["service"] == "api"
    assert checkout["services"] == ["api", "inventory"]
    assert checkout["span_count"] == 2 and checkout["error_count"] == 0
    assert checkout["start_ms"] == t0 / MS
    assert checkout["duration_ms"] == 1300  # earliest start to latest end, both batches
    assert rows[failed]["error_count"] == 1
    assert ids(service="inventory") == [slow]
    assert ids(service="billing") == [other, failed]
    assert ids(min_ms=500) == [slow]
    assert ids(max_ms=60) == [other, fast]
    assert ids(min_ms=50, max_ms=100) == [failed]
    assert ids(status="error") == [failed]
    assert ids(status="ok") == [other, fast, slow]
    assert ids(name="CHARGE") == [other, failed]  # any span's name, any case
    assert ids(name="reserve") == [slow]
    assert ids(start_ms=t0 / MS + 15_000) == [other, failed]
    assert ids(end_ms=t0 / MS + 15_000) == [fast, slow]
    assert ids(project_id="nope") == []
    first = store.list_traces(TraceQuery(limit=3))
    assert len(first["traces"]) == 3 and first["has_more"]
    rest = store.list_traces(TraceQuery(limit=3, offset=3))
    assert [t["trace_id"] for t in rest["traces"]] == [slow] and not rest["has_more"]

    # A service is one of the trace's services, exactly, whatever its characters (SQLite
    # finds a plain one as text in the row's JSON array); a span name is any span's, a
    # substring in any case, however many names the trace has (SQLite keeps up to 32 on the
    # row and looks at the spans beyond) and whatever they hold.
    t1 = t0 + 100_000 * MS
    services = ["gate", "gate-way", "a,b", 'say "hi"', "[x]", ",", "back\\slash", "ünï"]
    traces = {svc: hex_id(16) for svc in services}
    many, odd = hex_id(16), hex_id(16)
    spans = [
        _span(p, tid, svc, f"op {i}", t1 + i * 1000 * MS, 5)
        for i, (svc, tid) in enumerate(traces.items())
    ]
    # 40 distinct span names, in two batches; the one asked for comes last
    spans += [
        _span(p, many, "bulk", f"step {k:02d}", t1 + 20_000 * MS + k * MS, 1) for k in range(20)
    ]
    late = [
        _span(p, many, "bulk", f"step {k:02d}", t1 + 20_000 * MS + k * MS, 1) for k in range(20, 39)
    ]
    late.append(_span(p, many, "bulk", "needle in bulk", t1 + 20_100 * MS, 1))
    spans.append(_span(p, odd, "odd", "100%_done\x1fsep", t1 + 30_000 * MS, 1))
    await store.write_telemetry(TelemetryBatch(spans=spans), 10)
    await store.write_telemetry(TelemetryBatch(spans=late), 10)

    for svc, tid in traces.items():
        assert ids(service=svc) == [tid], svc
    assert ids(service="gat") == [] and ids(service="b") == [] and ids(service='"gate"') == []
    assert ids(name="NEEDLE") == [many]  # past the 32 names a trace keeps
    assert ids(name="step 05") == [many]
    assert ids(name="100%_") == [odd] and ids(name="0%_d") == [odd]
    assert ids(name="1000") == [] and ids(name="%") == [odd]
    assert ids(name="done\x1fsep") == [odd]  # the separator SQLite keeps names with
    assert ids(name="sep") == [odd] and ids(name="op 3") == [traces['say "hi"']]


async def test_log_search_finds_any_substring(opened: Opened) -> None:
    store, p = opened.store, opened.project
    t = time.time_ns() // MS * MS
    bodies = [
        "connection broken by peer",
        "user_id=42 checkout OK",
        "Ünïcode ÉCOLE closed",
        "reserved 3 items",
        "ab testing",
    ]
    await store.write_telemetry(
        TelemetryBatch(
            logs=[log(p, body, "api", ts_ns=t + i * MS) for i, body in enumerate(bodies)]
        ),
        10,
    )

    def found(text: str) -> list[str]:
        return [lg["body"] for lg in store.search_logs(LogQuery(text=text))["logs"]]

    assert found("broke") == [bodies[0]]  # inside a word
    assert found("roke") == [bodies[0]]
    assert found("id=42") == [bodies[1]]  # punctuation is part of the text
    assert found("ECKOUT") == [bodies[1]]  # any case
    assert found("école") == [bodies[2]]  # any case beyond ASCII
    assert found("serv") == [bodies[3]]
    assert found("ab") == [bodies[4]]  # shorter than an index piece: still found
    assert found("ed 3 it") == [bodies[3]]  # every word, anywhere
    assert found("broke peer*") == [bodies[0]]  # a trailing * changes nothing
    assert found("broke checkout") == []


async def test_log_stats_count_per_bucket_level_and_service(opened: Opened) -> None:
    store, p = opened.store, opened.project
    base = (time.time_ns() // (60_000 * MS) - 30) * 60_000 * MS  # a whole minute, 30 min ago
    rows = [
        # (minute, severity, service, body)
        (0, 9, "api", "order placed"),
        (0, 17, "api", "order failed"),
        (1, 13, "billing", "card retry"),
        (2, 17, "billing", "card declined for order"),
        (2, 9, "api", "order shipped"),
    ]
    await store.write_telemetry(
        TelemetryBatch(
            logs=[
                log(p, body, svc, severity=sev, ts_ns=base + m * 60_000 * MS + 5 * MS)
                for m, sev, svc, body in rows
            ]
        ),
        10,
    )
    start = base / MS
    stats = store.log_stats(LogQuery(start_ms=start, end_ms=start + 180_000), 3)
    assert stats["bucket_ms"] == 60_000 and stats["start_ms"] == start
    assert [b["counts"] for b in stats["histogram"]] == [
        {"info": 1, "error": 1},
        {"warn": 1},
        {"error": 1, "info": 1},
    ]
    assert stats["total"] == 5
    assert stats["levels"] == [
        {"level": "info", "count": 2},
        {"level": "warn", "count": 1},
        {"level": "error", "count": 2},
    ]
    assert stats["services"] == [{"service": "api", "count": 3}, {"service": "billing", "count": 2}]
    # the search's words and filters; a facet is counted without its own filter
    picked = store.log_stats(
        LogQuery(text="order", level="error", start_ms=start, end_ms=start + 180_000), 3
    )
    assert [b["total"] for b in picked["histogram"]] == [1, 0, 1]
    assert picked["levels"] == [{"level": "info", "count": 2}, {"level": "error", "count": 2}]
    assert picked["services"] == [
        {"service": "api", "count": 1},
        {"service": "billing", "count": 1},
    ]
    by_service = store.log_stats(LogQuery(service="billing", start_ms=start), 60)
    assert by_service["services"] == [
        {"service": "api", "count": 3},
        {"service": "billing", "count": 2},
    ]
    assert by_service["total"] == 2
    # without a range: from the first match to the last
    whole = store.log_stats(LogQuery(text="card"), 60)
    assert whole["total"] == 2
    assert whole["start_ms"] <= start + 60_005 < whole["start_ms"] + whole["bucket_ms"]
    assert whole["end_ms"] >= start + 120_005
    assert store.log_stats(LogQuery(text="nothing-like-this"), 60)["total"] == 0

    # the log page: ``log_page`` is ``search_logs`` and ``log_stats`` of one query, whatever
    # the text, filters and page
    t = base + 10 * 60_000 * MS  # after the logs above
    services, levels = ("api", "billing", "worker"), (5, 9, 13, 17)
    await store.write_telemetry(
        TelemetryBatch(
            logs=[
                log(
                    p,
                    f"{'order' if i % 3 else 'card'} {i} {'failed' if i % 4 == 0 else 'ok'}",
                    services[i % 3],
                    severity=levels[i % 4],
                    ts_ns=t + i * 1000 * MS,
                    trace_id=hex_id(16) if i % 5 == 0 else None,
                )
                for i in range(120)
            ]
        ),
        10,
    )
    queries = [
        LogQuery(),
        LogQuery(text="order", level="error", limit=5, offset=3),
        LogQuery(text="ORDER fail", service="api", limit=4),
        LogQuery(text="d 1", level="warn", service="billing", limit=3, offset=2),
        LogQuery(text="ok", start_ms=t / MS + 30_000, end_ms=t / MS + 90_000, limit=7),
        LogQuery(text="nothing like this", start_ms=t / MS, end_ms=t / MS + 60_000),
        LogQuery(text="  "),
        LogQuery(text="card", limit=5, offset=200),
        LogQuery(level="info", service="worker", limit=5, offset=4),
    ]
    for query in queries:
        page = store.log_page(query, 30)
        assert page == {"logs": store.search_logs(query), "stats": store.log_stats(query, 30)}, (
            query
        )
    assert store.log_page(LogQuery(text="card", limit=100), 30)["logs"]["logs"]
