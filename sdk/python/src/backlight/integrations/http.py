"""What the server middlewares share: reading the incoming headers, naming and ending."""

from __future__ import annotations

import re
from typing import Any

from opentelemetry import propagate
from opentelemetry.context import Context
from opentelemetry.trace import SpanKind, StatusCode
from opentelemetry.trace.propagation import _SPAN_KEY

from backlight import activation
from backlight._context import LINK_KEY, attach, get_current
from backlight._debug import debug
from backlight._debug import state as debug_state
from backlight._state import state
from backlight.activation import REQUEST_ATTR, SESSION_ATTR, Activation
from backlight.headers import from_baggage, parse_value
from backlight.span import LeanSpan

METHOD = "http.request.method"
PATH = "url.path"
ROUTE = "http.route"
STATUS = "http.response.status_code"
_SERVER = SpanKind.SERVER
_CANONICAL = re.compile(rb"00-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}\Z")
_TRACEPARENT = re.compile(
    rb"[ \t]*([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-[0-9a-f]{2}(-[^ \t]*)?[ \t]*\Z"
)


def parse_traceparent(value: str | bytes) -> tuple[int, int] | None:
    """(trace id, parent span id) of a W3C ``traceparent``; ``None`` when malformed."""
    if type(value) is bytes and len(value) == 55 and _CANONICAL.match(value):
        # what browsers and OTel SDKs send: version 00, no padding, no extra fields
        trace_id, span_id = int(value[3:35], 16), int(value[36:52], 16)
        return (trace_id, span_id) if trace_id and span_id else None
    if isinstance(value, str):
        value = value.encode("latin-1", "replace")
    match = _TRACEPARENT.match(value)
    if match is None or match[1] == b"ff" or (match[1] == b"00" and match[4]):
        return None
    trace_id, span_id = int(match[2], 16), int(match[3], 16)
    return (trace_id, span_id) if trace_id and span_id else None


def start_request(
    method: str,
    path: str,
    highlight: str | bytes | None,
    traceparent: str | bytes | None,
    baggage: str | bytes | None,
) -> Activation | None:
    """Start the server span of one request from its three interesting headers.

    The common case (``x-highlight-request`` and ``traceparent``) is parsed here without
    building a remote parent context; a ``baggage`` header goes through the global
    propagator so its entries reach the app's context.
    """
    client = state.client
    if client is None:
        return None
    link = parse_value(highlight) if highlight is not None else None
    if baggage is not None:
        carrier = {"baggage": _text(baggage)}
        if traceparent is not None:
            carrier["traceparent"] = _text(traceparent)
        if link is None:
            link = from_baggage(carrier["baggage"])
        parent = propagate.extract(carrier, Context())
        return activation.start(method, SpanKind.SERVER, link, parent, {METHOD: method, PATH: path})
    remote = parse_traceparent(traceparent) if traceparent is not None else None
    if debug_state.logger is not None:
        debug(
            "backlight: %s %s x-highlight-request=%r traceparent=%r -> link %s",
            method,
            path,
            highlight,
            traceparent,
            link,
        )
    # One copy of the current context with the link and the span (what
    # ``set_value`` + ``set_span_in_context`` would make in two copies).
    if link is not None:
        attributes: dict[str, Any] = {
            METHOD: method,
            PATH: path,
            SESSION_ATTR: link.secure_session_id,
            REQUEST_ATTR: link.request_id,
        }
        span = LeanSpan(method, client.put_span, None, _SERVER, attributes)
        ctx = Context({**get_current(), LINK_KEY: link, _SPAN_KEY: span})
    else:
        span = LeanSpan(method, client.put_span, None, _SERVER, {METHOD: method, PATH: path})
        ctx = Context({**get_current(), _SPAN_KEY: span})
    if remote is not None:
        span.trace_id, span.parent_span_id = remote
    return activation.Activation(span, attach(ctx))


def finish_request(
    act: Activation, status: int, route: str | None, error: BaseException | None
) -> None:
    """Name the span by its route, mark 5xx as an error, end it and detach the context."""
    span = act.span
    try:
        if route:
            span.attributes[ROUTE] = route
            span.name = f"{span.name} {route}"
        if status:
            span.attributes[STATUS] = status
            if status >= 500 and error is None:
                span.set_status(StatusCode.ERROR, f"HTTP {status}")
    finally:
        act.finish(error)


def _text(value: Any) -> str:
    return value.decode("latin-1") if isinstance(value, bytes) else str(value)
