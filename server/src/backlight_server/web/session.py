"""The login session: a signed cookie that never holds the access token.

Value: ``1.<issued>.<expires>.<nonce>.<mac>``: epoch seconds, 16 random bytes (base64url),
and HMAC-SHA256 over ``1.<issued>.<expires>.<nonce>`` (base64url) with a key derived from the
access token, so a new token ends every session. The expiry is checked here, on the server,
whatever the browser keeps.

The cookie is ``HttpOnly``, ``SameSite=Lax``, ``Path=/``, and ``Secure`` over https. Browsers
send a host's cookies to every port of that host, so the name carries the port the browser
sees (two servers on one host do not log each other out), and over https it takes the
``__Host-`` prefix (no ``Domain``: a sibling subdomain cannot set or replace it).
"""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import secrets
import time

from starlette.requests import HTTPConnection
from starlette.responses import Response

SESSION_TTL_S = 30 * 86_400
CLOCK_SKEW_S = 300  # a session issued up to this far in the future is still accepted
MAX_VALUE_CHARS = 200  # a real value is ~95 characters
BASE_NAME = "backlight_session"
LEGACY_COOKIE = "backlight_token"  # held the raw token before sessions; removed on sight
_VERSION = "1"


@functools.lru_cache(maxsize=4)
def session_key(token: str) -> bytes:
    return hmac.new(token.encode(), b"backlight login session v1", hashlib.sha256).digest()


def _mac(token: str, payload: str) -> str:
    digest = hmac.new(session_key(token), payload.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def issue(token: str, now: float | None = None) -> str:
    issued = int(time.time() if now is None else now)
    payload = f"{_VERSION}.{issued}.{issued + SESSION_TTL_S}.{secrets.token_urlsafe(16)}"
    return f"{payload}.{_mac(token, payload)}"


def _seconds(text: str) -> int | None:
    return int(text) if text.isascii() and text.isdigit() and len(text) <= 12 else None


def valid(token: str, value: str, now: float | None = None) -> bool:
    """True when ``value`` was issued by :func:`issue` with ``token`` and has not expired."""
    if not value or len(value) > MAX_VALUE_CHARS or not value.isascii():
        return False
    parts = value.split(".")
    if len(parts) != 5 or parts[0] != _VERSION:
        return False
    issued, expires = _seconds(parts[1]), _seconds(parts[2])
    if issued is None or expires is None:
        return False
    payload = value[: value.rindex(".")]
    if not hmac.compare_digest(parts[4].encode(), _mac(token, payload).encode()):
        return False
    t = time.time() if now is None else now
    return issued <= t + CLOCK_SKEW_S and t < expires and expires - issued <= SESSION_TTL_S


def is_https(conn: HTTPConnection) -> bool:
    """The scheme as the browser sees it (``BrowserGuard`` applies a trusted proxy's)."""
    return conn.scope.get("scheme") == "https"


def _port(conn: HTTPConnection) -> int | None:
    """The port in the Host header (read by hand: any Host must work, even ``[``)."""
    host = conn.headers.get("host")
    if host is None:
        server = conn.scope.get("server")
        return int(server[1]) if server and server[1] else None
    _, sep, port = host.rpartition(":")
    return int(port) if sep and port.isascii() and port.isdigit() and len(port) <= 5 else None


def cookie_name(conn: HTTPConnection) -> str:
    """``backlight_session_8082`` over http, ``__Host-backlight_session`` over https on 443."""
    port = _port(conn)
    name = BASE_NAME if port is None else f"{BASE_NAME}_{port}"
    return f"__Host-{name}" if is_https(conn) else name


def from_request(conn: HTTPConnection, token: str) -> bool:
    return valid(token, conn.cookies.get(cookie_name(conn), ""))


def start(response: Response, conn: HTTPConnection, token: str) -> None:
    response.set_cookie(
        cookie_name(conn),
        issue(token),
        max_age=SESSION_TTL_S,
        path="/",
        secure=is_https(conn),
        httponly=True,
        samesite="lax",
    )
    _drop_legacy(response, conn)


def end(response: Response, conn: HTTPConnection) -> None:
    response.delete_cookie(
        cookie_name(conn), path="/", secure=is_https(conn), httponly=True, samesite="lax"
    )
    _drop_legacy(response, conn)


def _drop_legacy(response: Response, conn: HTTPConnection) -> None:
    if LEGACY_COOKIE in conn.cookies:
        response.delete_cookie(LEGACY_COOKIE, path="/")
