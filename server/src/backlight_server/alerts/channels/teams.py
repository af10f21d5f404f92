"""Microsoft Teams workflow webhook: a message with one Adaptive Card 1.4
(docs/alerts.md#microsoft-teams).

The workflow "Post to a channel when a webhook request is received" takes
``{"type": "message", "attachments": [{"contentType":
"application/vnd.microsoft.card.adaptive", "content": <AdaptiveCard>}]}``. A Teams message
is at most about 28 KB, so every text is capped. TextBlock and FactSet render a CommonMark
subset (bold, italic, lists, links): user text has its markdown punctuation escaped with
backslashes, and ``{{`` broken so it cannot call the card's DATE()/TIME() functions.
"""

from __future__ import annotations

from typing import Any

from backlight_server.alerts.channels.fmt import (
    detail,
    digest_line,
    facts,
    fit,
    headline,
    links,
    more_line,
    one_line,
)
from backlight_server.alerts.message import Alert

SCHEMA = "http://adaptivecards.io/schemas/adaptive-card.json"
CARD_VERSION = "1.4"
CONTENT_TYPE = "application/vnd.microsoft.card.adaptive"
TITLE_MAX = 200
TEXT_MAX = 2000
FACT_MAX = 300
DIGEST_LINES = 20
ACTIONS_MAX = 4

ESCAPE = {c: "\\" + c for c in "\\*_~`[]#<>"} | {"{": "{\u200b"}


def md(text: str, limit: int) -> str:
    return fit(text, limit, ESCAPE)


def _block(text: str, **style: Any) -> dict[str, Any]:
    return {"type": "TextBlock", "text": text, "wrap": True, **style}


def render(alert: Alert) -> dict[str, Any]:
    body: list[dict[str, Any]] = [
        _block(md(headline(alert), TITLE_MAX), size="Medium", weight="Bolder")
    ]
    actions: list[dict[str, Any]] = []
    if alert.digest:
        shown = alert.events[:DIGEST_LINES]
        body.append(
            {
                "type": "FactSet",
                "facts": [
                    {"title": f"{i}.", "value": md(digest_line(event), FACT_MAX)}
                    for i, event in enumerate(shown, 1)
                ],
            }
        )
        more = more_line(len(shown), len(alert.events))
        if more:
            body.append(_block(more, isSubtle=True))
    else:
        event = alert.events[0]
        about = detail(event)
        if about:
            body.append(_block(md(about, TEXT_MAX)))
        body.append(
            {
                "type": "FactSet",
                "facts": [
                    {"title": label, "value": md(value, FACT_MAX)} for label, value in facts(event)
                ],
            }
        )
        actions = [
            {"type": "Action.OpenUrl", "title": label, "url": url}
            for label, url in links(event)[:ACTIONS_MAX]
        ]
    rule = md(one_line(alert.rule_name), 200)
    body.append(_block(f"Backlight · rule {rule}", isSubtle=True, size="Small"))
    card: dict[str, Any] = {
        "$schema": SCHEMA,
        "type": "AdaptiveCard",
        "version": CARD_VERSION,
        "body": body,
        "msteams": {"width": "Full"},
    }
    if actions:
        card["actions"] = actions
    return {
        "type": "message",
        "attachments": [{"contentType": CONTENT_TYPE, "contentUrl": None, "content": card}],
    }
