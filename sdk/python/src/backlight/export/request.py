"""The encoded ``Span`` of a request span, written from its raw headers (export thread).

Nearly every server span is the same few pairs (method, route, status) plus a path, a
link and new ids. The description of an endpoint (name, kind, those pairs, status) is
encoded once and reused; the ids are copied from the ``traceparent`` hex and the link
pairs from the ``x-highlight-request`` bytes as they came, with no integers,
``RequestContext`` or attribute dict in between. A span the app added to (attributes,
events, a status) goes through ``RequestSpan.record()`` and the general encoder instead;
both give the same message (see the tests).
"""

from __future__ import annotations

import struct
from binascii import unhexlify
from typing import Any

from backlight.export import lean, wire
from backlight.headers import (
    MAX_TOKEN,
    PLAIN_VALUE,
    canonical_ids,
    match_value,
    parse_traceparent,
)
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
_plain_value = PLAIN_VALUE.fullmatch
# 1: trace id, 2: span id, 4: parent span id, 7/8: start/end time (fixed64, little-endian),
# 16: flags (a remote parent)
_pack_remote = struct.Struct("<2s16s2s8s2s8sBQBQ6s").pack
_REMOTE_FLAGS = lean.REMOTE_FLAGS


def _request_prefix(size: int) -> bytes:
    """``attributes`` (9): KeyValue{highlight.trace_id, AnyValue{string_value}} up to the
    value's bytes, for a value of ``size`` bytes."""
    value = b"\x0a" + wire.varint(size)  # AnyValue.string_value = 1
    pair = (
        wire.length_delimited(1, REQUEST_ATTR.encode()) + b"\x12" + wire.varint(len(value) + size)
    )
    return b"\x4a" + wire.varint(len(pair) + len(value) + size) + pair + value


_REQUEST_PREFIX = [_request_prefix(size) for size in range(MAX_TOKEN + 1)]


def request_span(span: RequestSpan) -> bytes:
    """The encoded span, through the fast path when only the middleware wrote to it."""
    attributes = span.attributes
    if span.events or span.status_code._value_ or not attributes.keys() <= _MIDDLEWARE_KEYS:
        return lean.lean_span(span.record())
    raw = span.raw_parent
    if type(raw) is str and len(raw) == 55:  # WSGI headers are latin-1 decoded str
        raw = raw.encode("latin-1", "replace")
    if type(raw) is bytes and (ids := canonical_ids(raw)) is not None:  # what SDKs send
        head = _pack_remote(
            b"\x0a\x10", unhexlify(ids[0]), b"\x12\x08", span.span_id.to_bytes(8, "big"),
            b"\x22\x08", unhexlify(ids[1]), 0x39, span.start_time, 0x41, span.end_time,
            _REMOTE_FLAGS,
        )  # fmt: skip
    else:
        head = _own_ids(span, raw)
    path = attributes.get(PATH)
    link = span.raw_link
    if type(link) is bytes and (match := match_value(link)) is not None:
        pairs = _link_pairs(match[1], match[2])  # validated: the values' own bytes
    else:
        pairs = other_link_pairs(span)
    return b"".join(
        (
            head,
            _endpoint(span, attributes),
            _path(path) if type(path) is str else b"",
            pairs,
        )
    )


def other_link_pairs(span: RequestSpan) -> bytes:
    """The link pairs of a span whose ``x-highlight-request`` is not a well-formed bytes
    value: a str (WSGI), a parsed link, or none."""
    link = span.raw_link
    if type(link) is str and (text := _plain_value(link)) is not None:
        # a str header with nothing to strip: what parse_value makes of it, without the
        # RequestContext (validated ASCII, so its bytes are its characters)
        return _link_pairs(wire.text(text[1]), wire.text(text[2]))
    if (parsed := span.request_link()) is not None:  # a str to strip, or parsed already
        return _link_pairs(wire.text(parsed.secure_session_id), wire.text(parsed.request_id))
    return b""


def _own_ids(span: RequestSpan, traceparent: str | bytes | None) -> bytes:
    """Ids, times and flags, continuing ``traceparent`` if valid (any form the parser
    takes): a request span's parent, when it has one, is always remote."""
    trace_id, parent = span.trace_id, span.parent_span_id
    if traceparent is not None:
        remote = parse_traceparent(traceparent)
        if remote is not None:
            trace_id, parent = remote
    return b"".join(
        (
            lean.ids(trace_id, span.span_id, parent),
            lean.times(span.start_time, span.end_time),
            _REMOTE_FLAGS if parent else lean.LOCAL_FLAGS,
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


def _link_pairs(session: bytes, request: bytes) -> bytes:
    """The ``highlight.session_id`` pair (cached per session) and the
    ``highlight.trace_id`` pair (new on every span: a prefix, then the id's bytes)."""
    encoded = _sessions.get(session)
    if encoded is None:
        encoded = wire.length_delimited(9, wire.key_value(SESSION_ATTR, session.decode()))
        if len(_sessions) >= _CACHE_MAX:
            _sessions.clear()
        _sessions[session] = encoded
    size = len(request)  # at most MAX_TOKEN from a header; built if a link is ever longer
    prefix = _REQUEST_PREFIX[size] if size <= MAX_TOKEN else _request_prefix(size)
    return encoded + prefix + request


def _discard(_: object) -> None:
    return None
