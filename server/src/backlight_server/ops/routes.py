"""``GET /healthz`` and ``GET /metrics`` (Prometheus text)."""

from __future__ import annotations

from prometheus_client import CONTENT_TYPE_LATEST
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from backlight_server.ingest.responses import json_response
from backlight_server.state import get_state


async def healthz(request: Request) -> Response:
    """200 ``{"ok": true}`` while writes succeed; 503 ``{"ok": false, "reason"}`` while not.

    Reads the writer's last outcome: no I/O, so it never waits on the disk.
    """
    state = get_state(request)
    health = state.store.health()
    depth = state.store.queue_depth()
    if health.ok:
        return json_response({"ok": True, "queue_depth": depth})
    return json_response(
        {
            "ok": False,
            "reason": health.reason,
            "since_ms": round(health.since * 1000),
            "queue_depth": depth,
        },
        503,
    )


async def metrics(request: Request) -> Response:
    return Response(get_state(request).metrics.render(), media_type=CONTENT_TYPE_LATEST)


routes = [Route("/healthz", healthz, methods=["GET"]), Route("/metrics", metrics, methods=["GET"])]
