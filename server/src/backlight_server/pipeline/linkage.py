"""The linkage contract: which session and request a span, log or error belongs to.

Sources, first match wins:
1. ``highlight.session_id`` / ``highlight.trace_id`` attributes (record, then resource);
2. an ``x-highlight-request`` attribute (W3C baggage copied to attributes, e.g. by a
   baggage span processor) or a ``baggage`` attribute holding that entry;
3. otherwise the request id is the W3C trace id itself (the browser SDK makes them equal),
   and the session is unknown until the query joins it through the network request.
"""

from __future__ import annotations

import re
from typing import NamedTuple
from urllib.parse import unquote

SESSION_ATTR = "highlight.session_id"
REQUEST_ATTR = "highlight.trace_id"
PROJECT_ATTR = "highlight.project_id"
HEADER = "x-highlight-request"

MAX_TOKEN = 128
_TOKEN = re.compile(r"[A-Za-z0-9_\-.:]{1,128}\Z")
_SESSION = re.compile(r"[A-Za-z0-9]{8,64}\Z")


class Link(NamedTuple):
    session_id: str | None
    request_id: str | None


NO_LINK = Link(None, None)


def clean_token(value: object) -> str | None:
    """A session or request id if ``value`` is a plausible one, else None."""
    if not isinstance(value, str) or not value or len(value) > MAX_TOKEN:
        return None
    return value if _TOKEN.match(value) else None


def clean_session(value: object) -> str | None:
    """A session secure id: 8-64 alphanumerics (ours and highlight.run's are 28)."""
    if not isinstance(value, str) or len(value) > 64:
        return None
    return value if _SESSION.match(value) else None


def parse_header(value: object) -> Link:
    """Parse ``<sessionSecureId>/<requestId>``. Anything malformed means no linkage."""
    if not isinstance(value, str) or len(value) > 2 * MAX_TOKEN + 1:
        return NO_LINK
    session, sep, request = value.strip().partition("/")
    if not sep:
        return NO_LINK
    s, r = clean_session(session), clean_token(request)
    if s is None or r is None:
        return NO_LINK
    return Link(s, r)


def from_baggage(value: object) -> Link:
    """The ``x-highlight-request`` entry of a W3C baggage header value."""
    if not isinstance(value, str) or len(value) > 8192:
        return NO_LINK
    for member in value.split(","):
        key, sep, rest = member.partition("=")
        if sep and key.strip().lower() == HEADER:
            return parse_header(unquote(rest.split(";", 1)[0].strip()))
    return NO_LINK


def resolve(attrs: dict[str, object], resource: dict[str, object]) -> Link:
    """Link from a record's attributes, falling back to its resource's."""
    session = clean_session(attrs.get(SESSION_ATTR)) or clean_session(
        resource.get(SESSION_ATTR))
    request = clean_token(attrs.get(REQUEST_ATTR)) or clean_token(resource.get(REQUEST_ATTR))
    if session or request:
        return Link(session, request)
    for source in (attrs, resource):
        if HEADER in source:
            link = parse_header(source[HEADER])
            if link.session_id:
                return link
        if "baggage" in source:
            link = from_baggage(source["baggage"])
            if link.session_id:
                return link
    return NO_LINK
