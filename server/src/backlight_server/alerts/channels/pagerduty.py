"""PagerDuty Events API v2: trigger, and resolve (docs/alerts.md#pagerduty).

An error alert triggers an incident whose ``dedup_key`` is stable per error group, so a
later resolve of the group (``Alert.resolved``) resolves the same incident, and PagerDuty
folds repeated triggers of one group into one incident. A resolve event carries only
``routing_key``, ``event_action`` and ``dedup_key``. Limits: summary ≤ 1024 characters,
dedup_key ≤ 255.
"""

from __future__ import annotations

import hashlib
from typing import Any

from backlight_server.alerts.channels.fmt import (
    detail,
    digest_line,
    facts,
    fit,
    headline,
    iso,
    links,
    moment_ms,
    more_line,
    one_line,
)
from backlight_server.alerts.message import Alert

SUMMARY_MAX = 1024
DEDUP_MAX = 255
FIELD_MAX = 1024
DIGEST_LINES = 50
CLIENT = "Backlight"
SERVICE_SPIKE = "spike/service:"  # the key of a service's spike (alerts/evaluate.py)


def _fit_key(key: str) -> str:
    if len(key) <= DEDUP_MAX:
        return key
    return key[:180] + ":" + hashlib.sha256(key.encode()).hexdigest()


def dedup_key(alert: Alert) -> str:
    """Stable per error group, so that the group's resolve (``alerts/evaluate.py``) finds
    the incident; per rule and event key when the event is not about one group (a log
    match, a service's spike); a digest gets one key for the set of its events."""
    event = alert.events[0]
    if alert.digest:
        keys = "\n".join(sorted(e.key for e in alert.events))
        digest = hashlib.sha256(keys.encode()).hexdigest()[:32]
        return _fit_key(f"backlight:{event.project_id}:rule:{alert.rule_id}:digest:{digest}")
    if event.group_id is not None and not event.key.startswith(SERVICE_SPIKE):
        return _fit_key(f"backlight:{event.project_id}:group:{event.group_id}")
    return _fit_key(f"backlight:{event.project_id}:rule:{alert.rule_id}:{event.key}")


def severity(alert: Alert) -> str:
    """``error`` for errors, ``warning`` when every event is a log match."""
    return "warning" if all(e.kind == "log_match" for e in alert.events) else "error"


def render(alert: Alert, routing_key: str) -> dict[str, Any]:
    if alert.resolved:
        return {
            "routing_key": routing_key,
            "event_action": "resolve",
            "dedup_key": dedup_key(alert),
        }
    event = alert.events[0]
    details: dict[str, Any] = {"rule": one_line(alert.rule_name), "trigger": event.kind}
    if alert.digest:
        shown = alert.events[:DIGEST_LINES]
        details["events"] = [fit(digest_line(e), 300) for e in shown]
        if len(alert.events) > len(shown):
            details["more"] = more_line(len(shown), len(alert.events))
    else:
        about = detail(event)
        if about:
            details["error"] = fit(about, 4096)
        details |= {
            label.lower().replace(" ", "_"): fit(value, FIELD_MAX) for label, value in facts(event)
        }
        for name in ("group_id", "session_id", "request_id"):
            if getattr(event, name) is not None:
                details[name] = getattr(event, name)
    moment = moment_ms(event)
    single = not alert.digest  # a digest may span services: it names none
    payload: dict[str, Any] = {
        "summary": fit(headline(alert), SUMMARY_MAX),
        "source": fit(one_line(event.service or "backlight"), 255) if single else "backlight",
        "severity": severity(alert),
        "custom_details": details,
    }
    if moment and single:
        payload["timestamp"] = iso(moment)
    if event.service and single:
        payload["component"] = fit(one_line(event.service), 255)
    if event.environment and single:
        payload["group"] = fit(one_line(event.environment), 255)
    if single:
        payload["class"] = fit(one_line(event.error_type or event.kind), 255)
    message: dict[str, Any] = {
        "routing_key": routing_key,
        "event_action": "trigger",
        "dedup_key": dedup_key(alert),
        "payload": payload,
        "client": CLIENT,
    }
    event_links = [] if alert.digest else links(event)
    if event_links:
        message["links"] = [{"href": url, "text": label} for label, url in event_links]
        message["client_url"] = event_links[0][1]
    return message
