"""Channel secrets never reach the server's log, even at ``--log-level debug``.

A real ``backlight serve`` with a rule on every HTTP channel (chat webhook URLs carry their
token in the path), one of them failing before it succeeds, and a test message sent through
the API: once every channel got its message, the log holds none of the secrets. httpx
logs each request's full URL at INFO, so without care the log would hold the Slack, Discord
and Teams URLs."""

from __future__ import annotations

import secrets
import time
from pathlib import Path
from typing import Any

import httpx
from blalerts import Receiver, exception_span, traces

from backlight_server.testing import BacklightProcess, wait_for

TOKEN = "T0KEN" + secrets.token_hex(8)  # the secret part of each chat webhook URL
SIGNING = "whsec-" + secrets.token_hex(8)
ROUTING = "R0UTE" + secrets.token_hex(12)


def _channels(base: str) -> list[dict[str, Any]]:
    return [
        {"kind": "webhook", "url": f"{base}/hooks/{TOKEN}", "secret": SIGNING},
        {"kind": "slack", "webhook_url": f"{base}/services/T0/{TOKEN}"},
        {"kind": "discord", "webhook_url": f"{base}/api/webhooks/1/{TOKEN}"},
        {"kind": "teams", "webhook_url": f"{base}/workflows/{TOKEN}/triggers/manual"},
        {"kind": "pagerduty", "routing_key": ROUTING, "events_url": f"{base}/v2/{TOKEN}"},
    ]


def test_no_channel_secret_is_logged(tmp_path: Path) -> None:
    rx = Receiver()
    paths = [f"/hooks/{TOKEN}", f"/services/T0/{TOKEN}", f"/api/webhooks/1/{TOKEN}"]
    paths += [f"/workflows/{TOKEN}/triggers/manual", f"/v2/{TOKEN}"]
    rx.answers[paths[1]] = [(500, {}), (503, {"Retry-After": "0"})]  # fails, then succeeds
    args = ["--alert-interval-s", "0.2", "--log-level", "debug"]
    with rx.running(), BacklightProcess(tmp_path, args=args) as server:
        auth = {"Authorization": f"Bearer {server.token}"}
        rule = {
            "name": "every channel",
            "trigger": {"kind": "new_group"},
            "channels": _channels(rx.url),
            "cooldown_seconds": 0,
        }
        r = httpx.post(f"{server.url}/api/v1/alert-rules", json=rule, headers=auth, timeout=30)
        assert r.status_code < 300, r.text
        tested = httpx.post(
            f"{server.url}/api/v1/alert-rules/{r.json()['id']}/test", headers=auth, timeout=60
        )
        assert tested.status_code == 200, tested.text
        span = exception_span(None, secrets.token_hex(16), time.time() * 1000, "LeakCheckError")
        sent = httpx.post(
            f"{server.url}/v1/traces", json=traces(server.project, [span]), timeout=30
        )
        assert sent.status_code == 200
        # the test message (sent once) and the alert on each path; on the failing one the
        # test message meets the 500, the alert the 503 and then succeeds
        wait_for(
            lambda: all(len(rx.at(p)) >= (3 if p == paths[1] else 2) for p in paths),
            "every channel to get the test message and the alert",
        )
        time.sleep(0.5)  # the tick after the sends writes their outcomes (and may log)
        log = server.log_path.read_text()
    assert "DEBUG" in log  # the log was written at the level asked for
    for secret in (TOKEN, SIGNING, ROUTING):
        assert secret not in log, [line for line in log.splitlines() if secret in line][:3]
