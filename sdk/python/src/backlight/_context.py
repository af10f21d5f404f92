"""The request link inside the OpenTelemetry context.

The link rides in the context under a private key (for logs and errors) and in W3C
baggage under ``x-highlight-request`` (so every propagator-driven client carries it on).
"""

from __future__ import annotations

from opentelemetry import baggage, context
from opentelemetry.context import Context

from backlight.headers import HEADER, parse_value
from backlight.types import RequestContext

LINK_KEY = context.create_key("backlight-request-link")


def current_link(ctx: Context | None = None) -> RequestContext | None:
    """The link of the current (or given) context: ours first, then the baggage entry."""
    link = context.get_value(LINK_KEY, ctx)
    if link is not None:
        return link  # type: ignore[return-value]
    entry = baggage.get_baggage(HEADER, ctx)
    return parse_value(entry) if entry is not None else None


def with_link(link: RequestContext, ctx: Context | None = None) -> Context:
    """A context carrying ``link`` both under our key and as a baggage entry."""
    ctx = baggage.set_baggage(HEADER, link.header_value, ctx)
    return context.set_value(LINK_KEY, link, ctx)
