"""The evaluator: committed errors after each project's cursor → rule events → outbox rows.

Runs on the alerts thread (``service.py``), never on the ingest path. One evaluation, per
project with a cursor: read the instances committed after it (``Store.alert_errors_after``),
match every active rule, and add one outbox row per event and channel together with the
new cursor (``Store.enqueue_alerts``). A crash before that leaves the cursor where it was,
so the same instances are read again; keys already in the outbox are not added again.

Cooldown: a rule's rows carry a ``slot_ms``, the time they may be sent. The first event
after a quiet period is due now; events within ``cooldown_seconds`` of the last slot wait
for the next one (last slot + cooldown), where the deliverer sends them together: one
message each when they are at most ``digest_threshold``, else one digest per channel.

``log_match`` (``logwindow.py``) counts matching logs per rule, from what was committed
since the last evaluation, and adds its events with the project's errors. Then the
resolutions of error groups become PagerDuty resolve rows (``resolves.py``).
"""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import replace

import orjson

from backlight_server.alerts import events, resolves
from backlight_server.alerts.logwindow import LogWindows
from backlight_server.alerts.message import Event
from backlight_server.alerts.rules import (
    EVALUATED,
    Filters,
    Rule,
    Spike,
    UserError,
    readable_rule,
)
from backlight_server.store.base import OutboxRow, Row, Store
from backlight_server.store.shapes import json_column

log = logging.getLogger("backlight.alerts")
PAGE = 5000
MAX_PAGES = 20  # per project and evaluation; the rest waits for the next one
RESOLVED = resolves.CURSOR


def load_rules(
    store: Store, project_id: str | None = None, rows: list[Row] | None = None
) -> list[Rule]:
    """The stored rules this server can read (``rows``: as ``Store.alert_rules`` gave them)."""
    out = []
    for row in store.alert_rules(project_id) if rows is None else rows:
        rule = readable_rule(row.get("body"))
        if rule is None:
            log.warning("alert rule %s cannot be read by this server; skipped", row.get("id"))
        else:
            out.append(rule)
    return out


def passes(filters: Filters, row: Row) -> bool:
    if filters.service is not None and row.get("service") != filters.service:
        return False
    if filters.environment is not None and row.get("environment") != filters.environment:
        return False
    return filters.source is None or events.source_of(row) == filters.source


def spike_of(rule: Rule) -> Spike:
    assert isinstance(rule.trigger, Spike)
    return rule.trigger


def spike_scope(spike: Spike, rows: list[Row]) -> dict[str, Row]:
    """The latest of the rows per group (or service) the spike rule counts."""
    latest: dict[str, Row] = {}
    for r in rows:
        if spike.scope == "group":
            if spike.group_id is not None and int(r["group_id"]) != spike.group_id:
                continue
            latest[str(r["group_id"])] = r
        else:
            latest[str(r.get("service") or "")] = r
    return latest


def property_text(value: object) -> str | None:
    """A user property as the rule compares it: text as is, other JSON values as JSON
    (``true``, ``42``); null as absent."""
    if value is None:
        return None
    if isinstance(value, str):
        return value
    return orjson.dumps(value).decode()


def user_matches(trigger: UserError, row: Row) -> bool:
    """A backend error linked to a session whose user fits the trigger."""
    if not row.get("session_id") or events.source_of(row) != "backend":
        return False
    if trigger.user is not None and row.get("user") != trigger.user:
        return False
    if trigger.property_name is None:
        return True
    props = json_column("user_metadata", row.get("user_metadata"))
    if not isinstance(props, dict):
        return False
    value = property_text(props.get(trigger.property_name))
    if value is None:
        return False
    return trigger.property_value is None or value == trigger.property_value


class Evaluator:
    def __init__(self, store: Store, base_url: str) -> None:
        self.store, self.base = store, base_url
        self.logs = LogWindows(store)
        self._rule_ids: list[str] = []
        self._slots: dict[str, float] | None = None  # this evaluation's, read when needed
        self.rule_rows: list[Row] = []  # as the last evaluation read them (the deliverer's)

    def run_once(self, now_ms: float) -> int:
        """One evaluation of every project; returns the outbox rows added."""
        rules: dict[str, list[Rule]] = defaultdict(list)
        self.rule_rows = self.store.alert_rules()
        every = load_rules(self.store, rows=self.rule_rows)
        for rule in every:
            rules[rule.project_id].append(rule)
        self._rule_ids, self._slots = [r.id for r in every], None
        added = 0
        cursors = self.store.alert_cursors()
        try:
            for project, cursor in cursors.items():
                if project.startswith("#"):
                    continue
                mine = rules.get(project, [])
                pending = self._log_matches(project, mine, now_ms)
                for _ in range(MAX_PAGES):
                    rows, after = self.store.alert_errors_after(project, cursor, PAGE)
                    outbox = pending + self.match(project, mine, rows, now_ms)
                    pending = []
                    # nothing read, nothing to add, the cursor where it was: no write
                    if outbox or rows or after != cursor:
                        added += self.store.enqueue_alerts(outbox, project, after)
                    if len(rows) < PAGE:  # a full page: the store's next one follows it
                        break
                    cursor = after
        except Exception:
            self.logs.forget()  # counted but maybe not enqueued: count again next time
            raise
        self.logs.keep(every)
        return added + resolves.enqueue(
            self.store, self.base, every, cursors.get(RESOLVED, ""), now_ms, self.last_slot
        )

    def last_slot(self, rule_id: str) -> float | None:
        """The rule's latest slot: every rule's read in one statement the first time an
        evaluation needs one, then kept up to date by ``_slot`` (one thread evaluates)."""
        if self._slots is None:
            self._slots = self.store.alert_last_slots(self._rule_ids)
        return self._slots.get(rule_id)

    def match(
        self, project: str, rules: list[Rule], rows: list[Row], now_ms: float
    ) -> list[OutboxRow]:
        out: list[OutboxRow] = []
        spikes: list[tuple[Rule, dict[str, Row]]] = []
        for rule in rules:
            if not rule.active(now_ms) or rule.trigger.kind not in EVALUATED:
                continue
            if rule.trigger.kind == "log_match":
                continue  # counted from logs (_log_matches), not from error rows
            mine = [r for r in rows if passes(rule.filters, r)]
            if not mine:
                continue
            if isinstance(rule.trigger, Spike):
                latest = spike_scope(rule.trigger, mine)
                if latest:
                    spikes.append((rule, latest))
                continue
            found = self._events(project, rule, mine, now_ms)
            if found:
                out += self._rows(project, rule, found, now_ms)
        if spikes:  # every spike rule's counts in one read
            asks: list[tuple[float, str, list[str]]] = [
                (
                    now_ms - spike_of(rule).window_minutes * 60_000,
                    spike_of(rule).scope,
                    sorted(latest),
                )
                for rule, latest in spikes
            ]
            counted = self.store.alert_spike_counts(project, asks)
            for (rule, latest), counts in zip(spikes, counted, strict=True):
                found = self._spikes(project, spike_of(rule), latest, counts, now_ms)
                if found:
                    out += self._rows(project, rule, found, now_ms)
        return out

    def _rows(self, project: str, rule: Rule, found: list[Event], now_ms: float) -> list[OutboxRow]:
        slot = self._slot(rule, now_ms)
        out = []
        for event in found:
            text = events.dumps(event)
            for index in range(len(rule.channels)):
                key = f"{rule.id}/{index}/{event.key}"
                out.append(OutboxRow(key, rule.id, project, index, slot, text))
        return out

    def _log_matches(self, project: str, rules: list[Rule], now_ms: float) -> list[OutboxRow]:
        out: list[OutboxRow] = []
        for rule in rules:
            if rule.trigger.kind != "log_match" or not rule.active(now_ms):
                continue
            if rule.filters.source == "frontend":
                continue  # logs are backend data
            found = self.logs.evaluate(rule, now_ms)
            if found is None:
                continue
            count, sample, window = found
            key = f"log_match/{window}"
            event = events.log_event(
                key, project, self.base, rule.trigger, rule.filters.service, count, sample
            )
            out += self._rows(project, rule, [event], now_ms)
        return out

    def _slot(self, rule: Rule, now_ms: float) -> float:
        last = self.last_slot(rule.id)
        if last is None:
            slot = now_ms
        elif last > now_ms:  # a slot is waiting: join it
            slot = last
        else:
            slot = max(now_ms, last + rule.cooldown_seconds * 1000)
        assert self._slots is not None
        self._slots[rule.id] = slot  # what the store says once these rows are added
        return slot

    def _events(self, project: str, rule: Rule, rows: list[Row], now_ms: float) -> list[Event]:
        kind = rule.trigger.kind
        if kind == "new_group":
            return [
                events.error_event("new_group", f"new_group/{r['group_id']}", project, self.base, r)
                for r in rows
                if r.get("change") == "new"
            ]
        if kind == "regression":
            return [
                events.error_event(
                    "regression", f"regression/{r['group_id']}/{r['id']}", project, self.base, r
                )
                for r in rows
                if r.get("change") == "reopened"
            ]
        if isinstance(rule.trigger, UserError):
            trigger = rule.trigger
            return [
                events.user_error_event(
                    f"user_error/{r['session_id']}/{r['group_id']}", project, self.base, r
                )
                for r in rows
                if user_matches(trigger, r)
            ]
        return []  # spikes: counted together (match)

    def _spikes(
        self,
        project: str,
        spike: Spike,
        latest: dict[str, Row],
        counts: dict[str, int],
        now_ms: float,
    ) -> list[Event]:
        """Each group (or service) with new instances here, counted over the window: more
        than the threshold fires once per window (the key carries the window's number)."""
        bucket = int(now_ms // (spike.window_minutes * 60_000))
        out = []
        for scope_key, n in counts.items():
            if n <= spike.threshold:
                continue
            row = dict(latest[scope_key], count=n)
            key = f"spike/{spike.scope}:{scope_key}/{bucket}"
            event = events.error_event("spike", key, project, self.base, row)
            what = f"service {scope_key or '(none)'}" if spike.scope == "service" else event.title
            title = f"{n} errors in {spike.window_minutes} min: {what}"
            out.append(replace(event, title=title[:300]))
        return out
