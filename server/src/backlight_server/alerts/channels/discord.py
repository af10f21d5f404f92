"""Discord webhook: one embed (docs/alerts.md#discord).

Limits from Discord's "Embed Limits": title ≤ 256, description ≤ 4096, ≤ 25 fields (name ≤
256, value ≤ 1024), footer ≤ 2048, and all of them together ≤ 6000 characters; ≤ 10 embeds a
message. Markdown in user text is escaped with backslashes, and ``allowed_mentions`` parses
nothing, so an error message cannot ping ``@everyone`` or a role.
"""

from __future__ import annotations

from typing import Any

from backlight_server.alerts.channels.fmt import (
    detail,
    digest_list,
    facts,
    fit,
    headline,
    iso,
    links,
    moment_ms,
    one_line,
    safe_link,
)
from backlight_server.alerts.message import Alert

TITLE_MAX = 256
DESCRIPTION_MAX = 4096
FIELD_VALUE_MAX = 256  # Discord allows 1024; facts are short, and the total must fit 6000
FOOTER_MAX = 200
TOTAL_MAX = 6000
DIGEST_LINES = 25

COLORS = {  # 0xRRGGBB
    "new_group": 0xE01E5A,
    "regression": 0xE8912D,
    "spike": 0xE01E5A,
    "log_match": 0xECB22E,
    "user_error": 0x9B59B6,
}
RESOLVED_COLOR = 0x2EB67D

ESCAPE = {c: "\\" + c for c in "\\*_~`|>[]#<"}


def md(text: str, limit: int) -> str:
    return fit(text, limit, ESCAPE)


def _description(alert: Alert, limit: int) -> str:
    if alert.digest:
        return digest_list(
            alert, DIGEST_LINES, limit, lambda text: md(text, 300), lambda url: f" ([open]({url}))"
        )
    event = alert.events[0]
    link_line = " · ".join(f"[{label}]({url})" for label, url in links(event))
    if len(link_line) > limit // 2:
        link_line = ""
    about = detail(event)
    text = md(about, limit - len(link_line) - 2) if about else ""
    return "\n\n".join(part for part in (text, link_line) if part)


def render(alert: Alert) -> dict[str, Any]:
    event = alert.events[0]
    embed: dict[str, Any] = {"title": md(headline(alert), TITLE_MAX)}
    url = None if alert.digest else safe_link(event.links.group or event.links.logs)
    if url:
        embed["url"] = url
    pairs = [] if alert.digest else [(n, md(v, FIELD_VALUE_MAX)) for n, v in facts(event)]
    fields = [{"name": n, "value": v, "inline": len(v) < 40} for n, v in pairs]
    if fields:
        embed["fields"] = fields
    embed["footer"] = {"text": fit(one_line(f"Backlight · rule {alert.rule_name}"), FOOTER_MAX)}
    moment = moment_ms(event) if not alert.digest else None
    if moment:
        embed["timestamp"] = iso(moment)
    embed["color"] = RESOLVED_COLOR if alert.resolved else COLORS.get(event.kind, 0xE01E5A)
    used = len(embed["title"]) + len(embed["footer"]["text"])
    used += sum(len(name) + len(value) for name, value in pairs)
    description = _description(alert, min(DESCRIPTION_MAX, TOTAL_MAX - used))
    if description:
        embed["description"] = description
    return {
        "username": "Backlight",
        "embeds": [embed],
        "allowed_mentions": {"parse": []},
    }
