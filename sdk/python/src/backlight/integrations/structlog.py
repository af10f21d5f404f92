"""structlog: route it through stdlib ``logging`` and the Backlight handler does the rest.

    structlog.configure(
        processors=[..., backlight.integrations.structlog.add_request_link,
                    structlog.stdlib.render_to_log_kwargs],
        logger_factory=structlog.stdlib.LoggerFactory(),
    )

``add_request_link`` is optional: it copies the session and request ids into the event
dict so they also appear in your own renderers (console, JSON files).
"""

from __future__ import annotations

from collections.abc import MutableMapping
from typing import Any

from backlight._context import current_link
from backlight.names import REQUEST_ATTR, SESSION_ATTR


def add_request_link(
    logger: Any, method_name: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    """A structlog processor adding ``highlight.session_id`` / ``highlight.trace_id``."""
    try:
        link = current_link()
    except Exception:
        link = None
    if link is not None:
        event_dict.setdefault(SESSION_ATTR, link.secure_session_id)
        event_dict.setdefault(REQUEST_ATTR, link.request_id)
    return event_dict
