"""The linkage contract (docs/linkage.md): which session and request a span, log or error
belongs to, and what a valid session or request id is.

Sources, first match wins:
1. ``highlight.session_id`` / ``highlight.trace_id`` attributes (each from the record, else
   from its resource);
2. an ``x-highlight-request`` attribute (W3C baggage copied to attributes, e.g. by a
   baggage span processor) or a ``baggage`` attribute holding that entry (record, then
   resource);
3. otherwise the request id is the W3C trace id itself (the browser SDK makes them equal),
   and the session is unknown until the query joins it through the network request.

Tests hold every function here to docs/linkage-vectors.json. Nothing here raises on any
input; everything is linear in it.
"""

from __future__ import annotations

import re
from typing import NamedTuple
from urllib.parse import unquote

from backlight_server.names import BAGGAGE_HEADER, BAGGAGE_KEY, HEADER
from backlight_server.names import PROJECT_ATTR as PROJECT_ATTR
from backlight_server.names import REQUEST_ATTR as REQUEST_ATTR
from backlight_server.names import SESSION_ATTR as SESSION_ATTR

MAX_ID = 128
MAX_HEADER = 2 * MAX_ID + 1 + 4
"""The longest ``x-highlight-request`` value read: two ids, the slash, 4 of white space."""
MAX_BAGGAGE = 8192
ID_RULE = "1-128 characters of [A-Za-z0-9_.:-], at least one of them a letter or digit"
_ID = re.compile(r"(?=[_.:-]*[A-Za-z0-9])[A-Za-z0-9_.:-]{1,128}\Z")
_OWS = " \t"


class Link(NamedTuple):
    session_id: str | None
    request_id: str | None


NO_LINK = Link(None, None)


def clean_id(value: object) -> str | None:
    """``value`` if it is a valid session or request id (the same rule for both), else None."""
    if not isinstance(value, str) or len(value) > MAX_ID:
        return None
    return value if _ID.match(value) else None


def parse_header(value: object) -> Link:
    """Parse ``<session id>/<request id>``, white space (spaces, tabs) around it ignored.
    Anything malformed means no link."""
    if not isinstance(value, str) or len(value) > MAX_HEADER:
        return NO_LINK
    session, sep, request = value.strip(_OWS).partition("/")
    if not sep:
        return NO_LINK
    s, r = clean_id(session), clean_id(request)
    if s is None or r is None:
        return NO_LINK
    return Link(s, r)


def from_baggage(value: object) -> Link:
    """The first ``x-highlight-request`` entry of a W3C baggage header value."""
    if not isinstance(value, str) or len(value) > MAX_BAGGAGE:
        return NO_LINK
    for member in value.split(","):
        key, sep, rest = member.partition("=")
        if sep and key.strip(_OWS).lower() == BAGGAGE_KEY:
            return parse_header(unquote(rest.split(";", 1)[0].strip(_OWS)))
    return NO_LINK


def resolve(attrs: dict[str, object], resource: dict[str, object]) -> Link:
    """Link from a record's attributes, falling back to its resource's (steps 1 and 2)."""
    session = clean_id(attrs.get(SESSION_ATTR)) or clean_id(resource.get(SESSION_ATTR))
    request = clean_id(attrs.get(REQUEST_ATTR)) or clean_id(resource.get(REQUEST_ATTR))
    if session or request:
        return Link(session, request)
    for source in (attrs, resource):
        if HEADER in source:
            link = parse_header(source[HEADER])
            if link.session_id:
                return link
        if BAGGAGE_HEADER in source:
            link = from_baggage(source[BAGGAGE_HEADER])
            if link.session_id:
                return link
    return NO_LINK
