"""The request view: browser side, backend waterfall, logs and errors of one request.

``/requests/{id}`` is a page; ``/requests/{id}?fragment=1`` is the same view without the
page frame, loaded into the session page's side panel.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from backlight_server.state import get_state
from backlight_server.symbolicate.apply import symbolicate_linked
from backlight_server.ui.render import page, render
from backlight_server.ui.waterfall import bars


@page
def request_view(request: Request) -> Response:
    rid = request.path_params["request_id"][:128]
    store = get_state(request).store
    data = store.get_request(rid)
    symbolicate_linked(store, data)
    template = "_request.html" if request.query_params.get("fragment") else "request.html"
    found = bool(data["browser"] or data["span_count"] or data["logs"] or data["errors"])
    return render(
        request,
        template,
        nav="sessions",
        r=data,
        found=found,
        bars=bars(data["spans"], data["browser"], data["logs"], data["errors"]),
        status=200 if found else 404,
    )


routes = [Route("/requests/{request_id}", request_view, methods=["GET"])]
