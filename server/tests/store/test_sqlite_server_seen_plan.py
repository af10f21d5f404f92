"""Requests seen by the server in SQLite (issue 24): the session page's reads go through
the indexes made for them, whatever the data (the plan is read, nothing is timed)."""

from __future__ import annotations

from pathlib import Path

from backlight_server.store.sqlite import SqliteStore
from backlight_server.store.sqlite.serverseen import REQUESTS, ROOTS


def _plan(store: SqliteStore, sql: str, args: dict[str, object]) -> list[str]:
    with store._read() as conn:
        return [str(r[3]) for r in conn.execute("EXPLAIN QUERY PLAN " + sql, args)]


def test_the_session_reads_index_entries_and_the_roots_by_trace_and_request(
    tmp_path: Path,
) -> None:
    store = SqliteStore(tmp_path / "backlight.db")
    store.open()
    try:
        args: dict[str, object] = {"sid": "s", "known": "[]", "scan": 5, "limit": 5}
        requests = _plan(store, REQUESTS, args)
        roots = _plan(store, ROOTS, {"ids": "[]", "sid": "s", "n": 5})
    finally:
        store.close()
    # the session's spans from the covering partial index alone (migration 15)
    assert "SEARCH spans USING COVERING INDEX spans_session_requests (session_id=?)" in requests
    assert any(p.startswith("SEARCH errors USING INDEX errors_session") for p in requests)
    # not through the session's index, which holds every span of the session
    assert "SEARCH spans USING INDEX spans_trace (trace_id=?)" in roots
    assert "SEARCH spans USING INDEX spans_request (request_id=?)" in roots
    assert not any("spans_session" in p for p in roots), roots
