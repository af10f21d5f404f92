"""Access-token auth: ``Authorization: Bearer <token>``, or the login session cookie
(a signed session, never the token itself: see ``web/session.py``)."""

from __future__ import annotations

import secrets

from fastapi import HTTPException, Request
from starlette.requests import HTTPConnection

from backlight_server.state import get_state
from backlight_server.web import session


def bearer_ok(conn: HTTPConnection) -> bool:
    header = conn.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    return (
        scheme.lower() == "bearer"
        and bool(value)
        and secrets.compare_digest(value.strip().encode(), get_state(conn).auth_token.encode())
    )


def token_ok(conn: HTTPConnection) -> bool:
    return bearer_ok(conn) or session.from_request(conn, get_state(conn).auth_token)


def require_token(request: Request) -> None:
    if not token_ok(request):
        raise HTTPException(
            401,
            "a valid access token is required (Authorization: Bearer <token>, or log in at /login)",
            headers={"WWW-Authenticate": "Bearer"},
        )
