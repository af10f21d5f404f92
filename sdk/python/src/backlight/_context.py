"""The request link inside the OpenTelemetry context.

The link rides in the context under a private key (for logs and errors) and in W3C
baggage under ``x-highlight-request`` (so every propagator-driven client carries it on).
"""

from __future__ import annotations

from collections.abc import Callable
from contextvars import ContextVar, Token
from typing import cast

from opentelemetry import baggage, context
from opentelemetry.context import Context
from opentelemetry.context.contextvars_context import ContextVarsRuntimeContext

from backlight.headers import HEADER, parse_value
from backlight.types import LinkSource, RequestContext

LINK_KEY = context.create_key("backlight-request-link")


def current_link(ctx: Context | None = None) -> RequestContext | None:
    """The link of the current (or given) context: ours first, then the baggage entry.

    Under ``LINK_KEY`` is either the link itself or a request span that has not parsed
    its ``x-highlight-request`` header yet (it does so on this first ask).
    """
    value = context.get_value(LINK_KEY, ctx)
    if value is not None:
        if isinstance(value, RequestContext):
            return value
        link = cast(LinkSource, value).request_link()
        if link is not None:
            return link
    entry = baggage.get_baggage(HEADER, ctx)
    return parse_value(entry) if entry is not None else None


def with_link(link: RequestContext, ctx: Context | None = None) -> Context:
    """A context carrying ``link`` both under our key and as a baggage entry."""
    ctx = baggage.set_baggage(HEADER, link.header_value, ctx)
    return context.set_value(LINK_KEY, link, ctx)


def without_link(ctx: Context) -> Context:
    """``ctx`` without the baggage entry OpenTelemetry's propagator may have read from a
    ``baggage`` header that, by the contract's reading (``headers.from_baggage``), holds
    no link: its reading differs on duplicate keys and white space."""
    return baggage.remove_baggage(HEADER, ctx)


# The request path reads and sets OpenTelemetry's current context many times per request.
# With the default runtime context (a ContextVar), these go straight to its variable: the
# same Context objects in the same place, three Python calls fewer each. Any other runtime
# context (OTEL_PYTHON_CONTEXT) goes through the public API.
_runtime = getattr(context, "_RUNTIME_CONTEXT", None)
_var: ContextVar[Context] | None = None
if type(_runtime) is ContextVarsRuntimeContext:
    _var = _runtime._current_context


def _api_attach(ctx: Context) -> Token[Context]:
    return context.attach(ctx)


if _var is not None:
    get_current: Callable[[], Context] = _var.get
    attach: Callable[[Context], Token[Context]] = _var.set
else:
    get_current = context.get_current
    attach = _api_attach


def detach(token: Token[Context]) -> None:
    """``opentelemetry.context.detach`` (which logs a failure and never raises)."""
    if _var is not None:
        try:
            _var.reset(token)
            return
        except Exception:
            pass
    context.detach(token)
