"""Log search: full text plus level, service, session, request and time filters."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from backlight_server.state import get_state
from backlight_server.store.queries import LogLevel, LogQuery
from backlight_server.ui import params
from backlight_server.ui.render import page, render

PAGE_SIZE = 100
LEVELS: tuple[LogLevel, ...] = ("trace", "debug", "info", "warn", "error", "fatal")


@page
def logs_page(request: Request) -> Response:
    wanted = request.query_params.get("level", "")
    data = get_state(request).store.search_logs(
        LogQuery(
            text=params.text(request, "q", 1024),
            level=next((lv for lv in LEVELS if lv == wanted), None),
            service=params.text(request, "service", 256),
            session_id=params.text(request, "session", 128),
            request_id=params.text(request, "request", 128),
            start_ms=params.since_ms(request),
            limit=PAGE_SIZE,
            offset=params.integer(request, "offset"),
        )
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
