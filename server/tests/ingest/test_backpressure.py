"""A full write queue answers 503 with Retry-After and counts the rejection."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from backlight_server.app import create_app
from backlight_server.settings import Settings
from bltest import AUTH, TOKEN, batch, session_id, wait_for


@pytest.fixture
def small_queue_app(tmp_path: Path) -> Iterator[FastAPI]:
    app = create_app(
        Settings(
            data_dir=tmp_path,
            auth_token=TOKEN,
            retention_days=0,
            queue_max_jobs=1,
            otlp_grpc_port=0,
        )
    )
    yield app
    app.state.backlight.store.close()


async def test_full_queue_is_503_with_retry_after(small_queue_app: FastAPI) -> None:
    store = small_queue_app.state.backlight.store
    project = small_queue_app.state.backlight.default_project
    release = threading.Event()
    running = threading.Event()

    def blocker(_: object) -> None:
        running.set()
        release.wait(10)

    store.writer.submit(blocker)  # occupies the writer thread
    assert running.wait(5)
    store.writer.submit(lambda _: None)  # fills the one queue slot
    transport = httpx.ASGITransport(app=small_queue_app)
    async with httpx.AsyncClient(transport=transport, base_url="http://b") as client:
        sid = session_id()
        r = await client.post("/ingest/v1/batch", json=batch(project, sid, 0))
        assert r.status_code == 503
        assert r.headers["retry-after"] == "1"
        assert r.json()["error"] == "overloaded"
        metrics = (await client.get("/metrics", headers=AUTH)).text
        assert 'backlight_rejected_requests_total{reason="overloaded"} 1.0' in metrics
        release.set()
        wait_for(lambda: store.queue_depth() == 0, timeout=10)
        ok = await client.post("/ingest/v1/batch", json=batch(project, sid, 0))
        assert ok.status_code == 200
        assert ok.json()["duplicate"] is False
