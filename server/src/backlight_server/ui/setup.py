"""Setup: the SDK snippets with the project id filled in, what the server has observed so far,
and — when sessions arrive but nothing links — the likely causes (the troubleshooting
checklist as a page)."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from backlight_server.state import get_state
from backlight_server.ui.render import page, render

COUNTS_TTL_S = 5.0  # counting 100k logs and spans is not free; the page may be reloaded


def observed(request: Request, project: str) -> dict[str, Any]:
    """``store.counts(project)``, reused for a few seconds."""
    state, now = get_state(request), time.monotonic()
    hit = state.counts_cache.get(project)
    if hit is not None and hit[0] > now:
        return hit[1]
    counts = state.store.counts(project)
    state.counts_cache[project] = (now + COUNTS_TTL_S, counts)
    return counts


@dataclass(frozen=True)
class Finding:
    level: str  # "ok" | "warn" | "todo"
    title: str
    detail: str


def diagnose(c: dict[str, Any]) -> list[Finding]:
    """Likely causes of "nothing is linked", from the counts of ``store.counts``."""
    out: list[Finding] = []
    if not c["sessions"]:
        out.append(
            Finding(
                "todo",
                "No browser session yet",
                "Add the browser snippet to your app's pages and load one.",
            )
        )
    if not c["spans"]:
        out.append(
            Finding(
                "todo" if not c["sessions"] else "warn",
                "No backend SDK is sending",
                "No span has arrived. Install the Python SDK (or any OpenTelemetry "
                "SDK exporting OTLP to this server) and make a request.",
            )
        )
    if c["sessions"] and c["requests_without_id"] and not c["requests_with_id"]:
        out.append(
            Finding(
                "warn",
                "tracingOrigins did not match the API's host",
                f"{c['requests_without_id']} network requests were recorded, none "
                "with an x-highlight-request id. Set tracingOrigins to true (same "
                "site) or list the API's host.",
            )
        )
    if c["requests_with_id_failed"]:
        out.append(
            Finding(
                "warn",
                "CORS blocked x-highlight-request",
                f"{c['requests_with_id_failed']} requests that carried the header "
                "failed with a CORS or network error. Allow the request headers "
                "x-highlight-request, traceparent and baggage in the API's CORS "
                "configuration (Access-Control-Allow-Headers).",
            )
        )
    if c["spans"] and c["requests_with_id"] and not c["first_linked_request"]:
        out.append(
            Finding(
                "warn",
                "Spans arrive but none matches a browser request",
                "The backend does not read x-highlight-request / traceparent "
                "(middleware missing), or it sends to another project.",
            )
        )
    if c["first_linked_request"]:
        out.append(
            Finding(
                "ok", "Front and back are linked", "At least one browser request has backend spans."
            )
        )
    return out


@page
def setup_page(request: Request) -> Response:
    state = get_state(request)
    projects = state.store.list_projects()
    wanted = request.query_params.get("project", "")
    project = wanted if any(p["id"] == wanted for p in projects) else state.default_project
    counts = observed(request, project)
    base = str(request.base_url).rstrip("/")
    return render(
        request,
        "setup.html",
        nav="setup",
        project=project,
        projects=projects,
        counts=counts,
        findings=diagnose(counts),
        base=base,
    )


routes = [Route("/setup", setup_page, methods=["GET"])]
