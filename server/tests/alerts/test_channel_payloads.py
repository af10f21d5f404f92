"""Each channel's payload against its service's documented format and limits (the validators
in blchannels cite the docs), for ordinary, hostile and storm-sized alerts."""

from __future__ import annotations

import email
import email.policy
import json
from datetime import UTC, datetime
from typing import Any

import pytest
from blchannels import (
    DOCS,
    EXAMPLE,
    EXAMPLE_EVENT,
    HOSTILE,
    LOG_MATCH,
    RESOLVED,
    SAMPLES,
    VALIDATORS,
    digest,
    docs_examples,
)

from backlight_server.alerts.channels import discord, pagerduty, slack, teams, webhook
from backlight_server.alerts.channels import email as mail
from backlight_server.alerts.channels.config import EmailChannel
from backlight_server.alerts.channels.fmt import fit
from backlight_server.alerts.channels.send import retry_after
from backlight_server.alerts.message import Alert, Event

ROUTING_KEY = "0123456789abcdef0123456789abcdef"


def rendered(kind: str, alert: Alert) -> dict[str, Any]:
    payload: dict[str, Any]
    if kind == "pagerduty":
        payload = pagerduty.render(alert, ROUTING_KEY)
    else:
        payload = {
            "webhook": webhook.render,
            "slack": slack.render,
            "discord": discord.render,
            "teams": teams.render,
        }[kind](alert)
    # what goes on the wire: JSON, so the validators see what the service would
    return dict(json.loads(json.dumps(payload)))


@pytest.mark.parametrize("kind", sorted(VALIDATORS))
@pytest.mark.parametrize("sample", sorted(SAMPLES))
def test_payload_follows_the_documented_format(kind: str, sample: str) -> None:
    VALIDATORS[kind](rendered(kind, SAMPLES[sample]))


def all_text(payload: object) -> str:
    return json.dumps(payload, ensure_ascii=False)


@pytest.mark.parametrize("kind", sorted(VALIDATORS))
def test_message_says_what_the_issue_asks(kind: str) -> None:
    text = all_text(rendered(kind, EXAMPLE))
    for expected in (
        "TypeError",
        "cart is undefined",
        "shop-web",
        "production",
        "2025-12-01",  # first and last seen (the webhook: epoch ms)
        "ada@example.com",
        "https://backlight.example.com/errors/42",
        "https://backlight.example.com/requests/4bf92f3577b34da6a3ce929d0e0e4736",
        "https://backlight.example.com/sessions/s-7f3a?t=1764583290000&request=",
    ):
        if kind == "webhook" and expected == "2025-12-01":
            assert EXAMPLE_EVENT.first_seen_ms == json.loads(text)["events"][0]["first_seen_ms"]
            continue
        assert expected in text, (kind, expected)
    assert "addToCart" in text and "cart.ts:41" in text
    if kind != "webhook":
        assert "Play session at this moment" in text


def test_email_says_what_the_issue_asks() -> None:
    subject, text, page = mail.render(EXAMPLE)
    assert subject == "[Backlight] New error: TypeError: cart is undefined"
    for part in (text, page):
        for expected in ("shop-web", "production", "Count", "First seen", "Last seen"):
            assert expected in part
        assert "addToCart (src/cart.ts:41)" in part and "ada@example.com" in part
        assert "Play session at this moment" in part
        assert "https://backlight.example.com/errors/42" in part


def test_docs_examples_are_what_the_channels_send() -> None:
    examples = docs_examples()
    assert examples["webhook"] == rendered("webhook", EXAMPLE)
    assert examples["slack"] == rendered("slack", EXAMPLE)
    assert examples["discord"] == rendered("discord", EXAMPLE)
    assert examples["teams"] == rendered("teams", EXAMPLE)
    assert examples["pagerduty"] == rendered("pagerduty", EXAMPLE)
    assert examples["pagerduty_resolve"] == rendered("pagerduty", RESOLVED)
    assert mail.render(EXAMPLE)[1] in DOCS.read_text()


def test_slack_escapes_user_text() -> None:
    payload = rendered("slack", HOSTILE)
    mrkdwn = all_text([b for b in payload["blocks"] if b["type"] != "header"])
    assert "<!channel>" not in mrkdwn and "<!channel>" not in payload["text"]
    assert "&lt;!channel&gt;" in payload["text"]
    assert "<script>" not in mrkdwn


def test_discord_pings_no_one_and_escapes_markdown() -> None:
    payload = rendered("discord", HOSTILE)
    assert payload["allowed_mentions"] == {"parse": []}
    description = payload["embeds"][0]["description"]
    assert "[click](https://evil.example)" not in description
    assert "\\[click\\]" in description
    assert "\\*\\*bold\\*\\*" in description


def test_teams_escapes_markdown_and_card_functions() -> None:
    text = all_text(rendered("teams", HOSTILE))
    assert "{{DATE" not in text
    assert "[click](https://evil.example)" not in text


@pytest.mark.parametrize("kind", ["slack", "discord", "teams", "pagerduty"])
def test_links_that_are_not_http_are_left_out(kind: str) -> None:
    text = all_text(rendered(kind, HOSTILE))
    assert "javascript:" not in text
    assert "x" * 3000 not in text  # the replay link over the length limit: left out
    assert "https://backlight.example.com/errors/7?x=a%20b%7Cc%3Ed%3Ce%28f%29g%22h" in text


def test_digest_lists_the_first_events_and_counts_the_rest() -> None:
    storm = digest(500)
    assert "and 480 more" in all_text(rendered("slack", storm))
    assert "and 475 more" in all_text(rendered("discord", storm))
    assert "and 480 more" in all_text(rendered("teams", storm))
    assert "and 450 more" in all_text(rendered("pagerduty", storm))
    assert "and 400 more" in mail.render(storm)[1]
    body = rendered("webhook", storm)
    assert len(body["events"]) == 100 and body["more"] == 400
    assert rendered("slack", storm)["text"] == "New errors: 500 alerts"
    # long lines: fewer fit, and the count says how many were left out
    hostile = rendered("slack", digest(60, hostile=True))
    section = hostile["blocks"][1]["text"]["text"]
    shown = section.count("• ")
    assert 0 < shown < 20 and section.endswith(f"and {60 - shown} more")


def test_email_has_no_header_injection_and_escapes_html() -> None:
    channel = EmailChannel(
        host="127.0.0.1",
        sender="backlight@example.com\r\nBcc: thief@example.com",
        to=["oncall@example.com"],
    )
    msg = mail.message(channel, HOSTILE)
    parsed = email.message_from_bytes(msg.as_bytes(), policy=email.policy.default)
    assert parsed["Bcc"] is None and parsed["X-Injected"] is None
    subject = str(parsed["Subject"])
    assert "\r" not in subject and "\n" not in subject and len(subject) <= 200
    html_part = parsed.get_body(("html",))
    text_part = parsed.get_body(("plain",))
    assert html_part is not None and text_part is not None
    page = html_part.get_content()
    assert "<script>" not in page and "&lt;script&gt;" in page


def test_pagerduty_keys_and_severity() -> None:
    trigger = pagerduty.render(EXAMPLE, ROUTING_KEY)
    again = Event(**{**_fields(EXAMPLE_EVENT), "kind": "regression", "key": "group:42:r"})
    regression = Alert("r9", "Regressions", (again,))
    assert pagerduty.render(regression, ROUTING_KEY)["dedup_key"] == trigger["dedup_key"]
    resolve = pagerduty.render(RESOLVED, ROUTING_KEY)
    key = trigger["dedup_key"]
    assert resolve == {"routing_key": ROUTING_KEY, "event_action": "resolve", "dedup_key": key}
    assert trigger["payload"]["severity"] == "error"
    assert pagerduty.render(LOG_MATCH, ROUTING_KEY)["payload"]["severity"] == "warning"
    long_key = Alert("r", "r", (Event(kind="spike", key="k" * 1000, project_id="1", title="t"),))
    long = pagerduty.render(long_key, ROUTING_KEY)["dedup_key"]
    assert len(long) <= 255 and long == pagerduty.render(long_key, ROUTING_KEY)["dedup_key"]


def _fields(event: Event) -> dict[str, Any]:
    return {name: getattr(event, name) for name in Event.__dataclass_fields__}


@pytest.mark.parametrize("limit", range(1, 40))
def test_fit_never_cuts_an_escape_in_half(limit: int) -> None:
    text = "a&b<c>d" * 5
    out = fit(text, limit, slack.ESCAPE)
    assert len(out) <= limit
    body = out.removesuffix("…")
    assert body.count("&") == body.count(";")  # each entity whole
    assert out == text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;") or (
        out.endswith("…")
    )


def test_retry_after_parses_seconds_and_dates() -> None:
    now = datetime(2026, 1, 1, 12, 0, 0, tzinfo=UTC).timestamp()
    assert retry_after("7") == 7.0
    assert retry_after(" 1.5 ") == 1.5
    assert retry_after("Thu, 01 Jan 2026 12:00:30 GMT", now=now) == 30.0
    assert retry_after("Thu, 01 Jan 2026 11:00:00 GMT", now=now) == 0.0
    assert retry_after("-5") == 0.0
    assert retry_after("99999999") == 86400.0
    for junk in ("", None, "soon", "nan", "inf"):
        assert retry_after(junk) is None
