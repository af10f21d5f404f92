"""What one evaluation asks of the store, on SQLite and chdb: each committed instance is
read once however many pages it takes (ClickHouse used to read the same rows again up to
20 times when a page was full), every rule's last slot is one read and every spike rule's
counts one more, and an evaluation with nothing new writes nothing."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, cast

import pytest
from blstores import error, opened_store

from backlight_server.alerts import evaluate
from backlight_server.alerts.evaluate import Evaluator
from backlight_server.alerts.rules import Rule
from backlight_server.pipeline.model import TelemetryBatch
from backlight_server.store.base import Store

BASE = "https://backlight.example.test"
HOOK = [{"kind": "webhook", "url": "http://127.0.0.1:9/hook", "secret": "s"}]


class Counting:
    """The store, with a count of the calls of each method and of the rows read."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.calls: Counter[str] = Counter()
        self.rows_read = 0

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self.store, name)
        if not callable(attr):
            return attr

        def call(*args: Any, **kwargs: Any) -> Any:
            self.calls[name] += 1
            out = attr(*args, **kwargs)
            if name == "alert_errors_after":
                self.rows_read += len(out[0])
            return out

        return call


@pytest.fixture(params=["sqlite", "chdb"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    with opened_store(request.param, tmp_path) as opened:
        yield opened


def _save(store: Store, rule_id: str, body: dict[str, Any]) -> Rule:
    project = store.default_project()
    rule = Rule.model_validate({**body, "id": rule_id, "project_id": project, "channels": HOOK})
    store.save_alert_rule(rule_id, project, rule.model_dump_json())
    return rule


def _counting(store: Store) -> tuple[Counting, Evaluator]:
    counting = Counting(store)
    return counting, Evaluator(cast(Store, counting), BASE)


def _later(now: Callable[[], float], t: float) -> float:
    while (n := now()) <= t:
        time.sleep(0.001)
    return n


async def test_full_pages_read_each_instance_once(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(evaluate, "PAGE", 10)
    _save(store, "new", {"name": "new", "trigger": {"kind": "new_group"}, "cooldown_seconds": 60})
    p = store.default_project()
    # 32 new groups in one insert (on ClickHouse: one received_ms, inside the overlap)
    errors = [error(p, "boom", error_type=f"Error{n}") for n in range(32)]
    await store.write_telemetry(TelemetryBatch(errors=errors), 1)
    counting, evaluator = _counting(store)
    now = _later(lambda: time.time() * 1000, 0)
    assert evaluator.run_once(now) == 32
    assert counting.rows_read == 32
    assert counting.calls["alert_errors_after"] == 4  # 10, 10, 10, 2
    # the first page's events are due now, the rest wait for the cooldown: the slots kept
    # in memory say what the store would
    assert len(store.due_alerts(now, 100)) == 10
    assert len(store.due_alerts(now + 60_000, 100)) == 32
    assert store.alert_last_slot("new") == now + 60_000


async def test_one_read_for_the_slots_and_one_for_the_spike_counts(store: Store) -> None:
    _save(store, "new", {"name": "new", "trigger": {"kind": "new_group"}})
    for n, scope in ((1, "group"), (2, "group"), (3, "service")):
        trigger = {"kind": "spike", "threshold": n, "window_minutes": n, "scope": scope}
        _save(store, f"spike{n}", {"name": f"spike {n}", "trigger": trigger})
    p = store.default_project()
    errors = [error(p, f"order {n} failed", service=f"s{n % 2}") for n in range(6)]
    await store.write_telemetry(TelemetryBatch(errors=errors), 1)
    counting, evaluator = _counting(store)
    added = evaluator.run_once(time.time() * 1000)
    # one new group, its spike (6 > 1 and > 2), and service s0's and s1's (3 > 3? no)
    assert added == 3
    assert counting.calls["alert_last_slots"] == 1
    assert counting.calls["alert_spike_counts"] == 1
    assert counting.calls["alert_last_slot"] == 0
    assert counting.calls["alert_error_counts"] == 0
    keys = sorted(str(r["key"]).split("/")[0] for r in store.due_alerts(time.time() * 1000, 100))
    assert keys == ["new", "spike1", "spike2"]


async def test_an_evaluation_with_nothing_new_writes_nothing(store: Store) -> None:
    _save(store, "new", {"name": "new", "trigger": {"kind": "new_group"}})
    p = store.default_project()
    await store.write_telemetry(TelemetryBatch(errors=[error(p, "boom")]), 1)
    counting, evaluator = _counting(store)
    assert evaluator.run_once(time.time() * 1000) == 1
    assert counting.calls["enqueue_alerts"] >= 1
    cursors = store.alert_cursors()
    counting.calls.clear()
    assert evaluator.run_once(time.time() * 1000) == 0
    assert evaluator.run_once(time.time() * 1000) == 0
    assert counting.calls["enqueue_alerts"] == 0
    assert store.alert_cursors() == cursors
    await store.write_telemetry(TelemetryBatch(errors=[error(p, "bang", error_type="OSError")]), 1)
    assert evaluator.run_once(time.time() * 1000) == 1
    assert counting.calls["enqueue_alerts"] == 1
