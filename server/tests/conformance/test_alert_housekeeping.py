"""Alert housekeeping on every store: the retention purge deletes outbox rows sent or given
up and delivery-log entries past the retention, keeps what is still to be sent, and never
brings back an older state of a key (ClickHouse keeps a key's states as rows of their own).
ClickHouse also expires them by TTL (``schema.alert_ttls``)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from blstores import STORES, Opened, make, now_ms

from backlight_server.store.base import OutboxRow, Row
from backlight_server.store.clickhouse import ClickhouseStore
from backlight_server.store.clickhouse.schema import Layout

DAY_MS = 86_400_000


@pytest.fixture(params=STORES)
def opened(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Opened]:
    store = make(request.param, tmp_path)
    store.open()
    try:
        yield Opened(store, store.default_project())
    finally:
        store.close()


def _delivery(at_ms: float, attempt: int) -> Row:
    return {
        "at_ms": at_ms,
        "rule_id": "r1",
        "channel": 0,
        "kind": "webhook",
        "key": f"r1/0/new_group/{attempt}",
        "events": 1,
        "ok": True,
        "status": 200,
        "error": "",
        "attempt": attempt,
    }


def _later_than(t: float) -> float:
    while (now := now_ms()) <= t:  # the clock moves on (a few microseconds)
        time.sleep(0.001)
    return now


def test_the_purge_removes_sent_and_given_up_rows_and_old_log_entries(opened: Opened) -> None:
    store, p = opened.store, opened.project
    store.save_alert_rule("r1", p, '{"name": "one"}')
    t = now_ms()
    old = [OutboxRow(f"r1/0/new_group/{n}", "r1", p, 0, t, "{}") for n in range(4)]
    assert store.enqueue_alerts(old, p, "c1") == 4
    due = sorted(store.due_alerts(t + 1, 100), key=lambda r: str(r["key"]))
    # every key goes through "sending" first (a row of its own in ClickHouse)
    store.mark_alerts(due, "sending", 1, t + 40_000, "")
    due = sorted(store.due_alerts(t + 50_000, 100), key=lambda r: str(r["key"]))
    store.mark_alerts(due[:1], "delivered", 1, 0.0, "")
    store.mark_alerts(due[1:2], "failed", 10, 0.0, "HTTP 404")
    store.mark_alerts(due[2:3], "pending", 1, t + 2_000, "HTTP 500")  # a retry to come
    # due[3] stays "sending": cut off by a crash, the deliverer marks it failed later
    cutoff = _later_than(now_ms())
    fresh = OutboxRow("r1/0/new_group/9", "r1", p, 0, _later_than(cutoff), "{}")
    assert store.enqueue_alerts([fresh], p, "c2") == 1
    store.log_alert_delivery(_delivery(cutoff - 40 * DAY_MS, 1))
    store.log_alert_delivery(_delivery(cutoff - 1, 2))
    store.log_alert_delivery(_delivery(cutoff + 1, 3))

    assert store.purge_before(cutoff - DAY_MS) == 1  # the 40-day-old log entry only
    assert store.alert_deliveries(None, 10, 0)["total"] == 2

    assert store.purge_before(cutoff) == 3  # two outbox keys and one log entry
    left = store.due_alerts(t + 10 * DAY_MS, 100)
    assert {r["key"]: r["state"] for r in left} == {
        "r1/0/new_group/2": "pending",
        "r1/0/new_group/3": "sending",
        "r1/0/new_group/9": "pending",
    }
    assert [d["attempt"] for d in store.alert_deliveries(None, 10, 0)["deliveries"]] == [3]
    assert store.alert_last_slot("r1") is not None  # the cooldown still sees the rest
    assert store.purge_before(cutoff) == 0


@pytest.mark.parametrize("kind", ["chdb"])
def test_clickhouse_expires_the_outbox_by_ttl_latest_state_last(kind: str, tmp_path: Path) -> None:
    store = ClickhouseStore(f"chdb://{tmp_path / 'chdb'}", layout=Layout(ttl_days=30))
    store.open()
    try:
        ddl = str(store.tx.query("SHOW CREATE TABLE alert_outbox")[0][0])
        assert "TTL" in ddl and "WHERE state IN ('pending', 'sending')" in ddl
        assert "TTL" in str(store.tx.query("SHOW CREATE TABLE alert_deliveries")[0][0])
        now = time.time() * 1000
        rows = [  # key, state, created days ago, version
            ("a", "pending", 40, 1),
            ("a", "delivered", 40, 2),
            ("b", "pending", 31.5, 1),  # an older state, past retention + 1 day
            ("b", "delivered", 31.5, 2),  # its latest state: a day more
            ("c", "pending", 31.5, 1),
            ("d", "pending", 1, 1),
        ]
        for key, state, days, version in rows:  # one insert each: parts of their own
            store.tx.command(
                "INSERT INTO alert_outbox (key, rule_id, project_id, channel, slot_ms, event, "
                "state, attempts, next_ms, last_error, created_ms, version) VALUES ({k:String}, "
                "'r', 'p', 0, 0, '{}', {s:String}, 1, 0, '', {c:Float64}, {v:UInt64})",
                {"k": key, "s": state, "c": now - days * DAY_MS, "v": version},
            )
        store.tx.command(
            "INSERT INTO alert_deliveries (at_ms, rule_id, channel, kind, key, events, ok, "
            "status, error, attempt) VALUES ({old:Float64}, 'r', 0, 'webhook', 'a', 1, 1, 200, "
            "'', 1), ({new:Float64}, 'r', 0, 'webhook', 'd', 1, 1, 200, '', 1)",
            {"old": now - 31 * DAY_MS, "new": now},
        )
        for table in ("alert_outbox", "alert_deliveries"):
            store.tx.command(f"ALTER TABLE {table} MATERIALIZE TTL", settings={"mutations_sync": 2})
        left = sorted(
            (str(k), str(s)) for k, s in store.tx.query("SELECT key, state FROM alert_outbox")
        )
        assert left == [("b", "delivered"), ("d", "pending")]
        assert [str(k) for (k,) in store.tx.query("SELECT key FROM alert_deliveries")] == ["d"]
    finally:
        store.close()
