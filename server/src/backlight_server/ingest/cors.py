"""CORS for ingest: browsers on any origin may send to the ingest endpoints."""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

# "//v1/": OTLP paths from an endpoint written with a trailing slash (see otlp_http.py)
INGEST_PREFIXES = ("/ingest/", "/v1/", "//v1/", "/public")
_ALLOW_HEADERS = (
    b"content-type, content-encoding, x-highlight-project, x-highlight-request, "
    b"traceparent, tracestate, baggage"
)


class IngestCORS:
    """Pure-ASGI CORS for ingest paths: answers preflights, stamps the response headers."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith(INGEST_PREFIXES):
            await self.app(scope, receive, send)
            return
        origin = b"*"
        for name, value in scope["headers"]:
            if name == b"origin":
                origin = value
                break
        cors = [(b"access-control-allow-origin", origin), (b"vary", b"Origin")]
        if scope["method"] == "OPTIONS":
            await send(
                {
                    "type": "http.response.start",
                    "status": 204,
                    "headers": [
                        *cors,
                        (b"access-control-allow-methods", b"POST, GET, OPTIONS"),
                        (b"access-control-allow-headers", _ALLOW_HEADERS),
                        (b"access-control-max-age", b"86400"),
                    ],
                }
            )
            await send({"type": "http.response.body", "body": b""})
            return

        async def send_with_cors(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), *cors]
            await send(message)

        await self.app(scope, receive, send_with_cors)
