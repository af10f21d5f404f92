"""``BrowserGuard``: the pure-ASGI middleware between browsers and everything but ingest.

In order, for each HTTP request:

1. behind a trusted TLS proxy (``trust_proxy_headers``), the scheme from ``X-Forwarded-Proto``;
2. ingest (``/ingest/``, ``/v1/``, ``/public``) and the SDK file (``/sdk/``) get only
   ``nosniff``: they are called from any origin by design;
3. ``/metrics``, ``/api/docs`` and ``/api/openapi.json`` need the token (bearer or login
   session) unless ``public_metrics`` / ``public_api_docs`` say otherwise;
4. a state-changing request (not GET/HEAD/OPTIONS) that is not authenticated by a valid
   bearer token must come from this server's own pages (see ``origin.py``), else 403;
5. every other response gets the security headers of ``headers.py``.
"""

from __future__ import annotations

from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from backlight_server.api.auth import bearer_ok, token_ok
from backlight_server.ingest.cors import INGEST_PREFIXES
from backlight_server.ingest.responses import json_response
from backlight_server.settings import Settings, env_name
from backlight_server.web import headers
from backlight_server.web.origin import (
    SAFE_METHODS,
    cross_site_reason,
    forwarded_scheme,
    own_origins,
)

BYPASS_PREFIXES = (*INGEST_PREFIXES, "/sdk/")
METRICS_PATHS = frozenset({"/metrics"})
DOCS_PATHS = frozenset({headers.DOCS_PATH, "/api/openapi.json"})


def _with_headers(send: Send, extra: list[tuple[bytes, bytes]]) -> Send:
    names = {name for name, _ in extra}

    async def sender(message: Message) -> None:
        if message["type"] == "http.response.start":
            kept = [(n, v) for n, v in message.get("headers", []) if n.lower() not in names]
            message["headers"] = [*kept, *extra]
        await send(message)

    return sender


class BrowserGuard:
    def __init__(self, app: ASGIApp, settings: Settings) -> None:
        self.app = app
        self.settings = settings

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if self.settings.trust_proxy_headers:
            scope = forwarded_scheme(scope)
        path: str = scope["path"]
        if path.startswith(BYPASS_PREFIXES) or path == "/sdk":
            await self.app(scope, receive, _with_headers(send, [headers.NOSNIFF]))
            return
        send = _with_headers(send, headers.for_path(path))
        refusal = self._refusal(Request(scope))
        if refusal is not None:
            await refusal(scope, receive, send)
            return
        await self.app(scope, receive, send)

    def _refusal(self, request: Request) -> Response | None:
        path: str = request.scope["path"]
        gated = (path in METRICS_PATHS and not self.settings.public_metrics) or (
            path in DOCS_PATHS and not self.settings.public_api_docs
        )
        if gated and not token_ok(request):
            if path == headers.DOCS_PATH:
                return RedirectResponse("/login?" + urlencode({"next": path}), status_code=303)
            setting = "public_metrics" if path in METRICS_PATHS else "public_api_docs"
            return json_response(
                {
                    "error": "unauthorized",
                    "detail": f"{path} requires the access token (Authorization: Bearer <token>, "
                    f"or log in at /login); {env_name(setting)}=true makes it public",
                },
                401,
                {"WWW-Authenticate": "Bearer"},
            )
        if request.method not in SAFE_METHODS and not bearer_ok(request):
            origins = own_origins(
                request.scope["scheme"], request.headers.get("host", ""), self.settings.public_url
            )
            reason = cross_site_reason(request.headers, origins)
            if reason is not None:
                return json_response(
                    {
                        "error": "cross_site_request",
                        "detail": f"{request.method} {path} refused: {reason}. Requests that "
                        "change state with the login cookie must come from this "
                        "server's own pages; API clients send Authorization: Bearer",
                    },
                    403,
                )
        return None
