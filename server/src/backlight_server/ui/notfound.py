"""The not-found answer for a path no route serves: the UI's page for a browser asking for
HTML, JSON for everything else (the API, ingest, assets and any client without
``Accept: text/html``), so scripts and SDKs keep reading ``{"error": "not_found"}``."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from backlight_server.ingest.cors import INGEST_PREFIXES
from backlight_server.ui.render import not_found

MACHINE_PREFIXES = (
    *INGEST_PREFIXES,
    "/api/",
    "/sdk/",
    "/ui-static/",
    "/ui-data/",
)
MACHINE_PATHS = frozenset({"/api", "/metrics", "/healthz"})


def wants_page(request: Request) -> bool:
    """A browser navigating (GET or HEAD, ``Accept`` naming ``text/html``) to a UI path."""
    path = request.url.path
    if request.method not in ("GET", "HEAD") or path in MACHINE_PATHS:
        return False
    if path.startswith(MACHINE_PREFIXES):
        return False
    return "text/html" in request.headers.get("accept", "").lower()


def page(request: Request) -> Response:
    return not_found(request, "page at this address", path=request.url.path[:200])
