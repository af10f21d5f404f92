"""SQLite's ``group_resolutions`` (read by the evaluator's ``#resolved`` cursor) is purged
with the outbox: rows older than the retention go, the newest stays so that the next
resolution's id stays above the cursor, and resolutions after the purge are still read."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

import pytest
from blstores import error

from backlight_server.pipeline.model import TelemetryBatch
from backlight_server.store.sqlite import SqliteStore

pytestmark = pytest.mark.sqlite_only


def _resolutions(path: Path) -> list[int]:
    with sqlite3.connect(path) as conn:
        return [int(i) for (i,) in conn.execute("SELECT id FROM group_resolutions ORDER BY id")]


async def test_old_resolutions_are_purged_and_the_cursor_still_reads_new_ones(
    tmp_path: Path,
) -> None:
    path = tmp_path / "backlight.db"
    store = SqliteStore(path, query_timeout_ms=30_000)
    store.open()
    try:
        p = store.default_project()
        _, cursor = store.alert_resolutions_after("", 100)
        kinds = ("KeyError", "OSError", "ValueError")
        await store.write_telemetry(
            TelemetryBatch(errors=[error(p, "x", error_type=k) for k in kinds]), 1
        )
        rows, _ = store.alert_errors_after(p, "0", 100)
        groups = sorted({int(r["group_id"]) for r in rows})
        for gid in groups:
            assert await store.set_error_group_state(gid, "resolved")
            assert await store.set_error_group_state(gid, "open")
        read, cursor = store.alert_resolutions_after(cursor, 100)
        assert len(read) == 3 and len(_resolutions(path)) == 3
        cutoff = time.time() * 1000 + 1
        store.purge_before(cutoff)
        assert _resolutions(path) == [int(read[-1]["id"])]  # the newest stays
        # the purge took the errors too (older than the cutoff): a new one, resolved
        await store.write_telemetry(TelemetryBatch(errors=[error(p, "y", error_type="E")]), 1)
        rows, _ = store.alert_errors_after(p, "0", 100)
        gid = int(rows[-1]["group_id"])
        assert await store.set_error_group_state(gid, "resolved")
        again, _ = store.alert_resolutions_after(cursor, 100)
        assert [int(r["group_id"]) for r in again] == [gid]
        assert int(again[0]["id"]) > int(read[-1]["id"])
    finally:
        store.close()
