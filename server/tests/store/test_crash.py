"""SIGKILL during sustained ingest: every batch answered 2xx is there after a restart."""

from __future__ import annotations

import secrets
import sqlite3
import threading
import time

import httpx
import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from backlight_server.testing import BacklightProcess
from bltest import batch, session_id

SPANS_PER_REQUEST = 50


def _payload(project: str) -> tuple[bytes, str]:
    req = ExportTraceServiceRequest()
    rs = req.resource_spans.add()
    attr = rs.resource.attributes.add()
    attr.key, attr.value.string_value = "highlight.project_id", project
    trace_id = secrets.token_bytes(16)
    spans = rs.scope_spans.add()
    for i in range(SPANS_PER_REQUEST):
        span = spans.spans.add()
        span.trace_id, span.span_id = trace_id, secrets.token_bytes(8)
        now = time.time_ns()
        span.name, span.start_time_unix_nano, span.end_time_unix_nano = f"s{i}", now, now + 1
    return req.SerializeToString(), trace_id.hex()


@pytest.mark.sqlite_only
@pytest.mark.slow
def test_acknowledged_batches_survive_sigkill(backlight_process: BacklightProcess) -> None:
    server = backlight_process.start()
    project = server.project
    acked_traces: list[str] = []
    acked_batches: list[tuple[str, int]] = []
    stop = threading.Event()

    def spans_worker() -> None:
        with httpx.Client(base_url=server.url, timeout=5) as client:
            while not stop.is_set():
                body, trace_id = _payload(project)
                try:
                    r = client.post(
                        "/v1/traces",
                        content=body,
                        headers={"content-type": "application/x-protobuf"},
                    )
                except httpx.TransportError:
                    return
                if r.status_code == 200:
                    acked_traces.append(trace_id)

    def browser_worker() -> None:
        sid, seq = session_id(), 0
        with httpx.Client(base_url=server.url, timeout=5) as client:
            while not stop.is_set():
                body = batch(
                    project,
                    sid,
                    seq,
                    events=[{"type": 3, "data": {}, "timestamp": time.time() * 1000}],
                )
                try:
                    r = client.post("/ingest/v1/batch", json=body)
                except httpx.TransportError:
                    return
                if r.status_code == 200:
                    acked_batches.append((sid, seq))
                    seq += 1

    threads = [threading.Thread(target=spans_worker) for _ in range(3)]
    threads.append(threading.Thread(target=browser_worker))
    for t in threads:
        t.start()
    deadline = time.monotonic() + 20
    while len(acked_traces) < 60 and time.monotonic() < deadline:
        time.sleep(0.05)
    server.kill()  # SIGKILL while the workers are still sending
    stop.set()
    for t in threads:
        t.join(timeout=10)
    assert len(acked_traces) >= 60
    assert acked_batches

    server.start()  # same data dir: recovery from the WAL
    db = sqlite3.connect(f"file:{server.data_dir / 'backlight.db'}?mode=ro", uri=True)
    counts = dict(db.execute("SELECT trace_id, count(*) FROM spans GROUP BY trace_id").fetchall())
    missing = [t for t in acked_traces if counts.get(t) != SPANS_PER_REQUEST]
    assert not missing, f"{len(missing)} acknowledged batches lost or partial"
    stored = set(db.execute("SELECT session_id, seq FROM batches").fetchall())
    assert set(acked_batches) <= stored
    chunks = db.execute("SELECT count(*) FROM replay_chunks").fetchone()[0]
    assert chunks == len(stored)
    db.close()
