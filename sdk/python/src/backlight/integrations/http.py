"""What the server middlewares share: reading the incoming headers, naming and ending."""

from __future__ import annotations

from typing import Any

from opentelemetry import propagate
from opentelemetry.context import Context
from opentelemetry.trace import SpanKind, StatusCode

from backlight import activation
from backlight._debug import debug
from backlight._debug import state as debug_state
from backlight.activation import Activation
from backlight.headers import from_baggage, parse_value

METHOD = "http.request.method"
PATH = "url.path"
ROUTE = "http.route"
STATUS = "http.response.status_code"


def start_request(
    method: str,
    path: str,
    highlight: str | bytes | None,
    traceparent: str | bytes | None,
    baggage: str | bytes | None,
) -> Activation | None:
    """Start the server span of one request from its three interesting headers."""
    link = parse_value(highlight) if highlight is not None else None
    parent: Context | None = None
    if traceparent is not None or baggage is not None:
        carrier = {}
        if traceparent is not None:
            carrier["traceparent"] = _text(traceparent)
        if baggage is not None:
            carrier["baggage"] = _text(baggage)
            if link is None:
                link = from_baggage(carrier["baggage"])
        parent = propagate.extract(carrier, Context())
    if debug_state.logger is not None:
        debug(
            "backlight: %s %s x-highlight-request=%r traceparent=%r -> link %s",
            method,
            path,
            highlight,
            traceparent,
            link,
        )
    return activation.start(method, SpanKind.SERVER, link, parent, {METHOD: method, PATH: path})


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
