"""Issue 22, the error group page and stack traces, in Debian Chromium against a real
``backlight serve`` fed through the public ingest endpoints only.

A frontend error happens in three sessions (two identified users, Chrome and Firefox, two
releases, two pages) through the browser protocol; a backend error arrives over OTLP/HTTP
from the real OpenTelemetry SDK, with a Python traceback whose frames come from the app
(``/srv/shop/api``), its virtualenv (Starlette), and SDKs vendored next to the app
(highlight's ``highlight_io`` and OpenTelemetry's instrumentation), on a span with an
``http.route``. Screenshots at 1440 and 1024 px go to artifacts/screenshots/."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from opentelemetry import trace
from playwright.sync_api import Page

from backlight_server.testing import BacklightProcess
from bltest import session_id, wait_for

from .conftest import Ui, watched
from .seed import _otel, rrweb_page

pytestmark = pytest.mark.browser
MS = 1_000_000
CHROME = (
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/126.0.0.0 Safari/537.36"
)
FIREFOX = "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:128.0) Gecko/20100101 Firefox/128.0"
VENV = "/srv/shop/.venv/lib/python3.11/site-packages"
TRACEBACK = f"""Traceback (most recent call last):
  File "/srv/shop/vendor/opentelemetry/instrumentation/asgi/__init__.py", line 631, in __call__
    await self.app(scope, otel_receive, otel_send)
  File "/srv/shop/vendor/highlight_io/integrations/fastapi.py", line 41, in dispatch
    return await call_next(request)
  File "{VENV}/starlette/routing.py", line 74, in app
    response = await func(request)
  File "/srv/shop/api/orders.py", line 18, in get_order
    return load_order(order_id)
  File "/srv/shop/api/store.py", line 9, in load_order
    raise KeyError(order_id)
KeyError: 'o-1'
"""


@dataclass
class World:
    server: BacklightProcess
    front: int  # the frontend group
    back: int  # the backend group
    sid_c: str  # the Firefox session, anonymous, where the backend error also happened


def _post(server: BacklightProcess, path: str, body: dict[str, Any]) -> None:
    r = httpx.post(server.url + path, json=body, timeout=30)
    assert r.status_code == 200, r.text


def _frontend(server: BacklightProcess, now: float) -> list[str]:
    sessions = [
        (CHROME, "3.2.0", "ada@example.com", now - 3 * 3_600_000, "http://shop.test/cart?step=2"),
        (CHROME, "3.2.0", "bob@example.com", now - 2 * 3_600_000, "http://shop.test/cart"),
        (FIREFOX, "3.1.9", None, now - 5 * 60_000, "http://shop.test/checkout#pay"),
    ]
    sids = []
    for agent, version, user, at, url in sessions:
        sid = session_id()
        sids.append(sid)
        start = {
            "v": 1,
            "project_id": server.project,
            "session_secure_id": sid,
            "started_at": at - 1000,
            "url": url,
            "user_agent": agent,
            "sdk_version": "0.1.0",
            "environment": "production",
            "service": "shop-web",
            "app_version": version,
        }
        _post(server, "/ingest/v1/session", start)
        batch: dict[str, Any] = {
            "v": 1,
            "project_id": server.project,
            "session_secure_id": sid,
            "seq": 0,
            "events": rrweb_page(at - 1000, 20_000),
            "errors": [
                {
                    "ts": at,
                    "type": "TypeError",
                    "message": "cart is empty",
                    "source": "onerror",
                    "url": url,
                    "raw_stack": "TypeError: cart is empty\n"
                    "    at renderCart (http://shop.test/static/app.js:12:5)\n"
                    "    at http://shop.test/node_modules/react-dom/index.js:2:99\n"
                    "    at http://shop.test/node_modules/react-dom/index.js:7:10",
                }
            ],
        }
        if user:
            batch["identify"] = {"ts": at - 500, "identifier": user, "metadata": {}}
        _post(server, "/ingest/v1/batch", batch)
    return sids


def _backend(server: BacklightProcess, sid: str, now: float) -> None:
    api = _otel(server, "orders-api")
    try:
        start = int((now - 4 * 60_000) * MS)
        span = api.tracer.start_span(
            "GET /api/orders/{id}",
            attributes={"highlight.session_id": sid, "http.route": "/api/orders/{id}"},
            start_time=start,
        )
        span.add_event(
            "exception",
            {
                "exception.type": "KeyError",
                "exception.message": "'o-1'",
                "exception.stacktrace": TRACEBACK,
            },
            timestamp=start + 5 * MS,
        )
        span.set_status(trace.Status(trace.StatusCode.ERROR))
        span.end(end_time=start + 9 * MS)
        api.flush()
    finally:
        api.shutdown()


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory, ui_assets: Path) -> Iterator[World]:
    with BacklightProcess(tmp_path_factory.mktemp("backlight-groups")) as server:
        now = time.time() * 1000
        sids = _frontend(server, now)
        _backend(server, sids[2], now)
        groups = wait_for(
            lambda: (lambda g: g if len(g) == 2 else None)(
                server.api("/api/v1/error-groups")["groups"]
            )
        )
        ids = {g["type"]: int(g["id"]) for g in groups}
        yield World(server, ids["TypeError"], ids["KeyError"], sids[2])


@pytest.fixture(scope="module")
def ui(world: World) -> Iterator[Ui]:
    browser = Ui(world.server.url, world.server.token)
    yield browser
    browser.close()


def _shares(page: Page, key: str) -> list[tuple[str, str, str]]:
    rows = page.locator(f"[data-breakdown={key}] li")
    return [
        (
            row.locator(".share-label").inner_text(),
            row.locator(".share-count").inner_text(),
            row.locator(".share-pct").inner_text(),
        )
        for row in rows.all()
    ]


def test_users_sessions_and_breakdowns(ui: Ui, world: World) -> None:
    def check() -> None:
        w = watched(ui)
        page = w.page
        page.set_viewport_size({"width": 1440, "height": 1000})
        page.goto(f"/errors/{world.front}")
        assert page.inner_text("#users-affected") == "2"
        assert page.inner_text("#sessions-affected") == "3"
        assert _shares(page, "browser") == [
            ("Chrome 126.0", "2", "67%"),
            ("Firefox 128.0", "1", "33%"),
        ]
        assert _shares(page, "os") == [("Linux", "2", "67%"), ("Windows 10", "1", "33%")]
        assert _shares(page, "url") == [("/cart", "2", "67%"), ("/checkout", "1", "33%")]
        assert _shares(page, "release") == [("3.2.0", "2", "67%"), ("3.1.9", "1", "33%")]
        assert _shares(page, "environment") == [("production", "3", "100%")]
        assert _shares(page, "service") == [("shop-web", "3", "100%")]
        w.shot("error-group-1440")
        page.set_viewport_size({"width": 1024, "height": 900})
        w.shot("error-group-1024")
        overflow = page.evaluate("() => document.documentElement.scrollWidth - innerWidth")
        assert overflow <= 0, overflow
        # the backend group: its route, its service, the session's browser
        page.goto(f"/errors/{world.back}")
        assert _shares(page, "url") == [("/api/orders/{id}", "1", "100%")]
        assert _shares(page, "service") == [("orders-api", "1", "100%")]
        assert _shares(page, "browser") == [("Firefox 128.0", "1", "100%")]
        assert page.inner_text("#users-affected") == "0"
        assert page.inner_text("#sessions-affected") == "1"
        w.assert_clean("error group facts")
        page.close()

    ui.run(check)


def test_hourly_chart_of_the_last_24_hours(ui: Ui, world: World) -> None:
    def check() -> None:
        w = watched(ui)
        page = w.page
        page.goto(f"/errors/{world.front}")
        chart = page.locator("svg#hourly-chart")
        assert chart.get_attribute("role") == "img"
        assert chart.locator("title").first.text_content() == "Events per hour, last 24 hours"
        desc = chart.locator("desc").text_content() or ""
        assert desc.startswith("3 events in the last 24 hours, at most 1 in one hour"), desc
        counts = [
            int(c or 0)
            for c in chart.locator("rect").evaluate_all("rs => rs.map(r => r.dataset.count)")
        ]
        assert len(counts) == 24 and sum(counts) == 3 and max(counts) == 1, counts
        assert counts[-1] + counts[-2] >= 1  # 5 minutes ago: this hour (or the last one)
        # the 14-day sparkline stays beside it
        assert page.locator("dl.facts svg.sparkline").count() == 1
        label = chart.locator("rect[data-count='1'] title").first.text_content() or ""
        assert re.fullmatch(r"\d\d:00–\d\d:00 UTC: 1", label), label
        w.assert_clean("hourly chart")
        page.close()

    ui.run(check)


def test_instances_show_user_url_and_browser_in_user_words(ui: Ui, world: World) -> None:
    def check() -> None:
        w = watched(ui)
        page = w.page
        page.goto(f"/errors/{world.front}")
        rows = page.locator(".instances-table tbody tr")
        assert rows.count() == 3
        cells = [
            (
                r.locator("td.from").inner_text(),
                r.locator("td.user").inner_text(),
                r.locator("td.where").inner_text(),
                r.locator("td.browser").inner_text(),
            )
            for r in rows.all()
        ]
        assert cells == [  # latest first
            ("in the browser", "anonymous", "/checkout", "Firefox 128.0 Windows 10"),
            ("in the browser", "bob@example.com", "/cart", "Chrome 126.0 Linux"),
            ("in the browser", "ada@example.com", "/cart", "Chrome 126.0 Linux"),
        ], cells
        page.goto(f"/errors/{world.back}")
        row = page.locator(".instances-table tbody tr").first
        assert row.locator("td.from").inner_text() == "from a trace"
        assert row.locator("td.where").inner_text() == "/api/orders/{id}"
        # no internal word is left on the page
        main = page.inner_text("main")
        assert not re.search(r"\b(span|in-app)\b", main), main
        w.assert_clean("instances")
        page.close()

    ui.run(check)


def test_backend_stack_relative_paths_sdk_frames_and_library_collapsed(
    ui: Ui, world: World
) -> None:
    def check() -> None:
        w = watched(ui)
        page = w.page
        page.set_viewport_size({"width": 1440, "height": 1000})
        page.goto(f"/errors/{world.back}")
        stack = page.locator("ol.stack").first
        app = stack.locator(":scope > li.in-app")
        assert app.locator(".fn").all_inner_texts() == ["load_order", "get_order"] or (
            app.locator(".fn").all_inner_texts() == ["get_order", "load_order"]
        )
        files = app.locator(".file").all_inner_texts()
        assert sorted(files) == ["api/orders.py:18", "api/store.py:9"], files
        assert "raise KeyError(order_id)" in stack.inner_text()  # the code line
        # the SDKs' frames and Starlette's: library frames, folded, named from their package
        runs = stack.locator(":scope > li.lib-run")
        assert runs.count() == 1
        assert runs.locator("summary").inner_text() == "3 library frames"
        lib = runs.locator("li.library")
        assert not lib.first.is_visible()
        runs.locator("summary").click()
        assert sorted(lib.locator(".file").all_inner_texts()) == [
            "highlight_io/integrations/fastapi.py:41",
            "opentelemetry/instrumentation/asgi/__init__.py:631",
            "starlette/routing.py:74",
        ]
        shown = stack.inner_text()
        assert "/srv/" not in shown and "site-packages" not in shown and ".venv" not in shown
        # the full path on hover
        title = app.locator(".file").first.get_attribute("title") or ""
        assert title.startswith("/srv/shop/api/"), title
        w.shot("error-group-backend-stack-1440")
        page.set_viewport_size({"width": 1024, "height": 900})
        w.shot("error-group-backend-stack-1024")
        w.assert_clean("backend stack")
        page.close()

    ui.run(check)


def test_session_page_draws_the_same_paths(ui: Ui, world: World) -> None:
    """The session page's renderer (stack.ts) shows the server's ``path`` of each frame."""

    def check() -> None:
        w = watched(ui)
        page = w.page
        page.set_viewport_size({"width": 1440, "height": 1000})
        page.goto(f"/sessions/{world.sid_c}")
        page.wait_for_selector("#session[data-state=ready]")
        page.click("[role=tab][data-tab=errors]")
        page.locator("#list-errors .vrow", has_text="KeyError").click()
        stack = page.locator("#request-panel ol.stack").first
        stack.wait_for()
        files = stack.locator(":scope > li.in-app .file").all_inner_texts()
        assert sorted(files) == ["api/orders.py:18", "api/store.py:9"], files
        assert stack.locator(":scope > li.lib-run summary").inner_text() == "3 library frames"
        w.assert_clean("session stack paths")
        page.close()

    ui.run(check)
