"""Each HTTP channel POSTs to a real loopback receiver: the body follows the service's format,
the webhook signature checks out with the verifier of docs/alerts.md (run from the docs'
text), and failures say whether a retry may help, without a secret in the error."""

from __future__ import annotations

import asyncio
import json
import socket
import time
from collections.abc import AsyncIterator

import httpx
import pytest
from blchannels import EXAMPLE, HOSTILE, RESOLVED, VALIDATORS, Receiver, digest, docs_verifier

from backlight_server.alerts.channels import Delivery, deliver
from backlight_server.alerts.channels.config import (
    Channel,
    DiscordChannel,
    PagerDutyChannel,
    SlackChannel,
    TeamsChannel,
    WebhookChannel,
)
from backlight_server.alerts.message import Alert

SIGNING_SECRET = "whsec-correct-horse-battery-staple"
ROUTING_KEY = "R0UT1NGKEY0123456789abcdefabcdef"
WEBHOOK_TOKEN = "B0AAAAAAA/TopSecretToken42"  # the secret part of a chat webhook URL
KINDS = ["webhook", "slack", "discord", "teams", "pagerduty"]


def channel(kind: str, base: str) -> Channel:
    match kind:
        case "webhook":
            return WebhookChannel(url=f"{base}/hooks/backlight", secret=SIGNING_SECRET)
        case "slack":
            return SlackChannel(webhook_url=f"{base}/services/T000/{WEBHOOK_TOKEN}")
        case "discord":
            return DiscordChannel(webhook_url=f"{base}/api/webhooks/1/{WEBHOOK_TOKEN}")
        case "teams":
            return TeamsChannel(webhook_url=f"{base}/workflows/{WEBHOOK_TOKEN}/triggers/manual")
        case _:
            return PagerDutyChannel(routing_key=ROUTING_KEY, events_url=f"{base}/v2/enqueue")


def secrets_of(kind: str, base: str) -> list[str]:
    """What must never show in an error text."""
    return {
        "webhook": [SIGNING_SECRET],
        "pagerduty": [ROUTING_KEY],
    }.get(kind, [WEBHOOK_TOKEN, "TopSecretToken42", base + "/"])


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient() as c:
        yield c


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("alert", [EXAMPLE, HOSTILE, digest(500)], ids=["one", "hostile", "storm"])
async def test_receiver_gets_the_documented_payload(
    kind: str, alert: Alert, client: httpx.AsyncClient
) -> None:
    with Receiver(status=202 if kind == "pagerduty" else 200).running() as receiver:
        before = int(time.time())
        result = await deliver(channel(kind, receiver.url), alert, client)
        after = int(time.time())
    assert result == Delivery(True, 202 if kind == "pagerduty" else 200)
    (got,) = receiver.received
    assert got.headers["content-type"] == "application/json"
    assert got.headers["user-agent"] == "Backlight-Alerts/1"
    VALIDATORS[kind](got.json())
    if kind == "webhook":
        verify = docs_verifier()
        timestamp = got.headers["x-backlight-timestamp"]
        signature = got.headers["x-backlight-signature"]
        assert before <= int(timestamp) <= after
        assert verify(SIGNING_SECRET, timestamp, signature, got.body)
        assert not verify("another-secret", timestamp, signature, got.body)
        assert not verify(SIGNING_SECRET, timestamp, signature, got.body + b" ")
        assert not verify(SIGNING_SECRET, str(int(timestamp) + 1), signature, got.body)
        # replay protection: the same request five minutes later is refused
        assert not verify(SIGNING_SECRET, timestamp, signature, got.body, now=after + 301)
        assert verify(SIGNING_SECRET, timestamp, signature, got.body, now=after + 299)
    if kind == "pagerduty":
        assert got.json()["routing_key"] == ROUTING_KEY


async def test_pagerduty_resolve_reaches_the_receiver(client: httpx.AsyncClient) -> None:
    with Receiver(status=202).running() as receiver:
        result = await deliver(channel("pagerduty", receiver.url), RESOLVED, client)
    assert result.ok
    assert receiver.received[0].json() == {
        "routing_key": ROUTING_KEY,
        "event_action": "resolve",
        "dedup_key": "backlight:1:group:42",
    }


def no_secret(result: Delivery, kind: str, base: str) -> None:
    for secret in secrets_of(kind, base):
        assert secret not in result.error, (secret, result.error)
    assert "\n" not in result.error and len(result.error) <= 300


@pytest.mark.parametrize("kind", KINDS)
async def test_server_error_is_retried(kind: str, client: httpx.AsyncClient) -> None:
    with Receiver(status=500, reply_body=b"oops at {path}").running() as receiver:
        result = await deliver(channel(kind, receiver.url), EXAMPLE, client)
    assert (result.ok, result.status, result.retry) == (False, 500, True)
    assert result.error.startswith("HTTP 500: oops at ")
    no_secret(result, kind, receiver.url)


@pytest.mark.parametrize("kind", KINDS)
async def test_not_found_is_not_retried(kind: str, client: httpx.AsyncClient) -> None:
    # the receiver echoes the path it was called on, where chat services keep the token
    body = b'{"message": "Unknown Webhook {path}", "key": "' + ROUTING_KEY.encode() + b'"}'
    with Receiver(status=404, reply_body=body).running() as receiver:
        result = await deliver(channel(kind, receiver.url), EXAMPLE, client)
    assert (result.ok, result.status, result.retry, result.retry_after_s) == (
        False,
        404,
        False,
        None,
    )
    assert "Unknown Webhook" in result.error
    no_secret(result, kind, receiver.url)
    assert ROUTING_KEY not in result.error or kind != "pagerduty"


@pytest.mark.parametrize("kind", KINDS)
async def test_rate_limit_is_retried_after_what_the_receiver_says(
    kind: str, client: httpx.AsyncClient
) -> None:
    with Receiver(status=429, reply_headers={"Retry-After": "7"}).running() as receiver:
        result = await deliver(channel(kind, receiver.url), EXAMPLE, client)
    assert (result.status, result.retry, result.retry_after_s) == (429, True, 7.0)


async def test_unavailable_with_a_date_is_retried(client: httpx.AsyncClient) -> None:
    later = time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime(time.time() + 3600))
    with Receiver(status=503, reply_headers={"Retry-After": later}).running() as receiver:
        result = await deliver(channel("slack", receiver.url), EXAMPLE, client)
    assert result.retry and result.retry_after_s is not None
    assert 3000 < result.retry_after_s <= 3600


@pytest.mark.parametrize("kind", KINDS)
async def test_redirects_are_not_followed(kind: str, client: httpx.AsyncClient) -> None:
    with Receiver(status=302).running() as receiver:
        receiver.reply_headers["Location"] = receiver.url + "/elsewhere"
        result = await deliver(channel(kind, receiver.url), EXAMPLE, client)
    assert (result.ok, result.status, result.retry) == (False, 302, False)
    assert len(receiver.received) == 1


@pytest.mark.parametrize("kind", KINDS)
async def test_hanging_receiver_hits_the_timeout(kind: str, client: httpx.AsyncClient) -> None:
    with Receiver(hang=True).running() as receiver:
        async with asyncio.timeout(30):  # a guard: the delivery's own timeout ends it
            result = await deliver(channel(kind, receiver.url), EXAMPLE, client, timeout_s=0.3)
    assert (result.ok, result.status, result.retry) == (False, None, True)
    assert "timed out" in result.error
    assert len(receiver.received) == 1
    no_secret(result, kind, receiver.url)


@pytest.mark.parametrize("kind", KINDS)
async def test_connection_refused_is_retried(kind: str, client: httpx.AsyncClient) -> None:
    with socket.socket() as sock:  # a port that nothing listens on
        sock.bind(("127.0.0.1", 0))
        base = f"http://127.0.0.1:{sock.getsockname()[1]}"
    result = await deliver(channel(kind, base), EXAMPLE, client)
    assert (result.ok, result.status, result.retry) == (False, None, True)
    assert result.error.startswith("connection failed")
    no_secret(result, kind, base)


async def test_error_text_is_one_short_line(client: httpx.AsyncClient) -> None:
    body = json.dumps({"error": "x\r\n" * 10_000}).encode() + b"\r\n" * 100
    with Receiver(status=400, reply_body=body).running() as receiver:
        result = await deliver(channel("discord", receiver.url), EXAMPLE, client)
    assert not result.retry and len(result.error) <= 300 and "\n" not in result.error
