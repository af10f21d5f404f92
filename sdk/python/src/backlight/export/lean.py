"""The encoded OTLP ``Span`` of a queued ``SpanRecord``, written field by field.

A span message is its ids, its times, its flags and its description (name, kind,
attributes, events, status); ``backlight.export.request`` writes request spans from the
same parts. What each field holds is what OpenTelemetry's own encoder
(``opentelemetry-exporter-otlp-proto-common``) writes for the same span: the tests decode
both and compare them.
"""

from __future__ import annotations

import struct
from collections.abc import Mapping
from typing import Any

from backlight.export import wire
from backlight.span import SpanRecord

_LOW64 = (1 << 64) - 1
_KINDS = [wire.uvarint_field(6, kind + 1) for kind in range(5)]  # API kind + 1 = OTLP kind
_pack_ids = struct.Struct(">2sQQ2sQ").pack  # trace id as two big-endian halves, span id
_pack_ids_parent = struct.Struct(">2sQQ2sQ2sQ").pack  # … and 4: parent span id
_pack_times = struct.Struct("<BQBQ").pack  # 7: start, 8: end (fixed64)
_names: dict[str, bytes] = {}

# Span.flags (16, fixed32), as OpenTelemetry's encoder sets it: whether the parent is
# remote is known (SPAN_FLAGS_CONTEXT_HAS_IS_REMOTE_MASK), and whether it is
# (SPAN_FLAGS_CONTEXT_IS_REMOTE_MASK). The W3C trace flags (bits 0-7) stay 0, as there.
HAS_IS_REMOTE = 0x100
IS_REMOTE = 0x200
LOCAL_FLAGS = wire.fixed32(16, HAS_IS_REMOTE)
REMOTE_FLAGS = wire.fixed32(16, HAS_IS_REMOTE | IS_REMOTE)
_NO_STATUS = wire.length_delimited(15, b"")  # an empty Status: written, as there


def lean_span(span: SpanRecord) -> bytes:
    """An encoded ``Span`` message."""
    parts = (
        ids(span.trace_id, span.span_id, span.parent_span_id),
        times(span.start_time, span.end_time),
        REMOTE_FLAGS if span.remote_parent else LOCAL_FLAGS,
        describe(span),
    )
    if span.trace_state:
        return b"".join((*parts, wire.length_delimited(3, wire.text(span.trace_state))))
    return b"".join(parts)


def ids(trace_id: int, span_id: int, parent_span_id: int) -> bytes:
    """Fields 1 (trace id), 2 (span id) and, when there is a parent, 4."""
    if parent_span_id:
        return _pack_ids_parent(
            b"\x0a\x10", trace_id >> 64, trace_id & _LOW64, b"\x12\x08", span_id,
            b"\x22\x08", parent_span_id,
        )  # fmt: skip
    return _pack_ids(b"\x0a\x10", trace_id >> 64, trace_id & _LOW64, b"\x12\x08", span_id)


def times(start: int, end: int) -> bytes:
    """Fields 7 and 8: start and end time (fixed64 nanoseconds)."""
    return _pack_times(0x39, start, 0x41, end)


def describe(span: SpanRecord) -> bytes:
    """Everything but ids, times and flags: name (5), kind (6), attributes (9), events
    (11), dropped events (12) and status (15)."""
    name = _names.get(span.name)
    if name is None:
        name = wire.length_delimited(5, wire.text(span.name))
        if len(_names) < 1024:
            _names[span.name] = name
    parts = [name, _KINDS[span.kind], wire.key_values(span.attributes, 9)]
    if span.events:
        for event_name, attributes, ts in span.events:
            parts.append(wire.length_delimited(11, event(event_name, ts, attributes)))
        if span.dropped_events:
            parts.append(wire.uvarint_field(12, span.dropped_events))
    parts.append(status(span.status_code, span.status_description))
    return b"".join(parts)


def event(
    name: str, timestamp: int, attributes: Mapping[str, Any] | None, dropped: int = 0
) -> bytes:
    """A ``Span.Event``: time (1), name (2), attributes (3), dropped attributes (4)."""
    encoded = wire.fixed64(1, timestamp) + wire.length_delimited(2, wire.text(name))
    encoded += wire.key_values(attributes, 3)
    if dropped:
        encoded += wire.uvarint_field(4, dropped)
    return encoded


def status(code: int, description: str | None) -> bytes:
    """Field 15, always written (an unset status is an empty message): message (2), code (3)."""
    if not code and not description:
        return _NO_STATUS
    body = wire.length_delimited(2, wire.text(description)) if description else b""
    if code:
        body += wire.uvarint_field(3, code)
    return wire.length_delimited(15, body)
