"""Issue 21 in Debian Chromium: the session page draws a frontend error's stack symbolicated,
like the error group page. A real TypeScript app bundled and minified by esbuild
(``blsmapp``) throws; its script and map are uploaded to a real ``backlight serve``; the
session (replay and the error, with the stack V8 printed) arrives through the public browser
ingest. Clicking the error in the Errors tab shows, in the panel, the original function,
file and source lines (the error's line marked), the minified frame on demand, and each run
of library frames collapsed into "N library frames"; the markup is the group page's.
Screenshots at 1440 and 1024 px go to artifacts/screenshots/."""

from __future__ import annotations

import secrets
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import blsmapp
import httpx
import pytest
from playwright.sync_api import Page

from backlight_server.pipeline import stack
from backlight_server.testing import BacklightProcess
from bltest import session_id

from .conftest import Ui, watched
from .seed import rrweb_page

pytestmark = pytest.mark.browser
RELEASE = "2.7.1"
URL = "https://shop.example.com/static/js/app.js"
LONG_URL = "https://cdn.example.com/" + "assets/" * 60 + "vendor.js"
THROW_LINE = blsmapp.line_of(blsmapp.FORMAT_TS, "throw new Error")
# The element tree of a stack, each element with its own text: the session page's and the
# group page's are compared.
SHAPE_JS = """(root) => {
  const own = (n) => [...n.childNodes].filter((c) => c.nodeType === 3)
    .map((c) => c.textContent).join('').replace(/\\s+/g, ' ').trim()
  const walk = (n) => [n.tagName.toLowerCase() + '.' + [...n.classList].sort().join('.'), own(n),
    [...n.children].map(walk)]
  return walk(root)
}"""


@dataclass
class World:
    server: BacklightProcess
    sid: str
    group: int


def _post(server: BacklightProcess, path: str, body: dict[str, Any]) -> None:
    r = httpx.post(server.url + path, json=body)
    assert r.status_code == 200, r.text


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory, ui_assets: Path) -> Iterator[World]:
    app = blsmapp.build(tmp_path_factory.mktemp("smapp"))
    raw = blsmapp.throw(app, URL)
    with BacklightProcess(tmp_path_factory.mktemp("backlight-smui")) as server:
        auth = {"Authorization": f"Bearer {server.token}"}
        for url, data in ((URL, app.script), (URL + ".map", app.source_map)):
            r = httpx.put(
                f"{server.url}/api/v1/projects/{server.project}/artifacts",
                params={"release": RELEASE, "url": url},
                content=data,
                headers=auth,
            )
            assert r.status_code == 200, r.text
        sid, t0 = session_id(), time.time() * 1000 - 60_000
        message = f"negative price: -400 ({secrets.token_hex(3)})"
        start = {
            "v": 1,
            "project_id": server.project,
            "session_secure_id": sid,
            "started_at": t0,
            "url": "https://shop.example.com/cart",
            "user_agent": "Mozilla/5.0 (UI test)",
            "sdk_version": "0.1.0",
            "service": "shop",
            "app_version": RELEASE,
        }
        _post(server, "/ingest/v1/session", start)
        frames = [
            {k: f.as_dict()[k] for k in ("file", "function", "line", "column")}
            for f in stack.parse(raw)
        ]
        # a frame of a script without a map, from a very long URL: it stays as sent
        frames.append({"file": LONG_URL, "function": "boot", "line": 3, "column": 7})
        error = {
            "ts": t0 + 5_000,
            "type": "Error",
            "message": message,
            "source": "onerror",
            "url": "https://shop.example.com/cart",
            "stack": frames,
            "raw_stack": raw,
        }
        batch = {
            "v": 1,
            "project_id": server.project,
            "session_secure_id": sid,
            "seq": 0,
            "events": rrweb_page(t0, 20_000),
            "errors": [error],
        }
        _post(server, "/ingest/v1/batch", batch)
        groups = server.api("/api/v1/error-groups")["groups"]
        group = int(next(g["id"] for g in groups if g["message"] == message))
        yield World(server, sid, group)


@pytest.fixture(scope="module")
def ui(world: World) -> Iterator[Ui]:
    browser = Ui(world.server.url, world.server.token)
    yield browser
    browser.close()


def _open_error(page: Page, sid: str) -> None:
    page.goto(f"/sessions/{sid}")
    page.wait_for_selector("#session[data-state=ready]")
    page.click("[role=tab][data-tab=errors]")
    page.click("#list-errors .err-row")
    page.wait_for_selector("#request-panel .error-card ol.stack")


def test_session_page_shows_the_symbolicated_stack(ui: Ui, world: World) -> None:
    def check() -> None:
        w = watched(ui)
        page = w.page
        page.set_viewport_size({"width": 1440, "height": 1000})
        _open_error(page, world.sid)
        panel = page.locator("#request-panel ol.stack").first
        top = panel.locator(":scope > li").first
        assert top.get_attribute("class") == "in-app mapped"
        assert top.locator(".fn").inner_text() == "formatPrice"
        assert top.locator(".file").inner_text().endswith(f"src/util/format.ts:{THROW_LINE}:11")
        # the source lines, the frame's line marked
        at = top.locator("pre.context .ln.at")
        assert at.locator(".no").inner_text() == str(THROW_LINE)
        assert 'throw new Error("negative price: " + cents);' in at.inner_text()
        assert "// Money formatting for the cart." in top.locator("pre.context").inner_text()
        app_fns = panel.locator(":scope > li.in-app > .fn").all_inner_texts()
        assert app_fns[:4] == ["formatPrice", "<anonymous>", "cartTotal", "checkout"], app_fns
        # the minified frame, on demand
        minified = top.locator("details.raw-frame code")
        assert not minified.is_visible()
        top.locator("details.raw-frame > summary").click()
        assert minified.inner_text() == f"t {URL}:1:34"
        # library frames collapsed, run by run
        runs = panel.locator(":scope > li.lib-run")
        assert runs.locator(":scope > details > summary").all_inner_texts() == [
            "1 library frame",
            "4 library frames",
        ]
        lib = runs.first.locator("li.library")
        assert not lib.is_visible()
        runs.first.locator(":scope > details > summary").click()
        assert lib.locator(".fn").inner_text() == "callWith"
        assert "node_modules/tinylib/index.js" in lib.locator(".file").inner_text()
        assert lib.locator(".tag").inner_text().lower() == "library"
        unmapped = panel.locator(":scope > li.in-app").last
        assert unmapped.get_attribute("class") == "in-app"  # no map: no "mapped", no context
        assert unmapped.locator(".file").inner_text() == f"{LONG_URL}:3:7"
        w.shot("session-stack-1440")
        page.set_viewport_size({"width": 1024, "height": 900})
        page.locator("#request-panel").scroll_into_view_if_needed()
        w.shot("session-stack-1024")
        # nothing is wider than the panel: a long URL wraps, a long source line (the map's
        # lines are clipped at 400 characters) scrolls inside its own box
        page.evaluate(
            """() => document.querySelector('#request-panel pre.context .ln')
              .append('x'.repeat(400))"""
        )
        for selector in ("#request-panel", "#request-panel ol.stack"):
            overflow = page.eval_on_selector(selector, "p => p.scrollWidth - p.clientWidth")
            assert overflow <= 0, (selector, overflow)
        assert page.eval_on_selector(
            "#request-panel pre.context", "p => p.scrollWidth > p.clientWidth"
        )
        w.assert_clean("session stack")
        page.close()

    ui.run(check)


def test_session_page_stack_is_the_group_pages(ui: Ui, world: World) -> None:
    """The TypeScript renderer (stack.ts) and the template (_stack.html) draw one stack
    with the same elements, classes and text."""

    def check() -> None:
        w = watched(ui)
        page = w.page
        page.set_viewport_size({"width": 1440, "height": 1000})
        page.goto(f"/errors/{world.group}")
        group_stack = page.locator("ol.stack").first
        assert group_stack.locator(".fn").first.inner_text() == "formatPrice"
        on_group = group_stack.evaluate(SHAPE_JS)
        w.shot("error-group-stack-1440")
        _open_error(page, world.sid)
        on_session = page.locator("#request-panel ol.stack").first.evaluate(SHAPE_JS)
        assert on_session == on_group
        w.assert_clean("group and session stacks")
        page.close()

    ui.run(check)
