"""The evaluator's reads on every store: ``alert_errors_after`` pages through what was
committed giving each instance once (ClickHouse: its read-back overlap skips what was read
and then enqueued, so a page never repeats), reads again what was read but not enqueued
(a failed evaluation), and keeps its cursor when there is nothing new (no write); the
batched reads (``alert_last_slots``, ``alert_spike_counts``) agree with the single ones,
and ``log_alert_deliveries`` writes many delivery-log entries at once."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from blstores import STORES, Opened, error, make, now_ms

from backlight_server.pipeline.model import TelemetryBatch
from backlight_server.store.base import OutboxRow


@pytest.fixture(params=STORES)
def opened(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Opened]:
    store = make(request.param, tmp_path)
    store.open()
    try:
        yield Opened(store, store.default_project())
    finally:
        store.close()


async def test_pages_give_each_instance_once_and_an_idle_read_keeps_the_cursor(
    opened: Opened,
) -> None:
    store, p = opened.store, opened.project
    store.save_alert_rule("r1", p, '{"name": "one"}')
    cursor = store.alert_cursors()[p]
    # one insert: on ClickHouse all 25 share one received_ms, inside the read-back overlap
    first = [error(p, f"order {n} failed", error_type=f"E{n % 3}") for n in range(25)]
    await store.write_telemetry(TelemetryBatch(errors=first), 1)
    await store.write_telemetry(TelemetryBatch(errors=[error(p, f"x {n}") for n in range(7)]), 1)
    read: list[int] = []
    for _ in range(20):
        rows, after = store.alert_errors_after(p, cursor, 10)
        assert len(rows) <= 10
        read += [int(r["id"]) for r in rows]
        store.enqueue_alerts([], p, after)  # as the evaluator does after each page
        cursor = after
        if len(rows) < 10:
            break
    assert len(read) == 32 and len(set(read)) == 32
    rows, after = store.alert_errors_after(p, cursor, 10)
    assert rows == [] and after == cursor  # nothing new: the same cursor, nothing to write


async def test_what_was_read_but_not_enqueued_is_read_again(opened: Opened) -> None:
    store, p = opened.store, opened.project
    store.save_alert_rule("r1", p, '{"name": "one"}')
    cursor = store.alert_cursors()[p]
    await store.write_telemetry(TelemetryBatch(errors=[error(p, f"e {n}") for n in range(5)]), 1)
    rows, _ = store.alert_errors_after(p, cursor, 100)
    assert len(rows) == 5
    # the evaluation failed before enqueue_alerts: the next one reads them all again
    again, after = store.alert_errors_after(p, cursor, 100)
    assert sorted(int(r["id"]) for r in again) == sorted(int(r["id"]) for r in rows)
    store.enqueue_alerts([], p, after)
    more, _ = store.alert_errors_after(p, after, 100)
    assert more == []


async def test_batched_slots_and_spike_counts_agree_with_the_single_reads(opened: Opened) -> None:
    store, p = opened.store, opened.project
    store.save_alert_rule("r1", p, '{"name": "one"}')
    store.save_alert_rule("r2", p, '{"name": "two"}')
    t = now_ms()
    rows = [OutboxRow(f"r1/0/k{n}", "r1", p, 0, t + n, "{}") for n in range(3)]
    store.enqueue_alerts(rows, p, store.alert_cursors()[p])
    assert store.alert_last_slots(["r1", "r2", "r3"]) == {"r1": t + 2}
    assert store.alert_last_slots([]) == {}
    old = now_ms() - 120_000
    await store.write_telemetry(
        TelemetryBatch(
            errors=[
                error(p, "order 1 failed"),
                error(p, "order 2 failed"),
                error(p, "cart empty", error_type="KeyError", service="web"),
                error(p, "order 3 failed", ts_ms=old),
                error(p, "no disk", service=None, error_type="OSError"),
            ]
        ),
        1,
    )
    got, _ = store.alert_errors_after(p, "", 100)
    gid = str(next(int(r["group_id"]) for r in got if r["type"] == "ValueError"))
    since = now_ms() - 60_000
    asks = [
        (since, "group", [gid, "12345"]),
        (old - 1, "group", [gid]),
        (since, "service", ["api", "web", "", "none"]),
        (old - 1, "service", ["api"]),
    ]
    expected = [store.alert_error_counts(p, t0, by, keys) for t0, by, keys in asks]
    assert store.alert_spike_counts(p, asks) == expected
    assert expected == [
        {gid: 2, "12345": 0},
        {gid: 3},
        {"api": 2, "web": 1, "": 1, "none": 0},
        {"api": 3},
    ]
    assert store.alert_spike_counts(p, []) == []


def test_many_delivery_log_entries_in_one_write(opened: Opened) -> None:
    store = opened.store
    t = now_ms()
    entries = [
        {
            "at_ms": t + n,
            "rule_id": "r1" if n < 2 else "r2",
            "channel": 0,
            "kind": "webhook",
            "key": f"r/0/new_group/{n}",
            "events": 1,
            "ok": n != 1,
            "status": 200 if n != 1 else 500,
            "error": "" if n != 1 else "HTTP 500",
            "attempt": 1,
        }
        for n in range(3)
    ]
    store.log_alert_deliveries(entries)
    store.log_alert_deliveries([])
    log = store.alert_deliveries("r1", 10, 0)
    assert log["total"] == 2
    assert [(d["key"], d["ok"], d["status"]) for d in log["deliveries"]] == [
        ("r/0/new_group/1", False, 500),
        ("r/0/new_group/0", True, 200),
    ]
    assert store.alert_deliveries(None, 10, 0)["total"] == 3
