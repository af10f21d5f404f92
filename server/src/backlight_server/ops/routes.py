"""``GET /healthz`` and ``GET /metrics`` (Prometheus text)."""

from __future__ import annotations

from prometheus_client import CONTENT_TYPE_LATEST
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from backlight_server.ingest.responses import json_response
from backlight_server.state import get_state


async def healthz(request: Request) -> Response:
    state = get_state(request)
    return json_response({"ok": True, "queue_depth": state.store.queue_depth()})


async def metrics(request: Request) -> Response:
    return Response(get_state(request).metrics.render(), media_type=CONTENT_TYPE_LATEST)


routes = [Route("/healthz", healthz, methods=["GET"]), Route("/metrics", metrics, methods=["GET"])]
