"""Opt-in aiohttp client tracing: outgoing requests carry the link and the trace context.

async with aiohttp.ClientSession(trace_configs=[backlight.integrations.aiohttp.trace_config()]):
    ...
"""

from __future__ import annotations

from typing import Any

from backlight.integrations import require

aiohttp = require("aiohttp", "aiohttp", "aiohttp")

from backlight._debug import internal_error  # noqa: E402
from backlight.api import inject  # noqa: E402


async def _on_request_start(session: Any, trace_context: Any, params: Any) -> None:
    try:
        for key, value in inject({}).items():
            params.headers[key] = value
    except Exception:
        internal_error("aiohttp hook")


def trace_config() -> Any:
    """An ``aiohttp.TraceConfig`` that adds the headers on request start."""
    config = aiohttp.TraceConfig()
    config.on_request_start.append(_on_request_start)
    return config
