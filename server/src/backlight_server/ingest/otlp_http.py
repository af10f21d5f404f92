"""OTLP/HTTP ingest: ``POST /v1/traces``, ``/v1/logs`` (stored) and ``/v1/metrics`` (dropped).

Each is also served at ``//v1/…`` (an endpoint configured with a trailing slash).
"""

from __future__ import annotations

from typing import Any

import orjson
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceResponse
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceResponse,
)
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceResponse
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from backlight_server.errors import ClientError
from backlight_server.ingest.body import decode_encoding, media_type, read_body
from backlight_server.ingest.otlp_decode import decode_json, decode_protobuf
from backlight_server.ingest.responses import PROTOBUF, error_response
from backlight_server.pipeline.otlp import Conversion, convert_logs, convert_traces
from backlight_server.state import AppState, get_state

PROJECT_HEADER = "x-highlight-project"


def _decode_and_convert(
    state: AppState,
    raw: bytes,
    encoding: str | None,
    protobuf: bool,
    kind: str,
    project: str | None,
) -> tuple[Conversion | None, int]:
    """Decompress, decode and convert (on a worker thread: the cost grows with the body)."""
    body = decode_encoding(raw, encoding, state.settings.max_decompressed_bytes)
    message = decode_protobuf(kind, body) if protobuf else decode_json(kind, body)
    if kind == "metrics":
        return None, 0
    convert = convert_traces if kind == "traces" else convert_logs
    return convert(message, project, state.store.project_exists), message.ByteSize()


def _header_project(request: Request) -> str | None:
    value = request.headers.get(PROJECT_HEADER, "").strip()
    return value[:64] or None


async def store_conversion(state: AppState, conv: Conversion, weight: int) -> None:
    """Commit what was accepted; refuse the request if nothing was and projects were wrong."""
    refusal = conv.refusal()
    if refusal is not None:
        raise refusal
    if conv.batch.size():
        await state.store.write_telemetry(conv.batch, weight)
    state.metrics.count_conversion(conv)


def _response(kind: str, protobuf: bool, conv: Conversion | None) -> Response:
    rejected = conv.rejected if conv else 0
    message = conv.error_message() if conv and rejected else ""
    if kind == "traces":
        resp: Any = ExportTraceServiceResponse()
        if rejected:
            resp.partial_success.rejected_spans = rejected
    elif kind == "logs":
        resp = ExportLogsServiceResponse()
        if rejected:
            resp.partial_success.rejected_log_records = rejected
    else:
        resp = ExportMetricsServiceResponse()
    if rejected:
        resp.partial_success.error_message = message
    if protobuf:
        return Response(resp.SerializeToString(), media_type=PROTOBUF)
    body: dict[str, Any] = {}
    if rejected:
        field = "rejectedSpans" if kind == "traces" else "rejectedLogRecords"
        body["partialSuccess"] = {field: rejected, "errorMessage": message}
    return Response(orjson.dumps(body), media_type="application/json")


async def _export(request: Request, kind: str) -> Response:
    state = get_state(request)
    mtype = media_type(request)
    protobuf = mtype == PROTOBUF
    try:
        if mtype not in (PROTOBUF, "application/json"):
            raise ClientError(
                415,
                "unsupported_media_type",
                "OTLP/HTTP needs application/x-protobuf or application/json",
            )
        raw = await read_body(request, state.settings.max_body_bytes)
        conv, weight = await run_in_threadpool(
            _decode_and_convert,
            state,
            raw,
            request.headers.get("content-encoding"),
            protobuf,
            kind,
            _header_project(request),
        )
        if conv is not None:
            await store_conversion(state, conv, weight)
        else:
            state.metrics.rejected.labels("metrics_dropped").inc()
    except ClientError as err:
        state.metrics.rejected.labels(err.code).inc()
        return error_response(err, protobuf)
    return _response(kind, protobuf, conv)


async def traces(request: Request) -> Response:
    return await _export(request, "traces")


async def logs(request: Request) -> Response:
    return await _export(request, "logs")


async def metrics(request: Request) -> Response:
    return await _export(request, "metrics")


# ``//v1/…`` too: SDKs that append ``/v1/traces`` to their endpoint (highlight's Node SDK)
# send there when the endpoint is written with a trailing slash (``http://host:8082/``).
routes = [
    Route(prefix + path, handler, methods=["POST"])
    for prefix in ("", "/")
    for path, handler in (("/v1/traces", traces), ("/v1/logs", logs), ("/v1/metrics", metrics))
]
