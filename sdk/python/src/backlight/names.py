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
