"""Decoding OTLP request bodies (protobuf or OTLP/JSON) with the opentelemetry-proto types."""

from __future__ import annotations

import base64
import binascii
from typing import Any

import orjson
from google.protobuf import json_format
from google.protobuf.message import DecodeError, Message
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
)
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from backlight_server.errors import ClientError

REQUEST_TYPES: dict[str, type[Message]] = {
    "traces": ExportTraceServiceRequest,
    "logs": ExportLogsServiceRequest,
    "metrics": ExportMetricsServiceRequest,
}
_ID_KEYS = ("traceId", "spanId", "parentSpanId", "trace_id", "span_id", "parent_span_id")


def decode_protobuf(kind: str, body: bytes) -> Any:
    try:
        return REQUEST_TYPES[kind].FromString(body)
    except (DecodeError, RecursionError, ValueError) as exc:
        raise ClientError(
            400, "invalid_protobuf", f"body is not a valid OTLP {kind} protobuf message: {exc}"
        ) from None


def _hex_to_b64(value: object, key: str) -> str:
    if not isinstance(value, str):
        raise ClientError(400, "invalid_json", f"{key} must be a hex string")
    if value == "":
        return ""
    try:
        raw = bytes.fromhex(value)
    except ValueError:
        raise ClientError(400, "invalid_json", f"{key} {value[:40]!r} is not hex") from None
    return base64.b64encode(raw).decode()


def _fix_ids(node: object, depth: int = 0) -> None:
    """OTLP/JSON writes ids as hex; protobuf's JSON mapping expects base64 for bytes."""
    if depth > 12:
        return
    if isinstance(node, dict):
        for key, value in node.items():
            if key in _ID_KEYS:
                node[key] = _hex_to_b64(value, key)
            elif isinstance(value, dict | list) and key not in ("attributes", "body"):
                _fix_ids(value, depth + 1)
    elif isinstance(node, list):
        for item in node:
            _fix_ids(item, depth + 1)


def decode_json(kind: str, body: bytes) -> Any:
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise ClientError(400, "invalid_json", f"body is not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise ClientError(400, "invalid_json", "body must be a JSON object")
    _fix_ids(data)
    message = REQUEST_TYPES[kind]()
    try:
        json_format.ParseDict(data, message, ignore_unknown_fields=True, max_recursion_depth=64)
    except (json_format.ParseError, binascii.Error, RecursionError, ValueError, TypeError) as exc:
        raise ClientError(
            400, "invalid_json", f"body is not a valid OTLP/JSON {kind} request: {exc}"
        ) from None
    return message
