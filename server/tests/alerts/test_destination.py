"""Where each channel's messages go: the key of the per-destination limit on deliveries."""

from __future__ import annotations

import pytest
from pydantic import TypeAdapter

from backlight_server.alerts.channels.config import Channel
from backlight_server.alerts.deliver import destination

CHANNELS = TypeAdapter(Channel)


@pytest.mark.parametrize(
    ("settings", "expected"),
    [
        (
            {"kind": "webhook", "url": "https://Hooks.Example.com/x?t=1", "secret": "s"},
            "https://hooks.example.com:",
        ),
        (
            {"kind": "slack", "webhook_url": "https://hooks.slack.com/services/T/B/X"},
            "https://hooks.slack.com:",
        ),
        (
            {"kind": "discord", "webhook_url": "http://127.0.0.1:8080/api/webhooks/1/x"},
            "http://127.0.0.1:8080",
        ),
        (
            {"kind": "teams", "webhook_url": "https://example.webhook.office.com:8443/w"},
            "https://example.webhook.office.com:8443",
        ),
        ({"kind": "pagerduty", "routing_key": "k" * 32}, "https://events.pagerduty.com:"),
        (
            {"kind": "pagerduty", "routing_key": "k", "events_url": "http://[::1]:9/v2"},
            "http://::1:9",
        ),
        (
            {"kind": "email", "host": "SMTP.example.com", "sender": "a@b.c", "to": ["d@e.f"]},
            "smtp://smtp.example.com:587",
        ),
        ({"kind": "webhook", "url": "https://xn--/x", "secret": "s"}, "webhook"),
    ],
)
def test_each_channel_names_its_destination(settings: dict[str, object], expected: str) -> None:
    assert destination(CHANNELS.validate_python(settings)) == expected


def test_two_rules_to_one_host_share_a_destination_and_other_hosts_do_not() -> None:
    one = CHANNELS.validate_python({"kind": "webhook", "url": "https://h.example/a", "secret": "s"})
    two = CHANNELS.validate_python({"kind": "slack", "webhook_url": "https://h.example/b"})
    other = CHANNELS.validate_python({"kind": "slack", "webhook_url": "https://g.example/b"})
    assert destination(one) == destination(two) != destination(other)
