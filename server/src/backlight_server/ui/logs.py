"""Log search: full text plus level, service, session, request and time filters."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from backlight_server.state import get_state
from backlight_server.ui import params
from backlight_server.ui.render import page, render

PAGE_SIZE = 100
LEVELS = ("trace", "debug", "info", "warn", "error", "fatal")


@page
def logs_page(request: Request) -> Response:
    since = params.since_ms(request)
    data = get_state(request).store.search_logs(
        q=params.text(request, "q", 1024),
        level=params.choice(request, "level", LEVELS),
        service=params.text(request, "service", 256),
        session_id=params.text(request, "session", 128),
        request_id=params.text(request, "request", 128),
        start_ns=int(since * 1e6) if since is not None else None,
        limit=PAGE_SIZE,
        offset=params.integer(request, "offset"),
    )
    return render(
        request,
        "logs.html",
        nav="logs",
        data=data,
        levels=LEVELS,
        ranges=params.RANGES,
        page_size=PAGE_SIZE,
    )


routes = [Route("/logs", logs_page, methods=["GET"])]
