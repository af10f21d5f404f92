"""The generic webhook: our own JSON (docs/alerts.md#webhook), signed with HMAC-SHA256.

The receiver checks ``X-Backlight-Signature: sha256=<hex>``, the HMAC-SHA256 of
``f"{timestamp}.{body}"`` under the channel's secret, where ``timestamp`` is the
``X-Backlight-Timestamp`` header (unix seconds); it refuses old timestamps (replays).
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import asdict
from typing import Any

import orjson

from backlight_server.alerts.channels.fmt import headline
from backlight_server.alerts.message import Alert, Event

VERSION = 1
MAX_EVENTS = 100  # a digest lists its first 100 events; "more" counts the rest
MAX_TEXT = 8192  # a user-controlled string longer than this is cut (ends with "…")
SIGNATURE_HEADER = "X-Backlight-Signature"
TIMESTAMP_HEADER = "X-Backlight-Timestamp"


def _event(event: Event) -> dict[str, Any]:
    data = asdict(event)
    for name, value in data.items():
        if isinstance(value, str) and len(value) > MAX_TEXT:
            data[name] = value[: MAX_TEXT - 1] + "…"
    return data


def render(alert: Alert) -> dict[str, Any]:
    """The documented payload: every field of every event, links included."""
    shown = alert.events[:MAX_EVENTS]
    return {
        "version": VERSION,
        "summary": headline(alert),
        "rule": {"id": alert.rule_id, "name": alert.rule_name},
        "digest": alert.digest,
        "resolved": alert.resolved,
        "events": [_event(event) for event in shown],
        "more": len(alert.events) - len(shown),
    }


def body(alert: Alert) -> bytes:
    return orjson.dumps(render(alert))


def signature(secret: str, timestamp: int, payload: bytes) -> str:
    """``sha256=<hex>``: HMAC-SHA256 of ``b"<timestamp>." + body`` under ``secret``."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + payload, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def headers(secret: str, timestamp: int, payload: bytes) -> dict[str, str]:
    return {
        TIMESTAMP_HEADER: str(timestamp),
        SIGNATURE_HEADER: signature(secret, timestamp, payload),
    }
