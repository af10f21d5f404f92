"""WSGI middleware for Flask and any WSGI app.

The span ends when the body runs out, or when the server closes the response iterable
(whichever comes first), so streamed bodies (generators) are inside it, and an exception
raised while streaming is recorded. A server may do neither: werkzeug's dev server skips
``close()`` when the client resets the connection while it drains the socket. The span
then ends when the response object is garbage-collected (``__del__``: CPython frees it as
soon as the server drops it), and at the latest when the SDK shuts down
(``backlight.setup`` collects garbage first).

Every request runs through this code, next to a framework that keeps the CPU's caches
full: the path is kept to few functions and objects (see docs/benchmarks.md).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Any

from opentelemetry.context import Context

from backlight._context import attach, detach, get_current
from backlight._debug import internal_error
from backlight._state import state
from backlight.activation import fail
from backlight.integrations.http import STATUS, begin_request
from backlight.names import SERVER_TIMING_HEADER
from backlight.navigation import joined, server_timing, wants_timing
from backlight.request_span import RequestSpan

Environ = dict[str, Any]
StartResponse = Callable[..., Callable[[bytes], object]]
WSGIApp = Callable[[Environ, StartResponse], Iterable[bytes]]


class BacklightMiddleware:
    """``app.wsgi_app = BacklightMiddleware(app.wsgi_app)`` (Flask) or wrap any WSGI app."""

    def __init__(self, app: WSGIApp) -> None:
        self.app = app

    def __call__(self, environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        if state.client is None:
            return self.app(environ, start_response)
        try:
            get = environ.get
            begun = begin_request(
                get("REQUEST_METHOD", "GET"),
                get("PATH_INFO", "/"),
                get("HTTP_X_HIGHLIGHT_REQUEST"),
                get("HTTP_TRACEPARENT"),
                get("HTTP_BAGGAGE"),
                get("HTTP_COOKIE"),
            )
        except Exception:
            internal_error("wsgi middleware start")
            begun = None
        if begun is None:
            return self.app(environ, start_response)
        span, token = begun

        def start_response_wrapper(status: str, headers: Any, exc_info: Any = None) -> Any:
            try:
                code = _status_code(status)
                if code:
                    span.attributes[STATUS] = code
                span.route = _route(environ)  # Flask drops its request object before returning
                headers = _with_server_timing(span, code, headers)
            except Exception:
                internal_error("wsgi start_response")
            return start_response(status, headers, exc_info)

        try:
            body = self.app(environ, start_response_wrapper)
        except BaseException as exc:
            _end(span, environ, exc)
            detach(token)
            raise
        response = _Response(span, environ, body, get_current())
        detach(token)  # left until the server iterates the body
        return response


class _Response:
    """Wraps the app's iterable: re-enters the request context for each chunk."""

    __slots__ = ("body", "ctx", "environ", "span")

    def __init__(
        self, span: RequestSpan, environ: Environ, body: Iterable[bytes], ctx: Context
    ) -> None:
        self.span = span
        self.environ = environ
        self.body = body
        self.ctx = ctx

    def __iter__(self) -> Iterator[bytes]:
        iterator = iter(self.body)
        ctx = self.ctx
        while True:
            token = attach(ctx)
            try:
                chunk = next(iterator)
            except StopIteration:
                _end(self.span, self.environ, None)  # the server may never call close()
                return
            except BaseException as exc:
                _end(self.span, self.environ, exc)
                raise
            finally:
                detach(token)
            yield chunk

    def close(self) -> None:
        try:
            close = getattr(self.body, "close", None)
            if close is not None:
                close()
        except BaseException as exc:
            _end(self.span, self.environ, exc)
            raise
        _end(self.span, self.environ, None)

    def __del__(self) -> None:
        # The server dropped the response without closing it (or before running it out).
        if not self.span.end_time:
            _end(self.span, self.environ, None)


def _end(span: RequestSpan, environ: Environ, error: BaseException | None) -> None:
    """End the span (once; a later call does nothing), with ``error`` if any."""
    if span.end_time:
        return
    try:
        if span.route is None:
            span.route = _route(environ)
        if error is not None:
            fail(span, error)
        span.end()
    except Exception:
        internal_error("wsgi finish")


def _with_server_timing(span: RequestSpan, code: int, headers: Any) -> Any:
    """``headers`` with ``Server-Timing: traceparent;desc=...`` when the response is HTML
    (backlight.navigation); the app's list itself is left as it was."""
    content_type = cache_control = timing = None
    for i, (name, value) in enumerate(headers):
        lower = name.lower()
        if lower == "content-type":
            content_type = value
        elif lower == "cache-control":
            cache_control = value
        elif lower == SERVER_TIMING_HEADER and timing is None:
            timing = i
    if not wants_timing(code, content_type, cache_control):
        return headers
    ours = server_timing(span)
    out = list(headers)
    if timing is None:
        out.append(("Server-Timing", ours))
    else:
        out[timing] = (out[timing][0], joined(out[timing][1], ours))
    return out


def _status_code(status: str) -> int:
    try:
        return int(status.split(" ", 1)[0])
    except (ValueError, AttributeError):
        return 0


def _route(environ: Environ) -> str | None:
    """Flask/Werkzeug: the matched URL rule of the request object, if there is one."""
    request = environ.get("werkzeug.request")
    rule = getattr(request, "url_rule", None)
    template = getattr(rule, "rule", None)
    return template if isinstance(template, str) else None
