"""Reading the linkage headers (docs/linkage.md): ``x-highlight-request``
(``<session id>/<request id>``), its ``baggage`` fallback, and W3C ``traceparent``.

Anything malformed means "no linkage": these functions never raise. Tests hold them, and
the compiled encoder's copy of the id rule (``_speedups.c``), to docs/linkage-vectors.json.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import unquote

from backlight.names import BAGGAGE_HEADER, BAGGAGE_KEY, HIGHLIGHT_COOKIE, SESSION_COOKIE
from backlight.names import HEADER as HEADER
from backlight.types import RequestContext

MAX_TOKEN = 128
"""The longest session or request id."""
# An id: 1 to MAX_TOKEN characters of [A-Za-z0-9_.:-], at least one a letter or digit
# (so never a dot segment such as ``..``). The same rule for sessions and requests.
_TOKEN_RE = r"(?=[_.:-]*[A-Za-z0-9])[A-Za-z0-9_.:-]{1,128}"
_TOKEN = re.compile(_TOKEN_RE + r"\Z")
_OWS = " \t"
_VALUE = re.compile(rf"[ \t]*({_TOKEN_RE})/({_TOKEN_RE})[ \t]*\Z".encode())
PLAIN_VALUE = re.compile(rf"({_TOKEN_RE})/({_TOKEN_RE})")
"""A str value with nothing around it: ``fullmatch`` gives what ``parse_value`` would."""
MAX_RAW_VALUE = 2 * MAX_TOKEN + 1 + 4
"""The longest value read: two ids, the slash and 4 characters of white space around."""
_MAX_BAGGAGE = 8192
MAX_COOKIE = 16384
"""The longest ``Cookie`` header searched for the session cookie."""
_HIGHLIGHT_ID = re.compile(r"[A-Za-z0-9]{28}\Z")
MAX_TRACEPARENT = 512  # 55 characters in version 00; later versions may append fields
_CANONICAL = re.compile(rb"00-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}\Z")
_ZERO_TRACE, _ZERO_SPAN = b"0" * 32, b"0" * 16
_TRACEPARENT = re.compile(
    rb"[ \t]*([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-[0-9a-f]{2}(-[^ \t]*)?[ \t]*\Z"
)


# The frozen dataclass's __init__ sets each field through object.__setattr__; on the
# request path a link is built straight through its slots (the same object).
_set_session = vars(RequestContext)["secure_session_id"].__set__
_set_request = vars(RequestContext)["request_id"].__set__
_new = object.__new__


def _link(session: str, request: str) -> RequestContext:
    link: RequestContext = _new(RequestContext)
    _set_session(link, session)
    _set_request(link, request)
    return link


def match_value(value: bytes) -> re.Match[bytes] | None:
    """A raw header value's session (group 1) and request id (group 2), if well formed."""
    return _VALUE.match(value) if len(value) <= MAX_RAW_VALUE else None


def parse_value(value: object) -> RequestContext | None:
    """Parse one header value; ``None`` when it is missing or malformed."""
    if isinstance(value, bytes):  # raw ASGI header: one regex, no decode of a bad value
        match = match_value(value)
        if match is None:
            return None
        return _link(match[1].decode("ascii"), match[2].decode("ascii"))
    if not isinstance(value, str) or len(value) > MAX_RAW_VALUE:
        return None
    session, sep, request = value.strip(_OWS).partition("/")
    if not sep or not _TOKEN.match(session) or not _TOKEN.match(request):
        return None
    return RequestContext(session, request)


def canonical_ids(value: bytes) -> tuple[bytes, bytes] | None:
    """The trace id and parent span id (hex) of a ``traceparent`` in the form browsers and
    OTel SDKs send (version 00, no padding, no extra fields), both non-zero.

    ``None`` for any other value, which ``parse_traceparent`` may still accept.
    """
    if len(value) == 55 and _CANONICAL.match(value):
        trace_id, span_id = value[3:35], value[36:52]
        if trace_id != _ZERO_TRACE and span_id != _ZERO_SPAN:
            return trace_id, span_id
    return None


def parse_traceparent(value: str | bytes) -> tuple[int, int] | None:
    """(trace id, parent span id) of a W3C ``traceparent``; ``None`` when malformed."""
    if type(value) is bytes and (ids := canonical_ids(value)) is not None:
        return int(ids[0], 16), int(ids[1], 16)
    if len(value) > MAX_TRACEPARENT:
        return None
    if isinstance(value, str):
        value = value.encode("latin-1", "replace")
    match = _TRACEPARENT.match(value)
    if match is None or match[1] == b"ff" or (match[1] == b"00" and match[4]):
        return None
    trace_id, span_id = int(match[2], 16), int(match[3], 16)
    return (trace_id, span_id) if trace_id and span_id else None


def from_baggage(value: object) -> RequestContext | None:
    """The ``x-highlight-request`` entry of a W3C ``baggage`` header value."""
    if isinstance(value, bytes):
        value = value.decode("latin-1")
    if not isinstance(value, str) or len(value) > _MAX_BAGGAGE:
        return None
    for member in value.split(","):
        key, sep, rest = member.partition("=")
        if sep and key.strip(_OWS).lower() == BAGGAGE_KEY:
            return parse_value(unquote(rest.split(";", 1)[0].strip(_OWS)))
    return None


def cookie_session(value: object) -> str | None:
    """The session id in a ``Cookie`` header value: the browser SDK's ``backlight_session``
    cookie, else highlight.run's ``sessionID`` when it has the shape highlight.run gives it
    (28 letters and digits, so an app's own cookie of that name is not taken for one).

    The first cookie of each name decides, even when its value is not a valid id. The value
    is taken as it is (no quotes removed, nothing decoded). A header longer than
    ``MAX_COOKIE`` holds no session. Never raises; linear in the header's length.
    """
    if isinstance(value, bytes):
        value = value.decode("latin-1")  # a byte of 128 or more is never part of an id
    if not isinstance(value, str) or len(value) > MAX_COOKIE:
        return None
    ours: str | None = None
    theirs: str | None = None
    for part in value.split(";"):
        name, sep, rest = part.partition("=")
        if not sep:
            continue
        name = name.strip(_OWS)
        if name == SESSION_COOKIE:
            ours = rest.strip(_OWS)
            break
        if name == HIGHLIGHT_COOKIE and theirs is None:
            theirs = rest.strip(_OWS)
    if ours is not None:
        return ours if _TOKEN.match(ours) else None
    if theirs is not None and _HIGHLIGHT_ID.match(theirs):
        return theirs
    return None


def get_header(headers: Any, name: str) -> str | bytes | None:
    """Case-insensitive lookup in a dict, a list of pairs or a framework's header object."""
    try:
        return _lookup(headers, name)
    except Exception:
        return None


def parse_headers(headers: Any) -> RequestContext | None:
    """The request link carried by ``headers``, or ``None``.

    Accepts a dict, a list of ``(name, value)`` pairs (str or bytes), and Starlette,
    Werkzeug and Django header objects, all case-insensitively. The ``x-highlight-request``
    header wins; a ``baggage`` entry of the same name is the fallback.
    """
    link = parse_value(get_header(headers, HEADER))
    if link is None:
        link = from_baggage(get_header(headers, BAGGAGE_HEADER))
    return link


def _lookup(headers: Any, name: str) -> str | bytes | None:
    if headers is None:
        return None
    if isinstance(headers, Mapping):
        return _from_mapping(headers, name)
    if hasattr(headers, "items"):  # Werkzeug EnvironHeaders, multidicts
        return _from_pairs(headers.items(), name)
    if isinstance(headers, Iterable) and not isinstance(headers, str | bytes):
        return _from_pairs(headers, name)
    return None


def _from_mapping(headers: Mapping[Any, Any], name: str) -> str | bytes | None:
    environ_key = "HTTP_" + name.upper().replace("-", "_")  # WSGI environ, Django META
    for key in (name, environ_key, name.title(), name.encode("latin-1")):
        try:
            value = headers[key]
        except (KeyError, TypeError):
            continue
        if isinstance(value, str | bytes):
            return value
    return _from_pairs(headers.items(), name)


def _from_pairs(pairs: Iterable[Any], name: str) -> str | bytes | None:
    bname = name.encode("latin-1")
    for pair in pairs:
        key, value = pair
        if isinstance(key, bytes):
            matched = key.lower() == bname
        else:
            matched = isinstance(key, str) and key.lower() == name
        if matched and isinstance(value, str | bytes):
            return value
    return None
