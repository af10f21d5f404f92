"""OTLP over gRPC with gzip, from the real OpenTelemetry SDK's gRPC exporters, into a real
``backlight serve``; the data links exactly like OTLP/HTTP data."""

from __future__ import annotations

import logging
import warnings
from pathlib import Path

import grpc
import pytest
from opentelemetry.exporter.otlp.proto.grpc._log_exporter import OTLPLogExporter
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2, trace_service_pb2_grpc
from opentelemetry.sdk._logs import LoggerProvider, LoggingHandler
from opentelemetry.sdk._logs.export import BatchLogRecordProcessor
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor

from backlight_server.testing import BacklightProcess, free_port
from bltest import request_id, session_id, wait_for


def test_grpc_export_with_gzip_links(tmp_path: Path) -> None:
    port = free_port()
    with BacklightProcess(tmp_path, args=["--otlp-grpc-port", str(port)]) as server:
        endpoint = f"127.0.0.1:{port}"
        resource = Resource.create(
            {"service.name": "grpc-svc", "highlight.project_id": server.project}
        )
        tp = TracerProvider(resource=resource)
        tp.add_span_processor(
            BatchSpanProcessor(
                OTLPSpanExporter(
                    endpoint=endpoint, insecure=True, compression=grpc.Compression.Gzip
                )
            )
        )
        lp = LoggerProvider(resource=resource)
        lp.add_log_record_processor(
            BatchLogRecordProcessor(
                OTLPLogExporter(endpoint=endpoint, insecure=True, compression=grpc.Compression.Gzip)
            )
        )
        logger = logging.getLogger("grpc-test")
        logger.propagate = False
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            logger.addHandler(LoggingHandler(logger_provider=lp))
        sid, rid = session_id(), request_id()
        link = {"highlight.session_id": sid, "highlight.trace_id": rid}
        with tp.get_tracer("t").start_as_current_span("GET /grpc", attributes=link) as span:
            logger.warning("over grpc", extra=link)
            try:
                raise ZeroDivisionError("division by zero")
            except ZeroDivisionError as exc:
                span.record_exception(exc)
        assert tp.force_flush(10_000)
        assert lp.force_flush(10_000)
        tp.shutdown()
        lp.shutdown()
        view = wait_for(
            lambda: (lambda v: v if v["logs"] and v["errors"] else None)(
                server.api(f"/api/v1/requests/{rid}")
            )
        )
        assert view["span_count"] == 1
        assert view["spans"][0]["session_id"] == sid
        assert view["logs"][0]["body"] == "over grpc"
        assert view["errors"][0]["type"] == "ZeroDivisionError"

        with grpc.insecure_channel(endpoint) as channel:
            stub = trace_service_pb2_grpc.TraceServiceStub(channel)
            req = trace_service_pb2.ExportTraceServiceRequest()
            rs = req.resource_spans.add()
            kv = rs.resource.attributes.add()
            kv.key, kv.value.string_value = "highlight.project_id", "ghost777"
            s = rs.scope_spans.add().spans.add()
            s.trace_id, s.span_id, s.name = b"\x01" * 16, b"\x02" * 8, "x"
            with pytest.raises(grpc.RpcError) as info:
                stub.Export(req, timeout=10)
            assert info.value.code() == grpc.StatusCode.NOT_FOUND
            assert "ghost777" in (info.value.details() or "")
        assert server.api("/healthz") == {"ok": True, "queue_depth": 0}
