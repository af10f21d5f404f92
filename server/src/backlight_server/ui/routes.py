"""Login, logout and the routes of every UI page. The token becomes an HttpOnly cookie;
pages without it go to /login."""

from __future__ import annotations

import secrets
from urllib.parse import parse_qs

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from backlight_server.api.auth import COOKIE, token_ok
from backlight_server.state import get_state
from backlight_server.ui import errors, logs, requests, sessions, setup, traces
from backlight_server.ui.render import BUILD_DIR, render


def _safe_next(target: str) -> str:
    """Only local paths: ``/sessions?x=1`` yes, ``//evil.example`` or ``http://…`` no."""
    if target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return "/"


def _logged_in(token: str, target: str) -> Response:
    response = RedirectResponse(_safe_next(target), status_code=303)
    response.set_cookie(COOKIE, token, httponly=True, samesite="lax", max_age=30 * 86400)
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
        return _logged_in(token, target)
    error = "That token is not valid." if token else ""
    return render(request, "login.html", status=401 if token else 200, error=error,
                  next=_safe_next(target))


async def logout(_: Request) -> Response:
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(COOKIE)
    return response


async def home(request: Request) -> Response:
    if not token_ok(request):
        return RedirectResponse("/login", status_code=303)
    return RedirectResponse("/sessions", status_code=303)


routes: list[BaseRoute] = [
    Route("/login", login, methods=["GET", "POST"]),
    Route("/logout", logout, methods=["GET", "POST"]),
    Route("/", home, methods=["GET"]),
    *sessions.routes, *requests.routes, *errors.routes, *logs.routes, *traces.routes,
    *setup.routes,
    Mount("/ui-static", app=StaticFiles(directory=BUILD_DIR, check_dir=False), name="ui-static"),
]
