"""The matching of the log_match and user_error triggers, and the resolve rows, on a real
store (SQLite, or chdb with ``BACKLIGHT_TEST_STORE=chdb``) with the evaluator's clock in
the test's hands."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from blstores import env_kind, error, log, opened_store, session

from backlight_server.alerts import events
from backlight_server.alerts.channels import pagerduty
from backlight_server.alerts.evaluate import Evaluator, property_text, user_matches
from backlight_server.alerts.logwindow import LogWindow, window
from backlight_server.alerts.message import Alert, Event
from backlight_server.alerts.rules import LogMatch, Rule, UserError
from backlight_server.pipeline.model import Identify, TelemetryBatch
from backlight_server.store.base import LogCounts, Store

BASE = "https://backlight.example.test"
HOOK = [{"kind": "webhook", "url": "http://127.0.0.1:9/hook", "secret": "s"}]
PD = {"kind": "pagerduty", "routing_key": "k" * 32, "events_url": "http://127.0.0.1:9/pd"}


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with opened_store(env_kind(), tmp_path) as opened:
        yield opened


def _save(store: Store, rule_id: str, body: dict[str, Any]) -> Rule:
    project = store.default_project()
    rule = Rule.model_validate({**body, "id": rule_id, "project_id": project})
    store.save_alert_rule(rule_id, project, rule.model_dump_json())
    return rule


# --- user_error -----------------------------------------------------------------------


def _row(**fields: Any) -> dict[str, Any]:
    return {"session_id": "s1", "source": "span", "user": "ada@example.com", **fields}


def test_user_error_wants_a_backend_error_in_a_session() -> None:
    anyone = UserError()
    assert user_matches(anyone, _row())
    assert user_matches(anyone, _row(user=None))  # no filter: any session
    assert not user_matches(anyone, _row(session_id=None))
    assert not user_matches(anyone, _row(source="frontend"))


def test_user_error_matches_the_user_exactly() -> None:
    ada = UserError(user="ada@example.com")
    assert user_matches(ada, _row())
    assert not user_matches(ada, _row(user="ADA@example.com"))
    assert not user_matches(ada, _row(user="ada@example.com.evil"))
    assert not user_matches(ada, _row(user=None))


@pytest.mark.parametrize(
    ("stored", "name", "value", "matches"),
    [
        ({"plan": "pro"}, "plan", "pro", True),
        ({"plan": "pro"}, "plan", "Pro", False),
        ({"plan": "free"}, "plan", "pro", False),
        ({"plan": "pro"}, "plan", None, True),  # the property is set
        ({"tier": "pro"}, "plan", None, False),
        ({"plan": None}, "plan", None, False),  # null is absent
        ({"paying": True}, "paying", "true", True),
        ({"seats": 12}, "seats", "12", True),
        ({"seats": 12.5}, "seats", "12.5", True),
        ({"tags": ["a"]}, "tags", '["a"]', True),
        (["plan", "pro"], "plan", None, False),  # not an object
        ("not json {", "plan", None, False),
        (None, "plan", None, False),
    ],
)
def test_user_error_matches_a_property_as_text(
    stored: Any, name: str, value: str | None, matches: bool
) -> None:
    text = stored if isinstance(stored, str) or stored is None else orjson.dumps(stored).decode()
    trigger = UserError(property_name=name, property_value=value)
    assert user_matches(trigger, _row(user_metadata=text)) is matches


def test_property_text() -> None:
    assert property_text("x") == "x" and property_text(False) == "false"
    assert property_text(None) is None and property_text({"a": 1}) == '{"a":1}'


def test_a_value_without_a_property_name_is_ignored() -> None:
    trigger = UserError(user="ada@example.com", property_value="pro")
    assert user_matches(trigger, _row(user_metadata=None))
    assert not user_matches(trigger, _row(user="bob@example.com"))


async def test_user_error_rows_fire_once_per_session_and_group(store: Store) -> None:
    p = store.default_project()
    _save(
        store,
        "u1",
        {
            "name": "paying",
            "trigger": {"kind": "user_error", "property_name": "plan"},
            "channels": HOOK,
        },
    )
    info = session(p)
    await store.start_session(info)
    meta = orjson.dumps({"plan": "pro"}).decode()
    await store.annotate_session(info.secure_id, Identify(0.0, "ada@example.com", meta), [])
    sid = info.secure_id
    evaluator = Evaluator(store, BASE)
    errors = [
        error(p, "boom", session_id=sid, request_id="r1"),
        error(p, "boom", session_id=sid, request_id="r2"),  # the same group
        error(p, "other", error_type="KeyError", session_id=sid, request_id="r3"),
        error(p, "boom"),  # no session
    ]
    await store.write_telemetry(TelemetryBatch(errors=errors), 1)
    assert evaluator.run_once(time.time() * 1000) == 2
    due = store.due_alerts(time.time() * 1000 + 1, 100)
    got = sorted(events.loads(r["event"]).key for r in due)
    assert [k.rsplit("/", 1)[0] for k in got] == [f"user_error/{sid}"] * 2
    first = events.loads(due[0]["event"])
    assert first.user == "ada@example.com" and first.title.startswith("ada@example.com: ")
    await store.write_telemetry(
        TelemetryBatch(errors=[error(p, "boom", session_id=sid, request_id="r4")]), 1
    )
    assert evaluator.run_once(time.time() * 1000) == 0  # that session and group again


# --- log_match ------------------------------------------------------------------------


def test_the_window_is_cut_in_sixty_buckets() -> None:
    trigger = LogMatch(query="x", window_minutes=5)
    bucket, start, number = window(trigger, 1_000_000_123.0)
    assert bucket == 5000.0 and start == 999_700_000.0 and number == 1_000_000_123 // 300_000


def test_a_window_adds_increments_replaces_on_whole_and_drops_old_buckets() -> None:
    state = LogWindow("v")
    sample = {"id": 1, "body": "a"}
    assert not state.apply(LogCounts({10: 2, 11: 1}, sample, "c1", True), 10)  # the seed
    assert state.count == 3 and state.cursor == "c1" and state.sample == sample
    assert not state.apply(LogCounts({}, None, "c1", False), 10)  # nothing new
    assert state.apply(LogCounts({11: 1, 12: 4}, {"id": 2}, "c2", False), 11)
    assert state.buckets == {11: 2, 12: 4} and state.sample == {"id": 2}
    assert not state.apply(LogCounts({12: 4}, {"id": 2}, "c3", True), 11)  # same newest
    assert state.buckets == {12: 4}


async def test_log_match_fires_once_per_window_and_only_on_new_matches(store: Store) -> None:
    p = store.default_project()
    trigger = {"kind": "log_match", "query": "timeout", "threshold": 2, "window_minutes": 1}
    _save(store, "l1", {"name": "timeouts", "trigger": trigger, "channels": HOOK})
    evaluator = Evaluator(store, BASE)
    now = (time.time() * 1000) // 60_000 * 60_000 + 30_000  # mid-minute
    ns = int(now * 1e6)

    async def logs(*bodies: str, at_ns: int = ns) -> None:
        await store.write_telemetry(
            TelemetryBatch(logs=[log(p, b, "api", ts_ns=at_ns + i) for i, b in enumerate(bodies)]),
            10,
        )

    await logs("upstream timeout", "db timeout", "disk timeout", "fine")
    assert evaluator.run_once(now) == 0  # 3 > 2, but from before the rule's first count
    await logs("fine again")
    assert evaluator.run_once(now + 100) == 0
    await logs("cache timeout")
    assert evaluator.run_once(now + 200) == 1
    [row] = store.due_alerts(now + 10_000, 10)
    event = events.loads(row["event"])
    # the sample: the newest match (SQLite: of those just committed; ClickHouse: of the
    # window, by time; here "cache timeout" has the time of the first)
    assert event.count == 4 and event.message in ("cache timeout", "disk timeout")
    assert event.key == f"log_match/{int((now + 200) // 60_000)}"
    await logs("again timeout")
    assert evaluator.run_once(now + 300) == 0  # the same window: its key is known
    assert evaluator.run_once(now + 31_000) == 0  # the next window, but no new match
    await logs("late timeout", at_ns=ns + 32_000 * 10**6)
    assert evaluator.run_once(now + 33_000) == 1  # the 4 of the last minute and this one
    rows = store.due_alerts(now + 10**6, 10)  # the second waits for the cooldown
    assert sorted(events.loads(r["event"]).count for r in rows) == [4, 6]
    assert evaluator.run_once(now + 95_000) == 0  # the window has moved past them all
    # a fresh evaluator (a restart, another leader) counts the window once, whole
    assert Evaluator(store, BASE).run_once(now + 33_100) == 0


async def test_a_frontend_source_filter_matches_no_log_and_no_backend_error(
    store: Store,
) -> None:
    p = store.default_project()
    front = {"filters": {"source": "frontend"}, "channels": HOOK}
    logs = {"kind": "log_match", "query": "timeout", "threshold": 1, "window_minutes": 5}
    _save(store, "f1", {"name": "front logs", "trigger": logs, **front})
    _save(store, "f2", {"name": "front users", "trigger": {"kind": "user_error"}, **front})
    info = session(p)
    await store.start_session(info)
    evaluator = Evaluator(store, BASE)
    now = time.time() * 1000
    assert evaluator.run_once(now) == 0
    await store.write_telemetry(
        TelemetryBatch(
            logs=[log(p, f"timeout {n}", "api") for n in range(3)],
            errors=[error(p, "boom", session_id=info.secure_id, request_id="r1")],
        ),
        10,
    )
    assert evaluator.run_once(now + 100) == 0


# --- PagerDuty resolve ----------------------------------------------------------------


async def test_resolve_rows_go_to_the_pagerduty_channels_that_fired(store: Store) -> None:
    p = store.default_project()
    body = {"name": "page", "trigger": {"kind": "new_group"}, "channels": [*HOOK, PD]}
    _save(store, "pd1", {**body, "cooldown_seconds": 0})
    _save(store, "pd2", {**body, "filters": {"service": "elsewhere"}})  # never fired
    evaluator = Evaluator(store, BASE)
    await store.write_telemetry(TelemetryBatch(errors=[error(p, "boom")]), 1)
    now = time.time() * 1000
    assert evaluator.run_once(now) == 2  # pd1's two channels
    trigger = store.due_alerts(now + 1, 10)
    gid = events.loads(trigger[0]["event"]).group_id
    assert gid is not None
    store.mark_alerts(trigger, "delivered", 1, 0.0, "")
    assert await store.set_error_group_state(gid, "resolved")
    await asyncio.sleep(0.01)
    assert evaluator.run_once(time.time() * 1000) == 1
    [row] = store.due_alerts(time.time() * 1000, 10)
    assert row["rule_id"] == "pd1" and row["channel"] == 1 and row["slot_ms"] == 0.0
    event, resolve = events.load(row["event"])
    assert resolve and event.group_id == gid
    alert = Alert("pd1", "page", (event,), resolved=True)
    assert pagerduty.render(alert, "k" * 32)["dedup_key"] == f"backlight:{p}:group:{gid}"
    first = events.loads(trigger[0]["event"])
    assert pagerduty.dedup_key(Alert("pd1", "page", (first,))) == f"backlight:{p}:group:{gid}"
    assert evaluator.run_once(time.time() * 1000) == 0  # once per resolution
    assert store.alert_last_slot("pd1") == trigger[0]["slot_ms"]  # no cooldown moved


def test_a_service_spike_is_not_a_groups_incident() -> None:
    spike = Event("spike", "spike/service:api/5", "1", "t", group_id=4)
    assert (
        pagerduty.dedup_key(Alert("r", "n", (spike,))) == "backlight:1:rule:r:spike/service:api/5"
    )
    group = Event("spike", "spike/group:4/5", "1", "t", group_id=4)
    assert pagerduty.dedup_key(Alert("r", "n", (group,))) == "backlight:1:group:4"
