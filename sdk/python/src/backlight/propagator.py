"""A propagator for the ``x-highlight-request`` header.

Installed next to W3C tracecontext and baggage, it makes every propagator-driven HTTP
client (OpenTelemetry's httpx/requests/aiohttp instrumentations, ``backlight.inject``,
our opt-in hooks) send the header, and every extracting server read it.
"""

from __future__ import annotations

from collections.abc import MutableMapping
from urllib.parse import quote

from opentelemetry import baggage
from opentelemetry.context import Context
from opentelemetry.propagators.textmap import (
    CarrierT,
    Getter,
    Setter,
    TextMapPropagator,
    default_getter,
    default_setter,
)

from backlight._context import current_link, with_link
from backlight.headers import parse_value
from backlight.names import BAGGAGE_HEADER, BAGGAGE_KEY, HEADER


class HighlightRequestPropagator(TextMapPropagator):
    def extract(
        self,
        carrier: CarrierT,
        context: Context | None = None,
        getter: Getter[CarrierT] = default_getter,
    ) -> Context:
        ctx = context if context is not None else Context()
        try:
            values = getter.get(carrier, HEADER)
            link = parse_value(values[0]) if values else None
        except Exception:
            link = None
        return with_link(link, ctx) if link is not None else ctx

    def inject(
        self,
        carrier: CarrierT,
        context: Context | None = None,
        setter: Setter[CarrierT] = default_setter,
    ) -> None:
        link = current_link(context)
        if link is None:
            return
        setter.set(carrier, HEADER, link.header_value)
        # The request path keeps the link out of W3C baggage (a copy per request); add the
        # entry here, after the baggage propagator, for services that only read baggage.
        if baggage.get_baggage(HEADER, context) is None and isinstance(carrier, MutableMapping):
            entry = f"{BAGGAGE_KEY}={quote(link.header_value, safe='')}"
            existing = carrier.get(BAGGAGE_HEADER)
            setter.set(carrier, BAGGAGE_HEADER, f"{existing},{entry}" if existing else entry)

    @property
    def fields(self) -> set[str]:
        return {HEADER}
