"""An ASGI request span ends, with what was recorded on it, when the client disconnects
mid-body (uvicorn, a raw socket that resets) or the server drops the request."""

from __future__ import annotations

import asyncio
import contextvars
import socket
import struct
import threading
from collections.abc import AsyncIterator
from typing import Any

import uvicorn
from sdk_capture import REQUEST, SESSION, Receiver
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import StreamingResponse
from starlette.routing import Route

import backlight
from backlight.integrations.asgi import BacklightMiddleware


class Boom(Exception):
    pass


def test_uvicorn_client_resets_mid_body_and_the_span_is_exported(sdk: Receiver) -> None:
    async def stream(request: Request) -> StreamingResponse:
        async def chunks() -> AsyncIterator[bytes]:
            yield b"first chunk\n"
            backlight.record_exception(Boom("recorded mid-body"))
            while True:  # until the client goes away
                await asyncio.sleep(0.01)
                yield b"more\n"

        return StreamingResponse(chunks())

    app = BacklightMiddleware(Starlette(routes=[Route("/stream", stream)]))
    # the socket bound here and handed over: no other process can take the port meanwhile
    listening = socket.create_server(("127.0.0.1", 0))
    port = listening.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="error"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [listening]}, daemon=True)
    thread.start()
    try:
        while not server.started:
            assert thread.is_alive(), "uvicorn stopped before it started"
            thread.join(0.02)
        client = socket.create_connection(("127.0.0.1", port))
        client.sendall(
            b"GET /stream HTTP/1.1\r\nHost: x\r\nX-Highlight-Request: "
            + f"{SESSION}/{REQUEST}".encode()
            + b"\r\n\r\n"
        )
        received = b""
        while b"first chunk" not in received:
            received += client.recv(65536)
        client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        client.close()  # a reset, mid-body
        sdk.wait_for(lambda r: bool(r.errors()))
    finally:
        server.should_exit = True
        thread.join(30)
    span = sdk.errors()[0]
    assert span.link == (SESSION, REQUEST)
    assert span.attributes["http.response.status_code"] == 200
    assert [e["exception.message"] for name, e in span.events if name == "exception"] == [
        "recorded mid-body"
    ]


def test_a_request_coroutine_the_server_drops_ends_its_span(sdk: Receiver) -> None:
    """A server that closes (or loses) the request's coroutine mid-body: the span ends, with
    what was recorded on it, and ``GeneratorExit`` is not taken for an app error."""

    async def app(scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        backlight.record_exception(Boom("recorded mid-body"))
        await asyncio.get_running_loop().create_future()  # never done

    async def send(message: Any) -> None:
        return None

    async def receive() -> Any:
        return {"type": "http.request", "body": b"", "more_body": False}

    scope = {
        "type": "http",
        "method": "GET",
        "path": "/dropped",
        "headers": [(b"x-highlight-request", f"{SESSION}/{REQUEST}".encode())],
    }

    async def drop() -> None:
        coro = BacklightMiddleware(app)(scope, receive, send)
        contextvars.copy_context().run(coro.send, None)  # runs to the never-done future
        coro.close()  # the server drops it

    asyncio.run(drop())
    sdk.wait_for(lambda r: len(r.spans) == 1)
    span = sdk.spans[0]
    assert span.link == (SESSION, REQUEST)
    assert [e["exception.type"] for name, e in span.events if name == "exception"] == [
        f"{__name__}.Boom"
    ]
