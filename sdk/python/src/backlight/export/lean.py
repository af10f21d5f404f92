"""The encoded OTLP ``Span`` of a queued ``SpanRecord``, written field by field.

A span message is its ids, its times and its description (name, kind, attributes,
events, status); ``backlight.export.request`` writes request spans from the same parts.
"""

from __future__ import annotations

import struct

from backlight.export import wire
from backlight.span import SpanRecord

_LOW64 = (1 << 64) - 1
_KINDS = [wire.uvarint_field(6, kind + 1) for kind in range(5)]  # API kind + 1 = OTLP kind
_pack_ids = struct.Struct(">2sQQ2sQ").pack  # trace id as two big-endian halves, span id
_pack_ids_parent = struct.Struct(">2sQQ2sQ2sQ").pack  # … and 4: parent span id
_pack_times = struct.Struct("<BQBQ").pack  # 7: start, 8: end (fixed64)
_names: dict[str, bytes] = {}


def lean_span(span: SpanRecord) -> bytes:
    """An encoded ``Span`` message."""
    return b"".join(
        (
            ids(span.trace_id, span.span_id, span.parent_span_id),
            times(span.start_time, span.end_time),
            describe(span),
        )
    )


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
    """Everything but ids and times: name (5), kind (6), attributes (9), events (11)
    and status (15)."""
    name = _names.get(span.name)
    if name is None:
        name = wire.length_delimited(5, span.name.encode("utf-8", "replace"))
        if len(_names) < 1024:
            _names[span.name] = name
    parts = [name, _KINDS[span.kind], wire.key_values(span.attributes, 9)]
    if span.events:
        for event_name, attributes, ts in span.events:
            event = (
                wire.fixed64(1, ts)
                + wire.length_delimited(2, event_name.encode())
                + (wire.key_values(attributes, 3))
            )
            parts.append(wire.length_delimited(11, event))
    if span.status_code:
        status = wire.uvarint_field(3, span.status_code)
        if span.status_description:
            status = wire.length_delimited(2, span.status_description.encode()) + status
        parts.append(wire.length_delimited(15, status))
    return b"".join(parts)
