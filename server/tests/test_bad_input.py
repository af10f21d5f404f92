"""Hostile and malformed input: each gets a clear 4xx, the server stays healthy, and the data
stored before is unchanged. Runs against a real ``backlight serve`` process."""

from __future__ import annotations

import gzip
import sqlite3
import time
from typing import Any

import httpx
import orjson
import pytest

from backlight_server.testing import BacklightProcess
from bltest import batch, network_entry, request_id, rrweb_events, session_id, session_start

SID = "Zz9yXx8wVv7uUu6tTt5sSs4rRr3q"
JSON = {"content-type": "application/json"}
PB = {"content-type": "application/x-protobuf"}


def _cases(project: str) -> list[tuple[str, str, bytes, dict[str, str], int, str]]:
    ok = batch(project, SID, 99, network=[network_entry(request_id())])
    nested = b"[" * 5000 + b"]" * 5000

    def j(obj: Any) -> bytes:
        return orjson.dumps(obj)

    bomb = gzip.compress(b"{" + b" " * (64 * 1024 * 1024) + b"}")
    return [
        ("not json", "/ingest/v1/batch", b"{", JSON, 400, "invalid_json"),
        ("json array", "/ingest/v1/batch", b"[1,2]", JSON, 400, "invalid_json"),
        ("no version", "/ingest/v1/batch", j({**ok, "v": None}), JSON, 400, "unsupported_version"),
        (
            "future version",
            "/ingest/v1/session",
            j({**ok, "v": 2}),
            JSON,
            400,
            "unsupported_version",
        ),
        (
            "gzip header, plain body",
            "/ingest/v1/batch",
            j(ok),
            {**JSON, "content-encoding": "gzip"},
            400,
            "invalid_gzip",
        ),
        (
            "truncated gzip",
            "/ingest/v1/batch",
            gzip.compress(j(ok))[:-12],
            {**JSON, "content-encoding": "gzip"},
            400,
            "invalid_gzip",
        ),
        (
            "gzip bomb",
            "/ingest/v1/batch",
            bomb,
            {**JSON, "content-encoding": "gzip"},
            413,
            "decompressed_too_large",
        ),
        (
            "oversized body",
            "/ingest/v1/batch",
            b" " * (6 * 1024 * 1024),
            JSON,
            413,
            "body_too_large",
        ),
        (
            "wrong content type",
            "/ingest/v1/batch",
            j(ok),
            {"content-type": "application/xml"},
            415,
            "unsupported_media_type",
        ),
        (
            "unknown encoding",
            "/ingest/v1/batch",
            j(ok),
            {**JSON, "content-encoding": "br"},
            415,
            "unsupported_encoding",
        ),
        (
            "unknown project",
            "/ingest/v1/batch",
            j({**ok, "project_id": "nosuchp1"}),
            JSON,
            404,
            "unknown_project",
        ),
        (
            "path-like session id",
            "/ingest/v1/batch",
            j({**ok, "session_secure_id": "../../etc/passwd"}),
            JSON,
            400,
            "invalid_field",
        ),
        ("negative seq", "/ingest/v1/batch", j({**ok, "seq": -1}), JSON, 400, "invalid_field"),
        (
            "event without type",
            "/ingest/v1/batch",
            j({**ok, "events": [{"type": "x", "timestamp": 1}]}),
            JSON,
            400,
            "invalid_event",
        ),
        (
            "too many events",
            "/ingest/v1/batch",
            j({**ok, "events": [{"type": 3, "timestamp": 1}] * 20_001}),
            JSON,
            413,
            "too_many_items",
        ),
        (
            "CRLF in request id",
            "/ingest/v1/batch",
            j({**ok, "network": [network_entry("abc\r\nx-evil: 1")]}),
            JSON,
            400,
            "invalid_field",
        ),
        (
            "valid network, bad console",
            "/ingest/v1/batch",
            j({**ok, "console": [{"ts": 1, "level": "shout", "message": "x"}]}),
            JSON,
            400,
            "invalid_field",
        ),
        (
            "timestamp out of range",
            "/ingest/v1/batch",
            j({**ok, "console": [{"ts": 1e300, "level": "log", "message": "x"}]}),
            JSON,
            400,
            "invalid_field",
        ),
        (
            "url is a number",
            "/ingest/v1/session",
            j({**session_start(project, SID), "url": 5}),
            JSON,
            400,
            "invalid_field",
        ),
        ("deeply nested json", "/ingest/v1/batch", nested, JSON, 400, "invalid_json"),
        (
            "protobuf garbage",
            "/v1/traces",
            b"\xff\xff\xff\xff\x0f garbage",
            PB,
            400,
            "invalid_protobuf",
        ),
        (
            "otlp json with bad hex id",
            "/v1/traces",
            j(
                {
                    "resourceSpans": [
                        {"scopeSpans": [{"spans": [{"traceId": "zz", "spanId": "00"}]}]}
                    ]
                }
            ),
            JSON,
            400,
            "invalid_json",
        ),
        ("span time past 2^63", "/v1/traces", _far_future_span(project), PB, 400, "invalid_data"),
        (
            "otlp as text/plain",
            "/v1/logs",
            b"hello",
            {"content-type": "text/plain"},
            415,
            "unsupported_media_type",
        ),
        (
            "otlp gzip bomb",
            "/v1/logs",
            bomb,
            {**PB, "content-encoding": "gzip"},
            413,
            "decompressed_too_large",
        ),
    ]


def _far_future_span(project: str) -> bytes:
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
        ExportTraceServiceRequest,
    )

    req = ExportTraceServiceRequest()
    rs = req.resource_spans.add()
    kv = rs.resource.attributes.add()
    kv.key, kv.value.string_value = "highlight.project_id", project
    span = rs.scope_spans.add().spans.add()
    span.trace_id, span.span_id, span.name = b"\x05" * 16, b"\x06" * 8, "future"
    span.start_time_unix_nano, span.end_time_unix_nano = 2**64 - 2, 2**64 - 1
    return req.SerializeToString()


def _snapshot(server: BacklightProcess, sid: str, rid: str) -> Any:
    session = server.api(f"/api/v1/sessions/{sid}")
    return (
        session,
        server.api(f"/api/v1/requests/{rid}"),
        server.api(f"/api/v1/sessions/{sid}/replay"),
    )


@pytest.mark.sqlite_only
@pytest.mark.slow
def test_hostile_inputs_get_4xx_and_change_nothing(backlight_process: BacklightProcess) -> None:
    server = backlight_process.start()
    project = server.project
    sid, rid = session_id(), request_id()
    httpx.post(server.url + "/ingest/v1/session", json=session_start(project, sid))
    r = httpx.post(
        server.url + "/ingest/v1/batch",
        json=batch(
            project,
            sid,
            0,
            events=rrweb_events(),
            network=[network_entry(rid)],
            errors=[{"ts": time.time() * 1000, "type": "Error", "message": "before"}],
        ),
    )
    assert r.status_code == 200
    before = _snapshot(server, sid, rid)

    cases = _cases(project)
    assert len(cases) >= 15
    with httpx.Client(base_url=server.url, timeout=60) as client:
        for name, path, body, headers, status, code in cases:
            r = client.post(path, content=body, headers=headers)
            assert r.status_code == status, (name, r.status_code, r.text[:300])
            if headers.get("content-type") == PB["content-type"]:
                from google.rpc import status_pb2

                assert code in status_pb2.Status.FromString(r.content).message, name
            else:
                assert r.json()["error"] == code, (name, r.text[:300])
                assert r.json()["detail"], name
            assert client.get("/healthz").json()["ok"] is True, name

    assert server.proc is not None
    assert server.proc.poll() is None
    assert _snapshot(server, sid, rid) == before
    db = sqlite3.connect(f"file:{server.data_dir / 'backlight.db'}?mode=ro", uri=True)
    stored = db.execute("SELECT count(*) FROM batches WHERE session_id = ?", (SID,)).fetchone()
    assert stored == (0,)
    assert db.execute("SELECT count(*) FROM sessions").fetchone() == (1,)
    db.close()
