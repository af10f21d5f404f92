"""The Alerts page: the rules (trigger, channels, on/off, mute, last delivery) and the
delivery log, paged; and the rule form (``/alerts/new``, ``/alerts/rules/{id}``).

Pages are rendered from the store; every change (save, test, mute, on/off, delete) is made
by the page's script through the JSON API (``/api/v1/alert-rules``), with the login cookie,
so the API's checks and refusals are the only ones. Secrets reach the page masked only.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from backlight_server.alerts.rules import Rule
from backlight_server.state import get_state
from backlight_server.store.base import Row
from backlight_server.ui import alert_form, params
from backlight_server.ui.render import not_found, page, render

PAGE_SIZE = 50
# "Until unmuted": the latest mute the API takes (rules.py: EpochMs ≤ 9e12, year 2255).
MUTED_FOREVER_MS = 9e12
FOREVER_AFTER_MS = 4e12  # a mute ending after this (year 2096) is shown as "until unmuted"


@dataclass(frozen=True)
class RuleRow:
    id: str
    rule: Rule | None  # None: the stored body is not a rule this server reads
    problem: str
    last: Row | None  # the latest delivery attempt, if any


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def trigger_summary(rule: Rule) -> str:
    t = rule.trigger
    if t.kind == "new_group":
        return "A new error group"
    if t.kind == "regression":
        return "A resolved error group returns"
    if t.kind == "spike":
        per = "one group" if t.scope == "group" else "one service"
        if t.group_id is not None:
            per = f"group {t.group_id}"
        return f"More than {_plural(t.threshold, 'error')} in {t.window_minutes} min ({per})"
    if t.kind == "log_match":
        level = f" at {t.level}" if t.level else ""
        return (
            f"More than {_plural(t.threshold, 'log')}{level} matching “{t.query}” "
            f"in {t.window_minutes} min"
        )
    who = f"user {t.user}" if t.user else "an identified user"
    if t.property_name:
        who += f" with {t.property_name} = {t.property_value or '(any)'}"
    return f"A backend error hits {who}"


def filter_summary(rule: Rule) -> str:
    f = rule.filters
    parts = [
        *([f"service {f.service}"] if f.service else []),
        *([f"environment {f.environment}"] if f.environment else []),
        *([f"{f.source} only"] if f.source else []),
    ]
    return " · ".join(parts) or "all errors"


def mute_state(muted_until_ms: float | None, now_ms: float) -> str:
    """``""`` (not muted, or the mute is over), ``until`` (a time) or ``forever``."""
    if muted_until_ms is None or muted_until_ms <= now_ms:
        return ""
    return "forever" if muted_until_ms >= FOREVER_AFTER_MS else "until"


def _read(row: Row) -> RuleRow:
    rule_id = str(row.get("id") or "")
    try:
        rule = Rule.model_validate_json(row.get("body") or b"")
    except (ValidationError, ValueError) as exc:
        first = exc.errors()[0] if isinstance(exc, ValidationError) and exc.errors() else None
        where = ".".join(str(p) for p in first["loc"]) if first else ""
        return RuleRow(rule_id, None, f"its stored body fails at {where or 'the top'}", None)
    return RuleRow(rule_id, rule, "", None)


def _rules(request: Request) -> list[RuleRow]:
    store = get_state(request).store
    out = []
    for row in store.alert_rules(None):
        found = _read(row)
        last = store.alert_deliveries(found.id, 1, 0)["deliveries"] if found.id else []
        out.append(RuleRow(found.id, found.rule, found.problem, last[0] if last else None))
    return sorted(out, key=lambda r: ((r.rule.name.casefold() if r.rule else "\uffff"), r.id))


@page
def alerts_page(request: Request) -> Response:
    store = get_state(request).store
    rules = _rules(request)
    names = {r.id: r.rule.name for r in rules if r.rule}
    rule_filter = params.text(request, "rule", 64)
    log = store.alert_deliveries(rule_filter, PAGE_SIZE, params.integer(request, "offset"))
    projects = {str(p["id"]): str(p["name"]) for p in store.list_projects()}
    return render(
        request,
        "alerts.html",
        nav="alerts",
        rules=rules,
        names=names,
        projects=projects if len(projects) > 1 else {},
        log=log,
        rule_filter=rule_filter,
        page_size=PAGE_SIZE,
        trigger_summary=trigger_summary,
        filter_summary=filter_summary,
        mute_state=mute_state,
        forever_ms=MUTED_FOREVER_MS,
        finite=math.isfinite,
    )


def _form(request: Request, rule: dict[str, Any] | None) -> Response:
    state = get_state(request)
    projects = state.store.list_projects()
    return render(
        request,
        "alert_form.html",
        nav="alerts",
        rule=rule,
        projects=projects,
        default_project=state.default_project,
        triggers=alert_form.triggers(),
        channels=alert_form.channels(),
        filters=alert_form.filters(),
        rule_fields=alert_form.rule_fields(),
    )


@page
def new_rule(request: Request) -> Response:
    return _form(request, None)


@page
def edit_rule(request: Request) -> Response:
    rule_id = str(request.path_params["rule_id"])
    row = get_state(request).store.get_alert_rule(rule_id) if len(rule_id) <= 64 else None
    if row is None:
        return not_found(request, f"alert rule {rule_id}")
    found = _read(row)
    if found.rule is None:
        return not_found(request, f"readable alert rule {rule_id} ({found.problem})")
    return _form(request, found.rule.shown())


routes = [
    Route("/alerts", alerts_page, methods=["GET"]),
    Route("/alerts/new", new_rule, methods=["GET"]),
    Route("/alerts/rules/{rule_id}", edit_rule, methods=["GET"]),
]
