"""Opt-in httpx hooks: outgoing requests carry the link and the trace context.

    client = httpx.Client(event_hooks=backlight.integrations.httpx.event_hooks())
    client = httpx.AsyncClient(event_hooks=backlight.integrations.httpx.async_event_hooks())

With ``opentelemetry-instrumentation-httpx`` enabled you need neither: the propagator
that ``backlight.init`` installs adds the header to every instrumented request.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from backlight.integrations import require

_httpx = require("httpx", "httpx", "httpx")

from backlight._debug import internal_error  # noqa: E402
from backlight.api import inject  # noqa: E402


def add_headers(request: Any) -> None:
    """An httpx ``request`` event hook."""
    try:
        for key, value in inject({}).items():
            request.headers[key] = value
    except Exception:
        internal_error("httpx hook")


async def add_headers_async(request: Any) -> None:
    add_headers(request)


def event_hooks() -> dict[str, list[Callable[[Any], None]]]:
    return {"request": [add_headers], "response": []}


def async_event_hooks() -> dict[str, list[Callable[[Any], Awaitable[None]]]]:
    return {"request": [add_headers_async], "response": []}
