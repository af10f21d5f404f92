"""Slack incoming webhook, Block Kit (docs/alerts.md#slack).

Limits from Slack's Block Kit reference: header text ≤ 150 characters (plain_text),
section text ≤ 3000 and ≤ 10 fields of ≤ 2000 (mrkdwn), button text ≤ 75, url ≤ 3000, ≤ 50
blocks; ``&``, ``<`` and ``>`` escaped in mrkdwn (so user text cannot mention ``<!channel>``
or forge a link).
"""

from __future__ import annotations

from typing import Any

from backlight_server.alerts.channels.fmt import (
    detail,
    digest_list,
    facts,
    fit,
    headline,
    links,
    one_line,
    safe_link,
)
from backlight_server.alerts.message import Alert

HEADER_MAX = 150
SECTION_MAX = 3000
FIELD_MAX = 2000
FIELDS_MAX = 10
BUTTON_TEXT_MAX = 75
BUTTONS_MAX = 5
URL_MAX = 3000
DIGEST_LINES = 20
FALLBACK_MAX = 3000

ESCAPE = {"&": "&amp;", "<": "&lt;", ">": "&gt;"}


def mrkdwn(text: str, limit: int) -> str:
    return fit(text, limit, ESCAPE)


def _text(text: str) -> dict[str, Any]:
    return {"type": "mrkdwn", "text": text}


def _buttons(pairs: list[tuple[str, str]]) -> dict[str, Any] | None:
    elements = []
    for label, url in pairs[:BUTTONS_MAX]:
        link = safe_link(url, URL_MAX)
        if link is None:
            continue
        elements.append(
            {
                "type": "button",
                "text": {"type": "plain_text", "text": fit(label, BUTTON_TEXT_MAX)},
                "url": link,
            }
        )
    return {"type": "actions", "elements": elements} if elements else None


def _digest(alert: Alert) -> str:
    """The first events, one line each, as many as fit, then "and M more"."""
    return digest_list(
        alert,
        DIGEST_LINES,
        SECTION_MAX,
        lambda text: mrkdwn(text, 300),
        lambda url: f" <{url}|open>",
    )


def render(alert: Alert) -> dict[str, Any]:
    title = headline(alert)
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": fit(title, HEADER_MAX)}}
    ]
    if alert.digest:
        blocks.append({"type": "section", "text": _text(_digest(alert))})
    else:
        event = alert.events[0]
        about = detail(event)
        if about:
            blocks.append({"type": "section", "text": _text(mrkdwn(about, SECTION_MAX))})
        fields = [
            _text(f"*{label}*\n" + mrkdwn(value, FIELD_MAX - len(label) - 3))
            for label, value in facts(event)[:FIELDS_MAX]
        ]
        if fields:
            blocks.append({"type": "section", "fields": fields})
        actions = _buttons(links(event))
        if actions:
            blocks.append(actions)
    rule = mrkdwn(one_line(alert.rule_name), 200)
    blocks.append({"type": "context", "elements": [_text(f"Backlight · rule *{rule}*")]})
    return {"text": mrkdwn(title, FALLBACK_MAX), "blocks": blocks}
