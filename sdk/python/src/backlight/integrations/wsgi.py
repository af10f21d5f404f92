"""WSGI middleware for Flask and any WSGI app.

The span ends when the server closes the response iterable, so streamed bodies
(generators) are inside it, and an exception raised while streaming is recorded.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from contextvars import Token
from typing import Any

from opentelemetry.context import Context

from backlight._context import attach, detach, get_current
from backlight._debug import internal_error
from backlight._state import state
from backlight.activation import Activation
from backlight.integrations.http import finish_request, start_request

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
        act = _start(environ)
        if act is None:
            return self.app(environ, start_response)
        response = _Response(act, environ)

        def start_response_wrapper(status: str, headers: Any, exc_info: Any = None) -> Any:
            response.status = _status_code(status)
            response.route = _route(environ)  # Flask drops its request object before returning
            return start_response(status, headers, exc_info)

        try:
            body = self.app(environ, start_response_wrapper)
        except BaseException as exc:
            response.end(exc)
            raise
        response.body = body
        response.detach()
        return response


class _Response:
    """Wraps the app's iterable: re-enters the request context for each chunk."""

    def __init__(self, act: Activation, environ: Environ) -> None:
        self.act = act
        self.environ = environ
        self.status = 0
        self.route: str | None = None
        self.body: Iterable[bytes] = ()
        self.ended = False
        self.ctx: Context | None = None

    def detach(self) -> None:
        """Leave the request context until the server iterates the body."""
        self.ctx = get_current()
        self.act.detach()

    def __iter__(self) -> Iterator[bytes]:
        iterator = iter(self.body)
        while True:
            token = self._enter()
            try:
                chunk = next(iterator)
            except StopIteration:
                return
            except BaseException as exc:
                self.end(exc)
                raise
            finally:
                self._leave(token)
            yield chunk

    def close(self) -> None:
        try:
            close = getattr(self.body, "close", None)
            if close is not None:
                close()
        except BaseException as exc:
            self.end(exc)
            raise
        self.end(None)

    def end(self, error: BaseException | None) -> None:
        if self.ended:
            return
        self.ended = True
        try:
            finish_request(self.act, self.status, self.route or _route(self.environ), error)
        except Exception:
            internal_error("wsgi finish")

    def _enter(self) -> Token[Context] | None:
        if self.ctx is None:
            return None
        try:
            return attach(self.ctx)
        except Exception:
            return None

    def _leave(self, token: Token[Context] | None) -> None:
        if token is not None:
            try:
                detach(token)
            except Exception:
                internal_error("wsgi detach")


def _start(environ: Environ) -> Activation | None:
    try:
        return start_request(
            environ.get("REQUEST_METHOD", "GET"),
            environ.get("PATH_INFO", "/"),
            environ.get("HTTP_X_HIGHLIGHT_REQUEST"),
            environ.get("HTTP_TRACEPARENT"),
            environ.get("HTTP_BAGGAGE"),
        )
    except Exception:
        internal_error("wsgi middleware start")
        return None


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
