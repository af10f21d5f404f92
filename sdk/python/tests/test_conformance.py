"""Our OTLP span encoder against OpenTelemetry's own (opentelemetry-exporter-otlp-proto-common).

The spans are real: request spans from the ASGI and WSGI middlewares, lean spans from
``backlight.trace``, ``consume`` and ``consume_error``, and the OpenTelemetry SDK's spans
(users' own, with events, links, status, trace state and limits that drop attributes,
events and links; FastAPI's native ones). They are taken from the SDK's export queue,
encoded by the SDK's trace encoder (the compiled one and the Python one), and the same
spans by OpenTelemetry's encoder; both are decoded with opentelemetry-proto and compared.

Backlight's own spans are handed to OpenTelemetry's encoder as the ``ReadableSpan`` of
the same data: a request span is encoded from its raw headers, so its twin (a copy made
before encoding) is resolved by ``RequestSpan.record()`` first.
"""

from __future__ import annotations

import copy
import gzip
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

import flask
import httpx
import pytest
from fastapi import FastAPI
from google.protobuf.json_format import MessageToDict
from opentelemetry import propagate
from opentelemetry import trace as otel_trace
from opentelemetry.attributes import BoundedAttributes
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import Event, ReadableSpan, SpanLimits, TracerProvider
from opentelemetry.sdk.util import BoundedList
from opentelemetry.sdk.util.instrumentation import InstrumentationScope
from opentelemetry.trace import Link, SpanContext, SpanKind, Status, StatusCode, TraceFlags
from opentelemetry.trace.span import TraceState
from sdk_capture import PROJECT, SESSION, Receiver
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

import backlight
from backlight._state import state
from backlight._version import __version__
from backlight.export import _speedups, encode, scope
from backlight.integrations import asgi, wsgi
from backlight.processors import BacklightSpanProcessor
from backlight.request_span import RequestSpan
from backlight.span import SpanRecord

LINK = f"{SESSION}/4bf92f3577b34da6a3ce929d0e0e4736"
TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
PARENT = f"00-{TRACE}-00f067aa0ba902b7-01"
ENCODERS: dict[str, Any] = {
    "compiled": _speedups.our_spans,
    "python": scope.our_spans_python,
}


# --- the spans ----------------------------------------------------------------------------


@pytest.fixture
def queue(receiver: Receiver) -> Iterator[Callable[[], list[Any]]]:
    """The SDK initialised with an export thread that never sends on its own; the
    function returns (and removes) everything queued for export so far."""
    backlight.init(
        PROJECT,
        backend_url=receiver.url,
        service_name="conformance",
        service_version="1.0",
        export_interval=3600,
        batch_size=100_000,
        max_queue_size=100_000,
    )
    client = state.client
    assert client is not None
    signal = client.worker.signals[0]

    def take() -> list[Any]:
        return signal.buffer.take(100_000)

    take()  # nothing from before
    yield take
    backlight.shutdown()


def user_provider() -> TracerProvider:
    """A user's own SDK set-up, with limits low enough to drop, and Backlight's processor
    added as ``backlight.init`` adds it to a provider it finds."""
    client = state.client
    assert client is not None
    limits = SpanLimits(
        max_span_attributes=3,
        max_events=2,
        max_links=2,
        max_event_attributes=1,
        max_link_attributes=1,
    )
    provider = TracerProvider(
        resource=Resource(client.config.resource_attributes()), span_limits=limits
    )
    provider.add_span_processor(BacklightSpanProcessor())
    return provider


def users_spans(provider: TracerProvider, text: Callable[[str], str] = str) -> None:
    """What an app does with OpenTelemetry itself; ``text`` can put odd characters in."""
    tracer = provider.get_tracer(
        "app.orders", "2.0", schema_url="https://opentelemetry.io/schemas/1.26.0",
        attributes={"team": "checkout"},
    )  # fmt: skip
    remote = propagate.extract({"traceparent": PARENT, "tracestate": "vendor=abc,other=x:1"})
    local_link = SpanContext(0x1234, 0x5678, is_remote=False, trace_flags=TraceFlags(1))
    remote_link = SpanContext(0xABC, 0xDEF, is_remote=True, trace_flags=TraceFlags(0))
    with tracer.start_as_current_span(
        text("process order"),
        context=remote,
        kind=SpanKind.SERVER,
        attributes={"order.id": 7, "order.items": ("a", "b"), text("k"): text("v"),
                    "dropped.one": 1.5, "dropped.two": True},
        links=[Link(local_link), Link(remote_link), Link(local_link, {"a": 1, "b": 2})],
    ) as span:  # fmt: skip
        span.add_event(text("started"), {"n": 1, "m": 2}, timestamp=1_000)
        span.add_event("middle", timestamp=2_000)
        span.add_event("dropped", timestamp=3_000)
        with tracer.start_as_current_span("child", kind=SpanKind.CLIENT) as child:
            child.set_attribute("bytes", b"\x00\xff")
            child.set_attribute("floats", [0.5, -1.25])
            child.set_attribute("empty", "")
            child.set_status(Status(StatusCode.OK, "ignored with OK"))
        try:
            raise KeyError(text("missing"))
        except KeyError as exc:
            span.record_exception(exc, timestamp=4_000)
        span.set_status(Status(StatusCode.ERROR, text("order failed")))
    other = provider.get_tracer("")  # a tracer without a name or version
    other.start_span("no scope", start_time=10, attributes={"neg": -5}).end(end_time=20)


def lean_spans(text: Callable[[str], str] = str) -> None:
    """Backlight's own spans outside the middlewares."""
    with backlight.trace(text("nightly-export"), secure_session_id=SESSION, request_id="r-1"):
        span = otel_trace.get_current_span()
        span.set_attribute("rows", 12)
        span.set_attribute(text("note"), text("kept"))
        span.set_attribute("tags", ["a", "b"])
        span.set_attribute("nested", {"outer": {"inner": [1, {"deep": True}]}})
        span.set_attribute("nothing", None)
        for n in range(130):  # two past the limit: dropped and counted
            span.add_event(text(f"row {n}"), {"n": n, "label": text("x")}, timestamp=n + 1)
        with backlight.trace("inner step"):
            otel_trace.get_current_span().set_status(Status(StatusCode.OK, "dropped with OK"))
        otel_trace.get_current_span().set_status(StatusCode.ERROR, text("export failed"))
    headers = [("traceparent", PARENT.encode()), ("tracestate", b"vendor=abc"),
               ("x-highlight-request", LINK.encode())]  # fmt: skip
    with backlight.consume(headers, name="process-order"):
        backlight.consume_error(ValueError(text("bad label")), attributes={"order": 7})
    backlight.consume_error(RuntimeError("outside"), SESSION, TRACE)


async def asgi_requests(text: Callable[[str], str] = str) -> None:
    async def item(request: Request) -> PlainTextResponse:
        if request.query_params.get("write"):
            span = otel_trace.get_current_span()
            span.set_attribute(text("app.key"), text("value"))
            span.add_event(text("note"), {"k": text("v")}, timestamp=5)
        if request.query_params.get("fail"):
            otel_trace.get_current_span().set_status(StatusCode.ERROR, text("bad item"))
        return PlainTextResponse("ok", status_code=int(request.query_params.get("status", 200)))

    async def boom(request: Request) -> None:
        raise RuntimeError(text("handler failed"))

    starlette = Starlette(routes=[Route("/items/{id}", item), Route("/boom", boom)])
    fastapi = FastAPI()  # FastAPI's telemetry on, as by default

    @fastapi.get("/orders/{order_id}")
    async def order(order_id: int) -> dict[str, int]:
        return {"id": order_id}

    inner = FastAPI()  # its telemetry opens the server span: its spans are SDK spans
    inner.add_middleware(asgi.BacklightMiddleware)
    inner.get("/orders/{order_id}")(order)
    header_sets: list[dict[str, str]] = [
        {"x-highlight-request": LINK, "traceparent": PARENT},
        {"x-highlight-request": f" {LINK}\t", "traceparent": PARENT.upper()},
        {"x-highlight-request": "not a link", "traceparent": "00-zz-11-01"},
        {"baggage": f"x-highlight-request={LINK.replace('/', '%2F')}"},
        {},
    ]
    apps = [(asgi.BacklightMiddleware(starlette), "/items/7"),
            (asgi.BacklightMiddleware(fastapi), "/orders/3"), (inner, "/orders/4")]  # fmt: skip
    for app, path in apps:
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)  # type: ignore[arg-type]
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            for headers in header_sets:
                await client.get(path, headers=headers)
            if app is not apps[0][0]:
                continue
            for query in ["write=1", "status=503", "status=404&fail=1", "write=1&fail=1"]:
                await client.get(f"{path}?{query}", headers=header_sets[0])
            await client.get("/boom", headers=header_sets[0])


def wsgi_requests(text: Callable[[str], str] = str) -> None:
    app = flask.Flask(__name__)

    @app.get("/users/<int:user_id>")
    def user(user_id: int) -> str:
        if flask.request.args.get("write"):
            otel_trace.get_current_span().set_attribute("app.user", text(str(user_id)))
        return "ok"

    @app.get("/fail")
    def fail() -> str:
        raise ValueError(text("view failed"))

    app.wsgi_app = wsgi.BacklightMiddleware(app.wsgi_app)  # type: ignore[method-assign]
    client = app.test_client()
    header_sets: list[dict[str, str]] = [
        {"x-highlight-request": LINK, "traceparent": PARENT}, {"traceparent": "bad"}, {},
    ]  # fmt: skip
    for headers in header_sets:
        client.get("/users/5", headers=headers).close()  # the span ends as the server closes
        client.get("/users/6?write=1", headers=headers).close()
    client.get("/fail", headers={"x-highlight-request": LINK}).close()


# --- both encoders -------------------------------------------------------------------------


def ours(spans: Sequence[Any], our_spans: Any, monkeypatch: pytest.MonkeyPatch) -> bytes:
    """The SDK's own trace encoder (as the export thread calls it), with ``our_spans``."""
    monkeypatch.setattr(encode, "our_spans", our_spans)
    client = state.client
    assert client is not None
    payload: bytes = client.worker.signals[0].encode(list(spans))
    return payload


def twins(spans: Sequence[Any]) -> list[Any]:
    """Request spans copied before encoding (it resolves them); the others as they are."""
    out = []
    for span in spans:
        if type(span) is RequestSpan:
            span = copy.copy(span)
            span.attributes = dict(span.attributes)
        out.append(span)
    return out


def readable(span: Any, resource: Resource, text: Callable[[str], str] = str) -> ReadableSpan:
    """The OpenTelemetry ``ReadableSpan`` of one of our spans (or an SDK span's copy),
    every string passed through ``text``."""
    if isinstance(span, ReadableSpan):
        if text is str:
            return span  # the SDK's span itself
        ctx = span.get_span_context()
        assert ctx is not None
        events = _bounded_list(
            [Event(text(e.name), _bounded(e.attributes, e.dropped_attributes, text), e.timestamp)
             for e in span.events], span.dropped_events,
        )  # fmt: skip
        links = _bounded_list(
            [Link(link.context, _bounded(link.attributes, link.dropped_attributes, text))
             for link in span.links], span.dropped_links,
        )  # fmt: skip
        return ReadableSpan(
            text(span.name), ctx, span.parent, resource,
            _bounded(span.attributes, span.dropped_attributes, text), events, links,
            span.kind, None, Status(span.status.status_code, _opt(span.status.description, text)),
            span.start_time, span.end_time, span.instrumentation_scope,
        )  # fmt: skip
    record: SpanRecord = span.record() if type(span) is RequestSpan else span
    state = TraceState.from_header([record.trace_state]) if record.trace_state else None
    context = SpanContext(record.trace_id, record.span_id, False, TraceFlags(1), state)
    parent = None
    if record.parent_span_id:
        parent = SpanContext(record.trace_id, record.parent_span_id, record.remote_parent)
    events = _bounded_list(
        [Event(text(name), clean(attributes, text), timestamp)
         for name, attributes, timestamp in record.events or ()], record.dropped_events,
    )  # fmt: skip
    return ReadableSpan(
        text(record.name), context, parent, resource, clean(record.attributes, text), events,
        (), SpanKind(record.kind), None,
        Status(StatusCode(record.status_code), _opt(record.status_description, text)),
        record.start_time, record.end_time, InstrumentationScope("backlight", __version__),
    )  # fmt: skip


def _bounded(attributes: Any, dropped: int, text: Callable[[str], str]) -> BoundedAttributes:
    """A copy of ``attributes`` (text through ``text``) that says ``dropped`` were dropped."""
    bounded = BoundedAttributes(None, clean(dict(attributes or {}), text), immutable=False)
    bounded.dropped = dropped
    return bounded


def _bounded_list(items: list[Any], dropped: int) -> BoundedList[Any]:
    bounded = BoundedList.from_seq(None, items)
    bounded.dropped = dropped
    return bounded


def _opt(value: str | None, text: Callable[[str], str]) -> str | None:
    return None if value is None else text(value)


def clean(value: Any, text: Callable[[str], str]) -> Any:
    if isinstance(value, str):
        return text(value)
    if isinstance(value, Mapping):
        return {text(k): clean(v, text) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(clean(v, text) for v in value)
    return value


def theirs(expected: Sequence[ReadableSpan], resource: Resource) -> ExportTraceServiceRequest:
    """OpenTelemetry's encoding. Backlight sends every span under its own resource (the
    project id lives there), so spans of another provider's resource (FastAPI's tracer
    uses the global one) are put under it, scope by scope."""
    request = encode_spans(expected)
    merged = ExportTraceServiceRequest()
    target = merged.resource_spans.add()
    probe = ReadableSpan("r", SpanContext(1, 1, False), resource=resource)
    target.resource.CopyFrom(encode_spans([probe]).resource_spans[0].resource)
    for resource_spans in request.resource_spans:
        target.scope_spans.extend(resource_spans.scope_spans)
    return merged


def canonical(request: ExportTraceServiceRequest) -> ExportTraceServiceRequest:
    """Attributes in key order at every level (OTLP: their keys are unique, their order
    carries nothing), scopes in name order; spans keep their order within a scope."""
    out = ExportTraceServiceRequest()
    out.CopyFrom(request)
    for resource_spans in out.resource_spans:
        _sort_pairs(resource_spans.resource.attributes)
        for scope_spans in resource_spans.scope_spans:
            _sort_pairs(scope_spans.scope.attributes)
            for span in scope_spans.spans:
                _sort_pairs(span.attributes)
                for event in span.events:
                    _sort_pairs(event.attributes)
                for link in span.links:
                    _sort_pairs(link.attributes)
        _resort(resource_spans.scope_spans, lambda s: (s.scope.name, s.scope.version))
    return out


def _sort_pairs(pairs: Any) -> None:
    for pair in pairs:
        _sort_value(pair.value)
    _resort(pairs, lambda kv: kv.key)


def _sort_value(value: AnyValue) -> None:
    kind = value.WhichOneof("value")
    if kind == "kvlist_value":
        _sort_pairs(value.kvlist_value.values)
    elif kind == "array_value":
        for item in value.array_value.values:
            _sort_value(item)


def _resort(field: Any, key: Callable[[Any], Any]) -> None:
    items = sorted((type(m).FromString(m.SerializeToString()) for m in field), key=key)
    del field[:]
    field.extend(items)


def _writes_null() -> bool:
    """Whether this OpenTelemetry's encoder writes a None attribute (as an empty value, as
    the SDK does; 1.4x) or drops it (1.39, the oldest the SDK supports)."""
    probe = ReadableSpan("p", SpanContext(1, 1, False), attributes={"k": None})
    return bool(encode_spans([probe]).resource_spans[0].scope_spans[0].spans[0].attributes)


def _drop_nulls(request: ExportTraceServiceRequest) -> None:
    for resource_spans in request.resource_spans:
        for scope_spans in resource_spans.scope_spans:
            for span in scope_spans.spans:
                kept = [kv for kv in span.attributes if kv.value.WhichOneof("value")]
                del span.attributes[:]
                span.attributes.extend(kept)


def assert_same(ours_payload: bytes, expected: ExportTraceServiceRequest) -> None:
    mine = canonical(ExportTraceServiceRequest.FromString(ours_payload))
    if not _writes_null():  # the reference drops what the SDK writes as an empty value
        _drop_nulls(mine)
    official = canonical(expected)
    assert MessageToDict(mine) == MessageToDict(official)
    assert mine == official  # presence too (an empty status is written by both)


def compare(
    spans: list[Any], monkeypatch: pytest.MonkeyPatch, encoder: str,
    text: Callable[[str], str] = str,
) -> ExportTraceServiceRequest:  # fmt: skip
    client = state.client
    assert client is not None
    resource = Resource(client.config.resource_attributes())
    expected = [readable(span, resource, text) for span in twins(spans)]
    payload = ours(spans, ENCODERS[encoder], monkeypatch)
    assert_same(payload, theirs(expected, resource))
    return ExportTraceServiceRequest.FromString(payload)


def spans_of(request: ExportTraceServiceRequest) -> list[Any]:
    return [s for rs in request.resource_spans for ss in rs.scope_spans for s in ss.spans]


# --- the tests -----------------------------------------------------------------------------


@pytest.mark.parametrize("encoder", ENCODERS)
async def test_request_lean_and_users_spans_encode_as_opentelemetry_does(
    queue: Callable[[], list[Any]], monkeypatch: pytest.MonkeyPatch, encoder: str
) -> None:
    await asgi_requests()
    wsgi_requests()
    lean_spans()
    users_spans(user_provider())
    spans = queue()
    kinds = {type(span).__name__ for span in spans}
    assert kinds == {"RequestSpan", "SpanRecord", "ReadableSpan"}, kinds
    decoded = spans_of(compare(spans, monkeypatch, encoder))
    assert len(decoded) == len(spans)
    # what the comparison covered, spelled out
    by_name = {span.name: span for span in decoded}
    order = by_name["process order"]
    assert order.trace_state == "vendor=abc,other=x:1"
    assert order.flags == 0x300  # its parent is remote
    assert (order.dropped_attributes_count, order.dropped_events_count) == (2, 2)
    assert order.dropped_links_count == 1
    assert [link.flags for link in order.links] == [0x300, 0x100]  # the first one dropped
    assert order.links[1].dropped_attributes_count == 1
    assert order.events[1].name == "exception" and order.events[1].dropped_attributes_count == 3
    assert by_name["child"].flags == 0x100 and by_name["child"].trace_state == order.trace_state
    export = by_name["nightly-export"]
    assert export.dropped_events_count == 2 and len(export.events) == 128
    assert export.status.message == "export failed"
    assert by_name["inner step"].status.code == 1 and not by_name["inner step"].status.message
    consumer = by_name["process-order"]
    assert consumer.flags == 0x300 and consumer.trace_state == "vendor=abc"
    assert by_name["backlight.error"].flags == 0x100
    servers = [s for s in decoded if s.kind == 2 and s.name.startswith("GET")]
    assert {s.flags for s in servers} == {0x100, 0x300}
    assert {s.name for s in servers} == {
        "GET /items/{id}", "GET /boom", "GET /orders/{order_id}", "GET /users/<int:user_id>",
        "GET /fail",
    }  # fmt: skip


@pytest.mark.parametrize("encoder", ENCODERS)
async def test_a_lone_surrogate_is_replaced_not_fatal(
    queue: Callable[[], list[Any]], monkeypatch: pytest.MonkeyPatch, encoder: str
) -> None:
    """protobuf refuses a str that is not valid UTF-8 (UnicodeEncodeError): OpenTelemetry's
    encoder then drops that attribute, or fails the whole export for a name, an event name
    or a status message. Ours writes U+FFFD in its place, as a UTF-8 decoder shows an
    invalid byte: the message equals OpenTelemetry's for the text with U+FFFD put in."""

    def odd(value: str) -> str:
        return f"{value}\ud800|\udfff"

    def replaced(value: str) -> str:
        return value.replace("\ud800", "\ufffd").replace("\udfff", "\ufffd")

    await asgi_requests(odd)
    wsgi_requests(odd)
    lean_spans(odd)
    users_spans(user_provider(), odd)
    spans = queue()
    decoded = spans_of(compare(spans, monkeypatch, encoder, replaced))
    assert len(decoded) == len(spans)
    names = {span.name for span in decoded}
    assert "nightly-export\ufffd|\ufffd" in names and "process order\ufffd|\ufffd" in names


def test_the_export_of_odd_text_arrives_whole(sdk: Receiver) -> None:
    """End to end, through the export thread and HTTP: one span and one log with a lone
    surrogate in each string do not cost the batch its other records."""
    import logging

    with backlight.trace("before"):
        pass
    with backlight.trace("odd \ud800", secure_session_id=SESSION, request_id="r-2"):
        span = otel_trace.get_current_span()
        span.add_event("event \udc80", {"key \ud800": "value \udfff"})
        span.set_status(StatusCode.ERROR, "status \ud800")
        logging.getLogger("app").warning("log \ud800 %s", "arg \udfff", extra={"x": "\ud801"})
    with backlight.trace("after"):
        logging.getLogger("app").warning("plain")
    sdk.wait_for(lambda r: len(r.spans) == 3 and len(r.logs_from("app")) == 2)
    (odd,) = sdk.spans_named("odd \ufffd")
    assert odd.events == [("event \ufffd", {"key \ufffd": "value \ufffd"})]
    bodies = sorted(str(log.body) for log in sdk.logs_from("app"))
    assert bodies == ["log \ufffd arg \ufffd", "plain"]
    (logged,) = [log for log in sdk.logs_from("app") if log.body != "plain"]
    assert logged.attributes["x"] == "\ufffd"
    raw = [a.raw for a in sdk.arrivals if a.path == "/v1/traces"]
    assert any(b"status \xef\xbf\xbd" in (gzip.decompress(r) if r[:2] == b"\x1f\x8b" else r)
               for r in raw)  # fmt: skip


def test_both_paths_give_the_same_bytes_for_every_span_here(
    queue: Callable[[], list[Any]],
) -> None:
    """The compiled and Python encoders of our own spans: byte for byte, on the spans of
    the tests above (odd text included)."""
    import asyncio

    for text in (str, lambda v: f"{v}\ud800"):
        asyncio.run(asgi_requests(text))
        wsgi_requests(text)
        lean_spans(text)
        spans = queue()
        ours_c = _speedups.our_spans(twins(spans))
        ours_python = scope.our_spans_python(twins(spans))
        assert ours_c == ours_python
