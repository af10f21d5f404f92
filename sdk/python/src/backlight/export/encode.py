"""OTLP protobuf encoding of queued spans and logs (runs on the worker thread).

Lean spans, request spans (resolved here, see ``backlight.request_span``) and SDK
``ReadableSpan``s are all written straight to the wire format (``wire``, ``lean``,
``request``), as OpenTelemetry's own encoder would encode them (the conformance tests
compare the two); the resource is the SDK's own and is encoded once per batch. Logs are
built with the message types of ``opentelemetry-proto``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
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
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.util.instrumentation import InstrumentationScope as SDKScope
from opentelemetry.trace import Link, SpanKind

from backlight._version import __version__
from backlight.export import lean, wire
from backlight.export.scope import our_spans
from backlight.records import LogItem
from backlight.request_span import RequestSpan
from backlight.span import SpanRecord

_OUR_SCOPE = object()
_NO_SCOPE = object()
_OUR_SCOPE_BYTES = wire.length_delimited(
    1, InstrumentationScope(name="backlight", version=__version__).SerializeToString()
)
_SDK_KINDS = {kind: wire.uvarint_field(6, kind.value + 1) for kind in SpanKind}
_MAX_DEPTH = 4


def any_value(value: Any, depth: int = 0) -> AnyValue:
    """An OTLP ``AnyValue`` for a Python value; ``None`` is the empty one (as OpenTelemetry's
    encoder makes it), unknown types become their ``str``."""
    if isinstance(value, str):
        return AnyValue(string_value=value)
    if value is None:
        return AnyValue()
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
    return Resource.FromString(wire.key_values(attributes))  # any text, any value


def encode_traces(res: Resource, spans: Sequence[SpanRecord | RequestSpan | ReadableSpan]) -> bytes:
    """One ``ExportTraceServiceRequest`` with every span under ``res``.

    Backlight's own spans form one scope; the OpenTelemetry SDK's spans (users' own,
    FastAPI's) are grouped by their instrumentation scope, as OpenTelemetry's encoder
    groups them. Built as one list of parts joined once: the wrappers' lengths are sums,
    so the (large) payload is not copied once per nesting level.
    """
    ours, others = our_spans(spans)
    scopes: dict[object, list[bytes]] = {_OUR_SCOPE: [ours] if ours else []}
    varint = wire.varint
    for span in others:
        encoded = sdk_span(span)
        key = span.instrumentation_scope or _NO_SCOPE
        scopes.setdefault(key, []).extend((b"\x12", varint(len(encoded)), encoded))
    resource_part = wire.length_delimited(1, res.SerializeToString())
    scope_parts: list[bytes] = []
    for key, framed_spans in scopes.items():
        if not framed_spans:
            continue
        scope = _OUR_SCOPE_BYTES if key is _OUR_SCOPE else _scope(key)
        size = len(scope) + sum(map(len, framed_spans))
        # ResourceSpans.scope_spans = 2, each: its scope, its spans (ScopeSpans.spans = 2),
        # its schema URL (3)
        scope_parts += (b"\x12", varint(size), scope, *framed_spans)
    body_size = len(resource_part) + sum(map(len, scope_parts))
    # ExportTraceServiceRequest.resource_spans = 1
    return b"".join([b"\x0a", varint(body_size), resource_part, *scope_parts])


def _scope(scope: object) -> bytes:
    """The ``scope`` (1) and ``schema_url`` (3) fields of an SDK scope's ``ScopeSpans``,
    both written before its spans (a decoder takes fields in any order)."""
    if not isinstance(scope, SDKScope):
        return b"\x0a\x00"  # a span without a scope: an empty InstrumentationScope
    body = wire.length_delimited(1, wire.text(scope.name or ""))
    if scope.version:
        body += wire.length_delimited(2, wire.text(scope.version))
    body += wire.key_values(scope.attributes, 3)
    encoded = wire.length_delimited(1, body)
    if scope.schema_url:
        encoded += wire.length_delimited(3, wire.text(scope.schema_url))
    return encoded


def sdk_span(span: ReadableSpan) -> bytes:
    """An OpenTelemetry SDK span (``ReadableSpan``) as a ``Span`` message, field for
    field what OpenTelemetry's encoder writes (the tests compare the two), with any lone
    surrogate written as U+FFFD instead of failing the batch."""
    ctx = span.get_span_context()
    assert ctx is not None
    parent = span.parent
    remote = parent is not None and parent.is_remote
    parts = [
        lean.ids(ctx.trace_id, ctx.span_id, parent.span_id if parent is not None else 0),
        lean.times(span.start_time or 0, span.end_time or 0),
        lean.REMOTE_FLAGS if remote else lean.LOCAL_FLAGS,
        wire.length_delimited(5, wire.text(span.name)),
        _SDK_KINDS[span.kind],
        wire.key_values(span.attributes, 9),
    ]
    if ctx.trace_state:
        parts.append(wire.length_delimited(3, wire.text(ctx.trace_state.to_header())))
    if span.dropped_attributes:
        parts.append(wire.uvarint_field(10, span.dropped_attributes))
    for event in span.events:
        dropped = event.dropped_attributes
        encoded = lean.event(event.name, event.timestamp, event.attributes, dropped)
        parts.append(wire.length_delimited(11, encoded))
    if span.dropped_events:
        parts.append(wire.uvarint_field(12, span.dropped_events))
    for link in span.links:
        parts.append(wire.length_delimited(13, _link(link)))
    if span.dropped_links:
        parts.append(wire.uvarint_field(14, span.dropped_links))
    status = span.status
    parts.append(lean.status(status.status_code.value, status.description))
    return b"".join(parts)


def _link(link: Link) -> bytes:
    """A ``Span.Link``: trace id (1), span id (2), attributes (4), dropped attributes (5),
    flags (6). OpenTelemetry's encoder leaves its trace state (3) out; so does this one."""
    ctx = link.context
    encoded = lean.ids(ctx.trace_id, ctx.span_id, 0) + wire.key_values(link.attributes, 4)
    if link.dropped_attributes:
        encoded += wire.uvarint_field(5, link.dropped_attributes)
    flags = lean.HAS_IS_REMOTE | (lean.IS_REMOTE if ctx.is_remote else 0)
    return encoded + wire.fixed32(6, flags)


def encode_logs(res: Resource, items: Iterable[LogItem]) -> bytes:
    """One ``ExportLogsServiceRequest`` with every record under ``res``."""
    scopes: dict[str, list[LogRecord]] = {}
    for item in items:
        try:
            record = _log_record(item)
        except UnicodeEncodeError:  # a lone surrogate: protobuf takes valid UTF-8 only
            record = _log_record(item, _clean)
        scopes.setdefault(item.scope, []).append(record)
    scope_logs = [
        ScopeLogs(scope=InstrumentationScope(name=_clean(name)), log_records=records)
        for name, records in scopes.items()
    ]
    request = ExportLogsServiceRequest(
        resource_logs=[ResourceLogs(resource=res, scope_logs=scope_logs)]
    )
    return bytes(request.SerializeToString())


def _log_record(item: LogItem, text: Callable[[Any], Any] = lambda value: value) -> LogRecord:
    """The ``LogRecord`` of ``item``, its text passed through ``text`` first."""
    record = LogRecord(
        time_unix_nano=item.time_unix_nano,
        observed_time_unix_nano=item.time_unix_nano,
        severity_number=item.severity_number,  # type: ignore[arg-type]
        severity_text=text(item.severity_text),
        body=any_value(text(item.body)),
        attributes=key_values(text(item.attributes)),
    )
    if item.trace_id:
        record.trace_id = item.trace_id.to_bytes(16, "big")
        record.span_id = item.span_id.to_bytes(8, "big")
        record.flags = 1
    return record


def _clean(value: Any, depth: int = 0) -> Any:
    """``value`` with every lone surrogate in its text (keys included) as U+FFFD."""
    if isinstance(value, str):
        return wire.text(value).decode()
    if value is None or isinstance(value, bool | int | float | bytes):
        return value
    if depth <= _MAX_DEPTH:
        if isinstance(value, Mapping):
            return {_clean(str(k)): _clean(v, depth + 1) for k, v in value.items()}
        if isinstance(value, list | tuple | set | frozenset):
            return [_clean(v, depth + 1) for v in value]
    return wire.text(str(value)).decode()  # what any_value would make of it, cleaned
