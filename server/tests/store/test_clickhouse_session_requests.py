"""ClickHouse schema version 11 (issue 24): the requests a session's spans name, kept per
session in ``session_requests`` by a materialized view (``store/clickhouse/serverseen.py``).

- A folder made at version 10 with data gets the rows of its stored spans when it
  upgrades: its session view lists the same requests "seen by the server" as before.
- The view of a session reads no span to find them (only the root spans of those it
  lists); a row lives as long as its spans (TTL on their second; the purge drops whole
  seconds before the cutoff).
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
    hex_id,
    now_ms,
    request,
    session,
    span,
)

from backlight_server.pipeline.model import TelemetryBatch
from backlight_server.store.clickhouse import ClickhouseStore, schema
from backlight_server.store.clickhouse import migrations as ch_migrations
from backlight_server.store.clickhouse import serverseen as ch_serverseen
from backlight_server.store.clickhouse import timeline as ch_timeline
from backlight_server.store.clickhouse.schema import VERSIONS, Layout, ttl_statements
from backlight_server.store.clickhouse.transport import NO_LIMIT

SEC = 10**9


async def _load(store: ClickhouseStore) -> dict[str, str]:
    """A session with one fetch the browser recorded, and two requests only its backend
    saw (server spans carrying the session id), one of them over two seconds."""
    p = store.default_project()
    info = session(p)
    sid, t0 = info.secure_id, now_ms() - 60_000
    fetch, post, page = hex_id(16), hex_id(16), hex_id(16)
    await store.write_browser(browser(info, 0, network=[request(sid, fetch, t0)]), 1)
    ns = int(t0 * 1e6)
    await store.write_telemetry(
        TelemetryBatch(
            spans=[
                span(p, fetch, "api", session_id=sid, start_ns=ns),
                span(p, post, "web", session_id=sid, start_ns=ns + 2 * SEC),
                span(p, page, "web", session_id=sid, start_ns=ns + 5 * SEC),
                span(p, page, "web", session_id=sid, start_ns=ns + 7 * SEC),
                span(p, hex_id(16), "web", start_ns=ns),  # no session
            ]
        ),
        10,
    )
    return {"session": sid, "post": post, "page": page}


def _server_rows(view: dict[str, Any] | None) -> list[tuple[str, float]]:
    assert view is not None
    return [(n["request_id"], n["start_ms"]) for n in view["network"] if n["source"] == "server"]


async def test_a_folder_made_before_version_11_gets_the_rows_of_its_spans(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "chdb"
    # the previous release: its versions, its tables' TTLs, its requests read from spans
    monkeypatch.setattr(ch_migrations, "VERSIONS", VERSIONS[:10])
    newer = ("session_requests", "session_timeline")  # versions 11 and 12
    older = {k: v for k, v in schema.TTL_COLUMNS.items() if k not in newer}
    monkeypatch.setattr(schema, "TTL_COLUMNS", older)
    monkeypatch.setattr(ch_serverseen, "BY_SESSION", SESSION_REQUESTS_IN_SPANS)
    monkeypatch.setattr(ch_timeline, "BY_SESSION", TIMELINE_IN_SOURCES)
    old = chdb_store(folder)
    old.open()
    try:
        ids = await _load(old)
        before = _server_rows(old.get_session_overview(ids["session"]))
        tables = old.tx.query("SELECT name FROM system.tables WHERE name = 'session_requests'")
    finally:
        old.close()
    assert tables == [] and [r for r, _ in before] == [ids["post"], ids["page"]]
    monkeypatch.undo()
    new = chdb_store(folder)
    new.open()
    try:
        recording = Recording(new.tx)
        new._tx = recording
        view = new.get_session_overview(ids["session"])
        new._tx = recording.tx
        version = ch_migrations.current(new.tx)
    finally:
        new.close()
    assert version == len(VERSIONS) >= 11
    assert _server_rows(view) == before
    # only the listed requests' root spans are read from spans, by trace id
    spans = [s for s in recording.statements if "FROM spans" in s]
    assert len(spans) == 1 and "trace_id IN" in spans[0], spans


async def test_rows_go_with_their_spans(tmp_path: Path) -> None:
    lay = Layout(ttl_days=30)
    [table, *_] = ch_serverseen.version_11(lay)
    assert "TTL toDateTime(sec) + INTERVAL 30 DAY" in table
    assert "ALTER TABLE session_requests MODIFY TTL toDateTime(sec) + INTERVAL 30 DAY" in (
        ttl_statements(lay)
    )
    store = chdb_store(tmp_path / "chdb")
    store.open()
    try:
        p = store.default_project()
        info = session(p)
        sid = info.secure_id
        await store.write_browser(browser(info, 0), 1)
        cutoff_ms = now_ms() - 40 * 86_400_000
        old, new = hex_id(16), hex_id(16)
        await store.write_telemetry(
            TelemetryBatch(
                spans=[
                    span(p, old, "web", session_id=sid, start_ns=int((cutoff_ms - 9000) * 1e6)),
                    span(p, new, "web", session_id=sid, start_ns=int((cutoff_ms + 9000) * 1e6)),
                ]
            ),
            10,
        )
        store.purge_before(cutoff_ms)
        kept = store.tx.query("SELECT DISTINCT request_id FROM session_requests", settings=NO_LIMIT)
        view = store.get_session_overview(sid)
    finally:
        store.close()
    assert kept == [[new]]
    assert [r for r, _ in _server_rows(view)] == [new]
