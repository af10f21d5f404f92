"""The last line of defence: an unexpected exception becomes a JSON 500, never a bare one.

Installed inside the ingest CORS middleware, so browsers can read the answer and an SDK
can tell "retry later" from "dropped". Every such case is a bug: it is logged with its
traceback and counted in ``backlight_rejected_requests_total{reason="internal_error"}``.
"""

from __future__ import annotations

import logging

import orjson
from starlette.types import ASGIApp, Message, Receive, Scope, Send

log = logging.getLogger("backlight")
_BODY = orjson.dumps(
    {"error": "internal_error", "detail": "the server failed on this request; it has been logged"}
)


class ErrorGuard:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def watch(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, watch)
        except Exception:
            log.exception("unhandled error on %s %s", scope.get("method"), scope.get("path"))
            state = getattr(scope.get("app"), "state", None)
            backlight = getattr(state, "backlight", None)
            if backlight is not None:
                backlight.metrics.rejected.labels("internal_error").inc()
            if started:
                raise
            await send(
                {
                    "type": "http.response.start",
                    "status": 500,
                    "headers": [
                        (b"content-type", b"application/json"),
                        (b"content-length", str(len(_BODY)).encode()),
                    ],
                }
            )
            await send({"type": "http.response.body", "body": _BODY})
