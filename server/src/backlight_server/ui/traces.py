"""The trace list (filters: service, span name, duration, status, time) and a trace by id,
as a waterfall with its logs and errors."""

from __future__ import annotations

import re
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from backlight_server.state import get_state
from backlight_server.store.queries import TraceQuery
from backlight_server.symbolicate.apply import symbolicate_linked
from backlight_server.ui import params
from backlight_server.ui.render import page, render
from backlight_server.ui.timerange import time_range
from backlight_server.ui.waterfall import bars

_TRACE_ID = re.compile(r"[0-9a-f]{1,64}\Z")
PAGE_SIZE = 50
STATUSES = ("error", "ok")


def _duration(request: Request, name: str) -> float | None:
    value = params.number(request, name)
    return value if value is not None and 0 <= value <= 1e10 else None


@page
def trace_list(request: Request) -> Response:
    wanted = request.query_params.get("id", "").strip().lower()
    if wanted:
        return RedirectResponse(f"/traces/{quote(wanted[:64], safe='')}", status_code=303)
    start_ms, end_ms = time_range(request)
    status = params.choice(request, "status", STATUSES)
    data = get_state(request).store.list_traces(
        TraceQuery(
            service=params.text(request, "service", 256),
            name=params.text(request, "name", 512),
            min_ms=_duration(request, "min_ms"),
            max_ms=_duration(request, "max_ms"),
            status="error" if status == "error" else "ok" if status == "ok" else None,
            start_ms=start_ms,
            end_ms=end_ms,
            limit=PAGE_SIZE,
            offset=params.integer(request, "offset"),
        )
    )
    longest = max((t["duration_ms"] for t in data["traces"]), default=0.0)
    filtered = any(
        request.query_params.get(k)
        for k in ("service", "name", "min_ms", "max_ms", "status", "since", "start", "end")
    )
    return render(
        request,
        "traces.html",
        nav="traces",
        data=data,
        longest=longest,
        filtered=filtered,
        ranges=params.RANGES,
        start_ms=start_ms,
        end_ms=end_ms,
        page_size=PAGE_SIZE,
    )


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
    waterfall = bars(data["spans"], None, data["logs"], data["errors"])
    placed = {id(lg) for b in waterfall.rows for lg in b.logs}
    return render(
        request,
        "trace.html",
        nav="traces",
        t=data,
        bars=waterfall,
        other_logs=[lg for lg in data["logs"] if id(lg) not in placed],
    )


routes = [
    Route("/traces", trace_list, methods=["GET"]),
    Route("/traces/{trace_id}", trace_page, methods=["GET"]),
]
