"""Access-token auth: ``Authorization: Bearer <token>`` or the login cookie."""

from __future__ import annotations

import secrets

from fastapi import HTTPException, Request

from backlight_server.state import get_state

COOKIE = "backlight_token"


def token_ok(request: Request) -> bool:
    expected = get_state(request).auth_token
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer" and value and secrets.compare_digest(
            value.strip().encode(), expected.encode()):
        return True
    cookie = request.cookies.get(COOKIE, "")
    return bool(cookie) and secrets.compare_digest(cookie.encode(), expected.encode())


def require_token(request: Request) -> None:
    if not token_ok(request):
        raise HTTPException(401, "a valid access token is required (Authorization: Bearer "
                                 "<token>, or log in at /login)",
                            headers={"WWW-Authenticate": "Bearer"})
