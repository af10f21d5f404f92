"""ClickHouse schema version 3 and the views' reads (issue 19).

- A chdb folder made at version 2, with data, upgrades in place: the logs' full copy in
  trace order becomes an index projection (trace id and part offset only), spans get a
  bloom filter on the trace id, quiet day partitions are merged by the engine; every view
  answers as before.
- The session and request views fetch what they show in few statements: every error in
  one, span and log counts in one, the time-match candidates among the errors fetched
  anyway.
"""

from __future__ import annotations

import asyncio
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from blstores import (
    SESSION_REQUESTS_IN_SPANS,
    TIMELINE_IN_SOURCES,
    browser,
    error,
    hex_id,
    log,
    now_ms,
    request,
    session,
    span,
)

from backlight_server.pipeline.model import TelemetryBatch
from backlight_server.store.clickhouse import ClickhouseStore, tracecounts
from backlight_server.store.clickhouse import migrations as ch_migrations
from backlight_server.store.clickhouse import schema as ch_schema
from backlight_server.store.clickhouse import serverseen as ch_serverseen
from backlight_server.store.clickhouse import timeline as ch_timeline
from backlight_server.store.clickhouse.schema import SETTLE_SECONDS, VERSIONS
from backlight_server.store.clickhouse.transport import NO_LIMIT, Params, Settings, Transport


class Counting:
    """A transport that counts the statements of reads (queries, not writes), and those
    run on the calling thread (the others ran beside them, on ``together``'s threads)."""

    def __init__(self, tx: Transport) -> None:
        self.tx = tx
        self.statements: list[str] = []
        self.on_caller: list[str] = []
        self.caller = threading.get_ident()

    def _count(self, sql: str) -> None:
        self.statements.append(sql)
        if threading.get_ident() == self.caller:
            self.on_caller.append(sql)

    def query(
        self, sql: str, params: Params | None = None, settings: Settings | None = None
    ) -> list[list[Any]]:
        self._count(sql)
        return self.tx.query(sql, params, settings)

    def records(self, sql: str, params: Params | None = None) -> list[dict[str, Any]]:
        self._count(sql)
        return self.tx.records(sql, params)

    def clear(self) -> None:
        self.statements.clear()
        self.on_caller.clear()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.tx, name)


def counting_text(rounds: int, statements: int) -> str:
    return f"{rounds} of {statements} statements on the caller's thread"


def _store(folder: Path) -> ClickhouseStore:
    return ClickhouseStore(f"chdb://{folder}", query_timeout_ms=30_000)


async def _load(store: ClickhouseStore) -> dict[str, str]:
    """A session with two requests: one linked through a highlight-SDK trace of its own
    (logs with and without a trace, an error), one whose backend is plain OpenTelemetry
    (trace id = request id); and a log and an error matched to the first by time."""
    p = store.default_project()
    info = session(p)
    sid, t0 = info.secure_id, now_ms() - 60_000
    r1, r2, own = hex_id(16), hex_id(16), hex_id(16)
    network = [request(sid, r1, t0), request(sid, r2, t0 + 1000)]
    await store.write_browser(browser(info, 0, network=network), 1)
    ns = int(t0 * 1e6)
    await store.write_telemetry(
        TelemetryBatch(
            spans=[
                span(p, own, "checkout", session_id=sid, request_id=r1, start_ns=ns),
                span(p, own, "checkout", session_id=sid, request_id=r1, start_ns=ns + 1),
                span(p, r2, "inventory", start_ns=ns + 10**9),
            ],
            logs=[
                log(p, "charging card", "checkout", trace_id=own, request_id=r1, ts_ns=ns),
                log(p, "no trace here", "checkout", request_id=r1, severity=13, ts_ns=ns + 2),
                log(p, "stock checked", "inventory", trace_id=r2, ts_ns=ns + 10**9),
                log(p, "matched by time", "node", session_id=sid, severity=17, ts_ns=ns + 10**7),
            ],
            errors=[
                error(p, "card declined", session_id=sid, request_id=r1, trace_id=own, ts_ms=t0),
                error(p, "node failure", session_id=sid, ts_ms=t0 + 10),
            ],
        ),
        10,
    )
    return {"session": sid, "r1": r1, "r2": r2, "own": own}


def _answers(store: ClickhouseStore, ids: dict[str, str]) -> dict[str, Any]:
    return {
        "session": store.get_session(ids["session"]),
        "overview": store.get_session_overview(ids["session"]),
        "r1": store.get_request(ids["r1"]),
        "r2": store.get_request(ids["r2"]),
        "trace": store.get_trace(ids["own"]),
        "summaries": store.backend_summaries([ids["r1"], ids["r2"]]),
    }


def _facts(tx: Transport) -> dict[str, Any]:
    """What version 3 changes, read from the engine."""
    rows = tx.query(
        "SELECT table, create_table_query FROM system.tables "
        "WHERE database = currentDatabase() AND name IN ('logs', 'spans')",
        settings=NO_LIMIT,
    )
    ddl = {str(r[0]): "".join(str(r[1]).split()) for r in rows}  # without white space
    projections = tx.query(
        "SELECT DISTINCT name FROM system.projection_parts WHERE database = currentDatabase() "
        "AND table = 'logs' AND active",
        settings=NO_LIMIT,
    )
    return {
        "version": ch_migrations.current(tx),
        "full copy": "PROJECTIONby_trace" in ddl["logs"],
        "index projection": "PROJECTIONtrace_index(SELECT_part_offset,severity_number"
        "ORDERBYtrace_id)" in ddl["logs"],
        "built for parts": sorted(str(r[0]) for r in projections),
        "spans bloom": "INDEXtrace_bftrace_idTYPEbloom_filter" in ddl["spans"],
        "settle": all(
            f"min_age_to_force_merge_seconds={SETTLE_SECONDS}" in d for d in ddl.values()
        ),
    }


def _counted_in_records(tx: Transport, tids: list[str], traceless: list[str]) -> Any:
    """``tracecounts.counts`` before version 10 kept them: counted in spans and logs."""
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
        {"r": traceless},
    )
    return (
        [(k, int(n)) for k, n in spans],
        [(k, int(n), int(w)) for k, n, w in logs],
        [(k, int(n), int(w)) for k, n, w in by_request],
    )


def _wait_for_mutations(tx: Transport) -> None:
    for _ in range(300):
        left = tx.query(
            "SELECT count() FROM system.mutations WHERE database = currentDatabase() "
            "AND NOT is_done",
            settings=NO_LIMIT,
        )
        if not int(left[0][0]):
            return
        time.sleep(0.1)
    raise AssertionError("the version 3 mutations did not finish")


async def test_a_version_2_folder_upgrades_in_place(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "chdb"
    monkeypatch.setattr(ch_migrations, "VERSIONS", VERSIONS[:2])  # the previous release
    newer = ("log_counts", "trace_counts", "session_requests", "session_timeline")  # 9–12
    older = {k: v for k, v in ch_schema.TTL_COLUMNS.items() if k not in newer}
    monkeypatch.setattr(ch_schema, "TTL_COLUMNS", older)  # and its tables' TTLs
    monkeypatch.setattr(tracecounts, "counts", _counted_in_records)  # its counts
    monkeypatch.setattr(ch_serverseen, "BY_SESSION", SESSION_REQUESTS_IN_SPANS)  # its requests
    monkeypatch.setattr(ch_timeline, "BY_SESSION", TIMELINE_IN_SOURCES)  # its first round
    old = _store(folder)
    old.open()
    try:
        ids = await _load(old)
        before = _answers(old, ids)
        facts = _facts(old.tx)
    finally:
        old.close()
    assert facts["version"] == 2 and facts["full copy"] and not facts["index projection"]
    assert facts["built for parts"] == ["by_trace"] and not facts["spans bloom"]

    monkeypatch.undo()  # this one
    new = _store(folder)
    new.open()
    try:
        _wait_for_mutations(new.tx)
        after = _answers(new, ids)
        facts = _facts(new.tx)
    finally:
        new.close()
    assert facts == {
        "version": len(VERSIONS),  # every later version applies too
        "full copy": False,
        "index projection": True,
        "built for parts": ["trace_index"],
        "spans bloom": True,
        "settle": True,
    }
    assert after == before
    assert after["r1"]["span_count"] == 2 and len(after["r1"]["logs"]) == 3
    assert [lg["match"] for lg in after["r1"]["logs"]] == ["exact", "exact", "time"]
    assert [e["message"] for e in after["r1"]["errors"]] == ["card declined", "node failure"]


async def test_the_views_read_in_few_statements(tmp_path: Path) -> None:
    store = _store(tmp_path / "chdb")
    store.open()
    try:
        ids = await _load(store)
        counting = Counting(store.tx)
        store._tx = counting
        view = store.get_session(ids["session"])
        session_statements = len(counting.statements)
        session_rounds = len(counting.on_caller)
        counting.clear()
        req = store.get_request(ids["r1"])
        request_statements = len(counting.statements)
        request_rounds = len(counting.on_caller)
        store._tx = counting.tx
    finally:
        store.close()
    assert view is not None
    first = view["network"][0]["backend"]
    assert first == {"spans": 2, "logs": 3, "errors": 2, "worst_level": "error"}
    assert [e["message"] for e in view["backend_errors"]] == ["card declined", "node failure"]
    assert req["span_count"] == 2 and len(req["errors"]) == 2
    # session row, network, the requests seen by the server (none here, so no read of
    # their root spans), console, track events, errors by session; request_traces,
    # session-only logs; errors by request and trace, counts (version 2's reads: 13)
    assert session_statements <= 10, session_statements
    # in three rounds, each run together: one statement of each on the caller's thread
    assert session_rounds == 3, counting_text(session_rounds, session_statements)
    # network, request_traces; spans, logs, errors, the session's errors, session-only
    # logs, the candidates' traces; the log matched by time (version 2's reads: 10)
    assert request_statements <= 9, request_statements
    # the two rounds, then the log matched by time
    assert request_rounds == 3, counting_text(request_rounds, request_statements)


async def test_the_alert_read_by_arrival_skips_what_arrived_before(tmp_path: Path) -> None:
    """Version 5: the evaluator's read of errors after its cursor (``received_ms``) skips
    the granules that arrived before it, instead of reading the project's errors."""
    store = _store(tmp_path / "chdb")
    store.open()
    try:
        p = store.default_project()
        cuts = []
        for n in range(4):  # four writes: four parts, each of one arrival time
            cuts.append(now_ms())
            await asyncio.sleep(0.01)
            errors = [error(p, f"boom {n}.{i}", error_type=f"Kind{n}x{i}Error") for i in range(10)]
            await store.write_telemetry(TelemetryBatch(errors=errors), 1)
        plan = "\n".join(
            str(r[0])
            for r in store.tx.query(
                "EXPLAIN indexes = 1 SELECT id FROM errors WHERE project_id = {p:String} "
                "AND received_ms > {lo:Float64}",
                {"p": p, "lo": cuts[-1]},
                settings=NO_LIMIT,
            )
        )
    finally:
        store.close()
    assert "received_mm" in plan, plan
    after = plan[plan.index("received_mm") :]
    read, total = after[after.index("Granules: ") + 10 :].split()[0].split("/")
    assert int(read) < int(total), plan
