"""A real full disk under a real ``backlight serve``: every ingest path answers 503 with
``Retry-After`` and a reason, ``/healthz`` says why, nothing is half-written, and it all
recovers by itself once space is freed."""

from __future__ import annotations

import secrets
import time
from pathlib import Path
from typing import Any

import grpc
import httpx
import pytest
from bl_mount import fill, tmpfs
from google.rpc import status_pb2
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2_grpc
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from backlight_server.testing import BacklightProcess, free_port
from bltest import (
    batch,
    network_entry,
    request_id,
    rrweb_events,
    session_id,
    session_start,
    wait_for,
)

IDENTIFY = """mutation identifySession($session_secure_id: String!, $user_identifier: String!,
  $user_object: Any) { identifySession(session_secure_id: $session_secure_id,
  user_identifier: $user_identifier, user_object: $user_object) }"""


def _spans(project: str, trace_id: str, n: int = 20) -> ExportTraceServiceRequest:
    req = ExportTraceServiceRequest()
    rs = req.resource_spans.add()
    attr = rs.resource.attributes.add()
    attr.key, attr.value.string_value = "highlight.project_id", project
    spans = rs.scope_spans.add()
    for i in range(n):
        span = spans.spans.add()
        span.trace_id, span.span_id = bytes.fromhex(trace_id), secrets.token_bytes(8)
        span.name = f"work {i} " + "x" * 2000
        span.start_time_unix_nano = time.time_ns()
        span.end_time_unix_nano = span.start_time_unix_nano + 100_000_000
    return req


def _otlp_json(project: str, trace_id: str) -> dict[str, Any]:
    now = time.time_ns()
    spans = [
        {
            "traceId": trace_id,
            "spanId": secrets.token_hex(8),
            "name": "json " + "y" * 2000,
            "startTimeUnixNano": str(now),
            "endTimeUnixNano": str(now + 100_000_000),
        }
        for _ in range(20)
    ]
    return {
        "resourceSpans": [
            {
                "resource": {
                    "attributes": [
                        {"key": "highlight.project_id", "value": {"stringValue": project}}
                    ]
                },
                "scopeSpans": [{"spans": spans}],
            }
        ]
    }


def _big_batch(project: str, sid: str, seq: int) -> dict[str, Any]:
    events = rrweb_events(50)
    events[1]["data"]["text"] = secrets.token_hex(40_000)  # ~80 KB that does not compress
    return batch(project, sid, seq, events=events, network=[network_entry(request_id())])


def _assert_storage_503(r: httpx.Response) -> None:
    assert r.status_code == 503, r.text
    assert r.headers["retry-after"].isdigit()
    body = r.json()
    assert body["error"] == "storage_unavailable"
    assert "disk full" in body["detail"]


@pytest.mark.sqlite_only
@pytest.mark.slow
def test_full_disk_answers_503_then_recovers(tmp_path: Path) -> None:
    grpc_port = free_port()
    with tmpfs(tmp_path / "mnt", size="24m") as mnt:
        # no alerts tick while the disk is full: its lease write could land in space a failed
        # commit freed and make the store look writable again
        args = ["--otlp-grpc-port", str(grpc_port), "--alert-interval-s", "3600"]
        server = BacklightProcess(mnt / "data", args=args)
        server.log_path = tmp_path / "server.log"  # the log must not share the full disk
        with server, httpx.Client(base_url=server.url, timeout=30) as client:
            project = server.project
            auth = {"Authorization": f"Bearer {server.token}"}
            # committed before the disk fills
            sid, kept_trace = session_id(), secrets.token_hex(16)
            assert (
                client.post("/ingest/v1/session", json=session_start(project, sid)).status_code
                == 200
            )
            assert (
                client.post("/ingest/v1/batch", json=_big_batch(project, sid, 0)).status_code == 200
            )
            r = client.post(
                "/v1/traces",
                content=_spans(project, kept_trace).SerializeToString(),
                headers={"content-type": "application/x-protobuf"},
            )
            assert r.status_code == 200, r.text

            filler = fill(mnt)

            # browser protocol
            refused = _big_batch(project, sid, 1)
            _assert_storage_503(client.post("/ingest/v1/batch", json=refused))
            _assert_storage_503(
                client.post("/ingest/v1/session", json=session_start(project, session_id()))
            )
            # OTLP/HTTP, JSON and protobuf (a google.rpc.Status, code 14 UNAVAILABLE)
            lost_trace = secrets.token_hex(16)
            _assert_storage_503(client.post("/v1/traces", json=_otlp_json(project, lost_trace)))
            r = client.post(
                "/v1/traces",
                content=_spans(project, lost_trace).SerializeToString(),
                headers={"content-type": "application/x-protobuf"},
            )
            assert r.status_code == 503
            assert r.headers["retry-after"].isdigit()
            status = status_pb2.Status.FromString(r.content)
            assert status.code == 14
            assert "storage_unavailable" in status.message and "disk full" in status.message
            # OTLP/gRPC
            with grpc.insecure_channel(f"127.0.0.1:{grpc_port}") as channel:
                stub = trace_service_pb2_grpc.TraceServiceStub(channel)
                with pytest.raises(grpc.RpcError) as failed:
                    stub.Export(_spans(project, lost_trace), timeout=30)
            assert failed.value.code() == grpc.StatusCode.UNAVAILABLE
            assert "disk full" in str(failed.value.details())
            # highlight.run's GraphQL: the resolver's error carries the code
            r = client.post(
                "/public",
                json={
                    "query": IDENTIFY,
                    "variables": {
                        "session_secure_id": sid,
                        "user_identifier": "ada@shop.test",
                        "user_object": {"note": secrets.token_hex(20_000)},
                    },
                },
            )
            errors = r.json()["errors"]
            assert errors[0]["extensions"]["code"] == "storage_unavailable"
            assert "disk full" in errors[0]["message"]

            health = client.get("/healthz")
            assert health.status_code == 503
            assert health.json()["ok"] is False
            assert health.json()["reason"].startswith("disk full")
            assert "backlight_storage_writable 0.0" in client.get("/metrics", headers=auth).text

            filler.unlink()
            # no traffic: the writer's probe notices the space on its own
            wait_for(lambda: client.get("/healthz").status_code == 200, timeout=20)
            assert client.get("/healthz").json()["ok"] is True
            assert "backlight_storage_writable 1.0" in client.get("/metrics", headers=auth).text

            # nothing of the refused requests was half-written: the batch is not a duplicate,
            # the lost trace is absent, the identify did not happen
            r = client.post("/ingest/v1/batch", json=refused)
            assert r.json() == {"ok": True, "duplicate": False}
            assert server.api(f"/api/v1/traces/{lost_trace}")["spans"] == []
            session = server.api(f"/api/v1/sessions/{sid}")
            assert session["session"]["identifier"] in (None, "")
            # and what was committed before is intact
            assert session["session"]["event_count"] == 100
            assert len(session["network"]) == 2
            kept = server.api(f"/api/v1/traces/{kept_trace}")["spans"]
            assert len(kept) == 20
            replay = server.api(f"/api/v1/sessions/{sid}/replay", limit=200)
            assert len(replay["events"]) == 100
    log = (tmp_path / "server.log").read_text()
    assert "Traceback" not in log, log[-3000:]
