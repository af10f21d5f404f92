"""Outgoing HTTP: the opt-in httpx, requests and aiohttp hooks add the headers."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest
import requests
from sdk_capture import REQUEST, SESSION, Receiver

import backlight
from backlight.integrations import require

PAIR = f"{SESSION}/{REQUEST}"


@pytest.fixture
def echo() -> Iterator[tuple[str, list[dict[str, str]]]]:
    """A loopback server that records the headers of each request it gets."""
    seen: list[dict[str, str]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            seen.append({k.lower(): v for k, v in self.headers.items()})
            self.send_response(200)
            self.send_header("content-length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            return None

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/", seen
    server.shutdown()
    server.server_close()


def check(headers: dict[str, str], span_id: int) -> None:
    assert headers["x-highlight-request"] == PAIR
    assert headers["traceparent"] == f"00-{REQUEST}-{span_id:016x}-01"
    assert "x-highlight-request=" in headers["baggage"]


def test_httpx_sync_hook(sdk: Receiver, echo: tuple[str, list[dict[str, str]]]) -> None:
    from backlight.integrations.httpx import event_hooks

    url, seen = echo
    with (
        backlight.trace("outer", secure_session_id=SESSION, request_id=REQUEST) as span,
        httpx.Client(event_hooks=event_hooks()) as client,
    ):
        client.get(url)
    assert span is not None
    check(seen[0], span.span_id)


async def test_httpx_async_hook(sdk: Receiver, echo: tuple[str, list[dict[str, str]]]) -> None:
    from backlight.integrations.httpx import async_event_hooks

    url, seen = echo
    async with httpx.AsyncClient(event_hooks=async_event_hooks()) as client:
        with backlight.trace("outer", secure_session_id=SESSION, request_id=REQUEST) as span:
            await client.get(url)
    assert span is not None
    check(seen[0], span.span_id)


def test_requests_adapter(sdk: Receiver, echo: tuple[str, list[dict[str, str]]]) -> None:
    from backlight.integrations.requests import instrument_session

    url, seen = echo
    session = instrument_session(requests.Session())
    with backlight.trace("outer", secure_session_id=SESSION, request_id=REQUEST) as span:
        session.get(url, timeout=10)
    session.get(url, timeout=10)  # outside: nothing added
    assert span is not None
    check(seen[0], span.span_id)
    assert "x-highlight-request" not in seen[1]
    assert "traceparent" not in seen[1]


async def test_aiohttp_trace_config(sdk: Receiver, echo: tuple[str, list[dict[str, str]]]) -> None:
    import aiohttp

    from backlight.integrations.aiohttp import trace_config

    url, seen = echo
    async with aiohttp.ClientSession(trace_configs=[trace_config()]) as session:
        with backlight.trace("outer", secure_session_id=SESSION, request_id=REQUEST) as span:
            async with session.get(url) as response:
                assert response.status == 200
    assert span is not None
    check(seen[0], span.span_id)


def test_missing_optional_dependency_fails_clearly() -> None:
    with pytest.raises(ImportError, match=r"pip install 'backlight\[nothing\]'"):
        require("surely_not_an_installed_module", "nothing", "nothing")
