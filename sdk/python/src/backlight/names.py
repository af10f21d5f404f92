"""Header and attribute names of the linkage contract (docs/linkage.md), for the SDK.

The one place the SDK spells them; tests hold them to docs/linkage-vectors.json.
"""

from __future__ import annotations

HEADER = "x-highlight-request"
"""``<session id>/<request id>``, read from the browser and sent on to other services."""
TRACEPARENT_HEADER = "traceparent"
BAGGAGE_HEADER = "baggage"
BAGGAGE_KEY = HEADER
"""The W3C baggage entry that carries the same value, percent-encoded."""
PROJECT_HEADER = "x-highlight-project"
"""Sent on OTLP exports, for a collector that does not read resource attributes."""

PROJECT_ATTR = "highlight.project_id"
SESSION_ATTR = "highlight.session_id"
REQUEST_ATTR = "highlight.trace_id"
"""highlight's name for the request id (not a W3C trace id, though the browser's are)."""

SESSION_COOKIE = "backlight_session"
"""The browser SDK's first-party cookie: the session id, read when a request carries no
``x-highlight-request`` (full-page navigations, form posts)."""
HIGHLIGHT_COOKIE = "sessionID"
"""highlight.run's session cookie (its ``sessionCookie: true`` option), read after ours."""
SERVER_TIMING_HEADER = "server-timing"
TRACEPARENT_METRIC = TRACEPARENT_HEADER
"""The ``Server-Timing`` metric (and ``<meta name>``) that carries the response's
``traceparent`` to the browser SDK's navigation timing."""
TIME_METRIC = "backlight-time"
"""The ``Server-Timing`` metric holding the server's clock (ms since the epoch) when it
answered; the browser ignores a ``traceparent`` older than ``MAX_NAVIGATION_AGE_MS``."""
META_TIME_ATTRIBUTE = "data-time"
"""The same time on the ``<meta name="traceparent">`` tag."""
