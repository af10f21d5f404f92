"""Alerts once per cluster: two app instances on one store, each running its alerts thread.

Both instances are full apps (as two ``backlight serve`` behind a load balancer) on the same
store: one SQLite file, one chdb engine (stores opened on one folder share it, as servers
share one ClickHouse), or one ClickHouse over HTTP (the stand-in server of ``blclickhouse``).
Errors arrive through both instances' public endpoints. Each instance has its own public
URL, so the links of a delivered event name the instance that evaluated it: only the holder
of the lease ``alerts`` may. When it stops, the other takes over.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from blalerts import SECRET, Receiver, exception_span, traces, verify, webhook_rule
from blclickhouse import ClickhouseStandIn
from fastapi import FastAPI

from backlight_server.alerts.service import AlertService
from backlight_server.app import create_app
from backlight_server.settings import Settings
from backlight_server.store.base import Store
from backlight_server.testing import wait_for
from bltest import AUTH, TOKEN

PUBLIC = ("https://a.backlight.example.test", "https://b.backlight.example.test")
# Each instance's alert interval: unequal, so that their ticks do not keep one phase (were
# both to evaluate, each would come first for some of the errors). The lease: ten
# intervals, at least 2 s (alerts/service.py).
INTERVALS = (0.2, 0.3)


@contextmanager
def shared_store(kind: str, folder: Path) -> Iterator[str]:
    """The store URL both instances open."""
    if kind == "sqlite":
        yield f"sqlite://{folder.resolve()}"
    elif kind == "chdb":
        yield f"chdb://{folder.resolve()}"
    else:
        server = ClickhouseStandIn(folder)
        server.start()
        try:
            yield f"clickhouse://default:@127.0.0.1:{server.port}/backlight"
        finally:
            server.stop()


def _app(store: str, data: Path, public_url: str, interval_s: float) -> FastAPI:
    return create_app(
        Settings(
            data_dir=data,
            store=store,
            auth_token=TOKEN,
            retention_days=0,
            otlp_grpc_port=0,
            public_url=public_url,
            alert_interval_s=interval_s,
        )
    )


@asynccontextmanager
async def instance(store: str, data: Path, n: int) -> AsyncIterator[FastAPI]:
    """Instance ``n``, running; stopped on the way out unless the test stopped it."""
    app = _app(store, data, PUBLIC[n], INTERVALS[n])
    app.state.stopped = False
    try:
        yield app
    finally:
        if not app.state.stopped:
            await _stop(app)


async def _stop(app: FastAPI) -> None:
    """The app's own shutdown (the end of its lifespan, what ``serve`` runs on exit): the
    alerts thread stopped, the store closed."""
    async with app.router.lifespan_context(app):
        pass
    app.state.stopped = True


def _client(app: FastAPI) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test")


async def _new_group(client: httpx.AsyncClient, project: str, name: str) -> None:
    span = exception_span(None, secrets.token_hex(16), time.time() * 1000, name)
    r = await client.post("/v1/traces", json=traces(project, [span]))
    assert r.status_code == 200, r.text


def _events(rx: Receiver) -> list[dict[str, Any]]:
    out = []
    for got in rx.at("/hook"):
        assert verify(SECRET, got.headers, got.body), "signature does not verify"
        out.extend(got.json["events"])
    return out


def _evaluated_by(event: dict[str, Any]) -> str:
    """The public URL of the instance that made the event (its links are on it)."""
    group = str(event["links"]["group"])
    return group.removesuffix(f"/errors/{event['group_id']}")


async def _until(probe: Callable[[], Any], what: str) -> Any:
    return await asyncio.to_thread(wait_for, probe, what)


class LongLease(AlertService):
    """A 10 s lease instead of 2 s: a tick that stalls on a loaded box (a ClickHouse lease
    call alone takes 0.5 s) must not hand the lease over mid-test, which would be right but
    would make "one instance evaluated all" untrue. The takeover below does not wait for
    expiry: a stopping instance gives its lease up."""

    def __init__(self, store: Store, base_url: str, interval_s: float) -> None:
        super().__init__(store, base_url, interval_s)
        self.lease_seconds = 10.0


@pytest.mark.parametrize("kind", ["sqlite", "chdb", "clickhouse-http"])
async def test_two_instances_send_each_alert_once_and_the_other_takes_over(
    kind: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("backlight_server.app.AlertService", LongLease)
    with Receiver().running() as rx, shared_store(kind, tmp_path / "store") as store:
        async with (
            instance(store, tmp_path / "a", 0) as first,
            instance(store, tmp_path / "b", 1) as second,
        ):
            apps = {PUBLIC[0]: first, PUBLIC[1]: second}
            clients = [_client(first), _client(second)]
            try:
                project = first.state.backlight.default_project
                assert second.state.backlight.default_project == project
                rule = webhook_rule(
                    rx.url + "/hook",
                    {"kind": "new_group"},
                    cooldown_seconds=0,
                    digest_threshold=100,  # a message per event
                )
                r = await clients[1].post("/api/v1/alert-rules", json=rule, headers=AUTH)
                assert r.status_code == 201, r.text

                # 12 new groups, through both instances, over several evaluations
                names = [f"Cluster{n}Error" for n in range(12)]
                for n, name in enumerate(names):
                    await _new_group(clients[n % 2], project, name)
                    if n % 3 == 2:
                        await asyncio.sleep(0.25)
                await _until(lambda: len(_events(rx)) >= len(names), "12 alerts")
                await asyncio.sleep(2)  # more evaluations: nothing again
                got = _events(rx)
                assert Counter(e["error_type"] for e in got) == Counter(names)  # once each
                assert len(rx.at("/hook")) == len(names)
                leaders = {_evaluated_by(e) for e in got}
                assert len(leaders) == 1, Counter(map(_evaluated_by, got))  # by one instance
                [leader] = leaders

                # the leader stops; the other takes over (its lease expires) and sends the
                # next new group once
                await _stop(apps[leader])
                survivor = PUBLIC[1] if leader == PUBLIC[0] else PUBLIC[0]
                await _new_group(clients[PUBLIC.index(survivor)], project, "TakeoverError")
                await _until(lambda: _events(rx)[len(names) :], "the alert after the takeover")
                await asyncio.sleep(2)
                late = _events(rx)[len(names) :]
                assert [(e["error_type"], _evaluated_by(e)) for e in late] == [
                    ("TakeoverError", survivor)
                ]
                assert len(rx.at("/hook")) == len(names) + 1
            finally:
                for c in clients:
                    await c.aclose()
