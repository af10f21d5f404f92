"""``backlight doctor`` against real local servers with good and bad CORS settings."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest

from backlight_server.doctor.origins import site_of, traced_by_default
from backlight_server.testing import BacklightProcess
from bltest import batch, network_entry, request_id, session_id

ORIGIN = "http://app.shop.test"


def cors_api(allow_origin: str | None, allow_headers: str | None) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        def do_OPTIONS(self) -> None:
            self.send_response(204)
            if allow_origin is not None:
                self.send_header("Access-Control-Allow-Origin", allow_origin)
            if allow_headers is not None:
                self.send_header("Access-Control-Allow-Headers", allow_headers)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


@pytest.fixture
def good_api() -> Iterator[str]:
    server = cors_api(ORIGIN, "content-type, x-highlight-request, traceparent, baggage")
    yield f"http://localhost:{server.server_address[1]}/api/cart"
    server.shutdown()


@pytest.fixture
def bad_api() -> Iterator[str]:
    server = cors_api("http://elsewhere.test", "content-type")
    yield f"http://localhost:{server.server_address[1]}/api/cart"
    server.shutdown()


def doctor(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "backlight_server", "doctor", *args],
        text=True,
        capture_output=True,
        timeout=60,
        check=False,
    )


def test_site_rules() -> None:
    assert site_of("app.example.com") == "example.com"
    assert site_of("a.b.example.co.uk") == "example.co.uk"
    assert site_of("alice.github.io") == "alice.github.io"
    assert site_of("127.0.0.1") == "127.0.0.1"
    assert traced_by_default("https://app.example.com", "https://api.example.com/x")[0]
    assert traced_by_default("https://app.example.com", "https://example.com/x")[0]
    assert not traced_by_default("https://a.github.io", "https://b.github.io/x")[0]
    assert not traced_by_default("https://app.example.com", "https://api.other.com/x")[0]
    assert traced_by_default("https://app.example.com", "/relative")[0]


def test_doctor_all_good(backlight_process: BacklightProcess, good_api: str) -> None:
    server = backlight_process.start()
    sid, rid = session_id(), request_id()
    httpx.post(
        server.url + "/ingest/v1/batch",
        json=batch(server.project, sid, 0, network=[network_entry(rid)]),
    )
    httpx.post(
        server.url + "/v1/traces",
        content=_span_for(server.project, rid),
        headers={"content-type": "application/x-protobuf"},
    )
    out = doctor("--origin", ORIGIN, good_api, "--server", server.url, "--token", server.token)
    assert out.returncode == 0, out.stdout
    assert "[ok] CORS preflight" in out.stdout
    assert "[ok] tracingOrigins: true" in out.stdout  # localhost is always traced
    assert "[ok] a browser request linked to backend data" in out.stdout


def test_doctor_reports_bad_cors_and_missing_data(
    backlight_process: BacklightProcess, bad_api: str
) -> None:
    server = backlight_process.start()
    out = doctor("--origin", ORIGIN, bad_api, "--server", server.url, "--token", server.token)
    assert out.returncode == 1
    assert "[FAIL] CORS preflight" in out.stdout
    assert "does not allow x-highlight-request, traceparent" in out.stdout
    assert "not http://app.shop.test" in out.stdout
    assert "[FAIL] browser sessions" in out.stdout
    # loopback only: another address of the loopback range is another site
    far = doctor(
        "--origin",
        "http://127.0.0.2:8000",
        "http://127.0.0.3:9/x",
        "--server",
        "http://127.0.0.1:9",
    )
    assert far.returncode == 1
    assert "would NOT be traced" in far.stdout
    assert "not reachable" in far.stdout
    assert "[FAIL] CORS preflight" in far.stdout


def _span_for(project: str, rid: str) -> bytes:
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
        ExportTraceServiceRequest,
    )

    req = ExportTraceServiceRequest()
    rs = req.resource_spans.add()
    kv = rs.resource.attributes.add()
    kv.key, kv.value.string_value = "highlight.project_id", project
    span = rs.scope_spans.add().spans.add()
    span.trace_id, span.span_id, span.name = bytes.fromhex(rid), b"\x01" * 8, "GET /api/cart"
    span.start_time_unix_nano = time.time_ns() - 5_000_000
    span.end_time_unix_nano = time.time_ns()
    return req.SerializeToString()
