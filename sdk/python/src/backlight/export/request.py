"""The encoded ``Span`` of a request span, written from its raw headers (export thread).

Nearly every server span is the same few pairs (method, route, status) plus a path, a
link and new ids. The description of an endpoint (name, kind, those pairs, status) is
encoded once and reused; the link pairs are written from the ``x-highlight-request``
bytes as they came, with no ``RequestContext`` or attribute dict in between. A span the
app added to (attributes, events, a status) goes through ``RequestSpan.record()`` and
the general encoder instead; both give the same message (see the tests).
"""

from __future__ import annotations

from typing import Any

from backlight.export import lean, wire
from backlight.headers import match_value, parse_traceparent
from backlight.request_span import (
    METHOD,
    PATH,
    REQUEST_ATTR,
    SESSION_ATTR,
    STATUS,
    RequestSpan,
)

_MIDDLEWARE_KEYS = frozenset({METHOD, PATH, STATUS})
_CACHE_MAX = 1024
_endpoints: dict[tuple[Any, ...], tuple[Any, bytes]] = {}
_paths: dict[str, bytes] = {}
_sessions: dict[bytes, bytes] = {}
_REQUEST_KEY = wire.length_delimited(1, REQUEST_ATTR.encode())


def request_span(span: RequestSpan) -> bytes:
    """The encoded span, through the fast path when only the middleware wrote to it."""
    attributes = span.attributes
    if span.events or span.status_code._value_ or not attributes.keys() <= _MIDDLEWARE_KEYS:
        return lean.lean_span(span.record())
    trace_id, parent = span.trace_id, span.parent_span_id
    raw_parent = span.raw_parent
    if raw_parent is not None:
        remote = parse_traceparent(raw_parent)
        if remote is not None:
            trace_id, parent = remote
    path = attributes.get(PATH)
    return b"".join(
        (
            lean.ids(trace_id, span.span_id, parent),
            lean.times(span.start_time, span.end_time),
            _endpoint(span, attributes),
            _path(path) if type(path) is str else b"",
            _link(span),
        )
    )


def _endpoint(span: RequestSpan, attributes: dict[str, Any]) -> bytes:
    """Name, kind, method/route/status pairs and span status: one entry per endpoint,
    method and response status, built by the general encoder."""
    route = span.route
    # a template string keys by value (Django builds one per request); a route object by
    # identity, kept alive in the entry so that its id stays its own
    route_key = route if route is None or type(route) is str else id(route)
    key = (span.name, attributes.get(METHOD), attributes.get(STATUS), route_key, span.mount)
    cached = _endpoints.get(key)
    if cached is not None and (route_key is route or cached[0] is route):
        return cached[1]
    probe = RequestSpan(span.name, _discard, dict(attributes), None, None)
    probe.attributes.pop(PATH, None)  # written on its own: paths vary under one route
    probe.route, probe.mount = route, span.mount
    encoded = lean.describe(probe.record())
    if len(_endpoints) >= _CACHE_MAX:
        _endpoints.clear()
    _endpoints[key] = (route, encoded)
    return encoded


def _path(path: str) -> bytes:
    encoded = _paths.get(path)
    if encoded is None:
        encoded = wire.length_delimited(9, wire.key_value(PATH, path))
        if len(_paths) >= _CACHE_MAX:
            _paths.clear()
        _paths[path] = encoded
    return encoded


def _link(span: RequestSpan) -> bytes:
    """The ``highlight.session_id`` and ``highlight.trace_id`` pairs, or nothing."""
    raw = span.raw_link
    if type(raw) is bytes:  # ASGI: the header's bytes, validated, are the values' bytes
        match = match_value(raw)
        if match is None:
            return b""
        return _session_pair(match[1]) + _request_pair(match[2])
    link = span.request_link()  # a str header (WSGI), or parsed already
    if link is None:
        return b""
    return _session_pair(link.secure_session_id.encode()) + _request_pair(link.request_id.encode())


def _session_pair(session: bytes) -> bytes:
    encoded = _sessions.get(session)
    if encoded is None:
        encoded = wire.length_delimited(9, wire.key_value(SESSION_ATTR, session.decode()))
        if len(_sessions) >= _CACHE_MAX:
            _sessions.clear()
        _sessions[session] = encoded
    return encoded


def _request_pair(request: bytes) -> bytes:
    """``attributes`` (9): KeyValue{highlight.trace_id, AnyValue{string_value}}."""
    value = b"\x0a" + wire.varint(len(request)) + request  # AnyValue.string_value = 1
    pair = _REQUEST_KEY + b"\x12" + wire.varint(len(value)) + value
    return b"\x4a" + wire.varint(len(pair)) + pair


def _discard(_: object) -> None:
    return None
