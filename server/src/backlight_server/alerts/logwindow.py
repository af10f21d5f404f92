"""``log_match``: matching logs counted per rule over its window, without a full count
each evaluation.

Each rule keeps, in memory on the alerts thread, its matches per time bucket (a sixtieth
of the window) and the store's cursor. An evaluation asks the store only for what was
committed after that cursor (``Store.alert_log_counts``: SQLite reads the logs after the
last id through the full-text index; ClickHouse, which has no arrival order for logs,
recounts the window only when the project got logs since the last count) and adds it;
buckets older than the window are dropped. So an idle evaluation costs one cheap query
per rule, and a busy one what arrived since the last.

The first evaluation of a rule (after a start, a change of leader, an edit of the rule,
or a failed evaluation) counts its window whole, once, and does not fire on it: a rule
fires on a match that arrives after (so a new rule never fires on logs before it). The
window's start is rounded down to a bucket, so the count may hold up to one bucket (1/60
of the window) more.

A rule fires when the count is above its threshold and a matching log arrived since the
last evaluation (ClickHouse, counting whole: a new newest match, or more matches than
before in the same window); the event key carries the window's number, so at most one
event per window (the outbox keeps one row per key).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from backlight_server.alerts.rules import LogMatch, Rule
from backlight_server.store.base import LogCounts, Row, Store
from backlight_server.store.queries import LogQuery

BUCKETS = 60  # per window


@dataclass
class LogWindow:
    """One rule's matches per bucket, as far as ``cursor``."""

    version: str  # the rule as stored: another version counts again
    cursor: str = ""
    buckets: dict[int, int] = field(default_factory=dict)
    sample: Row | None = None

    def apply(self, got: LogCounts, first_bucket: int) -> bool:
        """Add (or, when ``whole``, replace) the counts; True when a match not seen before
        was counted: a new newest match, or (counted whole) more than were counted in the
        same window before."""
        seeding = self.cursor == ""  # the first count: what came before is not news
        before = self.sample.get("id") if self.sample else None
        had = sum(n for b, n in self.buckets.items() if b >= first_bucket)
        if got.whole:
            self.buckets = dict(got.buckets)
        else:
            for bucket, n in got.buckets.items():
                self.buckets[bucket] = self.buckets.get(bucket, 0) + n
        self.buckets = {b: n for b, n in self.buckets.items() if b >= first_bucket}
        self.cursor = got.cursor
        if got.sample is None:
            return False
        self.sample = got.sample
        if seeding:
            return False
        return got.sample.get("id") != before or (got.whole and self.count > had)

    @property
    def count(self) -> int:
        return sum(self.buckets.values())


def window(trigger: LogMatch, now_ms: float) -> tuple[float, float, int]:
    """(bucket ms, the window's start rounded down to a bucket, the window's number)."""
    window_ms = trigger.window_minutes * 60_000
    bucket_ms = window_ms / BUCKETS
    start = (now_ms - window_ms) // bucket_ms * bucket_ms
    return bucket_ms, start, int(now_ms // window_ms)


class LogWindows:
    def __init__(self, store: Store) -> None:
        self.store = store
        self.rules: dict[str, LogWindow] = {}

    def evaluate(self, rule: Rule, now_ms: float) -> tuple[int, Row, int] | None:
        """(count, the newest matching log, the window's number) when the rule fires."""
        trigger = rule.trigger
        assert isinstance(trigger, LogMatch)
        version = rule.model_dump_json()
        state = self.rules.get(rule.id)
        if state is None or state.version != version:
            state = self.rules[rule.id] = LogWindow(version)
        bucket_ms, start, number = window(trigger, now_ms)
        query = LogQuery(
            text=trigger.query,
            project_id=rule.project_id,
            service=rule.filters.service,
            level=trigger.level,
            start_ms=start,
        )
        got = self.store.alert_log_counts(query, rule.filters.environment, bucket_ms, state.cursor)
        fresh = state.apply(got, int(start // bucket_ms))
        if not fresh or state.count <= trigger.threshold or state.sample is None:
            return None
        return state.count, state.sample, number

    def keep(self, rules: list[Rule]) -> None:
        """Forget the windows of rules that are gone."""
        ids = {r.id for r in rules}
        for rule_id in [r for r in self.rules if r not in ids]:
            del self.rules[rule_id]

    def forget(self) -> None:
        self.rules.clear()
