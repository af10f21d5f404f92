"""OTLP over gRPC (the highlight-io Python SDK's default), on its own port.

It shares the pipeline and the writer with OTLP/HTTP: the same conversion, the same
project rules, and an answer only once the data is committed. gzip is handled by grpcio.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import grpc
from opentelemetry.proto.collector.logs.v1 import logs_service_pb2, logs_service_pb2_grpc
from opentelemetry.proto.collector.metrics.v1 import metrics_service_pb2, metrics_service_pb2_grpc
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2, trace_service_pb2_grpc

from backlight_server.errors import ClientError
from backlight_server.pipeline.otlp import Conversion, convert_logs, convert_traces
from backlight_server.state import AppState

log = logging.getLogger("backlight.grpc")
_CODES = {400: grpc.StatusCode.INVALID_ARGUMENT, 404: grpc.StatusCode.NOT_FOUND,
          503: grpc.StatusCode.UNAVAILABLE}


def _project(context: grpc.ServicerContext) -> str | None:
    for key, value in context.invocation_metadata():
        if key == "x-highlight-project" and isinstance(value, str):
            return value.strip()[:64] or None
    return None


def _store(state: AppState, conv: Conversion, weight: int) -> None:
    refusal = conv.refusal()
    if refusal is not None:
        raise refusal
    if conv.batch.size():
        state.store.write_telemetry_sync(conv.batch, weight)
    state.metrics.count_conversion(conv)


def _export(state: AppState, request: Any, context: grpc.ServicerContext, kind: str) -> Any:
    convert = convert_traces if kind == "traces" else convert_logs
    try:
        conv = convert(request, _project(context), state.store.project_exists)
        _store(state, conv, request.ByteSize())
    except ClientError as err:
        state.metrics.rejected.labels(err.code).inc()
        context.abort(_CODES.get(err.status, grpc.StatusCode.INVALID_ARGUMENT),
                      f"{err.code}: {err.detail}")
    if kind == "traces":
        resp: Any = trace_service_pb2.ExportTraceServiceResponse()
        if conv.rejected:
            resp.partial_success.rejected_spans = conv.rejected
    else:
        resp = logs_service_pb2.ExportLogsServiceResponse()
        if conv.rejected:
            resp.partial_success.rejected_log_records = conv.rejected
    if conv.rejected:
        resp.partial_success.error_message = conv.error_message()
    return resp


class _Traces(trace_service_pb2_grpc.TraceServiceServicer):
    def __init__(self, state: AppState) -> None:
        self.state = state

    def Export(self, request: Any, context: grpc.ServicerContext) -> Any:
        return _export(self.state, request, context, "traces")


class _Logs(logs_service_pb2_grpc.LogsServiceServicer):
    def __init__(self, state: AppState) -> None:
        self.state = state

    def Export(self, request: Any, context: grpc.ServicerContext) -> Any:
        return _export(self.state, request, context, "logs")


class _Metrics(metrics_service_pb2_grpc.MetricsServiceServicer):
    def __init__(self, state: AppState) -> None:
        self.state = state

    def Export(self, request: Any, context: grpc.ServicerContext) -> Any:
        self.state.metrics.rejected.labels("metrics_dropped").inc()
        return metrics_service_pb2.ExportMetricsServiceResponse()


def start_grpc(state: AppState, host: str, port: int) -> grpc.Server:
    """Serve OTLP/gRPC on ``host:port``; raise SystemExit with advice if the port is taken."""
    cap = state.settings.max_decompressed_bytes
    server = grpc.server(ThreadPoolExecutor(max_workers=4, thread_name_prefix="otlp-grpc"),
                         options=[("grpc.max_receive_message_length", cap)])
    # the generated registration functions carry no type hints
    registrations: list[tuple[Callable[[Any, grpc.Server], None], Any]] = [
        (trace_service_pb2_grpc.add_TraceServiceServicer_to_server, _Traces(state)),
        (logs_service_pb2_grpc.add_LogsServiceServicer_to_server, _Logs(state)),
        (metrics_service_pb2_grpc.add_MetricsServiceServicer_to_server, _Metrics(state)),
    ]
    for register, servicer in registrations:
        register(servicer, server)
    try:
        bound = server.add_insecure_port(f"{host}:{port}")
    except RuntimeError:
        bound = 0
    if not bound:
        raise SystemExit(f"cannot listen for OTLP/gRPC on {host}:{port} (in use?); choose "
                         "another --otlp-grpc-port, or 0 to turn gRPC off")
    server.start()
    log.info("OTLP/gRPC listening on %s:%d", host, bound)
    return server
