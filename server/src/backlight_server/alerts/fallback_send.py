"""A stand-in for ``alerts/channels/send.py`` until it lands: the generic webhook only.

The lead removes this module (and the import fallback in ``deliver.py``) when the channel
renderers and their sender are merged. Same signature: ``deliver(channel, alert, client)``.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from dataclasses import asdict, dataclass

import httpx
import orjson

from backlight_server.alerts.channels.config import Channel
from backlight_server.alerts.message import Alert


@dataclass(frozen=True, slots=True)
class Delivery:
    ok: bool
    status: int | None = None
    error: str = ""
    retry: bool = False
    retry_after_s: float | None = None


def _retry_after(value: str | None) -> float | None:
    try:
        return max(0.0, float(value)) if value else None
    except ValueError:
        return None


async def deliver(channel: Channel, alert: Alert, client: httpx.AsyncClient) -> Delivery:
    if channel.kind != "webhook":
        return Delivery(False, None, f"channel {channel.kind} is not available in this build")
    body = orjson.dumps(
        {
            "rule_id": alert.rule_id,
            "rule_name": alert.rule_name,
            "summary": alert.summary,
            "digest": alert.digest,
            "resolved": alert.resolved,
            "events": [asdict(e) for e in alert.events],
        }
    )
    stamp = str(int(time.time()))
    mac = hmac.new(channel.secret.encode(), stamp.encode() + b"." + body, hashlib.sha256)
    headers = {
        "content-type": "application/json",
        "x-backlight-timestamp": stamp,
        "x-backlight-signature": "sha256=" + mac.hexdigest(),
    }
    try:
        r = await client.post(channel.url, content=body, headers=headers)
    except httpx.HTTPError as exc:
        return Delivery(False, None, type(exc).__name__, retry=True)
    if r.is_success:
        return Delivery(True, r.status_code)
    retry = r.status_code in (408, 425, 429) or r.status_code >= 500
    return Delivery(
        False,
        r.status_code,
        f"HTTP {r.status_code}",
        retry,
        _retry_after(r.headers.get("retry-after")),
    )
