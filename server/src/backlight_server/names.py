"""Header and attribute names of the linkage contract (docs/linkage.md), for the server.

The one place the server spells them; tests hold them to docs/linkage-vectors.json.
"""

from __future__ import annotations

HEADER = "x-highlight-request"
"""``<session id>/<request id>``, sent by the browser SDK and between services."""
TRACEPARENT_HEADER = "traceparent"
BAGGAGE_HEADER = "baggage"
BAGGAGE_KEY = HEADER
"""The W3C baggage entry that carries the same value, percent-encoded."""
PROJECT_HEADER = "x-highlight-project"
"""The project of an OTLP request whose resource does not name one."""

PROJECT_ATTR = "highlight.project_id"
SESSION_ATTR = "highlight.session_id"
REQUEST_ATTR = "highlight.trace_id"
"""highlight's name for the request id (not a W3C trace id, though ours are equal)."""
