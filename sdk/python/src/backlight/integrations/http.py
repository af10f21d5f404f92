"""What the server middlewares share: starting a request's span from its headers, ending it.

The span is a ``RequestSpan``: the headers are kept raw and parsed only when asked for
(see ``backlight.request_span``), so a request whose app never looks at its trace or link
pays for the parsing on the export thread, a batch at a time.
"""

from __future__ import annotations

from contextvars import Token
from typing import Any, cast

from opentelemetry import propagate
from opentelemetry.context import Context
from opentelemetry.trace.propagation import _SPAN_KEY

from backlight._context import LINK_KEY, attach, get_current, with_link, without_link
from backlight._debug import debug
from backlight._debug import state as debug_state
from backlight._state import state
from backlight.activation import Activation
from backlight.headers import (
    MAX_COOKIE,
    MAX_RAW_VALUE,
    MAX_TRACEPARENT,
    cookie_session,
    from_baggage,
    parse_value,
)
from backlight.names import BAGGAGE_HEADER, TRACEPARENT_HEADER
from backlight.request_span import METHOD, PATH, ROUTE, STATUS, RequestSpan

__all__ = ["METHOD", "PATH", "ROUTE", "STATUS", "begin_request", "finish_request"]


def begin_request(
    method: str,
    path: str,
    highlight: str | bytes | None,
    traceparent: str | bytes | None,
    baggage: str | bytes | None,
    cookie: str | bytes | None = None,
) -> tuple[RequestSpan, Token[Context]] | None:
    """Start the server span of one request from its four interesting headers: the span
    and the token of the context that made it current. The ASGI and WSGI middlewares end
    the span and detach the token themselves; Django wraps both in an ``Activation``.

    The common case (``x-highlight-request`` and ``traceparent``) parses nothing here; a
    ``baggage`` header goes through the global propagator so its entries reach the app's
    context. ``cookie`` (the ``Cookie`` header) links the request to the browser SDK's
    session cookie when neither of the others gives a link (``RequestSpan.request_link``).
    """
    client = state.client
    if client is None:
        return None
    if highlight is not None and len(highlight) > MAX_RAW_VALUE:
        highlight = None  # malformed anyway: not kept until export
    if traceparent is not None and len(traceparent) > MAX_TRACEPARENT:
        traceparent = None
    if cookie is not None and len(cookie) > MAX_COOKIE:
        cookie = None
    span = RequestSpan(
        method, client.put_span, {METHOD: method, PATH: path}, highlight, traceparent, cookie
    )
    if baggage is not None:
        return span, _attach_with_baggage(span, highlight, traceparent, baggage)
    if debug_state.logger is not None:
        debug(
            "backlight: %s %s x-highlight-request=%r traceparent=%r session cookie=%r -> link %s",
            method,
            path,
            highlight,
            traceparent,
            cookie_session(cookie),
            span.request_link(),
        )
    # One copy of the current context with the (lazy) link and the span.
    if highlight is not None or cookie is not None:
        return span, attach(Context({**get_current(), LINK_KEY: span, _SPAN_KEY: span}))
    return span, attach(Context({**get_current(), _SPAN_KEY: span}))


def _attach_with_baggage(
    span: RequestSpan,
    highlight: str | bytes | None,
    traceparent: str | bytes | None,
    baggage: str | bytes,
) -> Token[Context]:
    carrier = {BAGGAGE_HEADER: _text(baggage)}
    if traceparent is not None:
        carrier[TRACEPARENT_HEADER] = _text(traceparent)
    parent = propagate.extract(carrier, Context())
    # the header, then its baggage entry, then the session cookie (docs/linkage.md)
    link = parse_value(highlight) if highlight is not None else None
    span.raw_link = None
    if link is None:
        link = from_baggage(carrier[BAGGAGE_HEADER])
    if link is not None:
        span.link, span.raw_cookie = link, None
    else:
        link = span.request_link()  # the cookie's, if any
    parent = with_link(link, parent) if link is not None else without_link(parent)
    return attach(Context({**parent, _SPAN_KEY: span}))


def finish_request(
    act: Activation, status: int, route: str | None, error: BaseException | None
) -> None:
    """Record the status and route, end the span and detach the context.

    The span's name gets the route and a 5xx status becomes an error status when the span
    is encoded (``RequestSpan.record``).
    """
    span = cast(RequestSpan, act.span)
    try:
        span.route = route
        if status:
            span.attributes[STATUS] = status
    finally:
        act.finish(error)


def _text(value: Any) -> str:
    return value.decode("latin-1") if isinstance(value, bytes) else str(value)
