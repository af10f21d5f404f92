"""The request path's fast paths give what the general paths give."""

from __future__ import annotations

import random
from typing import Any

from opentelemetry import context, trace
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import KeyValueList
from sdk_capture import Receiver

from backlight import _context
from backlight.activation import Activation
from backlight.export import encode, wire
from backlight.headers import parse_traceparent
from backlight.integrations.http import begin_request, finish_request
from backlight.request_span import RequestSpan
from backlight.span import LeanSpan, SpanRecord
from backlight.types import RequestContext


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


def _request(highlight: bytes | None, traceparent: bytes | None) -> Activation:
    begun = begin_request("GET", "/items/7", highlight, traceparent, None)
    assert begun is not None
    return Activation(*begun)


def test_request_span_parses_nothing_until_asked(sdk: Receiver) -> None:
    trace_id, parent_id = random.getrandbits(128) | 1, random.getrandbits(64) | 1
    act = _request(b"sess-1/req-1", f"00-{trace_id:032x}-{parent_id:016x}-01".encode())
    span = act.span
    assert isinstance(span, RequestSpan)
    assert span.raw_link == b"sess-1/req-1" and span.raw_parent is not None  # kept raw
    try:
        assert _context.current_link() == RequestContext("sess-1", "req-1")
        assert span.raw_link is None  # parsed once, on that ask
        with trace.get_tracer("t").start_as_current_span("child") as child:
            assert child.get_span_context().trace_id == trace_id
        assert span.get_span_context().trace_id == trace_id
        assert span.parent_span_id == parent_id
    finally:
        finish_request(act, 200, "/items/{id}", None)
    sdk.wait_for(lambda r: bool(r.spans_named("GET /items/{id}")) and bool(r.spans_named("child")))
    (server,) = sdk.spans_named("GET /items/{id}")
    assert server.trace_id == f"{trace_id:032x}" and server.parent_span_id == f"{parent_id:016x}"
    assert server.attributes["highlight.session_id"] == "sess-1"
    assert sdk.spans_named("child")[0].parent_span_id == server.span_id


def test_request_span_never_asked_is_resolved_on_export(sdk: Receiver) -> None:
    trace_id, parent_id = random.getrandbits(128) | 1, random.getrandbits(64) | 1
    act = _request(b" sess-2/req-2 ", f"00-{trace_id:032x}-{parent_id:016x}-01".encode())
    act.span.set_attribute("highlight.trace_id", "set-by-app")  # the app's value wins
    finish_request(act, 503, "/items/{id}", None)
    assert isinstance(act.span, RequestSpan) and act.span.raw_link is not None
    sdk.wait_for(lambda r: bool(r.spans_named("GET /items/{id}")))
    (server,) = sdk.spans_named("GET /items/{id}")
    assert server.trace_id == f"{trace_id:032x}" and server.parent_span_id == f"{parent_id:016x}"
    assert server.attributes["highlight.session_id"] == "sess-2"
    assert server.attributes["highlight.trace_id"] == "set-by-app"
    assert server.attributes["http.route"] == "/items/{id}"
    assert server.attributes["http.response.status_code"] == 503
    assert server.status_code == 2  # ERROR: a 5xx without an exception


def test_request_span_with_malformed_or_oversized_headers(sdk: Receiver) -> None:
    for highlight, traceparent in (
        (b"no-slash", b"00-zz-11-01"),
        (b"a/" + b"x" * 10_000, b"00-" + b"1" * 32 + b"-" + b"2" * 16 + b"-01" + b"-x" * 400),
    ):
        act = _request(highlight, traceparent)
        span = act.span
        assert isinstance(span, RequestSpan)
        if len(highlight) > 1000:
            assert span.raw_link is None and span.raw_parent is None  # not kept until export
        assert _context.current_link() is None
        finish_request(act, 200, None, None)
        wanted = f"{span.span_id:016x}"

        def exported(r: Receiver, w: str = wanted) -> bool:
            return any(v.span_id == w for v in r.spans)

        sdk.wait_for(exported)
        (view,) = [v for v in sdk.spans if v.span_id == f"{span.span_id:016x}"]
        assert view.name == "GET" and view.parent_span_id == ""
        assert "highlight.session_id" not in view.attributes
        assert view.status_code == 0


class _Route:
    path_format = "/items/{id}"


def _twins(
    highlight: str | bytes | None,
    traceparent: str | bytes | None,
    route: object,
    status: int | None,
) -> tuple[RequestSpan, RequestSpan]:
    """Two identical ended request spans."""
    spans = []
    for _ in range(2):
        attributes: dict[str, object] = {"http.request.method": "GET", "url.path": "/items/7"}
        if status is not None:
            attributes["http.response.status_code"] = status
        span = RequestSpan("GET", lambda s: None, attributes, highlight, traceparent)
        span.route, span.mount = route, "/api" if route is not None else ""
        spans.append(span)
    a, b = spans
    b.trace_id, b.span_id, b.start_time = a.trace_id, a.span_id, a.start_time
    a.end(a.start_time + 1000)
    b.end(a.start_time + 1000)
    return a, b


def _as_dict(encoded: bytes) -> dict[str, Any]:
    from google.protobuf.json_format import MessageToDict
    from opentelemetry.proto.trace.v1.trace_pb2 import Span

    message = MessageToDict(Span.FromString(encoded))
    message["attributes"] = sorted(message.get("attributes", []), key=lambda kv: kv["key"])
    return message


def test_request_span_fast_encoding_matches_the_general_one() -> None:
    import itertools

    from backlight.export.lean import lean_span
    from backlight.export.request import request_span

    trace_id, parent_id = random.getrandbits(128) | 1, random.getrandbits(64) | 1
    canonical = f"00-{trace_id:032x}-{parent_id:016x}-01"
    longest = b"s" * 128 + b"/" + b"r" * 128  # lengths whose pairs need two-byte varints
    links = [
        b"sess-1/req-1", b" s.2/r:2\t", "str-s/str-r", " str-s/r:2\n", "s/r/x", "s/" + "r" * 129,
        longest, longest.decode(), b"no-slash", b"a/" + b"x" * 300, "\u00e9/r", None,
    ]  # fmt: skip
    zero_trace = f"00-{0:032x}-{parent_id:016x}-01".encode()
    zero_parent = f"00-{trace_id:032x}-{0:016x}-01".encode()
    parents = [
        canonical.encode(), canonical, f" {canonical}-x", canonical.upper().encode(),
        canonical.upper(), canonical[:-1] + "\u00e9", canonical[:-2] + "\u0100\u0100",
        zero_trace, zero_parent, b"00-zz-11-01", None,
    ]  # fmt: skip
    routes = [None, "/items/{id}", _Route()]
    cases = itertools.product(links, parents, routes, [None, 200, 503], ["none", "asked", "app"])
    checked = 0
    for highlight, traceparent, route, status, touch in cases:
        fast, general = _twins(highlight, traceparent, route, status)
        if touch == "asked":  # something in the request parsed the headers already
            for span in (fast, general):
                span.request_link()
                span.get_span_context()
        elif touch == "app":  # the app wrote to its span: the general path, both sides
            for span in (fast, general):
                span.set_attribute("app.key", 3)
                span.add_event("note", {"n": 1})
        expected = _as_dict(lean_span(general.record()))
        assert _as_dict(request_span(fast)) == expected, (highlight, traceparent, route, status)
        checked += 1
    assert checked == len(links) * len(parents) * 3 * 3 * 3
    # a link set some other way than a parsed header, with a longer id than a header may
    # carry, is still encoded whole (not an export failure)
    fast, general = _twins(None, None, None, 200)
    for span in (fast, general):
        span.link = RequestContext("s", "r" * 300)
    expected = _as_dict(lean_span(general.record()))
    assert _as_dict(request_span(fast)) == expected
    assert {"key": "highlight.trace_id", "value": {"stringValue": "r" * 300}} in expected[
        "attributes"
    ]
    # and the case the fast path exists for, spelled out
    fast, _ = _twins(b"sess-1/req-1", canonical.encode(), _Route(), 503)
    message = _as_dict(request_span(fast))
    assert message["name"] == "GET /api/items/{id}"
    assert {kv["key"]: kv["value"] for kv in message["attributes"]} == {
        "http.request.method": {"stringValue": "GET"},
        "url.path": {"stringValue": "/items/7"},
        "http.route": {"stringValue": "/api/items/{id}"},
        "http.response.status_code": {"intValue": "503"},
        "highlight.session_id": {"stringValue": "sess-1"},
        "highlight.trace_id": {"stringValue": "req-1"},
    }
    assert message["status"] == {"code": "STATUS_CODE_ERROR", "message": "HTTP 503"}
    assert message["traceId"] and message["parentSpanId"]
    # a template string equal to a cached one (Django builds one per request) hits the cache
    from backlight.export import request

    first, _ = _twins(b"s/r", None, "".join(["/a/", "{id}"]), 200)
    request_span(first)
    size = len(request._endpoints)
    again, _ = _twins(b"s/r", None, "".join(["/a/", "{id}"]), 200)
    assert again.route is not first.route
    assert _as_dict(request_span(again))["name"] == "GET /a/{id}"
    assert len(request._endpoints) == size
