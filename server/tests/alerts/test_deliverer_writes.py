"""The deliverer's store writes per tick, not per message (on SQLite and chdb, to a
loopback receiver): one ``sending`` write before any message of the tick is sent, then
the outcomes and the delivery-log entries together in the next tick."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any, cast

import httpx
import pytest
from blalerts import Receiver, save_webhook_rule
from blstores import opened_store

from backlight_server.alerts.deliver import Deliverer
from backlight_server.alerts.events import dumps
from backlight_server.alerts.message import Event
from backlight_server.alerts.rules import Rule
from backlight_server.store.base import OutboxRow, Store


class Counting:
    """The store, with a count of the calls of each method."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.calls: Counter[str] = Counter()

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self.store, name)
        if not callable(attr):
            return attr

        def call(*args: Any, **kwargs: Any) -> Any:
            self.calls[name] += 1
            return attr(*args, **kwargs)

        return call


@pytest.fixture(params=["sqlite", "chdb"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    with opened_store(request.param, tmp_path) as opened:
        yield opened


def _rule(store: Store, url: str) -> Rule:
    return save_webhook_rule(store, url)


async def test_four_messages_take_three_writes(store: Store) -> None:
    with Receiver().running() as rx:
        _rule(store, rx.url + "/hook")
        p = store.default_project()
        now = time.time() * 1000
        rows = [
            OutboxRow(
                f"r1/0/new_group/{n}",
                "r1",
                p,
                0,
                now,
                dumps(Event("new_group", f"new_group/{n}", p, f"boom {n}", group_id=n)),
            )
            for n in range(4)
        ]
        assert store.enqueue_alerts(rows, p, store.alert_cursors()[p]) == 4
        counting = Counting(store)
        async with httpx.AsyncClient() as client:
            deliverer = Deliverer(cast(Store, counting), client)
            assert await deliverer.run_once(time.time() * 1000) == 1
            await asyncio.gather(*deliverer.tasks)
            assert len(rx.at("/hook")) == 4  # a message each (at most digest_threshold)
            assert counting.calls["mark_alerts"] == 1  # all four "sending", before any send
            assert counting.calls["log_alert_delivery"] == 0
            assert counting.calls["log_alert_deliveries"] == 0
            assert counting.calls["get_alert_rule"] == 0
            assert await deliverer.run_once(time.time() * 1000) == 0
        assert counting.calls["mark_alerts"] == 2  # all four "delivered"
        assert counting.calls["log_alert_deliveries"] == 1
    assert store.due_alerts(time.time() * 1000 + 3_600_000, 100) == []
    log = store.alert_deliveries("r1", 100, 0)
    assert log["total"] == 4 and all(d["ok"] and d["attempt"] == 1 for d in log["deliveries"])
