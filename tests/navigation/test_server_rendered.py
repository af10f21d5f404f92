"""Issue 24's acceptance, end to end: a server-rendered Flask app and a Django app
(``apps/``), each under a real WSGI server with the Python SDK, in Debian Chromium with
the browser SDK loaded from ``backlight serve``'s ``/sdk/backlight.js``.

Per app, one visit by real clicks: the first load of the home page, a link click to a page
that logs, and a form submit whose POST raises, records the error and answers 303 to the
orders page. Then, through the JSON API and the UI, every one of those four backend
requests is on the session at the moment of the action that caused it: the three pages
as the browser's ``navigation`` rows with the server's trace ids (from ``Server-Timing``),
linked to their spans and logs; the POST, which the browser never rendered, as a row "seen
by the server" (linked by the session cookie) with its span, logs and error. In the UI the
POST's row opens its drawer, its error's group page plays the session at that moment.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, Response

from backlight_server.testing import BacklightProcess, wait_for

from .apps import CHECKOUT_LOG, ORDERS_LOG
from .conftest import Shop

pytestmark = pytest.mark.browser

# The browser's clock (the navigation entry's times) and this process's (the windows)
# are the same wall clock, read by two processes: a few ms either way is rounding.
SLACK_MS = 25.0
TRACEPARENT = re.compile(r'traceparent;desc="00-([0-9a-f]{32})-[0-9a-f]{16}-01"')
HOME, ORDERS, FAILED = "/", "/orders", "/orders?failed=1"
ERROR_TYPE = "tests.navigation.apps.CheckoutFailed"
ERROR_MESSAGE = "card declined for sku 42"


@dataclass
class Visit:
    """What one visit did: the session, each action's window (this process's clock, ms),
    the trace id each page's ``Server-Timing`` carried, and the session as the API shows it
    once every record has arrived."""

    shop: Shop
    sid: str
    windows: dict[str, tuple[float, float]]
    traces: dict[str, str]
    session: dict[str, Any]

    @property
    def rows(self) -> list[dict[str, Any]]:
        rows: list[dict[str, Any]] = self.session["network"]
        return rows

    @property
    def post(self) -> dict[str, Any]:
        """The POST's row: the one row seen by the server."""
        [row] = [r for r in self.rows if r["source"] == "server"]
        return row

    def row(self, path: str) -> dict[str, Any]:
        """The row of the page at ``path``, by the trace id its Server-Timing carried."""
        [row] = [r for r in self.rows if r["request_id"] == self.traces[path]]
        return row


def _timed(action: Callable[[], object]) -> tuple[float, float]:
    before = time.time() * 1000
    action()
    return before, time.time() * 1000


def _missing(data: dict[str, Any], traces: dict[str, str]) -> list[str]:
    """What of the visit the session does not show yet (the Python SDK exports every
    second, the browser SDK on ``H.stop()``): each page's row with its span (and the log of
    the orders pages), a row seen by the server with its span and two logs, an error."""
    # a page's row as the browser recorded it: until the browser's batch is in, the server's
    # span of that page shows as a row seen by the server alone, under the same request id
    rows = {r["request_id"]: r for r in data["network"] if r["source"] != "server"}
    want = {path: (rows.get(t), 1 if path != HOME else 0) for path, t in traces.items()}
    server = [r for r in data["network"] if r["source"] == "server"]
    want["POST"] = (server[0] if server else None, 2)
    out = [
        f"{what} ({row and row.get('backend')})"
        for what, (row, logs) in want.items()
        if row is None
        or (row.get("backend") or {}).get("spans", 0) < 1
        or (row.get("backend") or {}).get("logs", 0) < logs
    ]
    return out + ([] if data["backend_errors"] else ["the POST's error"])


def _problems(page: Page) -> list[str]:
    found: list[str] = []
    page.on("console", lambda m: found.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: found.append(str(e)))
    return found


@pytest.fixture(scope="module")
def visit(browser: Browser, backlight: BacklightProcess, shop: Shop) -> Visit:
    """The visit, driven once per shop; the tests below read what it left."""
    context = browser.new_context()
    page = context.new_page()
    problems = _problems(page)
    traces: dict[str, str] = {}

    def document(response: Response) -> None:
        # the trace id of each page the browser rendered, as its Server-Timing says
        request = response.request
        if request.resource_type == "document" and response.status == 200:
            found = TRACEPARENT.search(response.headers.get("server-timing", ""))
            path = request.url.split(str(shop.port), 1)[1]
            if found:
                traces[path] = found.group(1)

    page.on("response", document)

    def load() -> None:
        page.goto(shop.url(HOME))

    def click() -> None:
        page.click("#orders")  # a real click on a link
        page.wait_for_url(shop.url(ORDERS))
        page.wait_for_load_state("load")

    def submit() -> None:
        page.click("#buy")  # a real submit: POST /checkout, then the 303's GET
        page.wait_for_url(shop.url(FAILED))
        page.wait_for_load_state("load")

    metas: dict[str, str | None] = {}

    def meta(path: str) -> None:
        # the <meta name="traceparent"> of the page, if it has one (Django's pages)
        metas[path] = page.evaluate(
            "() => document.querySelector('meta[name=traceparent]')?.content ?? null"
        )

    windows = {"load": _timed(load)}
    meta(HOME)
    sid = page.evaluate("H.getSessionId()")
    windows["click"] = _timed(click)
    meta(ORDERS)
    windows["submit"] = _timed(submit)
    meta(FAILED)
    assert page.evaluate("H.getSessionId()") == sid, "one session across the three pages"
    assert page.locator("#failed").inner_text() == "Checkout failed"
    assert traces.keys() == {HOME, ORDERS, FAILED}, traces
    # Django's pages carry the same traceparent in a <meta> tag too (its context processor)
    if shop.name == "django":
        assert {p: (m or "").split("-")[1:2] for p, m in metas.items()} == {
            p: [t] for p, t in traces.items()
        }
    else:
        assert set(metas.values()) == {None}
    page.evaluate("H.stop()")  # flush the browser SDK
    assert not problems, problems
    missing: list[str] = []

    def complete() -> dict[str, Any] | None:
        data = backlight.api(f"/api/v1/sessions/{sid}")
        missing[:] = _missing(data, traces)
        return None if missing else data

    try:
        session = wait_for(complete, "every request and record")
    except AssertionError as exc:
        raise AssertionError(f"{exc}; missing: {missing}") from None
    context.close()
    return Visit(shop, sid, windows, traces, session)


def _within(ms: float, window: tuple[float, float]) -> bool:
    return window[0] - SLACK_MS <= ms <= window[1] + SLACK_MS


def test_every_request_is_on_the_session_at_its_moment(visit: Visit) -> None:
    rows = visit.session["network"]
    post = visit.post
    # the three pages, the POST among them by time; nothing else (no /favicon.ico)
    assert [r["request_id"] for r in rows] == [
        visit.traces[HOME],
        visit.traces[ORDERS],
        post["request_id"],
        visit.traces[FAILED],
    ]
    for path in (HOME, ORDERS, FAILED):
        row = visit.row(path)
        assert (row["source"], row["type"], row["method"], row["status"]) == (
            "browser",
            "navigation",
            "GET",
            200,
        )
        assert row["url"] == visit.shop.url(path)
    assert (post["type"], post["method"], post["url"], post["status"]) == (
        "server",
        "POST",
        "/checkout",
        303,
    )
    assert post["service"] == f"{visit.shop.name}-shop"
    assert visit.session["server_seen"] == {"shown": 1, "more": 0, "complete": True}
    # each at the moment of the action that caused it
    for path, action in ((HOME, "load"), (ORDERS, "click"), (FAILED, "submit")):
        start = visit.row(path)["start_ms"]
        assert _within(start, visit.windows[action]), (path, start, visit.windows[action])
    assert _within(post["start_ms"], visit.windows["submit"]), (post, visit.windows)
    assert post["start_ms"] < visit.row(FAILED)["start_ms"], "the POST, then its redirect"
    # the POST's error, on the session at that moment
    [error] = visit.session["backend_errors"]
    assert (error["type"], error["message"]) == (ERROR_TYPE, ERROR_MESSAGE)
    assert error["request_id"] == post["request_id"]
    assert post["start_ms"] <= error["ts_ms"] <= post["end_ms"]


def _request(backlight: BacklightProcess, rid: str) -> dict[str, Any]:
    return backlight.api(f"/api/v1/requests/{rid}")


def test_each_request_has_its_spans_logs_and_error(
    visit: Visit, backlight: BacklightProcess
) -> None:
    expected = {
        HOME: ("GET /", []),
        ORDERS: ("GET /orders", [ORDERS_LOG]),
        FAILED: ("GET /orders", [ORDERS_LOG]),
    }
    for path, (span, logs) in expected.items():
        rid = visit.traces[path]
        view = _request(backlight, rid)
        assert view["session_secure_id"] == visit.sid, path
        assert view["browser"]["type"] == "navigation"
        assert view["trace_ids"] == [rid]
        assert [(s["name"], s["kind"]) for s in view["spans"]] == [(span, 2)], path
        # the pages after the first carried the cookie: their records name the session;
        # the first load is linked by navigation timing alone (no cookie yet): its records
        # carry the trace id only, and the session comes from the browser's row
        assert view["spans"][0]["session_id"] == (None if path == HOME else visit.sid), path
        assert [lg["body"] for lg in view["logs"]] == logs, path
        assert view["errors"] == [], path
    post = _request(backlight, visit.post["request_id"])
    assert post["session_secure_id"] == visit.sid
    assert post["browser"] is None, "the browser never rendered the POST's answer"
    assert post["trace_ids"] == [visit.post["request_id"]], "its own trace id, as for a fetch"
    [root] = post["spans"]
    assert (root["name"], root["kind"], root["session_id"]) == ("POST /checkout", 2, visit.sid)
    assert root["attributes"]["http.response.status_code"] == 303
    assert [lg["body"] for lg in post["logs"]] == [CHECKOUT_LOG, "checkout failed"]
    assert [(e["type"], e["message"]) for e in post["errors"]] == [(ERROR_TYPE, ERROR_MESSAGE)]


@pytest.fixture(scope="module")
def ui(browser: Browser, backlight: BacklightProcess) -> Iterator[BrowserContext]:
    """A context logged in to the UI through its login form."""
    context = browser.new_context(base_url=backlight.url, viewport={"width": 1440, "height": 900})
    context.set_default_timeout(20_000)
    page = context.new_page()
    page.goto("/login")
    page.fill("input[name=token]", backlight.token)
    page.click("button[type=submit]")
    page.wait_for_url("**/sessions")
    page.close()
    yield context
    context.close()


def _clock(ms: float) -> str:
    """As the session page writes a time from the session's start (format.ts ``clock``)."""
    total = max(0, int(ms // 1000))
    return f"{total // 60}:{total % 60:02d}"


def _current_ms(page: Page) -> float:
    return float(page.get_attribute("#session", "data-current-ms") or "nan")


def test_the_session_page_shows_each_request_and_the_post_opens(
    visit: Visit, ui: BrowserContext
) -> None:
    page = ui.new_page()
    problems = _problems(page)
    page.goto(f"/sessions/{visit.sid}")
    page.wait_for_selector("#session[data-state=ready]")
    page.click("[data-tab=network]")
    rows = page.locator("#list-network .net-row")
    want = [visit.row(HOME), visit.row(ORDERS), visit.post, visit.row(FAILED)]
    assert [r.get_attribute("data-request-id") for r in rows.all()] == [
        w["request_id"] for w in want
    ]
    assert [r.get_attribute("data-source") for r in rows.all()] == [
        "browser",
        "browser",
        "server",
        "browser",
    ]
    post = rows.nth(2)
    assert post.locator(".badge.seen").inner_text() == "seen by the server"
    assert (post.locator(".method").inner_text(), post.locator(".url").inner_text()) == (
        "POST",
        "/checkout",
    )
    assert post.locator(".status").inner_text() == "303"
    # each row at its time from the session's start
    base = visit.session["session"]["started_ms"]
    assert [r.locator(".at").inner_text() for r in rows.all()] == [
        _clock(w["start_ms"] - base) for w in want
    ]
    # on the timeline: each request's marker stands at a moment of the action that caused
    # it (a marker stands for the requests of its few pixels: the POST and its redirect
    # share one, at the POST's time, the first with an error)
    labels = {
        "load": f"GET {visit.shop.url(HOME)} 200",
        "click": f"GET {visit.shop.url(ORDERS)} 200",
        "submit": f"GET {visit.shop.url(FAILED)} 200",
    }
    markers = page.locator("[data-lane=network] .marker")
    titles = [(m.get_attribute("title") or "").split("\n") for m in markers.all()]
    for action, label in [*labels.items(), ("submit", "POST /checkout 303 · seen by the server")]:
        found = [m for m, t in zip(markers.all(), titles, strict=True) if label in t]
        assert len(found) == 1, (label, titles)
        ms = float(found[0].get_attribute("data-ms") or 0)
        assert _within(ms, visit.windows[action]), (label, ms, visit.windows[action])
    marker = page.locator("[data-lane=network] .marker[title*='POST /checkout 303']")
    assert abs(float(marker.get_attribute("data-ms") or 0) - visit.post["start_ms"]) < 1
    # the POST opens in the drawer with its span, logs and error
    post.click()
    view = page.locator(
        f"#request-panel .request-view[data-request-id='{visit.post['request_id']}']"
    )
    view.wait_for()
    assert view.locator(".rv-head .badge.seen").inner_text() == "seen by the server"
    assert view.locator(".wf-row", has_text="POST /checkout").count() == 1
    logs = view.locator(".rv-logs").inner_text()
    assert CHECKOUT_LOG in logs and "checkout failed" in logs
    assert ERROR_MESSAGE in view.locator(".rv-errors").inner_text()
    # a page the link click loaded opens with its log
    rows.nth(1).click()
    view = page.locator(f"#request-panel .request-view[data-request-id='{visit.traces[ORDERS]}']")
    view.wait_for()
    assert ORDERS_LOG in view.locator(".rv-logs").inner_text()
    assert view.locator(".wf-row", has_text="GET /orders").count() == 1
    assert not problems, problems
    page.close()


def test_play_session_at_the_moment_of_the_posts_error(visit: Visit, ui: BrowserContext) -> None:
    post = visit.post["request_id"]
    page = ui.new_page()
    problems = _problems(page)
    page.goto(f"/sessions/{visit.sid}")
    page.wait_for_selector("#session[data-state=ready]")
    page.click(f"#list-network .net-row[data-request-id='{post}']")
    view = page.locator(f"#request-panel .request-view[data-request-id='{post}']")
    view.wait_for()
    view.locator(".rv-errors .error-card a", has_text="group").click()  # the error's group
    page.wait_for_url(re.compile(r"/errors/\d+$"))
    assert ERROR_MESSAGE in page.locator(".error-message").inner_text()
    page.click("#play-at-error")
    page.wait_for_url(re.compile(rf"/sessions/{visit.sid}\?t=.*request={post}"))
    page.wait_for_selector("#session[data-state=ready]")
    [error] = visit.session["backend_errors"]
    assert abs(_current_ms(page) - error["ts_ms"]) <= 1, (_current_ms(page), error)
    assert _within(error["ts_ms"], visit.windows["submit"])
    view.wait_for()
    assert ERROR_MESSAGE in view.locator(".rv-errors").inner_text()
    assert page.get_attribute("[data-tab=network]", "aria-selected") == "true"
    assert page.locator("#list-network .vrow.active").get_attribute("data-request-id") == post
    assert not problems, problems
    page.close()
