"""What every channel says about an event, as plain labelled facts; clipping and escaping.

Each channel module renders these into its service's format and escapes them its way; the
text here is plain (no markup), with control characters removed and length left to the
channel, which knows its limits. Everything is linear in the length of its input.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from urllib.parse import quote

from backlight_server.alerts.message import Alert, Event

ELLIPSIS = "…"

KIND_LABELS = {
    "new_group": "New error",
    "regression": "Regression",
    "spike": "Spike",
    "log_match": "Log match",
    "user_error": "User hit an error",
}

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_LINE_BREAKS = re.compile(r"[\r\n\u2028\u2029\x85]+")
# characters a link may not carry into any format: quoted rather than dropped
_URL_SAFE = ":/?#[]@!$&'*+,;=%~-._"


def clean(text: str) -> str:
    """Text without control characters (line breaks kept, as \\n)."""
    return _CONTROL.sub("", _LINE_BREAKS.sub("\n", text.replace("\t", " ")))


def one_line(text: str) -> str:
    """Text on one line: line breaks and control characters become spaces."""
    return " ".join(_CONTROL.sub(" ", _LINE_BREAKS.sub(" ", text)).split())


def fit(text: str, limit: int, escape: Mapping[str, str] | None = None) -> str:
    """``text`` escaped character by character, at most ``limit`` characters long;
    cut text ends with an ellipsis, and an escape sequence is never cut in half."""
    if escape is None and len(text) <= limit:
        return text
    out: list[str] = []
    used = 0
    for i, char in enumerate(text):
        piece = escape.get(char, char) if escape else char
        rest = len(text) - i - 1
        # keep room for the ellipsis unless this piece ends the text
        room = limit - used - (0 if rest == 0 else 1)
        if len(piece) > room:
            return "".join(out) + ELLIPSIS
        out.append(piece)
        used += len(piece)
    return "".join(out)


def iso(ms: float) -> str:
    """ISO 8601 in UTC with milliseconds: ``2026-12-01T10:00:00.123Z``."""
    moment = datetime.fromtimestamp(ms / 1000, tz=UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def human_time(ms: float) -> str:
    """``2026-12-01 10:00:00 UTC``: what a person reads in a message."""
    return datetime.fromtimestamp(ms / 1000, tz=UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def safe_link(url: str | None, limit: int = 2048) -> str | None:
    """An http(s) URL fit for any format (spaces, quotes, brackets, ``|``, ``<`` and ``>``
    percent-encoded), or None when it is not one."""
    if not url or not url.startswith(("https://", "http://")):
        return None
    quoted = quote(one_line(url), safe=_URL_SAFE)
    return quoted if len(quoted) <= limit else None


def headline(alert: Alert) -> str:
    """The one line that names the alert: ``New error: TypeError: cart is undefined``."""
    if alert.digest:
        text = f"{alert.rule_name}: {len(alert.events)} alerts"
    else:
        event = alert.events[0]
        text = f"{KIND_LABELS.get(event.kind, event.kind)}: {event.title}"
    return one_line(("Resolved: " if alert.resolved else "") + text)


def detail(event: Event) -> str:
    """Error type and message, when the title does not already say them."""
    text = ": ".join(part for part in (event.error_type, event.message) if part)
    return "" if not text or one_line(text) == one_line(event.title) else clean(text)


def facts(event: Event) -> list[tuple[str, str]]:
    """The labelled facts of an event, in the order every channel shows them."""
    pairs: list[tuple[str, str | None]] = [
        ("Service", event.service),
        ("Environment", event.environment),
        ("Source", event.source),
        ("Count", str(event.count)),
        ("First seen", human_time(event.first_seen_ms) if event.first_seen_ms else None),
        ("Last seen", human_time(event.last_seen_ms) if event.last_seen_ms else None),
        ("Top frame", event.top_frame),
        ("User", event.user),
    ]
    return [(label, one_line(value)) for label, value in pairs if value]


def links(event: Event) -> list[tuple[str, str]]:
    """(label, url) of every link the event has, safe for any format."""
    pairs = [
        ("Open error group", event.links.group),
        ("Request view", event.links.request),
        ("Play session at this moment", event.links.replay),
        ("Log search", event.links.logs),
    ]
    return [(label, url) for label, raw in pairs if (url := safe_link(raw)) is not None]


def digest_line(event: Event) -> str:
    """One compact line per event of a digest: ``TypeError: x — api · 3×``."""
    where = " · ".join(part for part in (event.service, event.environment) if part)
    return one_line(f"{event.title} — {where + ' · ' if where else ''}{event.count}×")


def moment_ms(event: Event) -> float | None:
    """When the event happened: the instance, else the last time seen."""
    return event.at_ms or event.last_seen_ms or event.first_seen_ms


def more_line(shown: int, total: int) -> str:
    return f"and {total - shown} more" if total > shown else ""


def digest_list(
    alert: Alert,
    shown: int,
    limit: int,
    line: Callable[[str], str],
    link: Callable[[str], str],
) -> str:
    """A digest's first ``shown`` events, one bulleted line each (``line`` escapes the
    text, ``link`` renders the event's link in the channel's markup), as many as fit in
    ``limit`` characters with room left for "and M more", then that line."""
    lines: list[str] = []
    used = 0
    for event in alert.events[:shown]:
        text = "• " + line(digest_line(event))
        url = safe_link(event.links.group or event.links.logs, 1000)
        text += link(url) if url else ""
        if used + len(text) + 1 > limit - 40:
            break
        lines.append(text)
        used += len(text) + 1
    more = more_line(len(lines), len(alert.events))
    return "\n".join(lines + ([more] if more else []))
