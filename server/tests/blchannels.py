"""Alert channel test kit: sample alerts, each service's documented limits as validators,
a loopback HTTP receiver, and the webhook verifier taken from docs/alerts.md.

The validators check what each service documents (cited at each); the channel tests and the
end-to-end alert tests can both use them.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, fields
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, cast

from backlight_server.alerts.message import Alert, Event, Links

DOCS = Path(__file__).resolve().parents[2] / "docs" / "alerts.md"
PUBLIC = "https://backlight.example.com"
T0 = 1_764_583_200_000.0  # 2025-12-01T10:00:00Z

EXAMPLE_EVENT = Event(
    kind="new_group",
    key="group:42:new",
    project_id="1",
    title="TypeError: cart is undefined",
    error_type="TypeError",
    message="cart is undefined",
    service="shop-web",
    environment="production",
    source="frontend",
    count=3,
    first_seen_ms=T0,
    last_seen_ms=T0 + 90_000,
    top_frame="addToCart (src/cart.ts:41)",
    user="ada@example.com",
    group_id=42,
    session_id="s-7f3a",
    request_id="4bf92f3577b34da6a3ce929d0e0e4736",
    at_ms=T0 + 90_000,
    links=Links(
        group=f"{PUBLIC}/errors/42",
        request=f"{PUBLIC}/requests/4bf92f3577b34da6a3ce929d0e0e4736",
        replay=f"{PUBLIC}/sessions/s-7f3a?t=1764583290000&request=4bf92f3577b34da6a3ce929d0e0e4736",
    ),
)
EXAMPLE = Alert(rule_id="r1", rule_name="New errors in production", events=(EXAMPLE_EVENT,))

HOSTILE_TEXT = (
    "<!channel> <@U123> @everyone @here **bold** _it_ [click](https://evil.example) "
    "{{DATE(2017-02-14T06:00:00Z, SHORT)}} & <script>alert(1)</script>\r\n"
    "Bcc: victim@example.com\r\n\r\nX-Injected: 1\x00\x1b[31m"
)
HOSTILE_EVENT = Event(
    kind="user_error",
    key="user:k",
    project_id="1",
    title=HOSTILE_TEXT * 40,
    error_type=HOSTILE_TEXT,
    message=(HOSTILE_TEXT + "&<>") * 3000,
    service=HOSTILE_TEXT,
    environment="prod\r\nBcc: x@example.com",
    source="backend",
    count=10**12,
    first_seen_ms=T0,
    last_seen_ms=T0,
    top_frame=HOSTILE_TEXT * 100,
    user=HOSTILE_TEXT * 100,
    group_id=7,
    at_ms=T0,
    links=Links(
        group=f'{PUBLIC}/errors/7?x=a b|c>d<e(f)g"h',
        request="javascript:alert(1)",
        replay=f"{PUBLIC}/sessions/" + "x" * 5000,
    ),
)
HOSTILE = Alert(rule_id="r2", rule_name=HOSTILE_TEXT, events=(HOSTILE_EVENT,))

LOG_EVENT = Event(
    kind="log_match",
    key="logs:r3:1764583200",
    project_id="1",
    title="12 logs match 'timeout'",
    service="api",
    environment="production",
    source="backend",
    count=12,
    first_seen_ms=T0,
    last_seen_ms=T0 + 60_000,
    links=Links(logs=f"{PUBLIC}/logs?q=timeout"),
)
LOG_MATCH = Alert(rule_id="r3", rule_name="Timeouts", events=(LOG_EVENT,))


def digest(n: int, hostile: bool = False) -> Alert:
    """A storm: ``n`` new groups in one digest."""
    events = tuple(
        Event(
            kind="new_group",
            key=f"group:{i}:new",
            project_id="1",
            title=(HOSTILE_TEXT * 10 if hostile else f"ValueError: bad item {i}"),
            error_type="ValueError",
            message=f"bad item {i}",
            service="api",
            environment="production",
            count=1,
            first_seen_ms=T0 + i,
            last_seen_ms=T0 + i,
            group_id=1000 + i,
            links=Links(group=f"{PUBLIC}/errors/{1000 + i}"),
        )
        for i in range(n)
    )
    return Alert(rule_id="r4", rule_name="New errors", events=events, digest=True)


RESOLVED = Alert(
    rule_id="r1", rule_name="New errors in production", events=(EXAMPLE_EVENT,), resolved=True
)
SAMPLES: dict[str, Alert] = {
    "example": EXAMPLE,
    "hostile": HOSTILE,
    "log_match": LOG_MATCH,
    "digest3": digest(3),
    "digest500": digest(500),
    "digest_hostile": digest(60, hostile=True),
    "resolved": RESOLVED,
}

Json = dict[str, Any]


def _http_url(value: object, limit: int) -> None:
    assert isinstance(value, str) and re.fullmatch(r"https?://\S+", value), value
    assert len(value) <= limit
    assert not set(value) & set("<>|\"' ()`"), value


def _iso8601(value: object) -> None:
    assert isinstance(value, str)
    assert datetime.fromisoformat(value).tzinfo is not None, value


# Slack: https://api.slack.com/reference/block-kit/blocks (header, section, actions,
# context limits), https://api.slack.com/reference/surfaces/formatting#escaping (escape
# &, <, > in mrkdwn; <url|text> is a link), https://api.slack.com/messaging/webhooks.
_SLACK_LINK = re.compile(r"<https?://[^|<>\s]+\|[^<>|]+>")


def _slack_mrkdwn(text: object, limit: int) -> None:
    assert isinstance(text, str) and text, text
    assert len(text) <= limit, (len(text), limit)
    bare = _SLACK_LINK.sub("", text)
    assert "<" not in bare and ">" not in bare, bare[:200]
    assert re.fullmatch(r"([^&]|&amp;|&lt;|&gt;)*", bare, re.S), bare[:200]


def validate_slack(payload: Json) -> None:
    assert set(payload) <= {"text", "blocks"}
    _slack_mrkdwn(payload["text"], 4000)  # 4000: Slack's advice for top-level text
    blocks = payload["blocks"]
    assert isinstance(blocks, list) and 1 <= len(blocks) <= 50
    for block in blocks:
        kind = block["type"]
        if kind == "header":
            assert block["text"]["type"] == "plain_text"
            assert 1 <= len(block["text"]["text"]) <= 150
        elif kind == "section":
            assert "text" in block or "fields" in block
            if "text" in block:
                assert block["text"]["type"] == "mrkdwn"
                _slack_mrkdwn(block["text"]["text"], 3000)
            for item in block.get("fields", []):
                assert item["type"] == "mrkdwn"
                _slack_mrkdwn(item["text"], 2000)
            assert len(block.get("fields", [])) <= 10
        elif kind == "actions":
            assert 1 <= len(block["elements"]) <= 5
            for button in block["elements"]:
                assert button["type"] == "button"
                assert button["text"]["type"] == "plain_text"
                assert 1 <= len(button["text"]["text"]) <= 75
                _http_url(button["url"], 3000)
        elif kind == "context":
            assert 1 <= len(block["elements"]) <= 10
            for item in block["elements"]:
                _slack_mrkdwn(item["text"], 3000)
        else:
            raise AssertionError(f"unexpected block {kind}")


# Discord: https://discord.com/developers/docs/resources/webhook#execute-webhook and
# https://discord.com/developers/docs/resources/message#embed-object-embed-limits
# (title 256, description 4096, 25 fields of name 256 / value 1024, footer 2048, author
# 256, 6000 in all, 10 embeds), #allowed-mentions-object.
def validate_discord(payload: Json) -> None:
    assert set(payload) <= {"content", "embeds", "username", "allowed_mentions"}
    assert payload.get("content") or payload.get("embeds")
    assert len(payload.get("content", "")) <= 2000
    assert payload["allowed_mentions"] == {"parse": []}
    assert len(payload.get("username", "")) <= 80
    embeds = payload.get("embeds", [])
    assert len(embeds) <= 10
    total = 0
    for embed in embeds:
        assert set(embed) <= {
            "title", "description", "url", "timestamp", "color", "footer", "fields", "author"
        }  # fmt: skip
        assert len(embed.get("title", "")) <= 256
        assert len(embed.get("description", "")) <= 4096
        assert len(embed.get("footer", {}).get("text", "")) <= 2048
        assert len(embed.get("fields", [])) <= 25
        for item in embed.get("fields", []):
            assert 1 <= len(item["name"]) <= 256 and 1 <= len(item["value"]) <= 1024
            assert isinstance(item.get("inline", False), bool)
        if "url" in embed:
            _http_url(embed["url"], 2048)
        if "timestamp" in embed:
            _iso8601(embed["timestamp"])
        assert isinstance(embed.get("color", 0), int) and 0 <= embed.get("color", 0) <= 0xFFFFFF
        total += len(embed.get("title", "")) + len(embed.get("description", ""))
        total += len(embed.get("footer", {}).get("text", ""))
        total += sum(len(f["name"]) + len(f["value"]) for f in embed.get("fields", []))
    assert total <= 6000, total


# Microsoft Teams workflow webhook: https://learn.microsoft.com/en-us/microsoftteams/platform/
# webhooks-and-connectors/how-to/connectors-using (message with an Adaptive Card attachment;
# about 28 KB at most) and the Adaptive Card 1.4 schema, https://adaptivecards.io/explorer/
# (AdaptiveCard, TextBlock, FactSet, Action.OpenUrl).
def validate_teams(payload: Json) -> None:
    assert payload["type"] == "message"
    assert len(json.dumps(payload).encode()) <= 28 * 1024
    (attachment,) = payload["attachments"]
    assert attachment["contentType"] == "application/vnd.microsoft.card.adaptive"
    card = attachment["content"]
    assert card["$schema"] == "http://adaptivecards.io/schemas/adaptive-card.json"
    assert card["type"] == "AdaptiveCard" and card["version"] == "1.4"
    assert card["body"]
    for element in card["body"]:
        if element["type"] == "TextBlock":
            assert isinstance(element["text"], str) and element["text"]
            assert "{{" not in element["text"]
        elif element["type"] == "FactSet":
            for fact in element["facts"]:
                assert set(fact) == {"title", "value"}
                assert isinstance(fact["title"], str) and isinstance(fact["value"], str)
                assert "{{" not in fact["value"]
        else:
            raise AssertionError(f"unexpected element {element['type']}")
    for action in card.get("actions", []):
        assert action["type"] == "Action.OpenUrl" and action["title"]
        _http_url(action["url"], 2048)


# PagerDuty Events API v2: https://developer.pagerduty.com/docs/events-api-v2/trigger-events/
# and .../resolve-events/ (summary 1024, dedup_key 255, severity critical|error|warning|info,
# a resolve carries routing_key, event_action and dedup_key; 512 KB per event).
def validate_pagerduty(payload: Json) -> None:
    assert len(json.dumps(payload).encode()) <= 512 * 1024
    assert isinstance(payload["routing_key"], str) and payload["routing_key"]
    assert 1 <= len(payload["dedup_key"]) <= 255
    if payload["event_action"] == "resolve":
        assert set(payload) == {"routing_key", "event_action", "dedup_key"}
        return
    assert payload["event_action"] == "trigger"
    assert set(payload) <= {
        "routing_key", "event_action", "dedup_key", "payload", "links", "images",
        "client", "client_url",
    }  # fmt: skip
    body = payload["payload"]
    assert set(body) <= {
        "summary", "source", "severity", "timestamp", "component", "group", "class",
        "custom_details",
    }  # fmt: skip
    assert 1 <= len(body["summary"]) <= 1024
    assert isinstance(body["source"], str) and body["source"]
    assert body["severity"] in {"critical", "error", "warning", "info"}
    if "timestamp" in body:
        _iso8601(body["timestamp"])
    assert isinstance(body.get("custom_details", {}), dict)
    for link in payload.get("links", []):
        assert set(link) == {"href", "text"}
        _http_url(link["href"], 2048)
    if "client_url" in payload:
        _http_url(payload["client_url"], 2048)


# Our own webhook: docs/alerts.md#webhook.
def validate_webhook(payload: Json) -> None:
    assert set(payload) == {"version", "summary", "rule", "digest", "resolved", "events", "more"}
    assert payload["version"] == 1
    assert set(payload["rule"]) == {"id", "name"}
    assert isinstance(payload["digest"], bool) and isinstance(payload["resolved"], bool)
    assert 1 <= len(payload["events"]) <= 100 and payload["more"] >= 0
    names = {f.name for f in fields(Event)}
    for event in payload["events"]:
        assert set(event) == names
        assert set(event["links"]) == {"group", "request", "replay", "logs"}


VALIDATORS: dict[str, Callable[[Json], None]] = {
    "webhook": validate_webhook,
    "slack": validate_slack,
    "discord": validate_discord,
    "teams": validate_teams,
    "pagerduty": validate_pagerduty,
}


@dataclass
class Received:
    path: str
    headers: dict[str, str]  # names in lower case
    body: bytes

    def json(self) -> Json:
        return cast(Json, json.loads(self.body))


@dataclass
class Receiver:
    """A loopback HTTP server on its own thread that records every POST and answers
    ``status`` with ``reply_headers`` and ``reply_body`` (or never answers, when
    ``hang``). ``{path}`` in the body is replaced with the request's path."""

    status: int = 200
    reply_headers: dict[str, str] = field(default_factory=dict)
    reply_body: bytes = b"ok"
    hang: bool = False
    received: list[Received] = field(default_factory=list)
    url: str = ""
    _release: threading.Event = field(default_factory=threading.Event)

    @contextmanager
    def running(self) -> Iterator[Receiver]:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                size = int(self.headers.get("Content-Length", "0"))
                receiver.received.append(
                    Received(
                        self.path,
                        {k.lower(): v for k, v in self.headers.items()},
                        self.rfile.read(size),
                    )
                )
                if receiver.hang:
                    receiver._release.wait(30)
                    return
                body = receiver.reply_body.replace(b"{path}", self.path.encode())
                self.send_response(receiver.status)
                for name, value in receiver.reply_headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        server.daemon_threads = True
        thread = threading.Thread(target=server.serve_forever, args=(0.02,), daemon=True)
        thread.start()
        self.url = f"http://127.0.0.1:{server.server_address[1]}"
        try:
            yield self
        finally:
            self._release.set()
            server.shutdown()
            server.server_close()
            thread.join(5)


def docs_verifier() -> Callable[..., bool]:
    """The ``verify`` function of docs/alerts.md, run from the docs' own text: the block
    that follows ``<!-- webhook-verifier -->``."""
    text = DOCS.read_text()
    start = text.index("<!-- webhook-verifier -->")
    block = re.search(r"```python\n(.*?)```", text[start:], re.S)
    assert block is not None
    namespace: dict[str, Any] = {}
    exec(compile(block.group(1), f"{DOCS}#webhook-verifier", "exec"), namespace)
    return cast(Callable[..., bool], namespace["verify"])


def docs_examples() -> dict[str, Json]:
    """The example payloads of docs/alerts.md: each JSON block that follows
    ``<!-- example:NAME -->``."""
    text = DOCS.read_text()
    found: dict[str, Json] = {}
    for match in re.finditer(r"<!-- example:(\w+) -->\s*```json\n(.*?)```", text, re.S):
        found[match.group(1)] = cast(Json, json.loads(match.group(2)))
    return found
