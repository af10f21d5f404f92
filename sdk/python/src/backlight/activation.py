"""Start a lean span carrying a request link, make it current, and finish it."""

from __future__ import annotations

from contextvars import Token
from typing import Any

from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.trace import SpanKind, StatusCode

from backlight._context import attach, current_link, detach, with_link
from backlight._debug import internal_error
from backlight._state import state
from backlight.names import REQUEST_ATTR as REQUEST_ATTR
from backlight.names import SESSION_ATTR as SESSION_ATTR
from backlight.span import LeanSpan
from backlight.types import RequestContext


class Activation:
    """A started span and the context token that made it current."""

    __slots__ = ("span", "token")

    def __init__(self, span: LeanSpan, token: Token[Context]) -> None:
        self.span = span
        self.token: Token[Context] | None = token

    def finish(self, error: BaseException | None = None) -> None:
        """Record ``error`` (if any), end the span and restore the previous context."""
        try:
            if error is not None:
                fail(self.span, error)
            self.span.end()
        except Exception:
            internal_error("span end")
        finally:
            self.detach()

    def detach(self) -> None:
        """Restore the previous context (once); the span stays open."""
        token, self.token = self.token, None
        if token is not None:
            try:
                detach(token)
            except Exception:
                internal_error("context detach")


def fail(span: LeanSpan, error: BaseException) -> None:
    span.record_exception(error, escaped=True)
    span.set_status(StatusCode.ERROR, f"{type(error).__name__}: {error}")


def start(
    name: str,
    kind: SpanKind,
    link: RequestContext | None,
    parent: Context | None = None,
    attributes: dict[str, Any] | None = None,
    trace_id: int = 0,
) -> Activation | None:
    """Start and attach a span under ``parent`` (default: the current context).

    ``None`` when the SDK is not initialised (or fails): the caller runs undecorated.
    ``trace_id`` starts a new trace with that id when there is no valid parent span.
    """
    client = state.client
    if client is None:
        return None
    try:
        if attributes is None:
            attributes = {}
        inherited = link is None
        if inherited:
            link = current_link(parent)
        if link is not None:
            attributes[SESSION_ATTR] = link.secure_session_id
            attributes[REQUEST_ATTR] = link.request_id
        parent_span = trace.get_current_span(parent).get_span_context()
        span = LeanSpan(name, client.put_span, parent_span, kind, attributes)
        if trace_id and not parent_span.is_valid:
            span.trace_id = trace_id
        ctx = with_link(link, parent) if link is not None and not inherited else parent
        token = attach(trace.set_span_in_context(span, ctx))
        return Activation(span, token)
    except Exception:
        internal_error("span start")
        return None
