"""Login, logout and the routes of every UI page. A valid token starts a login session (a
signed cookie, see web/session.py); pages without one go to /login. Logging out takes a POST
from our own pages (BrowserGuard refuses cross-site ones); GET /logout only shows the button."""

from __future__ import annotations

import secrets
from urllib.parse import parse_qs

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from backlight_server.api.auth import token_ok
from backlight_server.state import get_state
from backlight_server.ui import alerts, assets, errors, logs, requests, sessions, setup, traces
from backlight_server.ui.render import render
from backlight_server.web import session


def _safe_next(target: str) -> str:
    """Only local paths: ``/sessions?x=1`` yes, ``//evil.example`` or ``http://…`` no."""
    if target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return "/"


def _logged_in(request: Request, token: str, target: str) -> Response:
    response = RedirectResponse(_safe_next(target), status_code=303)
    session.start(response, request, token)
    return response


async def login(request: Request) -> Response:
    expected = get_state(request).auth_token
    if request.method == "POST":
        form = parse_qs((await request.body())[:4096].decode("utf-8", "replace"))
        token = form.get("token", [""])[0]
        target = form.get("next", ["/"])[0]
    else:
        token = request.query_params.get("token", "")
        target = request.query_params.get("next", "/")
    if token and secrets.compare_digest(token.encode(), expected.encode()):
        return _logged_in(request, token, target)
    error = "That token is not valid." if token else ""
    return render(
        request, "login.html", status=401 if token else 200, error=error, next=_safe_next(target)
    )


async def logout(request: Request) -> Response:
    if request.method != "POST":
        return render(request, "logout.html")
    response = RedirectResponse("/login", status_code=303)
    session.end(response, request)
    return response


async def home(request: Request) -> Response:
    if not token_ok(request):
        return RedirectResponse("/login", status_code=303)
    return RedirectResponse("/sessions", status_code=303)


routes: list[BaseRoute] = [
    Route("/login", login, methods=["GET", "POST"]),
    Route("/logout", logout, methods=["GET", "POST"]),
    Route("/", home, methods=["GET"]),
    *sessions.routes,
    *requests.routes,
    *errors.routes,
    *logs.routes,
    *traces.routes,
    *alerts.routes,
    *setup.routes,
    *assets.routes,
]
