"""Events from committed error instances, with links on the public URL; events as JSON in
the outbox and back.

Links reuse the UI's URL forms: the group page ``/errors/{id}``, the request view
``/requests/{id}``, and "play session at this moment" ``/sessions/{sid}?t=<ms>&request=<id>``
(the replay paused at ``t`` with that request's view open; ui/templates/error_group.html),
and the log search ``/logs?q=…``.

A resolve (PagerDuty's, when a group is resolved) is an outbox row whose JSON is
``{"resolve": <event>}``: it has no top-level ``group_id``, so it is never taken for a
trigger about that group (``Store.alert_fired_groups``).
"""

from __future__ import annotations

from dataclasses import asdict, replace
from typing import Any
from urllib.parse import quote, urlencode

import orjson

from backlight_server.alerts.message import Event, Links, TriggerKind
from backlight_server.alerts.rules import LogMatch
from backlight_server.store.base import Row
from backlight_server.store.shapes import json_column


def base_url(public_url: str, host: str, port: int) -> str:
    """``BACKLIGHT_PUBLIC_URL``; without it, the address the server listens on (a wildcard
    address becomes 127.0.0.1: set the public URL for links that work elsewhere)."""
    if public_url:
        return public_url.rstrip("/")
    shown = "127.0.0.1" if host in ("0.0.0.0", "::", "") else host
    shown = f"[{shown}]" if ":" in shown else shown
    return f"http://{shown}:{port}"


def _ms(value: float) -> str:
    return format(value, ".3f").rstrip("0").rstrip(".")


def links(base: str, group_id: int | None, row: Row) -> Links:
    sid, rid, at = row.get("session_id"), row.get("request_id"), row.get("ts_ms")
    replay = None
    if sid and at is not None:
        replay = f"{base}/sessions/{quote(str(sid), safe='')}?t={_ms(float(at))}"
        if rid:
            replay += f"&request={quote(str(rid), safe='')}"
    return Links(
        group=f"{base}/errors/{group_id}" if group_id is not None else None,
        request=f"{base}/requests/{quote(str(rid), safe='')}" if rid else None,
        replay=replay,
    )


def top_frame(stack: Any) -> str | None:
    """The innermost in-app frame, "function (file:line)"."""
    frames = json_column("stack", stack)
    if not isinstance(frames, list):
        return None
    for f in frames:
        if isinstance(f, dict) and f.get("in_app", True):
            where = str(f.get("file") or "?")
            if f.get("line") is not None:
                where += f":{f['line']}"
            return f"{f.get('function') or '?'} ({where})"[:512]
    return None


def source_of(row: Row) -> str:
    return "frontend" if row.get("source") == "frontend" else "backend"


def error_event(kind: TriggerKind, key: str, project_id: str, base: str, row: Row) -> Event:
    gid = int(row["group_id"])
    title = f"{row.get('type') or 'Error'}: {row.get('message') or ''}".strip()
    return Event(
        kind=kind,
        key=key,
        project_id=project_id,
        title=title[:300],
        error_type=row.get("type"),
        message=str(row.get("message") or "")[:1024],
        service=row.get("service"),
        environment=row.get("environment"),
        source=source_of(row),
        count=int(row.get("count") or 1),
        first_seen_ms=row.get("first_ms"),
        last_seen_ms=row.get("last_ms"),
        top_frame=top_frame(row.get("stack")),
        user=row.get("user"),
        group_id=gid,
        session_id=row.get("session_id"),
        request_id=row.get("request_id"),
        at_ms=row.get("ts_ms"),
        links=links(base, gid, row),
    )


def user_error_event(key: str, project_id: str, base: str, row: Row) -> Event:
    """A backend error a session's user hit: the error's event, the user in its title."""
    event = error_event("user_error", key, project_id, base, row)
    who = str(row.get("user") or "anonymous user")
    return replace(event, title=f"{who}: {event.title}"[:300])


def logs_link(base: str, match: LogMatch, service: str | None) -> str:
    """The UI's log search with the rule's query, level and service, over the shortest of
    its ranges that holds the window."""
    params = {"q": match.query}
    if match.level:
        params["level"] = match.level
    if service:
        params["service"] = service
    params["since"] = "1h" if match.window_minutes <= 60 else "24h"
    return f"{base}/logs?{urlencode(params, quote_via=quote)}"


def log_event(
    key: str,
    project_id: str,
    base: str,
    match: LogMatch,
    service: str | None,
    count: int,
    sample: Row,
) -> Event:
    """``count`` logs matching the rule in its window; ``sample``, the newest of them,
    gives the message (its body), service, environment and time, and its request and
    session links when it has them."""
    body = str(sample.get("body") or "")
    at = sample.get("ts_ms")
    title = f"{count} logs match '{match.query}' in {match.window_minutes} min"
    sample_links = links(base, None, sample)
    return Event(
        kind="log_match",
        key=key,
        project_id=project_id,
        title=title[:300],
        message=body[:1024],
        service=sample.get("service") or service,
        environment=sample.get("environment"),
        source="backend",
        count=count,
        last_seen_ms=float(at) if isinstance(at, int | float) else None,
        session_id=sample.get("session_id"),
        request_id=sample.get("request_id"),
        at_ms=float(at) if isinstance(at, int | float) else None,
        links=replace(sample_links, logs=logs_link(base, match, service)),
    )


def dumps(event: Event) -> str:
    return orjson.dumps(asdict(event)).decode()


def dumps_resolve(event: Event) -> str:
    """The resolve of ``event``'s incident, as an outbox row holds it."""
    return orjson.dumps({"resolve": asdict(event)}).decode()


def _event(data: dict[str, Any]) -> Event:
    data["links"] = Links(**data.get("links") or {})
    return Event(**data)


def loads(text: str) -> Event:
    return load(text)[0]


def load(text: str) -> tuple[Event, bool]:
    """An outbox row's event, and whether it is a resolve."""
    data = orjson.loads(text)
    if isinstance(data.get("resolve"), dict):
        return _event(data["resolve"]), True
    return _event(data), False
