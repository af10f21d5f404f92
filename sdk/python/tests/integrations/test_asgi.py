"""The ASGI middleware with FastAPI and Starlette, in-process through httpx.ASGITransport."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from collections.abc import AsyncIterator, MutableMapping
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.responses import StreamingResponse
from sdk_capture import REQUEST, SESSION, Receiver, fastapi_telemetry
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Mount, Route, WebSocketRoute
from starlette.websockets import WebSocket

from backlight.integrations.asgi import BacklightMiddleware

LINK = {"x-highlight-request": f"{SESSION}/{REQUEST}"}
log = logging.getLogger("app")


class Boom(Exception):
    pass


def fastapi_app() -> FastAPI:
    app = FastAPI(telemetry={"tracing": False, "logs": False})
    app.add_middleware(BacklightMiddleware)

    @app.get("/items/{item_id}")
    async def item(item_id: int) -> dict[str, int]:
        log.info("item %d", item_id)
        return {"id": item_id}

    @app.get("/boom")
    async def boom() -> None:
        raise Boom("handler failed")

    @app.get("/status/{code}")
    async def status(code: int) -> Response:
        return Response(status_code=code)

    @app.get("/stream")
    async def stream() -> StreamingResponse:
        async def chunks() -> AsyncIterator[bytes]:
            yield b"first "
            log.warning("streaming")
            raise Boom("stream broke")

        return StreamingResponse(chunks())

    @app.get("/sync")
    def sync_endpoint() -> dict[str, str]:
        log.info("sync handler")
        return {"ok": "yes"}

    return app


def client_for(app: object) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)  # type: ignore[arg-type]
    return httpx.AsyncClient(transport=transport, base_url="http://testserver")


async def wait(receiver: Receiver, predicate: object) -> None:
    await asyncio.to_thread(receiver.wait_for, predicate)  # type: ignore[arg-type]


async def test_fastapi_request_is_linked_and_named_by_route(sdk: Receiver) -> None:
    async with client_for(fastapi_app()) as client:
        response = await client.get("/items/7", headers=LINK)
    assert response.json() == {"id": 7}
    await wait(sdk, lambda r: bool(r.spans) and bool(r.logs_from("app")))
    span = sdk.spans_named("GET /items/{item_id}")[0]
    assert span.kind == 2  # SERVER
    assert span.link == (SESSION, REQUEST)
    assert span.attributes["http.route"] == "/items/{item_id}"
    assert span.attributes["url.path"] == "/items/7"
    assert span.attributes["http.response.status_code"] == 200
    assert span.status_code == 0
    record = sdk.logs_from("app")[0]
    assert record.body == "item 7"
    assert record.link == (SESSION, REQUEST)
    assert record.span_id == span.span_id


async def test_sync_endpoints_in_the_threadpool_are_linked(sdk: Receiver) -> None:
    async with client_for(fastapi_app()) as client:
        await client.get("/sync", headers=LINK)
    await wait(sdk, lambda r: bool(r.logs_from("app")))
    assert sdk.logs_from("app")[0].link == (SESSION, REQUEST)


async def test_incoming_traceparent_is_continued(sdk: Receiver) -> None:
    parent = "00f067aa0ba902b7"
    headers = {**LINK, "traceparent": f"00-{REQUEST}-{parent}-01"}
    async with client_for(fastapi_app()) as client:
        await client.get("/items/1", headers=headers)
    await wait(sdk, lambda r: bool(r.spans))
    span = sdk.spans[0]
    assert span.trace_id == REQUEST
    assert span.parent_span_id == parent


async def test_link_from_baggage_alone(sdk: Receiver) -> None:
    headers = {"baggage": f"x-highlight-request={SESSION}%2Fa1B2c3D4e5"}
    async with client_for(fastapi_app()) as client:
        await client.get("/items/1", headers=headers)
    await wait(sdk, lambda r: bool(r.spans))
    assert sdk.spans[0].link == (SESSION, "a1B2c3D4e5")


async def test_no_header_means_an_unlinked_span(sdk: Receiver) -> None:
    async with client_for(fastapi_app()) as client:
        await client.get("/items/1", headers={"x-highlight-request": "garbage"})
    await wait(sdk, lambda r: bool(r.spans))
    assert sdk.spans[0].link == (None, None)


async def test_unhandled_exception_is_recorded_and_reraised_unchanged(sdk: Receiver) -> None:
    app = fastapi_app()
    seen: list[BaseException] = []

    async def outer(scope: dict, receive: object, send: object) -> None:  # type: ignore[type-arg]
        try:
            await app(scope, receive, send)  # type: ignore[arg-type]
        except BaseException as exc:
            seen.append(exc)
            raise

    async with client_for(outer) as client:
        response = await client.get("/boom", headers=LINK)
    assert response.status_code == 500
    assert len(seen) == 1
    assert type(seen[0]) is Boom
    assert str(seen[0]) == "handler failed"
    await wait(sdk, lambda r: bool(r.errors()))
    span = sdk.errors()[0]
    assert span.name == "GET /boom"
    assert span.link == (SESSION, REQUEST)
    assert span.status_code == 2
    event = span.exception()
    assert event is not None
    assert event["exception.type"].endswith("Boom")
    assert event["exception.message"] == "handler failed"


@pytest.mark.parametrize(("code", "error"), [(404, False), (503, True), (500, True)])
async def test_5xx_responses_are_errors(sdk: Receiver, code: int, error: bool) -> None:
    async with client_for(fastapi_app()) as client:
        response = await client.get(f"/status/{code}", headers=LINK)
    assert response.status_code == code
    await wait(sdk, lambda r: bool(r.spans))
    span = sdk.spans[0]
    assert span.attributes["http.response.status_code"] == code
    assert span.status_code == (2 if error else 0)


async def test_exception_inside_a_streaming_response(sdk: Receiver) -> None:
    async with client_for(fastapi_app()) as client:
        response = await client.get("/stream", headers=LINK)
    assert response.content == b"first "  # the body stops where the stream broke
    await wait(sdk, lambda r: bool(r.errors()) and bool(r.logs_from("app")))
    span = sdk.errors()[0]
    assert span.name == "GET /stream"
    assert span.attributes["http.response.status_code"] == 200  # headers went out first
    assert span.exception()["exception.message"] == "stream broke"  # type: ignore[index]
    assert span.status_code == 2
    assert sdk.logs_from("app")[0].link == (SESSION, REQUEST)  # logged while streaming


def starlette_app(events: list[str]) -> Starlette:
    async def hello(request: Request) -> PlainTextResponse:
        log.info("hello %s", request.path_params["name"])
        return PlainTextResponse("hi")

    async def ws(websocket: WebSocket) -> None:
        await websocket.accept()
        events.append("websocket")
        await websocket.close()

    routes = [
        Mount("/api", routes=[Route("/hello/{name}", hello)]),
        WebSocketRoute("/ws", ws),
    ]

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        events.append("startup")
        yield
        events.append("shutdown")

    app = Starlette(routes=routes, lifespan=lifespan)
    app.add_middleware(BacklightMiddleware)
    return app


async def test_starlette_mounted_route_template(sdk: Receiver) -> None:
    async with client_for(starlette_app([])) as client:
        response = await client.get("/api/hello/ann", headers=LINK)
    assert response.text == "hi"
    await wait(sdk, lambda r: bool(r.spans) and bool(r.logs_from("app")))
    span = sdk.spans[0]
    assert span.name == "GET /api/hello/{name}"
    assert span.link == (SESSION, REQUEST)
    assert sdk.logs_from("app")[0].link == (SESSION, REQUEST)


async def test_websocket_and_lifespan_pass_through(sdk: Receiver) -> None:
    events: list[str] = []
    app = starlette_app(events)
    sent: list[MutableMapping[str, Any]] = []
    inbox: list[MutableMapping[str, Any]] = [
        {"type": "lifespan.startup"},
        {"type": "lifespan.shutdown"},
    ]

    async def receive() -> MutableMapping[str, Any]:
        return inbox.pop(0)

    async def send(message: MutableMapping[str, Any]) -> None:
        sent.append(message)

    await app({"type": "lifespan", "asgi": {"version": "3.0"}}, receive, send)
    assert events == ["startup", "shutdown"]
    assert [m["type"] for m in sent] == ["lifespan.startup.complete", "lifespan.shutdown.complete"]

    sent.clear()
    inbox[:] = [{"type": "websocket.connect"}, {"type": "websocket.disconnect", "code": 1000}]
    scope: dict[str, Any] = {
        "type": "websocket",
        "path": "/ws",
        "raw_path": b"/ws",
        "root_path": "",
        "scheme": "ws",
        "query_string": b"",
        "headers": [(b"x-highlight-request", LINK["x-highlight-request"].encode())],
        "asgi": {"version": "3.0"},
    }
    await app(scope, receive, send)
    assert "websocket" in events
    assert [m["type"] for m in sent] == ["websocket.accept", "websocket.close"]
    assert not sdk.spans  # nothing was traced


async def test_concurrent_asyncio_requests_keep_their_own_link(sdk: Receiver) -> None:
    app = FastAPI(telemetry={"tracing": False, "logs": False})
    app.add_middleware(BacklightMiddleware)

    @app.get("/work/{n}")
    async def work(n: int) -> dict[str, int]:
        log.info("start %d", n)
        await asyncio.sleep(0.001 * (n % 7))  # interleave the requests
        log.info("end %d", n)
        return {"n": n}

    def session_of(n: int) -> str:
        return f"session{n:020d}"

    async with client_for(app) as client:
        responses = await asyncio.gather(
            *(
                client.get(f"/work/{n}", headers={"x-highlight-request": f"{session_of(n)}/req{n}"})
                for n in range(100)
            )
        )
    assert all(r.status_code == 200 for r in responses)
    await wait(sdk, lambda r: len(r.spans) == 100 and len(r.logs_from("app")) == 200)
    for span in sdk.spans:
        n = int(span.attributes["url.path"].rsplit("/", 1)[1])
        assert span.link == (session_of(n), f"req{n}")
    for record in sdk.logs_from("app"):
        n = int(record.body.split()[1])
        assert record.link == (session_of(n), f"req{n}")
    spans_by_id = {s.span_id: s for s in sdk.spans}
    for record in sdk.logs_from("app"):
        assert spans_by_id[record.span_id].link == record.link


@pytest.mark.skipif(not fastapi_telemetry(), reason="this FastAPI has no native telemetry")
async def test_with_fastapi_native_telemetry_there_is_one_linked_server_span(
    sdk: Receiver,
) -> None:
    app = FastAPI()  # native telemetry on: it opens the server span
    app.add_middleware(BacklightMiddleware)

    @app.get("/items/{item_id}")
    async def item(item_id: int) -> dict[str, int]:
        log.info("native %d", item_id)
        return {"id": item_id}

    async with client_for(app) as client:
        await client.get("/items/3", headers=LINK)
    await wait(
        sdk, lambda r: bool(r.spans_named("GET /items/{item_id}")) and bool(r.logs_from("app"))
    )
    servers = [s for s in sdk.spans if s.kind == 2]
    assert len(servers) == 1
    assert servers[0].scope == "fastapi"
    assert servers[0].link == (SESSION, REQUEST)
    assert sdk.logs_from("app")[0].link == (SESSION, REQUEST)


async def test_fastapi_with_default_telemetry_wrapped_has_one_server_span(sdk: Receiver) -> None:
    """``app = BacklightMiddleware(FastAPI())``, FastAPI's settings untouched: Backlight's
    span is the request's one server span, for the app and for one mounted in another, and
    an unhandled exception is recorded once (FastAPI logs none of its own)."""
    api = FastAPI()

    @api.get("/items/{item_id}")
    async def item(item_id: int) -> dict[str, int]:
        log.info("defaults %d", item_id)
        return {"id": item_id}

    @api.get("/boom")
    async def boom() -> None:
        raise Boom("with FastAPI's telemetry on")

    sub = FastAPI()
    sub.get("/items/{item_id}")(item)
    api.mount("/sub", sub)
    parent = f"00-{REQUEST}-00f067aa0ba902b7-01"
    async with client_for(BacklightMiddleware(api)) as client:
        for path in ["/items/1", "/sub/items/2", "/boom"]:
            await client.get(path, headers={**LINK, "traceparent": parent})
    await wait(sdk, lambda r: len([s for s in r.spans if s.kind == 2]) >= 3)
    sdk.wait_for(lambda r: len(r.logs_from("app")) == 2)  # and one more export
    servers = sorted((s.name, s.scope, s.parent_span_id) for s in sdk.spans if s.kind == 2)
    assert servers == [
        ("GET /boom", "backlight", "00f067aa0ba902b7"),
        ("GET /items/{item_id}", "backlight", "00f067aa0ba902b7"),
        ("GET /sub/items/{item_id}", "backlight", "00f067aa0ba902b7"),
    ]
    assert [s for s in sdk.spans if s.scope == "fastapi"] == []
    assert [log.body for log in sdk.logs if log.scope == "fastapi"] == []
    assert len(sdk.errors()) == 1


async def test_not_initialised_passes_through(receiver: Receiver) -> None:
    async with client_for(fastapi_app()) as client:
        response = await client.get("/items/5", headers=LINK)
    assert response.json() == {"id": 5}
    assert not receiver.arrivals


async def test_inject_inside_a_request_carries_all_three_headers(sdk: Receiver) -> None:
    import backlight
    from backlight.headers import from_baggage

    app = FastAPI(telemetry={"tracing": False, "logs": False})
    app.add_middleware(BacklightMiddleware)

    @app.get("/out")
    async def out() -> dict[str, str]:
        return backlight.inject({})

    async with client_for(app) as client:
        headers = (await client.get("/out", headers=LINK)).json()
    assert headers["x-highlight-request"] == f"{SESSION}/{REQUEST}"
    assert re.fullmatch(r"00-[0-9a-f]{32}-[0-9a-f]{16}-01", headers["traceparent"])
    link = from_baggage(headers["baggage"])
    assert link is not None
    assert (link.secure_session_id, link.request_id) == (SESSION, REQUEST)
