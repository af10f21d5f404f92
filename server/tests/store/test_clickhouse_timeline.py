"""ClickHouse schema version 12 (issue 19): what the session id alone names, copied as it
arrives into ``session_timeline`` by materialized views (``store/clickhouse/timeline.py``).

- The session view reads its network, console, track events and errors in one statement
  of that table, and answers as a read of the four tables does.
- A browser batch retried after a part-way failure is stored once there too.
- Each copy goes with its row: TTL per kind (replay retention, error retention), and the
  retention purge by the same column as its table's.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from blstores import (
    TIMELINE_IN_SOURCES,
    Recording,
    browser,
    chdb_store,
    error,
    hex_id,
    now_ms,
    request,
    session,
)

from backlight_server.pipeline.model import ConsoleRecord, TelemetryBatch, TrackRecord
from backlight_server.store.clickhouse import ClickhouseStore
from backlight_server.store.clickhouse import timeline as ch_timeline
from backlight_server.store.clickhouse.schema import Layout, ttl_statements
from backlight_server.store.clickhouse.transport import NO_LIMIT

DAY_MS = 86_400_000


async def _load(store: ClickhouseStore, t0: float) -> tuple[str, Any]:
    """A session with two requests (one of them at the same time as the other), console
    lines, a track event, a frontend error, and a backend error with its session id."""
    p = store.default_project()
    info = session(p, started_ms=t0)
    sid = info.secure_id
    rid = hex_id(16)
    batch = browser(
        info,
        0,
        network=[request(sid, rid, t0 + 10), request(sid, None, t0 + 10), request(sid, None, t0)],
        console=[
            ConsoleRecord(sid, t0 + 5, "warn", 'quoted "text"\nand a line', '["a", 1]'),
            ConsoleRecord(sid, t0 + 1, "log", "first", None),
        ],
        track=[TrackRecord(sid, t0 + 2, "checkout", '{"total": 3}')],
        errors=[error(p, "TypeError: x", source="frontend", session_id=sid, ts_ms=t0 + 3)],
    )
    assert await store.write_browser(batch, 1)
    backend = error(p, "db down", session_id=sid, request_id=rid, trace_id=rid, ts_ms=t0 + 12)
    await store.write_telemetry(TelemetryBatch(errors=[backend]), 1)
    return sid, batch


def _own(view: dict[str, Any] | None) -> dict[str, Any]:
    assert view is not None
    return {k: view[k] for k in ("network", "console", "track", "errors", "backend_errors")}


@pytest.mark.parametrize("detail", [True, False])
async def test_the_first_round_reads_one_table_and_answers_as_the_four_did(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, detail: bool
) -> None:
    store = chdb_store(tmp_path / "chdb")
    store.open()
    try:
        sid, _ = await _load(store, now_ms() - 60_000)
        recording = Recording(store.tx)
        store._tx = recording
        view = store.get_session(sid) if detail else store.get_session_overview(sid)
        store._tx = recording.tx
        # the same rows read from the four tables, as the release before version 12 did
        monkeypatch.setattr(ch_timeline, "BY_SESSION", TIMELINE_IN_SOURCES)
        before = store.get_session(sid) if detail else store.get_session_overview(sid)
    finally:
        store.close()
    own = _own(view)
    assert own == _own(before)
    assert [n["start_ms"] for n in own["network"]] == sorted(n["start_ms"] for n in own["network"])
    assert len(own["network"]) == 3 and len(own["console"]) == 2 and len(own["track"]) == 1
    assert [c["message"] for c in own["console"]] == ["first", 'quoted "text"\nand a line']
    assert own["console"][1]["args"] == ["a", 1] and own["track"][0]["properties"] == {"total": 3}
    assert len(own["errors"]) == 1 and len(own["backend_errors"]) == 1
    assert all(isinstance(e["id"], int) for e in own["errors"] + own["backend_errors"])
    assert ("detail" in own["network"][0]) is detail
    assert ("attributes" in own["backend_errors"][0]) is detail
    reads = " ".join(recording.statements)
    assert reads.count("FROM session_timeline") == 1
    for table in ("console", "track_events", "errors WHERE session_id"):
        assert f"FROM {table}" not in reads, table


async def test_a_batch_retried_after_a_part_way_failure_is_stored_once(tmp_path: Path) -> None:
    """The batch's own row is written last: a retry after a failure part-way is written
    again, table by table, with the batch's token; every copy is dropped as a duplicate."""
    store = chdb_store(tmp_path / "chdb")
    store.open()
    try:
        sid, batch = await _load(store, now_ms() - 60_000)
        store.tx.command(
            "DELETE FROM batches WHERE session_id = {sid:String}", {"sid": sid}, NO_LIMIT
        )
        assert await store.write_browser(batch, 1)  # not refused: written again
        stored = store.tx.query(
            "SELECT kind, count() FROM session_timeline WHERE session_id = {sid:String} "
            "GROUP BY kind ORDER BY kind",
            {"sid": sid},
            NO_LIMIT,
        )
        view = store.get_session_overview(sid)
    finally:
        store.close()
    assert stored == [[1, 3], [2, 2], [3, 1], [4, 2]]
    own = _own(view)
    assert (len(own["network"]), len(own["console"]), len(own["errors"])) == (3, 2, 1)


def test_each_kind_expires_at_its_own_tables_retention() -> None:
    both = ch_timeline.ttl_clause(Layout(ttl_days=30, replay_ttl_days=7))
    assert "+ INTERVAL 7 DAY DELETE WHERE kind IN (1, 2, 3)" in both
    assert "+ INTERVAL 30 DAY DELETE WHERE kind NOT IN (1, 2, 3)" in both
    assert ch_timeline.ttl_clause(Layout(ttl_days=30)).count("INTERVAL 30 DAY") == 2
    only_replays = ch_timeline.ttl_clause(Layout(ttl_days=0, replay_ttl_days=7))
    assert "INTERVAL 7 DAY" in only_replays and "NOT IN" not in only_replays
    assert ch_timeline.ttl_clause(Layout()) == ""
    assert f"ALTER TABLE session_timeline MODIFY{both}" in ttl_statements(
        Layout(ttl_days=30, replay_ttl_days=7)
    )


async def test_the_purge_takes_the_copies_with_their_rows(tmp_path: Path) -> None:
    store = chdb_store(tmp_path / "chdb")
    store.open()
    try:
        cutoff_ms = now_ms() - 40 * DAY_MS
        old_sid, _ = await _load(store, cutoff_ms - 60_000)
        new_sid, _ = await _load(store, cutoff_ms + 60_000)
        store.purge_before(cutoff_ms)
        left = store.tx.query("SELECT DISTINCT session_id FROM session_timeline", settings=NO_LIMIT)
        sources = store.tx.query(
            "SELECT DISTINCT session_id FROM (SELECT session_id FROM network UNION ALL "
            "SELECT session_id FROM console UNION ALL SELECT session_id FROM track_events "
            "UNION ALL SELECT assumeNotNull(session_id) FROM errors "
            "WHERE session_id IS NOT NULL)",
            settings=NO_LIMIT,
        )
    finally:
        store.close()
    assert left == sources == [[new_sid]]
    assert old_sid != new_sid


async def test_a_stored_copy_of_any_shape_is_read_or_skipped(tmp_path: Path) -> None:
    store = chdb_store(tmp_path / "chdb")
    store.open()
    try:
        sid, _ = await _load(store, now_ms() - 60_000)
        before = _own(store.get_session(sid))
        for kind, row in [
            (9, "[1]"),  # a kind of no table
            (1, "not json"),
            (1, '{"id": 1}'),  # not an array
            (2, '["too", "short"]'),
            (2, "[" * 100_000),
            (4, '["x", null, "nan", 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]'),  # any values
            (4, "[null, null, null, null, 2, 3, 4, 5, 6, 7, 8, 9, 10, null, 12]"),
        ]:
            store.tx.command(
                "INSERT INTO session_timeline (session_id, kind, ts, purge_ms, rank, row) "
                "SELECT {sid:String}, {kind:UInt8}, 0, 0, 0, {row:String}",
                {"sid": sid, "kind": kind, "row": row},
            )
        after = _own(store.get_session(sid))
    finally:
        store.close()
    assert after["network"] == before["network"] and after["console"] == before["console"]
    assert len(after["errors"]) + len(after["backend_errors"]) == 4  # the odd ones as well
