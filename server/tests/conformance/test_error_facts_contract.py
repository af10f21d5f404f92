"""``Store.error_group_facts``: the error group page's users, breakdowns, instances and
hourly counts (query/errorfacts.py), the same on every store in ``blstores.STORES``."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path

import pytest
from blstores import STORES, Opened, browser, error, make

from backlight_server.pipeline.model import ErrorRecord, Identify, SessionInfo, TelemetryBatch
from backlight_server.query.errorfacts import HOUR_MS, hour_start
from backlight_server.store.queries import ErrorGroupQuery

NOW = 1_780_000_000_000.0  # a fixed "now": the hour buckets do not depend on the clock


@pytest.fixture(params=STORES)
def opened(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Opened]:
    store = make(request.param, tmp_path)
    store.open()
    try:
        yield Opened(store, store.default_project())
    finally:
        store.close()


def _info(project: str, sid: str, agent: str | None, version: str | None) -> SessionInfo:
    return SessionInfo(
        project, sid, NOW - 30 * HOUR_MS, "http://shop.test/", agent, "1", "prod", "web", version
    )


async def test_facts_of_a_group(opened: Opened) -> None:
    store, p = opened.store, opened.project
    chrome = "Mozilla/5.0 (X11; Linux x86_64) Chrome/126.0.0.0 Safari/537.36"
    firefox = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"
    a, b = _info(p, "sess-a", chrome, "2.1.0"), _info(p, "sess-b", chrome, "2.1.0")
    c = _info(p, "sess-c", firefox, None)
    for info in (a, b, c):
        await store.start_session(info)
    await store.annotate_session("sess-a", Identify(NOW - 29 * HOUR_MS, "ada@x.test", None), [])
    await store.annotate_session("sess-b", Identify(NOW - 29 * HOUR_MS, "bob@x.test", None), [])

    def fe(sid: str, at: float, url: str) -> ErrorRecord:
        e = error(p, "boom", source="frontend", error_type="TypeError", session_id=sid, ts_ms=at)
        return dataclasses.replace(e, url=url, service=None, environment=None)

    # frontend: two in sess-a (2 h and 25 h ago), one in sess-c (just now)
    fronts = [
        fe("sess-a", NOW - 2 * HOUR_MS + 5, "http://shop.test/cart?x=1#top"),
        fe("sess-a", NOW - 25 * HOUR_MS, "http://shop.test/cart"),
    ]
    assert await store.write_browser(browser(a, 0, errors=fronts), 10)
    assert await store.write_browser(
        browser(c, 0, errors=[fe("sess-c", NOW - 10, "https://shop.test/")]), 10
    )
    # backend: one in sess-b with its span's route, one without a session whose stored
    # attributes are not JSON (any stored value reads)
    be = error(p, "bad order", session_id="sess-b", service="api", ts_ms=NOW - HOUR_MS)
    be = dataclasses.replace(be, attributes='{"http.route": "/api/orders/{id}", "n": 1}')
    lone = error(p, "bad order", service="worker", ts_ms=NOW - 3 * HOUR_MS)
    lone = dataclasses.replace(lone, attributes="{not json")
    await store.write_telemetry(TelemetryBatch(errors=[be, lone]), 2)

    listed = store.list_error_groups(ErrorGroupQuery())["groups"]
    ids = {g["type"]: g["id"] for g in listed}
    # the list's users: distinct identified users of the group's sessions (sess-c has none)
    assert {g["type"]: (g["sessions"], g["users"]) for g in listed} == {
        "TypeError": (2, 1),
        "ValueError": (1, 1),
    }
    front = store.error_group_facts(ids["TypeError"], NOW, 5000)
    start = hour_start(NOW)
    assert front["hourly"] == {
        "start_ms": start,
        "hour_ms": HOUR_MS,
        "counts": [0] * 21 + [1, 0, 1],
    }
    assert (front["sampled"], front["users"], front["sessions"]) == (3, 1, 2)
    parts = front["breakdowns"]
    assert parts["user_agent"] == [[chrome, 2], [firefox, 1]]
    assert parts["url"] == [["/cart", 2], ["/", 1]]
    assert parts["service"] == [["web", 3]]  # the session's, likewise
    assert parts["environment"] == [["prod", 3]]  # the session's, the errors carry none
    assert parts["release"] == [["2.1.0", 2], [None, 1]]
    assert [(i["user"], i["url"], i["user_agent"], i["release"]) for i in front["instances"]] == [
        (None, "/", firefox, None),
        ("ada@x.test", "/cart", chrome, "2.1.0"),
        ("ada@x.test", "/cart", chrome, "2.1.0"),
    ]

    back = store.error_group_facts(ids["ValueError"], NOW, 5000)
    assert back["hourly"]["counts"] == [0] * 20 + [1, 0, 1, 0]
    assert (back["sampled"], back["users"], back["sessions"]) == (2, 1, 1)
    assert back["breakdowns"]["url"] == [["/api/orders/{id}", 1], [None, 1]]
    assert back["breakdowns"]["service"] == [["api", 1], ["worker", 1]]
    assert back["breakdowns"]["environment"] == [["test", 2]]
    assert [i["user"] for i in back["instances"]] == ["bob@x.test", None]
    assert back["breakdowns"]["release"] == [["2.1.0", 1], [None, 1]]  # sess-b's app

    # a backend's own release (OpenTelemetry's service.version) before its session's app's
    versioned = error(p, "bad order", session_id="sess-b", service="api", ts_ms=NOW - 5)
    versioned = dataclasses.replace(versioned, attributes='{"service.version": "api-7.3"}')
    odd = dataclasses.replace(versioned, ts_ms=NOW - 4, attributes='{"service.version": 7}')
    await store.write_telemetry(TelemetryBatch(errors=[versioned, odd]), 2)
    back = store.error_group_facts(ids["ValueError"], NOW, 5000)
    assert back["breakdowns"]["release"] == [["2.1.0", 2], ["api-7.3", 1], [None, 1]]
    assert [i["release"] for i in back["instances"]][:2] == ["2.1.0", "api-7.3"]

    # the sample: only the latest instances are looked at
    latest = store.error_group_facts(ids["TypeError"], NOW, 1)
    assert latest["sampled"] == 1 and latest["breakdowns"]["user_agent"] == [[firefox, 1]]
    assert latest["hourly"] == front["hourly"]  # the hours count every instance
    empty = store.error_group_facts(424242, NOW, 5000)
    assert empty["sampled"] == 0 and empty["hourly"]["counts"] == [0] * 24
