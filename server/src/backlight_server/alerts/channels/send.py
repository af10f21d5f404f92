"""Sends one alert through one channel and says how it went (docs/alerts.md#delivery).

``deliver`` never raises for a failed delivery: it answers a ``Delivery`` whose ``retry``
says whether trying again may help (429, 5xx, network errors and timeouts: yes; other 4xx,
refused redirects and settings errors: no). HTTP channels POST once with a total timeout
and follow no redirects; email runs smtplib on a worker thread. The error text never holds
a channel's secrets (chat webhook URLs, the signing secret, the routing key, the SMTP
password) nor any URL: the caller may log it and show it. Nor does any log line:
httpx logs each request's full URL at INFO (httpcore more at DEBUG), and a Slack, Discord or
Teams webhook URL is its secret, so this module holds both loggers at WARNING whatever the
server's log level.
"""

from __future__ import annotations

import asyncio
import logging
import smtplib
import ssl
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

import httpx
import orjson

from backlight_server.alerts.channels import discord, email, pagerduty, slack, teams, webhook
from backlight_server.alerts.channels.config import (
    Channel,
    DiscordChannel,
    EmailChannel,
    PagerDutyChannel,
    SlackChannel,
    TeamsChannel,
    WebhookChannel,
    secrets_of,
)
from backlight_server.alerts.channels.fmt import one_line
from backlight_server.alerts.message import Alert

TIMEOUT_S = 10.0
RESPONSE_MAX_BYTES = 64 * 1024  # what is read of a receiver's answer
ERROR_MAX = 300
for _name in ("httpx", "httpcore"):  # see above: their lines would hold webhook URLs
    logging.getLogger(_name).setLevel(logging.WARNING)
USER_AGENT = "Backlight-Alerts/1"


@dataclass(frozen=True, slots=True)
class Delivery:
    ok: bool
    status: int | None  # the HTTP status, or the SMTP reply code; None without an answer
    error: str = ""  # why it failed, never with a secret or a URL in it
    retry: bool = False  # worth trying again later
    retry_after_s: float | None = None  # the receiver's Retry-After, when it sent one


def _secrets(channel: Channel) -> list[str]:
    """Every string whose appearance in an error text must be hidden."""
    found = secrets_of(channel)
    urls = [s for s in found if s.startswith(("http://", "https://"))]
    for url in urls:  # its path and query alone are secret too (the token is there)
        parsed = httpx.URL(url)
        found += [parsed.raw_path.decode("ascii", "replace"), parsed.path, parsed.query.decode()]
    return sorted({s for s in found if len(s) >= 4}, key=len, reverse=True)


def _scrub(text: str, channel: Channel) -> str:
    text = one_line(text)
    for secret in _secrets(channel):
        text = text.replace(secret, "[secret]")
    return text[:ERROR_MAX]


def retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds from a Retry-After header: delta-seconds or an HTTP date (RFC 9110 §10.2.3)."""
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        current = datetime.now(UTC).timestamp() if now is None else now
        seconds = when.timestamp() - current
    if seconds != seconds or seconds in (float("inf"), float("-inf")):  # NaN, infinity
        return None
    return max(0.0, min(seconds, 86400.0))


def _request(channel: Channel, alert: Alert) -> tuple[str, bytes, dict[str, str]]:
    """(url, body, extra headers) of an HTTP channel."""
    payload: dict[str, Any]
    match channel:
        case WebhookChannel():
            body = webhook.body(alert)
            return channel.url, body, webhook.headers(channel.secret, int(time.time()), body)
        case SlackChannel():
            url, payload = channel.webhook_url, slack.render(alert)
        case DiscordChannel():
            url, payload = channel.webhook_url, discord.render(alert)
        case TeamsChannel():
            url, payload = channel.webhook_url, teams.render(alert)
        case PagerDutyChannel():
            url, payload = channel.events_url, pagerduty.render(alert, channel.routing_key)
        case _:
            raise TypeError(f"not an HTTP channel: {channel.kind}")
    return url, orjson.dumps(payload), {}


async def _read_some(response: httpx.Response) -> bytes:
    """The first bytes of an answer (for the error text); a broken body is no answer."""
    answer = bytearray()
    try:
        async for chunk in response.aiter_bytes():
            answer += chunk
            if len(answer) >= RESPONSE_MAX_BYTES:
                break
    except httpx.HTTPError:
        pass
    return bytes(answer)


async def _post(
    channel: Channel, alert: Alert, client: httpx.AsyncClient, timeout_s: float
) -> Delivery:
    url, body, extra = _request(channel, alert)
    headers = {"Content-Type": "application/json", "User-Agent": USER_AGENT, **extra}
    status: int | None = None  # set once the receiver answered: the delivery's outcome
    answer = b""
    retry_header: str | None = None
    try:
        async with asyncio.timeout(timeout_s):
            async with client.stream(
                "POST",
                url,
                content=body,
                headers=headers,
                timeout=httpx.Timeout(timeout_s),
                follow_redirects=False,
            ) as response:
                status = response.status_code
                retry_header = response.headers.get("retry-after")
                if not 200 <= status < 400:
                    answer = await _read_some(response)
    except (TimeoutError, httpx.HTTPError) as exc:
        if status is None:  # no answer: the request may or may not have arrived
            if isinstance(exc, TimeoutError | httpx.TimeoutException):
                return Delivery(False, None, f"timed out after {timeout_s:g} s", retry=True)
            reason = _scrub(str(exc), channel) or type(exc).__name__
            return Delivery(False, None, f"connection failed: {reason}", retry=True)
    assert status is not None
    if 200 <= status < 300:
        return Delivery(True, status)
    if 300 <= status < 400:
        return Delivery(False, status, f"HTTP {status}: redirects are not followed", retry=False)
    text = answer[:2000].decode("utf-8", "replace")
    retry = status == 429 or status >= 500 or status == 408
    error = _scrub(f"HTTP {status}: {text}", channel).rstrip(": ")
    return Delivery(False, status, error, retry, retry_after(retry_header))


async def _email(channel: EmailChannel, alert: Alert, timeout_s: float) -> Delivery:
    try:
        outcome = await asyncio.to_thread(email.send, channel, alert, timeout_s)
    except email.CleartextRefused as exc:
        return Delivery(False, None, str(exc), retry=False)
    except smtplib.SMTPResponseException as exc:  # auth, sender, data refused
        reply = (
            exc.smtp_error.decode("utf-8", "replace")
            if isinstance(exc.smtp_error, bytes)
            else str(exc.smtp_error)
        )
        text = _scrub(f"SMTP {exc.smtp_code}: {reply}", channel)
        return Delivery(False, exc.smtp_code, text, retry=400 <= exc.smtp_code < 500)
    except smtplib.SMTPRecipientsRefused as exc:
        codes = sorted({code for code, _ in exc.recipients.values()})
        temporary = any(400 <= code < 500 for code in codes)
        text = f"SMTP: every recipient refused ({', '.join(map(str, codes))})"
        return Delivery(False, codes[0] if codes else None, text, retry=temporary)
    except smtplib.SMTPNotSupportedError as exc:
        return Delivery(False, None, _scrub(f"SMTP: {exc}", channel), retry=False)
    except ssl.SSLCertVerificationError as exc:
        text = _scrub(f"TLS: certificate not trusted: {exc.verify_message}", channel)
        return Delivery(False, None, text, retry=False)
    except TimeoutError:
        return Delivery(False, None, f"timed out after {timeout_s:g} s", retry=True)
    except (smtplib.SMTPException, OSError) as exc:
        reason = _scrub(str(exc), channel) or type(exc).__name__
        return Delivery(False, None, f"SMTP connection failed: {reason}", retry=True)
    if outcome.refused:
        codes = sorted({code for code, _ in outcome.refused.values()})
        text = f"SMTP: {len(outcome.refused)} recipient(s) refused ({', '.join(map(str, codes))})"
        return Delivery(True, 250, text)
    return Delivery(True, 250)


async def deliver(
    channel: Channel, alert: Alert, client: httpx.AsyncClient, *, timeout_s: float = TIMEOUT_S
) -> Delivery:
    """Renders ``alert`` for ``channel`` and sends it once. Never raises for a failure of
    the receiver; a bug of ours (a TypeError, say) still raises."""
    if isinstance(channel, EmailChannel):
        return await _email(channel, alert, timeout_s)
    return await _post(channel, alert, client, timeout_s)
