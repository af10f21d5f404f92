"""OTLP protobuf encoding of queued spans and logs (runs on the worker thread).

Lean spans, request spans (resolved here, see ``backlight.request_span``) and SDK
``ReadableSpan``s are encoded alike; the resource is the SDK's own
and is encoded once per batch. Message types come from ``opentelemetry-proto``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import (
    AnyValue,
    ArrayValue,
    InstrumentationScope,
    KeyValue,
    KeyValueList,
)
from opentelemetry.proto.logs.v1.logs_pb2 import LogRecord, ResourceLogs, ScopeLogs
from opentelemetry.proto.resource.v1.resource_pb2 import Resource
from opentelemetry.proto.trace.v1.trace_pb2 import Span, Status
from opentelemetry.sdk.trace import ReadableSpan

from backlight._version import __version__
from backlight.export import wire
from backlight.export.scope import our_spans
from backlight.records import LogItem
from backlight.request_span import RequestSpan
from backlight.span import SpanRecord

_OUR_SCOPE = ("backlight", __version__)
_MAX_DEPTH = 4


def any_value(value: Any, depth: int = 0) -> AnyValue:
    """An OTLP ``AnyValue`` for a Python value; unknown types become their ``str``."""
    if isinstance(value, str):
        return AnyValue(string_value=value)
    if isinstance(value, bool):
        return AnyValue(bool_value=value)
    if isinstance(value, int):
        if -(2**63) <= value < 2**63:
            return AnyValue(int_value=value)
        return AnyValue(string_value=str(value))
    if isinstance(value, float):
        return AnyValue(double_value=value)
    if isinstance(value, bytes):
        return AnyValue(bytes_value=value)
    if depth < _MAX_DEPTH:
        if isinstance(value, Mapping):
            kvs = key_values(value, depth + 1)
            return AnyValue(kvlist_value=KeyValueList(values=kvs))
        if isinstance(value, Sequence | set | frozenset):
            items = [any_value(v, depth + 1) for v in value]
            return AnyValue(array_value=ArrayValue(values=items))
    return AnyValue(string_value=str(value))


def key_values(attributes: Mapping[str, Any] | None, depth: int = 0) -> list[KeyValue]:
    if not attributes:
        return []
    return [KeyValue(key=str(k), value=any_value(v, depth)) for k, v in attributes.items()]


def resource(attributes: Mapping[str, Any]) -> Resource:
    return Resource(attributes=key_values(attributes))


def encode_traces(res: Resource, spans: Sequence[SpanRecord | RequestSpan | ReadableSpan]) -> bytes:
    """One ``ExportTraceServiceRequest`` with every span under ``res``.

    Built as one list of parts joined once: the wrappers' lengths are sums, so the
    (large) payload is not copied once per nesting level.
    """
    ours, others = our_spans(spans)
    scopes: dict[tuple[str, str], list[bytes]] = {_OUR_SCOPE: [ours] if ours else []}
    varint = wire.varint
    for span in others:
        scope = span.instrumentation_scope
        key = (scope.name, scope.version or "") if scope else ("", "")
        encoded = _sdk_span(span).SerializeToString()
        scopes.setdefault(key, []).extend((b"\x12", varint(len(encoded)), encoded))
    resource_part = wire.length_delimited(1, res.SerializeToString())
    scope_parts: list[bytes] = []
    for (name, version), framed_spans in scopes.items():
        if not framed_spans:
            continue
        scope = wire.length_delimited(
            1, InstrumentationScope(name=name, version=version).SerializeToString()
        )
        size = len(scope) + sum(map(len, framed_spans))
        # ResourceSpans.scope_spans = 2, each: its scope, then its spans (ScopeSpans.spans = 2)
        scope_parts += (b"\x12", varint(size), scope, *framed_spans)
    body_size = len(resource_part) + sum(map(len, scope_parts))
    # ExportTraceServiceRequest.resource_spans = 1
    return b"".join([b"\x0a", varint(body_size), resource_part, *scope_parts])


def _sdk_span(span: ReadableSpan) -> Span:
    ctx = span.get_span_context()
    assert ctx is not None
    pb = Span(
        trace_id=ctx.trace_id.to_bytes(16, "big"),
        span_id=ctx.span_id.to_bytes(8, "big"),
        name=span.name,
        kind=span.kind.value + 1,  # type: ignore[arg-type]
        start_time_unix_nano=span.start_time or 0,
        end_time_unix_nano=span.end_time or 0,
        attributes=key_values(span.attributes),
        status=Status(
            code=span.status.status_code.value,  # type: ignore[arg-type]
            message=span.status.description or "",
        ),
    )
    if span.parent is not None and span.parent.is_valid:
        pb.parent_span_id = span.parent.span_id.to_bytes(8, "big")
    for event in span.events:
        pb.events.add(
            name=event.name,
            time_unix_nano=event.timestamp,
            attributes=key_values(event.attributes),
        )
    for link in span.links:
        pb.links.add(
            trace_id=link.context.trace_id.to_bytes(16, "big"),
            span_id=link.context.span_id.to_bytes(8, "big"),
            attributes=key_values(link.attributes),
        )
    return pb


def encode_logs(res: Resource, items: Iterable[LogItem]) -> bytes:
    """One ``ExportLogsServiceRequest`` with every record under ``res``."""
    scopes: dict[str, list[LogRecord]] = {}
    for item in items:
        record = LogRecord(
            time_unix_nano=item.time_unix_nano,
            observed_time_unix_nano=item.time_unix_nano,
            severity_number=item.severity_number,  # type: ignore[arg-type]
            severity_text=item.severity_text,
            body=any_value(item.body),
            attributes=key_values(item.attributes),
        )
        if item.trace_id:
            record.trace_id = item.trace_id.to_bytes(16, "big")
            record.span_id = item.span_id.to_bytes(8, "big")
            record.flags = 1
        scopes.setdefault(item.scope, []).append(record)
    scope_logs = [
        ScopeLogs(scope=InstrumentationScope(name=name), log_records=records)
        for name, records in scopes.items()
    ]
    request = ExportLogsServiceRequest(
        resource_logs=[ResourceLogs(resource=res, scope_logs=scope_logs)]
    )
    return bytes(request.SerializeToString())
