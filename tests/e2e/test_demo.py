"""The demo, end to end: Chromium clicks every button of the store page; then every backend
error, log and span of api, inventory and the worker must be linked to the browser session
and to the exact request that caused it."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import sync_playwright

from backlight_server.testing import CHROMIUM, wait_for
from bltest import in_thread
from demo.drive import BUTTONS, CHROMIUM_ARGS
from demo.stack import Demo, Ports

pytestmark = [pytest.mark.browser, pytest.mark.slow]

# which request each backend record belongs to, by the service's own words
EXPECTED_PATH = {
    "api: listing": "/api/products",
    "api: charging card": "/api/checkout",
    "api: asking inventory": "/api/stock/broken",
    "inventory: locating": "/api/stock/broken",
    "api: queued label job": "/api/jobs",
    "worker: printing label": "/api/jobs",
    "worker: job failed": "/api/jobs",
    "partner: quoting": "/partner/rates",
}
EXPECTED_ERRORS = {
    "RuntimeError": "/api/checkout",
    "ShelfUnreadable": "/api/stock/broken",
    "PrinterJam": "/api/jobs",
}


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    stack = Demo(tmp_path_factory.mktemp("demo"), Ports.free(), token="demo-token")
    stack.start()
    yield stack
    stack.stop()


def test_every_backend_record_links_to_its_request(demo: Demo) -> None:
    in_thread(lambda: _scenario(demo))


def _scenario(demo: Demo) -> None:
    last: list[Any] = []

    def complete() -> Any:
        data = demo.api(f"/api/v1/sessions/{sid}")
        last[:] = [data]
        by_path = {urlsplit(n["url"]).path: n for n in data["network"]}
        jobs = by_path.get("/api/jobs", {}).get("backend", {})
        ready = len(data["network"]) >= 7 and data["errors"] and jobs.get("errors")
        return data if ready else None

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page()
        page_errors: list[str] = []
        page.on("pageerror", lambda e: page_errors.append(str(e)))
        page.goto(demo.page_url)
        page.wait_for_function("() => window.H && H.getSessionId && H.getSessionId()")
        sid = str(page.evaluate("() => H.getSessionId()"))
        for button in BUTTONS:
            page.click(f"#{button}")
            page.wait_for_timeout(300)
        try:  # the page stays open (its SDK uploading every 2 s) until the server has it all
            data = wait_for(complete, "the session's network requests and backend errors", 60)
        except AssertionError:
            summary = (
                [(n["url"], n["status"], n["request_id"], n["backend"]) for n in last[0]["network"]]
                if last
                else None
            )
            raise AssertionError(
                f"incomplete session: {summary}; errors {last[0]['errors'] if last else None}"
            ) from None
        finally:
            page.close()
            browser.close()
    assert len(page_errors) == 1  # the coupon button's deliberate TypeError
    assert "reading 'code'" in page_errors[0]
    rows = {n["request_id"]: n for n in data["network"] if n["request_id"]}
    path_of = {rid: urlsplit(n["url"]).path for rid, n in rows.items()}

    # the third party got no linkage header, and no row of it carries a request id
    seen = demo.third_party_seen()
    assert seen
    for request in seen:
        assert "x-highlight-request" not in request["headers"]
        assert "traceparent" not in request["headers"]
        assert "x-highlight-request" not in request["headers"].get(
            "access-control-request-headers", ""
        )
    third = [n for n in data["network"] if "/pixel.gif" in n["url"]]
    assert third
    assert third[0]["request_id"] is None
    # the cross-origin partner did get it
    assert "/partner/rates" in path_of.values()

    # the frontend error is in the session
    assert any("reading 'code'" in e["message"] for e in data["errors"])

    # every backend error instance: linked to the session and to the request that caused it
    backend = data["backend_errors"]
    kinds = {e["type"].rsplit(".", 1)[-1] for e in backend}
    assert kinds == set(EXPECTED_ERRORS)
    for err in backend:
        kind = err["type"].rsplit(".", 1)[-1]
        assert path_of[err["request_id"]] == EXPECTED_ERRORS[kind], err
        view = demo.api(f"/api/v1/requests/{err['request_id']}")
        assert view["session_secure_id"] == sid
        assert any(e["id"] == err["id"] for e in view["errors"])

    # every log and span of the services: in the database, each one's request is a row of
    # this session, and the right one
    db = sqlite3.connect(f"file:{demo.data_dir / 'backlight' / 'backlight.db'}?mode=ro", uri=True)
    logs = db.execute(
        "SELECT service, body, session_id, request_id FROM logs WHERE service "
        "IN ('api', 'inventory', 'worker', 'partner')"
    ).fetchall()
    spans = db.execute(
        "SELECT service, name, session_id, request_id, trace_id, parent_span_id "
        "FROM spans WHERE service IN ('api', 'inventory', 'worker', 'partner')"
    ).fetchall()
    db.close()
    assert {s for s, *_ in logs} == {"api", "inventory", "worker", "partner"}
    assert {s for s, *_ in spans} >= {"api", "inventory", "worker", "partner"}
    # the services' own log lines (servers' start-up banners are not caused by a request)
    logs = [row for row in logs if row[1].startswith(("api:", "inventory:", "worker:", "partner:"))]
    assert len(logs) >= 8
    for service, body, session, rid in logs:
        assert session == sid, (service, body)
        assert rid in rows, (service, body)
        expected = next((p for prefix, p in EXPECTED_PATH.items() if body.startswith(prefix)), None)
        if expected is not None:
            assert path_of[rid] == expected, (body, path_of[rid])
    probes = {row[4] for row in spans if "/health" in row[1]}  # the stack's own probes
    spans = [row for row in spans if row[4] not in probes]
    assert len(spans) >= 8
    # one server span per request and service, whatever FastAPI's telemetry does
    servers = [
        (service, name, rid)
        for service, name, _s, rid, *_ in spans
        if name.startswith(("GET ", "POST "))
    ]
    assert len(servers) == len(set(servers)), sorted(servers)
    for service, name, session, rid, _trace, _parent in spans:
        assert session == sid, (service, name)
        assert rid in rows, (service, name)
    # and through the request view of the stock check: api and inventory together
    stock = next(r for r, p in path_of.items() if p == "/api/stock/broken")
    view = demo.api(f"/api/v1/requests/{stock}")
    assert {"api", "inventory"} <= set(view["services"])
    assert any("warehouse shelf 17" in e["message"] for e in view["errors"])

    # through the UI: the session page lists the requests; clicking the stock check opens
    # its request view with inventory's error and its stack
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(base_url=demo.backlight_url)
        console_errors: list[str] = []
        page.on("console", lambda m: console_errors.append(m.text) if m.type == "error" else None)
        page.goto(f"/login?token={demo.token}")
        page.goto(f"/sessions/{sid}")
        page.wait_for_selector("#session[data-state=ready]")
        page.locator(f".net-row[data-request-id='{stock}']").click()
        panel = page.locator(f"#request-panel .request-view[data-request-id='{stock}']")
        panel.wait_for()
        assert "warehouse shelf 17" in panel.inner_text()
        assert panel.locator("ol.stack li.in-app", has_text="read_shelf").count() >= 1
        browser.close()
    assert console_errors == []

    # the replay contains the clicks: rrweb MouseInteraction (source 2) of type Click (2)
    events = demo.api(f"/api/v1/sessions/{sid}/replay")["events"]
    clicks = [
        e
        for e in events
        if e["type"] == 3 and e["data"].get("source") == 2 and e["data"].get("type") == 2
    ]
    assert len(clicks) >= len(BUTTONS)
    assert any(e["type"] == 2 for e in events)  # a full snapshot


def test_demo_page_and_stack_health(demo: Demo) -> None:
    assert Path(demo.data_dir / "backlight" / "backlight.db").exists()
    assert demo.queue.startswith("redis://") or demo.queue == "local"
    health = demo.api("/healthz")
    assert health["ok"] is True
