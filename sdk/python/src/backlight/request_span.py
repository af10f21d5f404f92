"""The server span of one request, with its header parsing left for later.

A request span keeps the raw ``x-highlight-request``, ``traceparent`` and ``Cookie`` values
and the matched route as they came. They are parsed when something asks for them (a child span,
a log record, an outgoing request, an error) and otherwise on the export thread, which
works through a whole batch at a time. What reaches the backend is the same either way:
``record()`` resolves everything before the span is encoded.

Unlike a plain lean span, an ended request span is queued as itself (not as a tuple), so
its object stays tracked by the garbage collector until the export thread takes it.
"""

from __future__ import annotations

from collections.abc import Callable
from time import time_ns
from typing import Any

from opentelemetry.trace import SpanContext, SpanKind, StatusCode

from backlight._debug import internal_error
from backlight.headers import cookie_session, parse_traceparent, parse_value
from backlight.names import REQUEST_ATTR as REQUEST_ATTR
from backlight.names import SESSION_ATTR as SESSION_ATTR
from backlight.span import LeanSpan, SpanRecord, _getrandbits
from backlight.types import RequestContext

METHOD = "http.request.method"
PATH = "url.path"
ROUTE = "http.route"
STATUS = "http.response.status_code"
_SERVER = SpanKind.SERVER
_UNSET = StatusCode.UNSET
_ERROR = StatusCode.ERROR


class RequestSpan(LeanSpan):
    """A server span whose link, remote parent and route are resolved lazily.

    ``raw_link`` / ``raw_parent`` / ``raw_cookie`` hold the header values until parsed
    (then ``None``); the session cookie links the request only when ``x-highlight-request``
    (or its ``baggage`` entry, which the middleware puts in ``link``) gives no link, with
    the request's own trace id as the request id;
    ``route`` is a route template string or a framework route object (read for its
    ``path_format`` or ``path``), with ``mount`` the mount prefix to put before it.
    """

    __slots__ = ("link", "mount", "raw_cookie", "raw_link", "raw_parent", "route")

    def __init__(
        self,
        name: str,
        sink: Callable[[Any], None],
        attributes: dict[str, Any],
        raw_link: str | bytes | None,
        raw_parent: str | bytes | None,
        raw_cookie: str | bytes | None = None,
    ) -> None:
        # LeanSpan's fields set here directly (no super() call on the request path)
        self.name = name
        self.sink = sink
        self.kind = _SERVER
        self.trace_id = _getrandbits(128) or 1  # kept when there is no valid traceparent
        self.parent_span_id = 0
        self.span_id = _getrandbits(64) or 1
        self.attributes = attributes
        self.events = None
        self.status_code = _UNSET
        self.status_description = None
        self._context = None
        self.start_time = time_ns()
        self.end_time = 0
        self.raw_link = raw_link
        self.link: RequestContext | None = None
        self.raw_parent = raw_parent
        self.raw_cookie = raw_cookie
        self.route: Any = None
        self.mount = ""

    def request_link(self) -> RequestContext | None:
        """The session and request this span serves (``x-highlight-request``, else the
        session cookie with this request's own trace id), if any."""
        raw = self.raw_link
        if raw is not None:
            self.link = parse_value(raw)  # before clearing raw_link: a reader never sees
            self.raw_link = None  # both unset
        if self.link is None and self.raw_cookie is not None:
            self.link = self._cookie_link(self.raw_cookie)
            self.raw_cookie = None
        return self.link

    def _cookie_link(self, raw: str | bytes) -> RequestContext | None:
        session = cookie_session(raw)
        if session is None:
            return None
        if self.raw_parent is not None:
            self._resolve_parent()
        return RequestContext(session, f"{self.trace_id:032x}")

    def traceparent(self) -> str:
        """This span as a W3C ``traceparent`` (its trace, itself as the parent)."""
        if self.raw_parent is not None:
            self._resolve_parent()
        return f"00-{self.trace_id:032x}-{self.span_id:016x}-01"

    def get_span_context(self) -> SpanContext:
        if self.raw_parent is not None:
            self._resolve_parent()
        return LeanSpan.get_span_context(self)

    def end(self, end_time: int | None = None) -> None:
        if self.end_time:
            return
        self.end_time = end_time or time_ns()
        self.sink(self)

    def record(self) -> SpanRecord:
        """The ended span as the encoder takes it, every lazy part resolved (export thread)."""
        if self.raw_parent is not None:
            self._resolve_parent()
        attributes = self.attributes
        link = self.request_link()
        if link is not None:  # what the app set itself wins
            attributes.setdefault(SESSION_ATTR, link.secure_session_id)
            attributes.setdefault(REQUEST_ATTR, link.request_id)
        name = self.name
        route = self.route
        if route is not None:
            if type(route) is not str:
                route = self._template(route)
            if route:
                attributes[ROUTE] = route
                name = f"{name} {route}"
        code, description = self.status_code, self.status_description
        if code is _UNSET:
            status = attributes.get(STATUS)
            if type(status) is int and status >= 500:
                code, description = _ERROR, f"HTTP {status}"
        # its parent, when it has one, is the traceparent's: another process's span
        return self._to_record(name, code, description, self.parent_span_id != 0)

    def _resolve_parent(self) -> None:
        raw = self.raw_parent
        if raw is not None:
            remote = parse_traceparent(raw)
            if remote is not None:
                self.trace_id, self.parent_span_id = remote
            self.raw_parent = None

    def _template(self, route: Any) -> str | None:
        """The path template of a framework's route object (Starlette/FastAPI's)."""
        try:
            template = getattr(route, "path_format", None) or getattr(route, "path", None)
        except Exception:
            internal_error("route template")
            return None
        return self.mount + template if isinstance(template, str) else None
