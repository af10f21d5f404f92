"""Login and logout. The token becomes an HttpOnly cookie; pages without it go to /login."""

from __future__ import annotations

import html
import secrets
from urllib.parse import parse_qs

from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Route

from backlight_server.api.auth import COOKIE, token_ok
from backlight_server.state import get_state

_LOGIN = """<!doctype html><html lang="en"><head><meta charset="utf-8">
<title>Backlight · log in</title><meta name="viewport" content="width=device-width">
</head><body style="font-family:system-ui;max-width:26rem;margin:4rem auto">
<h1>Backlight</h1><form method="post" action="/login">
<label>Access token <input name="token" type="password" autofocus required></label>
<button type="submit">Log in</button></form><p style="color:#b00">{error}</p>
<p>The token is printed by <code>backlight serve</code> at start.</p></body></html>"""


def _logged_in(token: str) -> Response:
    response = RedirectResponse("/", status_code=303)
    response.set_cookie(COOKIE, token, httponly=True, samesite="lax", max_age=30 * 86400)
    return response


async def login(request: Request) -> Response:
    expected = get_state(request).auth_token
    if request.method == "POST":
        form = parse_qs((await request.body())[:4096].decode("utf-8", "replace"))
        token = form.get("token", [""])[0]
    else:
        token = request.query_params.get("token", "")
    if token and secrets.compare_digest(token.encode(), expected.encode()):
        return _logged_in(token)
    error = "That token is not valid." if token else ""
    return HTMLResponse(_LOGIN.format(error=html.escape(error)), status_code=401 if token else 200)


async def logout(_: Request) -> Response:
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(COOKIE)
    return response


async def home(request: Request) -> Response:
    if not token_ok(request):
        return RedirectResponse("/login", status_code=303)
    return RedirectResponse("/api/docs", status_code=303)


routes = [
    Route("/login", login, methods=["GET", "POST"]),
    Route("/logout", logout, methods=["GET", "POST"]),
    Route("/", home, methods=["GET"]),
]
