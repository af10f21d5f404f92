"""Opt-in requests adapter: outgoing requests carry the link and the trace context.

    session = requests.Session()
    backlight.integrations.requests.instrument_session(session)

With ``opentelemetry-instrumentation-requests`` enabled you need neither: the
propagator that ``backlight.init`` installs adds the header to every request.
"""

from __future__ import annotations

from typing import Any

from backlight.integrations import require

_requests = require("requests", "requests", "requests")

from requests.adapters import HTTPAdapter  # noqa: E402

from backlight._debug import internal_error  # noqa: E402
from backlight.api import inject  # noqa: E402


class BacklightAdapter(HTTPAdapter):
    """An ``HTTPAdapter`` that adds ``x-highlight-request``, ``traceparent`` and ``baggage``."""

    def send(self, request: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            for key, value in inject({}).items():
                request.headers[key] = value
        except Exception:
            internal_error("requests adapter")
        return super().send(request, *args, **kwargs)


def instrument_session(session: Any) -> Any:
    """Mount the adapter on ``session`` for http:// and https://; returns the session."""
    adapter = BacklightAdapter()
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return session
