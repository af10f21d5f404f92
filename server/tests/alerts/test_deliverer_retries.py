"""Retries and giving up, on the real deliverer with a real store (SQLite, or chdb with
``BACKLIGHT_TEST_STORE=chdb``) and a loopback receiver, the clock in the test's hands: each
attempt is started at the time its row says it is due (``Deliverer.run_once(now_ms)``), so
no test sleeps through a backoff.

A retry is due 2, 4, 8 … s after the failed attempt (at most 1 h), or after the receiver's
``Retry-After``; after ``MAX_ATTEMPTS`` the row is given up (``failed``), and the delivery
log's last entry says so."""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from blalerts import Receiver, save_webhook_rule
from blstores import env_kind, opened_store

from backlight_server.alerts.deliver import MAX_ATTEMPTS, MAX_BACKOFF_S, Deliverer, backoff_s
from backlight_server.alerts.events import dumps
from backlight_server.alerts.message import Event
from backlight_server.store.base import OutboxRow, Row, Store

KEY = "r1/0/new_group/7"
HOUR_MS = 3_600_000.0


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with opened_store(env_kind(), tmp_path) as opened:
        yield opened


def _enqueue(store: Store, url: str) -> None:
    """A webhook rule and one outbox row of it, due now."""
    project = store.default_project()
    save_webhook_rule(store, url)
    event = Event("new_group", "new_group/7", project, "ValueError: boom", group_id=7)
    row = OutboxRow(KEY, "r1", project, 0, time.time() * 1000, dumps(event))
    assert store.enqueue_alerts([row], project, store.alert_cursors()[project]) == 1


def _pending(store: Store) -> Row | None:
    """The row while it is still to be sent (due at any time from now), else None."""
    rows = [r for r in store.due_alerts(time.time() * 1000 + 2 * HOUR_MS, 10) if r["key"] == KEY]
    return rows[0] if rows else None


async def _attempt(deliverer: Deliverer, now_ms: float) -> tuple[float, float]:
    """The attempt due at ``now_ms``, its outcome written: the wall-clock span (ms) within
    which the deliverer timed its retry."""
    before = time.time() * 1000
    assert await deliverer.run_once(now_ms) == 1
    await asyncio.gather(*deliverer.tasks)
    after = time.time() * 1000
    await deliverer.flush()
    return before, after


async def _retry_due(
    deliverer: Deliverer, store: Store, attempt: int, span: tuple[float, float], wait_s: float
) -> float:
    """After failed attempt ``attempt`` (made within ``span``): the row is pending and due
    ``wait_s`` after the attempt (rounded up to a whole second), and not started a
    millisecond earlier. Its due time."""
    row = _pending(store)
    assert row is not None and row["state"] == "pending" and row["attempts"] == attempt
    due = float(row["next_ms"])
    assert due % 1000 == 0, due  # retries timed out together are one write
    assert span[0] + wait_s * 1000 <= due < span[1] + wait_s * 1000 + 1000, (attempt, due - span[0])
    assert await deliverer.run_once(due - 1) == 0  # not due yet
    return due


async def test_retries_wait_2_4_8_s_and_give_up_after_max_attempts(
    store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    with Receiver().running() as rx:
        rx.answers["/hook"] = [(503, {})] * MAX_ATTEMPTS
        _enqueue(store, rx.url + "/hook")
        caplog.set_level(logging.WARNING, "backlight.alerts")
        async with httpx.AsyncClient() as client:
            deliverer = Deliverer(store, client)
            now = time.time() * 1000
            waits = [2, 4, 8, 16, 32, 64, 128, 256, 512]  # after attempts 1 to 9
            assert len(waits) == MAX_ATTEMPTS - 1
            for attempt, wait_s in enumerate(waits, start=1):
                span = await _attempt(deliverer, now)
                now = await _retry_due(deliverer, store, attempt, span, wait_s)

            await _attempt(deliverer, now)  # the last attempt fails too: given up
            assert _pending(store) is None
            assert await deliverer.run_once(now + 2 * HOUR_MS) == 0  # nothing is due again
        assert len(rx.at("/hook")) == MAX_ATTEMPTS
    log = store.alert_deliveries("r1", 100, 0)["deliveries"]
    assert [(d["attempt"], d["ok"], d["status"]) for d in reversed(log)] == [
        (n, False, 503) for n in range(1, MAX_ATTEMPTS + 1)
    ]
    assert [d["error"] for d in log[1:]] == ["HTTP 503"] * (MAX_ATTEMPTS - 1)
    assert log[0]["error"] == f"HTTP 503 (given up after {MAX_ATTEMPTS} attempts)"
    # this thread's alerts records only: caplog also holds other threads' (another test's
    # app whose retention or alerts thread outlived its store, say)
    said = [
        r.getMessage()
        for r in caplog.records
        if r.name == "backlight.alerts" and r.thread == threading.get_ident()
    ]
    assert said == [f"alert {KEY} to channel 0 given up after {MAX_ATTEMPTS} attempts: HTTP 503"]


async def test_a_retry_honours_retry_after_at_most_an_hour(store: Store) -> None:
    with Receiver().running() as rx:
        rx.answers["/hook"] = [
            (429, {"Retry-After": "7"}),  # 7 s, not the backoff's 2 s
            (503, {"Retry-After": "7200"}),  # two hours: an hour at most
            (503, {}),  # none: the backoff's 2**3 s
        ]
        _enqueue(store, rx.url + "/hook")
        async with httpx.AsyncClient() as client:
            deliverer = Deliverer(store, client)
            now = time.time() * 1000
            for attempt, wait_s in enumerate([7.0, 3600.0, 8.0], start=1):
                span = await _attempt(deliverer, now)
                now = await _retry_due(deliverer, store, attempt, span, wait_s)
            await _attempt(deliverer, now)  # 200
            assert _pending(store) is None
        assert len(rx.at("/hook")) == 4
    log = store.alert_deliveries("r1", 100, 0)["deliveries"]
    assert [(d["attempt"], d["ok"], d["status"]) for d in reversed(log)] == [
        (1, False, 429),
        (2, False, 503),
        (3, False, 503),
        (4, True, 200),
    ]
    # the doubling is capped too, past the attempts a row gets
    assert backoff_s(MAX_ATTEMPTS + 5, None) == MAX_BACKOFF_S == 3600.0


async def test_a_url_httpx_cannot_read_is_an_attempt_logged_and_retried(store: Store) -> None:
    """The channel's URL passed the rule's checks but httpx cannot read its host (an IDNA
    error): the attempt fails like any other, logged and due again, never left 'sending'."""
    _enqueue(store, "https://xn--/services/T0/B0/x")
    async with httpx.AsyncClient() as client:
        deliverer = Deliverer(store, client)
        span = await _attempt(deliverer, time.time() * 1000)
        await _retry_due(deliverer, store, 1, span, 2.0)
    [entry] = store.alert_deliveries("r1", 10, 0)["deliveries"]
    assert (entry["attempt"], entry["ok"]) == (1, False)
