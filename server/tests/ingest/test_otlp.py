"""OTLP/HTTP ingest: protobuf and JSON bodies built from real OpenTelemetry SDK data."""

from __future__ import annotations

import base64
import gzip
from typing import Any

import httpx
import orjson
from google.protobuf import json_format
from opentelemetry.exporter.otlp.proto.common._log_encoder import encode_logs
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import InMemoryLogRecordExporter, SimpleLogRecordProcessor
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from bltest import AUTH, session_id


def sdk_spans(
    project: str | None,
    service: str = "json-svc",
    n: int = 2,
    attributes: dict[str, Any] | None = None,
) -> ExportTraceServiceRequest:
    """Spans made by the real SDK, encoded by the SDK's own OTLP encoder."""
    res = {"service.name": service, **({"highlight.project_id": project} if project else {})}
    provider = TracerProvider(resource=Resource.create(res))
    memory = InMemorySpanExporter()
    provider.add_span_processor(SimpleSpanProcessor(memory))
    tracer = provider.get_tracer("t")
    for i in range(n):
        with tracer.start_as_current_span(f"op-{i}", attributes=attributes or {}):
            pass
    provider.shutdown()
    request: ExportTraceServiceRequest = encode_spans(memory.get_finished_spans())
    return request


def to_otlp_json(message: Any) -> bytes:
    """OTLP/JSON per the spec: protobuf JSON mapping, but ids as hex, not base64."""
    data = json_format.MessageToDict(message)

    def fix(node: Any) -> None:
        if isinstance(node, dict):
            for k, v in node.items():
                if k in ("traceId", "spanId", "parentSpanId") and isinstance(v, str):
                    node[k] = base64.b64decode(v).hex()
                else:
                    fix(v)
        elif isinstance(node, list):
            for item in node:
                fix(item)

    fix(data)
    return orjson.dumps(data)


async def test_json_traces_and_logs(client: httpx.AsyncClient, project: str) -> None:
    sid = session_id()
    req = sdk_spans(
        project, attributes={"highlight.session_id": sid, "highlight.trace_id": "abc123XYZ0"}
    )
    r = await client.post(
        "/v1/traces", content=to_otlp_json(req), headers={"content-type": "application/json"}
    )
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "application/json" and r.json() == {}
    view = (await client.get("/api/v1/requests/abc123XYZ0", headers=AUTH)).json()
    assert view["span_count"] == 2 and {s["session_id"] for s in view["spans"]} == {sid}

    provider = LoggerProvider(
        resource=Resource.create({"service.name": "json-logs", "highlight.project_id": project})
    )
    memory = InMemoryLogRecordExporter()
    provider.add_log_record_processor(SimpleLogRecordProcessor(memory))
    provider.get_logger("t").emit(
        body="json log line",
        severity_text="WARN",
        attributes={"highlight.session_id": sid, "highlight.trace_id": "abc123XYZ0"},
    )
    provider.shutdown()
    body = gzip.compress(to_otlp_json(encode_logs(memory.get_finished_logs())))
    r = await client.post(
        "/v1/logs",
        content=body,
        headers={"content-type": "application/json", "content-encoding": "gzip"},
    )
    assert r.status_code == 200, r.text
    view = (await client.get("/api/v1/requests/abc123XYZ0", headers=AUTH)).json()
    assert [lg["body"] for lg in view["logs"]] == ["json log line"]
    assert view["logs"][0]["level"] == "warn"


async def test_protobuf_partial_success_names_unknown_project(
    client: httpx.AsyncClient, project: str
) -> None:
    good = sdk_spans(project, "good", n=3)
    bad = sdk_spans("ghost999", "bad", n=2)
    good.resource_spans.extend(bad.resource_spans)
    r = await client.post(
        "/v1/traces",
        content=good.SerializeToString(),
        headers={"content-type": "application/x-protobuf"},
    )
    assert r.status_code == 200
    resp = ExportTraceServiceResponse.FromString(r.content)
    assert resp.partial_success.rejected_spans == 2
    assert "ghost999" in resp.partial_success.error_message


async def test_all_rejected_is_a_4xx_naming_the_project(client: httpx.AsyncClient) -> None:
    r = await client.post(
        "/v1/traces",
        content=sdk_spans("ghost999").SerializeToString(),
        headers={"content-type": "application/x-protobuf"},
    )
    assert r.status_code == 404
    from google.rpc import status_pb2

    assert "ghost999" in status_pb2.Status.FromString(r.content).message
    r = await client.post(
        "/v1/traces",
        content=to_otlp_json(sdk_spans("ghost999")),
        headers={"content-type": "application/json"},
    )
    assert r.status_code == 404 and "ghost999" in r.json()["detail"]
    r = await client.post(
        "/v1/traces",
        content=to_otlp_json(sdk_spans(None)),
        headers={"content-type": "application/json"},
    )
    assert r.status_code == 400 and r.json()["error"] == "missing_project"


async def test_project_from_header(client: httpx.AsyncClient, project: str) -> None:
    req = sdk_spans(None, "header-svc", n=1)
    trace_id = req.resource_spans[0].scope_spans[0].spans[0].trace_id.hex()
    r = await client.post(
        "/v1/traces",
        content=req.SerializeToString(),
        headers={"content-type": "application/x-protobuf", "x-highlight-project": project},
    )
    assert r.status_code == 200
    view = (await client.get(f"/api/v1/traces/{trace_id}", headers=AUTH)).json()
    assert view["span_count"] == 1 and view["spans"][0]["service"] == "header-svc"


async def test_metrics_are_accepted_and_dropped(client: httpx.AsyncClient) -> None:
    r = await client.post(
        "/v1/metrics", content=b"", headers={"content-type": "application/x-protobuf"}
    )
    assert r.status_code == 200
    assert 'reason="metrics_dropped"' in (await client.get("/metrics", headers=AUTH)).text
