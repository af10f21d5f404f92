"""Pure ASGI middleware for FastAPI, Starlette and any ASGI app.

It never buffers: the response is observed by wrapping ``send``. Websocket and lifespan
scopes pass straight through.

The span ends when the app returns or raises, whatever the client did: a client that
disconnects mid-body (uvicorn then ignores further ``send`` calls and the app runs to its
end; Starlette cancels a streaming body), a cancelled task, or a server that drops the
request's coroutine (``GeneratorExit``: closed, or garbage-collected) all end it, and what
was recorded on it is exported. Neither of the last two counts as an app error.

Every request gets exactly one server span, whatever FastAPI's telemetry settings:

- When another instrumentation already opened the server span (FastAPI's native
  telemetry with ``app.add_middleware``, OpenTelemetry's ASGI middleware), no second span
  is made: that span gets the link (the propagator ``backlight.init`` installs has put it
  in the context).
- Otherwise this middleware opens it, and a FastAPI app inside (``BacklightMiddleware(app)``)
  is told that the request's telemetry is handled further out, as an outer FastAPI app
  tells a mounted one (``_FASTAPI_TELEMETRY``): its native telemetry, which
  ``backlight.init``'s tracer provider switches on, would otherwise open a second server
  span with the same parent.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from contextvars import Token

from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.trace.propagation import _SPAN_KEY

from backlight._context import current_link, detach, get_current
from backlight._debug import internal_error
from backlight._state import state
from backlight.activation import REQUEST_ATTR, SESSION_ATTR, fail
from backlight.headers import parse_value
from backlight.integrations.http import STATUS, begin_request
from backlight.navigation import joined, server_timing, wants_timing
from backlight.request_span import RequestSpan
from backlight.types import ASGIApp, Message, Receive, Scope, Send

_FASTAPI_TELEMETRY = "fastapi.telemetry"
"""FastAPI skips its native telemetry (server span, operation spans, exception logs, request
metrics) for a request whose scope has this key: an outer FastAPI app sets it for the apps
mounted in it, and FastAPI's ``exclude`` option sets it to ``None``, as this middleware
does when the request's server span is its own or another one outside FastAPI. Set
already (``app.add_middleware``: FastAPI's span is the open one), it is left alone."""


class BacklightMiddleware:
    """``app.add_middleware(BacklightMiddleware)`` or ``BacklightMiddleware(app)``."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or state.client is None:
            await self.app(scope, receive, send)
            return
        outer = get_current().get(_SPAN_KEY)  # trace.get_current_span(), without the calls
        if outer is not None and isinstance(outer, trace.Span) and outer.is_recording():
            _link_outer_span(scope)
            if _FASTAPI_TELEMETRY not in scope:
                scope[_FASTAPI_TELEMETRY] = None  # see _FASTAPI_TELEMETRY
            await self.app(scope, receive, send)
            return
        try:
            highlight = traceparent = baggage = cookie = None
            for name, value in scope["headers"]:
                if name == b"x-highlight-request":
                    highlight = value
                elif name == b"traceparent":
                    traceparent = value
                elif name == b"baggage":
                    baggage = value
                elif name == b"cookie":  # HTTP/2 may split it into several fields
                    cookie = value if cookie is None else cookie + b"; " + value
            begun = begin_request(
                scope["method"], scope["path"], highlight, traceparent, baggage, cookie
            )
        except Exception:
            internal_error("asgi middleware start")
            begun = None
        if begun is None:
            await self.app(scope, receive, send)
            return
        span, token = begun
        if _FASTAPI_TELEMETRY not in scope:
            scope[_FASTAPI_TELEMETRY] = None  # see _FASTAPI_TELEMETRY
        attributes = span.attributes
        root_path = scope.get("root_path", "")

        def send_wrapper(message: Message) -> Awaitable[None]:
            # Not a coroutine itself: it returns the server's own awaitable, so each
            # message costs no extra coroutine object.
            if message["type"] == "http.response.start":
                attributes[STATUS] = message["status"]
                _add_server_timing(span, message)
            return send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        except asyncio.CancelledError:  # the client went away: not an app error
            _finish(span, token, scope, root_path, None)
            raise
        except GeneratorExit:  # the server dropped the request (closed or collected)
            _finish(span, None, scope, root_path, None)  # its context is gone already
            raise
        except BaseException as exc:
            _finish(span, token, scope, root_path, exc)
            raise
        _finish(span, token, scope, root_path, None)


def _add_server_timing(span: RequestSpan, message: Message) -> None:
    """``Server-Timing: traceparent;desc=...`` on an HTML response (backlight.navigation)."""
    try:
        headers = list(message.get("headers") or ())
        content_type = cache_control = timing = None
        for i, (name, value) in enumerate(headers):
            lower = name.lower()
            if lower == b"content-type":
                content_type = value
            elif lower == b"cache-control":
                cache_control = value
            elif lower == b"server-timing" and timing is None:
                timing = i
        if not wants_timing(message["status"], content_type, cache_control):
            return
        ours = server_timing(span)
        if timing is None:
            headers.append((b"server-timing", ours.encode("latin-1")))
        else:
            existing = headers[timing][1].decode("latin-1")
            headers[timing] = (headers[timing][0], joined(existing, ours).encode("latin-1"))
        message["headers"] = headers
    except Exception:
        internal_error("asgi server-timing")


def _link_outer_span(scope: Scope) -> None:
    """Make sure the enclosing server span carries the link of this request."""
    try:
        link = current_link()
        if link is None:
            for name, value in scope["headers"]:
                if name == b"x-highlight-request":
                    link = parse_value(value)
        if link is not None:
            span = trace.get_current_span()
            span.set_attribute(SESSION_ATTR, link.secure_session_id)
            span.set_attribute(REQUEST_ATTR, link.request_id)
    except Exception:
        internal_error("asgi middleware (outer span)")


def _finish(
    span: RequestSpan,
    token: Token[Context] | None,
    scope: Scope,
    root_path: str,
    error: BaseException | None,
) -> None:
    """Keep the matched route (named on the export thread), end the span, detach."""
    try:
        route = scope.get("route")  # Starlette/FastAPI put the matched route in the scope
        if route is not None:
            span.route = route
            span.mount = scope.get("root_path", "")[len(root_path) :]
        if error is not None:
            fail(span, error)
        span.end()
    except Exception:
        internal_error("asgi middleware finish")
    if token is not None:
        detach(token)
