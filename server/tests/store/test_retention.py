"""The retention purge removes old data of every kind and keeps recent data."""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import cast

import blstores
import httpx
import pytest
from fastapi import FastAPI

from backlight_server.app import Purger
from backlight_server.pipeline.model import LogRecord, SpanRecord, TelemetryBatch
from backlight_server.store.base import Health, Store
from bltest import AUTH, batch, network_entry, request_id, session_id

DAY_MS = 86_400_000


def _telemetry(project: str, ts_ms: float, rid: str) -> TelemetryBatch:
    ns = int(ts_ms * 1e6)
    return TelemetryBatch(
        spans=[
            SpanRecord(
                project,
                rid,
                "ab" * 8,
                None,
                "op",
                1,
                ns,
                ns + 1000,
                0,
                None,
                "svc",
                None,
                None,
                rid,
                None,
                None,
            )
        ],
        logs=[
            LogRecord(project, ns, rid, None, 9, "info", f"log {rid}", "svc", None, None, rid, None)
        ],
    )


async def test_purge_before_cutoff(app: FastAPI, client: httpx.AsyncClient, project: str) -> None:
    store = app.state.backlight.store
    now = time.time() * 1000
    old_sid, new_sid, old_rid, new_rid = session_id(), session_id(), request_id(), request_id()
    old_net = {**network_entry(old_rid), "start": now - 40 * DAY_MS, "end": now - 40 * DAY_MS}
    await client.post(
        "/ingest/v1/batch",
        json=batch(
            project,
            old_sid,
            0,
            network=[old_net],
            events=[{"type": 3, "data": {}, "timestamp": now - 40 * DAY_MS}],
            errors=[{"ts": now - 40 * DAY_MS, "type": "Old", "message": "old"}],
        ),
    )
    await client.post(
        "/ingest/v1/batch",
        json=batch(
            project,
            new_sid,
            0,
            network=[network_entry(new_rid)],
            events=[{"type": 3, "data": {}, "timestamp": now}],
        ),
    )
    await store.write_telemetry(_telemetry(project, now - 40 * DAY_MS, old_rid), 1)
    await store.write_telemetry(_telemetry(project, now, new_rid), 1)

    removed = store.purge_before(now - 30 * DAY_MS)
    assert removed >= 6  # rows of the session, its batch, replay, request, error, span, log

    async def get(path: str) -> httpx.Response:
        return await client.get(path, headers=AUTH)

    assert (await get(f"/api/v1/sessions/{old_sid}")).status_code == 404
    assert (await get(f"/api/v1/sessions/{new_sid}")).status_code == 200
    old_view = (await get(f"/api/v1/requests/{old_rid}")).json()
    assert old_view["span_count"] == 0
    assert old_view["logs"] == []
    new_view = (await get(f"/api/v1/requests/{new_rid}")).json()
    assert new_view["span_count"] == 1
    assert len(new_view["logs"]) == 1
    groups = (await get("/api/v1/error-groups")).json()["groups"]
    assert [g for g in groups if g["type"] == "Old"] == []
    assert (await get(f"/api/v1/logs?q=log+{old_rid}")).json()["logs"] == []


def _failed(caplog: pytest.LogCaptureFixture) -> bool:
    return any("retention purge failed" in r.getMessage() for r in caplog.records)


def test_the_purge_thread_ends_quietly_when_its_store_was_closed_without_a_shutdown(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """An app built without its lifespan (tests do) closes the store under the purge thread:
    the thread ends, and logs no failure, instead of failing every hour."""
    with blstores.opened_store(blstores.env_kind(), tmp_path) as store:
        pass  # closed now
    purger = Purger(store, days=1, first_delay_s=0.01)
    with caplog.at_level(logging.ERROR, logger="backlight"):
        purger.start()
        purger._thread.join(timeout=10)
        assert not purger._thread.is_alive()
    assert [r for r in caplog.records if r.thread == purger._thread.ident] == []


def test_the_purge_thread_logs_a_failure_of_an_open_store(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """The control: a purge that fails on an open store is logged, and the thread goes on."""

    class Failing:
        def __init__(self, store: Store) -> None:
            self.store = store

        def lease(self, *_: object) -> bool:
            raise RuntimeError("disk gone")

        def health(self) -> Health:
            return self.store.health()

    with blstores.opened_store(blstores.env_kind(), tmp_path) as store:
        purger = Purger(cast(Store, Failing(store)), days=1, first_delay_s=0.01)
        with caplog.at_level(logging.ERROR, logger="backlight"):
            purger.start()
            deadline = time.monotonic() + 10
            while not _failed(caplog) and time.monotonic() < deadline:
                time.sleep(0.01)
            assert purger._thread.is_alive()
            purger.stop()
        assert _failed(caplog)
