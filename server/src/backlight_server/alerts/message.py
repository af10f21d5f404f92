"""What an alert says, independent of the channel that carries it.

The evaluator (``alerts/evaluate.py``) turns committed data into ``Alert`` values; each
channel (``alerts/channels/``) renders an ``Alert`` into its service's documented payload.
One alert is one event (a new group, a regression, a spike, a log match, a user who hit a
backend error) or a digest of several (``events`` holds them all, ``digest`` is True).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

TriggerKind = Literal["new_group", "regression", "spike", "log_match", "user_error"]


@dataclass(frozen=True, slots=True)
class Links:
    """Absolute URLs on the server's public URL (``BACKLIGHT_PUBLIC_URL``)."""

    group: str | None = None  # the error group page
    request: str | None = None  # the request view (backend trace, logs, stack)
    replay: str | None = None  # "play session at this moment", request view open
    logs: str | None = None  # the log search of a log-match alert


@dataclass(frozen=True, slots=True)
class Event:
    """One thing that happened. Fields that do not apply to a trigger are None."""

    kind: TriggerKind
    key: str  # identifies the event for dedup: at most one message per key per channel
    project_id: str
    title: str  # "TypeError: cart is undefined" or "12 logs match 'timeout'"
    error_type: str | None = None
    message: str | None = None
    service: str | None = None
    environment: str | None = None
    source: str | None = None  # "frontend" or "backend"
    count: int = 1  # instances of the group, or matching records in the window
    first_seen_ms: float | None = None
    last_seen_ms: float | None = None
    top_frame: str | None = None  # "reserve (app/shop.py:9)": the top in-app frame
    user: str | None = None  # the identified user of the session, if any
    group_id: int | None = None
    session_id: str | None = None
    request_id: str | None = None
    at_ms: float | None = None  # when the instance happened (the replay's moment)
    links: Links = field(default_factory=Links)


@dataclass(frozen=True, slots=True)
class Alert:
    """A message to send: a rule's event, or a digest of its events (a storm)."""

    rule_id: str
    rule_name: str
    events: tuple[Event, ...]
    digest: bool = False
    resolved: bool = False  # PagerDuty: resolve the incident of ``events[0].key``

    @property
    def summary(self) -> str:
        if self.digest:
            return f"{self.rule_name}: {len(self.events)} alerts"
        return f"{self.rule_name}: {self.events[0].title}"
