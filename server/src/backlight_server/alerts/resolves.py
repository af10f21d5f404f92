"""PagerDuty's resolve: error groups resolved since the cursor ``#resolved`` → a resolve
row for each PagerDuty channel of a rule that fired for the group.

A resolution is recorded with the state change, at commit (``Store.set_error_group_state``;
SQLite ``group_resolutions``, ClickHouse ``group_states``), and read here after the cursor,
which moves together with the rows (``Store.enqueue_alerts``): a crash reads the same
resolutions again, and their keys (``rule/channel/resolve/{group}/{resolution}``) are then
known. Which rules fired for a group comes from their outbox rows
(``Store.alert_fired_groups``); a service's spike is not the group's incident. The row's
event is ``{"resolve": event}`` with the group's key (``pagerduty.dedup_key``). It is due at
once, or with its rule's slot still waiting (the deliverer sends resolves after that slot's
triggers), so it never moves the rule's cooldown. A muted or disabled rule still resolves
what it triggered.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable

from backlight_server.alerts import events
from backlight_server.alerts.channels import pagerduty
from backlight_server.alerts.message import Event
from backlight_server.alerts.rules import Rule
from backlight_server.store.base import OutboxRow, Row, Store

CURSOR = "#resolved"  # its name among Store.alert_cursors
PAGE = 5000
MAX_PAGES = 20


def enqueue(
    store: Store,
    base: str,
    rules: list[Rule],
    cursor: str,
    now_ms: float,
    last_slot: Callable[[str], float | None],
) -> int:
    """Resolve rows for the resolutions after ``cursor``; returns how many were added.
    Without rules nothing is read; the cursor is written when it starts and when
    resolutions were read (not on every evaluation)."""
    if not rules:
        return 0
    paging = {r.id: r for r in rules if any(c.kind == "pagerduty" for c in r.channels)}
    added = 0
    for _ in range(MAX_PAGES):
        rows, after = store.alert_resolutions_after(cursor, PAGE)
        outbox: list[OutboxRow] = []
        if rows and paging:
            fired = store.alert_fired_groups(
                sorted(paging), sorted({int(r["group_id"]) for r in rows})
            )
            outbox = resolve_rows(base, paging, rows, fired, now_ms, last_slot)
        if rows or not cursor:
            added += store.enqueue_alerts(outbox, CURSOR, after)
        if len(rows) < PAGE or after == cursor:
            break
        cursor = after
    return added


def resolve_rows(
    base: str,
    paging: dict[str, Rule],
    rows: list[Row],
    fired: list[Row],
    now_ms: float,
    last_slot: Callable[[str], float | None],
) -> list[OutboxRow]:
    targets: dict[int, set[tuple[str, int]]] = defaultdict(set)
    for f in fired:
        rule = paging.get(str(f["rule_id"]))
        index = int(f["channel"])
        if rule is None or index >= len(rule.channels):
            continue
        if rule.channels[index].kind != "pagerduty":
            continue
        if str(f.get("key") or "").startswith(pagerduty.SERVICE_SPIKE):
            continue  # a service's spike is not the group's incident
        targets[int(f["group_id"])].add((rule.id, index))
    out: list[OutboxRow] = []
    for r in rows:
        gid, project = int(r["group_id"]), str(r["project_id"])
        for rule_id, index in sorted(targets.get(gid, ())):
            if paging[rule_id].project_id != project:
                continue
            event = Event(
                kind="new_group",
                key=f"resolve/{gid}/{r['id']}",
                project_id=project,
                title=f"error group {gid} resolved",
                group_id=gid,
                at_ms=float(r["at_ms"]),
                links=events.links(base, gid, {}),
            )
            last = last_slot(rule_id)
            slot = last if last is not None and last > now_ms else 0.0
            key = f"{rule_id}/{index}/{event.key}"
            out.append(OutboxRow(key, rule_id, project, index, slot, events.dumps_resolve(event)))
    return out
