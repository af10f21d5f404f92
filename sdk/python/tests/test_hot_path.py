"""The request path's fast paths give what the general paths give."""

from __future__ import annotations

import random

from opentelemetry import context, trace
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import KeyValueList

from backlight import _context
from backlight.export import encode, wire
from backlight.integrations.http import parse_traceparent
from backlight.span import LeanSpan, SpanRecord


def test_traceparent_canonical_and_general_forms() -> None:
    trace_id, span_id = random.getrandbits(128) | 1, random.getrandbits(64) | 1
    value = f"00-{trace_id:032x}-{span_id:016x}-01"
    assert parse_traceparent(value.encode()) == (trace_id, span_id)
    assert parse_traceparent(value) == (trace_id, span_id)
    assert parse_traceparent(f"  {value} ".encode()) == (trace_id, span_id)
    assert parse_traceparent(f"01-{trace_id:032x}-{span_id:016x}-01-x".encode()) == (
        trace_id,
        span_id,
    )
    assert parse_traceparent(f"00-{0:032x}-{span_id:016x}-01".encode()) is None
    assert parse_traceparent(f"00-{trace_id:032x}-{0:016x}-01".encode()) is None
    assert parse_traceparent(value.upper().encode()) is None
    assert parse_traceparent(f"ff-{trace_id:032x}-{span_id:016x}-01".encode()) is None
    assert parse_traceparent(f"00-{trace_id:032x}-{span_id:016x}-01-x".encode()) is None
    assert parse_traceparent(b"00-+" + value[4:].encode()) is None


def test_varint_two_bytes() -> None:
    for n in (128, 300, 16383, 16384, 2**40):
        out, shift, value = wire.varint(n), 0, 0
        for byte in out:
            value |= (byte & 0x7F) << shift
            shift += 7
        assert value == n


def test_request_ids_are_encoded_but_not_cached() -> None:
    request_id = f"{random.getrandbits(128):032x}"
    attributes = {"highlight.trace_id": request_id, "highlight.session_id": "s", "n": 7}
    span = SpanRecord("GET /", 5, 6, 7, 1, 10, 20, attributes, None, 0, None)
    payload = encode.encode_traces(encode.resource({"service.name": "x"}), [span])
    decoded = ExportTraceServiceRequest.FromString(payload)
    pb = decoded.resource_spans[0].scope_spans[0].spans[0]
    assert {kv.key: kv.value for kv in pb.attributes}["highlight.trace_id"].string_value == (
        request_id
    )
    assert pb.parent_span_id == (7).to_bytes(8, "big")
    assert not any(request_id in key for key in wire._kv_cache if isinstance(key[2], str))
    for value in ("x" * 300, "é" * 50, ""):  # long, non-ASCII and empty values
        decoded_list = KeyValueList.FromString(wire.key_values({"highlight.trace_id": value}))
        assert decoded_list.values[0].key == "highlight.trace_id"
        assert decoded_list.values[0].value.string_value == value


def test_context_fast_path_is_opentelemetry_context() -> None:
    span = LeanSpan("outer", lambda record: None)
    token = _context.attach(trace.set_span_in_context(span))
    try:
        assert context.get_current() is _context.get_current()
        assert trace.get_current_span() is span
        with trace.get_tracer("t").start_as_current_span("inner") as inner:
            assert inner.get_span_context().trace_id == span.trace_id
    finally:
        _context.detach(token)
    assert trace.get_current_span() is not span
    _context.detach(token)  # a second reset fails inside OpenTelemetry's detach, quietly


def test_parsed_link_is_a_normal_request_context() -> None:
    import dataclasses

    import pytest

    from backlight.headers import parse_value
    from backlight.types import RequestContext

    link = parse_value(b" sess-1/req.2 ")
    assert link == RequestContext("sess-1", "req.2")
    assert hash(link) == hash(RequestContext("sess-1", "req.2"))
    assert link is not None and link.header_value == "sess-1/req.2"
    assert repr(link) == repr(RequestContext("sess-1", "req.2"))
    with pytest.raises(dataclasses.FrozenInstanceError):
        link.request_id = "other"  # type: ignore[misc]
