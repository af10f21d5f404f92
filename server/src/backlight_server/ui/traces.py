"""A trace by id, as a waterfall with its logs and errors."""

from __future__ import annotations

import re
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from backlight_server.state import get_state
from backlight_server.symbolicate.apply import symbolicate_linked
from backlight_server.ui.render import page, render
from backlight_server.ui.waterfall import bars

_TRACE_ID = re.compile(r"[0-9a-f]{1,64}\Z")


@page
def trace_search(request: Request) -> Response:
    wanted = request.query_params.get("id", "").strip().lower()
    if wanted:
        return RedirectResponse(f"/traces/{quote(wanted[:64], safe='')}", status_code=303)
    return render(request, "trace.html", nav="traces", t=None, bars=[])


@page
def trace_page(request: Request) -> Response:
    trace_id = request.path_params["trace_id"][:64].lower()
    if not _TRACE_ID.match(trace_id):
        return render(
            request,
            "trace.html",
            nav="traces",
            t=None,
            bars=[],
            status=404,
            wanted=trace_id,
            error=f"{trace_id!r} is not a trace id (hex)",
        )
    store = get_state(request).store
    data = store.get_trace(trace_id)
    if not (data["span_count"] or data["logs"] or data["errors"]):
        # one message, not "nothing recorded" above an empty waterfall's "no spans"
        return render(
            request,
            "trace.html",
            nav="traces",
            t=None,
            bars=[],
            wanted=trace_id,
            status=404,
            error=f"Nothing is recorded for trace {trace_id}: no span, log or error carries "
            "this trace id (yet: spans can arrive a few seconds after the request).",
        )
    symbolicate_linked(store, data)
    return render(request, "trace.html", nav="traces", t=data, bars=bars(data["spans"]))


routes = [
    Route("/traces", trace_search, methods=["GET"]),
    Route("/traces/{trace_id}", trace_page, methods=["GET"]),
]
