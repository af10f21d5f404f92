"""OTLP over gRPC (the highlight-io Python SDK's default), on its own port.

It shares the pipeline and the writer with OTLP/HTTP: the same conversion, the same
project rules, and an answer only once the data is committed. gzip is handled by grpcio.

The port is bound without SO_REUSEPORT (grpcio sets it by default, which let a second
server bind the same port and take half the exports): a second server refuses to start,
checked by ``check_grpc_port`` before anything else is opened.
"""

from __future__ import annotations

import errno
import logging
import socket
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import grpc
from google.protobuf.message import DecodeError
from opentelemetry.proto.collector.logs.v1 import logs_service_pb2
from opentelemetry.proto.collector.metrics.v1 import metrics_service_pb2
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2

from backlight_server.errors import ClientError
from backlight_server.pipeline.otlp import Conversion, convert_logs, convert_traces
from backlight_server.state import AppState

log = logging.getLogger("backlight.grpc")
_CODES = {
    400: grpc.StatusCode.INVALID_ARGUMENT,
    404: grpc.StatusCode.NOT_FOUND,
    503: grpc.StatusCode.UNAVAILABLE,
}


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
        context.abort(
            _CODES.get(err.status, grpc.StatusCode.INVALID_ARGUMENT), f"{err.code}: {err.detail}"
        )
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


class _Invalid:
    """A request body that did not decode: answered INVALID_ARGUMENT by the servicer
    (grpcio would answer INTERNAL if the deserializer raised)."""

    def __init__(self, why: str) -> None:
        self.why = why


def _decoder(message_type: Any) -> Callable[[bytes], Any]:
    def decode(data: bytes) -> Any:
        try:
            return message_type.FromString(data)
        except (DecodeError, RecursionError, ValueError) as exc:
            return _Invalid(str(exc)[:200])

    return decode


def _servicer(state: AppState, kind: str) -> Callable[[Any, grpc.ServicerContext], Any]:
    def export(request: Any, context: grpc.ServicerContext) -> Any:
        if isinstance(request, _Invalid):
            state.metrics.rejected.labels("invalid_protobuf").inc()
            context.abort(
                grpc.StatusCode.INVALID_ARGUMENT,
                f"invalid_protobuf: not a valid OTLP {kind} message: {request.why}",
            )
        if kind == "metrics":
            state.metrics.rejected.labels("metrics_dropped").inc()
            return metrics_service_pb2.ExportMetricsServiceResponse()
        return _export(state, request, context, kind)

    return export


_SERVICES: dict[str, tuple[str, Any, Any]] = {
    "traces": (
        "opentelemetry.proto.collector.trace.v1.TraceService",
        trace_service_pb2.ExportTraceServiceRequest,
        trace_service_pb2.ExportTraceServiceResponse,
    ),
    "logs": (
        "opentelemetry.proto.collector.logs.v1.LogsService",
        logs_service_pb2.ExportLogsServiceRequest,
        logs_service_pb2.ExportLogsServiceResponse,
    ),
    "metrics": (
        "opentelemetry.proto.collector.metrics.v1.MetricsService",
        metrics_service_pb2.ExportMetricsServiceRequest,
        metrics_service_pb2.ExportMetricsServiceResponse,
    ),
}


IN_USE = "address in use: is another backlight serve running?"


def _taken(host: str, port: int, why: str) -> SystemExit:
    return SystemExit(
        f"backlight: cannot listen for OTLP/gRPC on {host}:{port} ({why}); "
        "choose another --otlp-grpc-port, or 0 to turn gRPC off"
    )


def check_grpc_port(host: str, port: int) -> None:
    """Refuse (SystemExit, one line) when ``host:port`` cannot be bound for OTLP/gRPC.

    Binds a plain socket (no SO_REUSEPORT, so a listener that has it still clashes) to each
    address ``host`` resolves to, then lets it go; gRPC binds it for real moments later.
    """
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as exc:
        raise _taken(host, port, f"cannot resolve {host!r}: {exc.strerror}") from None
    for family, kind, proto, _, addr in infos:
        with socket.socket(family, kind, proto) as probe:
            # as gRPC itself: a port left in TIME_WAIT by a stopped server is free
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                probe.bind(addr)
            except OSError as exc:
                why = IN_USE if exc.errno == errno.EADDRINUSE else exc.strerror
                raise _taken(host, port, why or str(exc)) from None


def start_grpc(state: AppState, host: str, port: int) -> grpc.Server:
    """Serve OTLP/gRPC on ``host:port``; raise SystemExit with advice if the port is taken."""
    cap = state.settings.max_decompressed_bytes
    server = grpc.server(
        ThreadPoolExecutor(max_workers=4, thread_name_prefix="otlp-grpc"),
        # grpcio's default (1) lets any number of servers share the port and split exports
        options=[("grpc.max_receive_message_length", cap), ("grpc.so_reuseport", 0)],
    )
    for kind, (service, request_type, response_type) in _SERVICES.items():
        handler = grpc.unary_unary_rpc_method_handler(
            _servicer(state, kind),
            request_deserializer=_decoder(request_type),
            response_serializer=response_type.SerializeToString,
        )
        server.add_generic_rpc_handlers(
            (grpc.method_handlers_generic_handler(service, {"Export": handler}),)
        )
    try:
        bound = server.add_insecure_port(f"{host}:{port}")
    except RuntimeError:
        bound = 0
    if not bound:
        raise _taken(host, port, IN_USE)
    server.start()
    log.info("OTLP/gRPC listening on %s:%d", host, bound)
    return server
