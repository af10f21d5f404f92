"""Browser timing of cross-origin requests (issue 22, bug 4), end to end: the SDK on a page of
app.shop.test fetches from a second loopback origin that sends no ``Timing-Allow-Origin`` and
from a third that does. Chromium withholds the phases of the first: they must arrive, be
stored and be shown as unknown ("not shared by the server"), never as 0 ms, with the total
duration still shown; the second keeps its measured phases, a real 0 included."""

from __future__ import annotations

import json
import subprocess
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page

from backlight_server.testing import BacklightProcess

from .conftest import Sites, sdk_page, session_data, wait_for

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[2]
SHOTS = ROOT / "artifacts" / "screenshots"
UI_SRC = ROOT / "server" / "ui"
UI_BUILD = ROOT / "server" / "src" / "backlight_server" / "ui" / "static" / "build"
WAIT_S = 0.03  # the API answers after this: a lower bound of ttfb, and of the total
PHASES = ("dns", "connect", "tls", "ttfb", "download")


class _Api(BaseHTTPRequestHandler):
    """CORS for any header (tracing headers pass); ``Timing-Allow-Origin`` only on the
    host names that start with ``tao.``."""

    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_OPTIONS(self) -> None:
        self.send_response(204)
        self.send_header("access-control-allow-origin", self.headers.get("origin", "*"))
        self.send_header("access-control-allow-methods", "GET")
        self.send_header(
            "access-control-allow-headers", self.headers.get("access-control-request-headers", "")
        )
        self.send_header("content-length", "0")
        self.end_headers()

    def do_GET(self) -> None:
        time.sleep(WAIT_S)
        body = b'{"ok": true}'
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.send_header("cache-control", "no-store")
        self.send_header("access-control-allow-origin", self.headers.get("origin", "*"))
        if self.headers.get("host", "").startswith("tao."):
            self.send_header("timing-allow-origin", self.headers.get("origin", "*"))
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture(scope="session")
def ui_assets() -> Path:
    """The UI's esbuild output (the session page), rebuilt when a source is newer."""
    sources = [*UI_SRC.joinpath("src").rglob("*"), UI_SRC / "build.mjs", UI_SRC / "package.json"]
    bundle = UI_BUILD / "manifest.json"  # written last by build.mjs
    if not bundle.exists() or max(p.stat().st_mtime for p in sources) > bundle.stat().st_mtime:
        subprocess.run(["npm", "run", "--silent", "build"], cwd=UI_SRC, check=True)
    return UI_BUILD


@pytest.fixture(scope="module")
def api_port() -> Iterator[int]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Api)
    httpd.daemon_threads = True
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield int(httpd.server_address[1])
    httpd.shutdown()
    httpd.server_close()


FETCHES_JS = """
window.done = (async () => {
  for (const url of URLS) await (await fetch(url)).json();
  return true;
})();
"""


def _record(sites: Sites, backlight: BacklightProcess, page: Page, urls: list[str]) -> str:
    """Loads the SDK page, fetches ``urls`` one after another; returns the session id."""
    sites.app.pages["/timing"] = sdk_page(
        backlight,
        "{tracingOrigins: [/partner\\.test/], networkRecording: {enabled: true}}",
        "<h1>Timing</h1>",
        f"const URLS = {json.dumps(urls)};" + FETCHES_JS,
    )
    page.goto(sites.page_url("/timing"))
    assert page.evaluate("window.done") is True
    sid: str = page.evaluate("H.getSessionId()")
    return sid


def _login(page: Page, backlight: BacklightProcess) -> None:
    page.goto(backlight.url + "/login")
    page.fill("input[name=token]", backlight.token)
    page.click("button[type=submit]")
    page.wait_for_url("**/sessions")


def test_withheld_phases_are_unknown_end_to_end(
    browser: Browser,
    sites: Sites,
    backlight: BacklightProcess,
    api_port: int,
    ui_assets: Path,
) -> None:
    notao = f"http://notao.partner.test:{api_port}/data?n=1"
    tao = [f"http://tao.partner.test:{api_port}/data?n={n}" for n in (1, 2)]
    ctx = browser.new_context()
    try:
        sid = _record(sites, backlight, ctx.new_page(), [notao, *tao])

        def arrived() -> dict[str, Any] | None:
            data = session_data(backlight, sid)
            net = {n["url"]: n for n in (data or {}).get("network", [])}
            return net if all(u in net for u in (notao, *tao)) else None

        net = wait_for(arrived, "the three requests of the session")
    finally:
        ctx.close()

    # stored: every phase of the cross-origin response without Timing-Allow-Origin is unknown
    withheld = net[notao]
    assert withheld["request_id"], "traced, so the request view can open it"
    assert withheld["detail"]["timing"] == dict.fromkeys(PHASES)
    assert withheld["end_ms"] - withheld["start_ms"] >= WAIT_S * 1000
    # ... and with Timing-Allow-Origin the browser's figures are kept
    for url in tao:
        timing = net[url]["detail"]["timing"]
        assert set(timing) == set(PHASES)
        assert all(isinstance(v, int | float) and v >= 0 for v in timing.values()), timing
        assert timing["ttfb"] >= WAIT_S * 1000 - 1, timing
    # the second request reuses the first one's connection: a real 0, not "unknown"
    again = net[tao[1]]["detail"]["timing"]
    assert again["dns"] == 0 and again["connect"] == 0 and again["tls"] == 0, again

    ui = browser.new_context(viewport={"width": 1440, "height": 900})
    try:
        page = ui.new_page()
        _login(page, backlight)
        page.goto(f"{backlight.url}/sessions/{sid}")
        rid = withheld["request_id"]
        page.click(f".net-row[data-request-id='{rid}']")
        view = page.locator(f"#request-panel .request-view[data-request-id='{rid}']")
        view.wait_for()
        browser_part = view.locator(".rv-browser dl.facts")
        text = browser_part.inner_text()
        assert "not shared by the server (no Timing-Allow-Origin)" in text, text
        assert " ms" in browser_part.locator("div:has(dt:text-is('Duration')) dd").inner_text()
        assert view.locator(".timing-phase").count() == 0, "no phase shown as a figure"
        assert "0 ms" not in text.replace(
            browser_part.locator("div:has(dt:text-is('Duration')) dd").inner_text(), ""
        ), text
        SHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SHOTS / "bug4-timing-withheld-1440.png"))
        page.set_viewport_size({"width": 1024, "height": 768})
        page.screenshot(path=str(SHOTS / "bug4-timing-withheld-1024.png"))

        shared = net[tao[1]]["request_id"]
        page.keyboard.press("Escape")  # at 1024 px the drawer covers the list
        page.click(f".net-row[data-request-id='{shared}']")
        view = page.locator(f"#request-panel .request-view[data-request-id='{shared}']")
        view.wait_for()
        shown = {
            name: view.locator(f".timing-phase[data-phase='{name}'] dd").inner_text()
            for name in PHASES
        }
        assert shown["dns"] == "0.0 ms" and shown["connect"] == "0.0 ms", shown
        assert all(v.endswith(" ms") for v in shown.values()), shown
        assert "not shared" not in view.locator(".rv-browser").inner_text()
        page.screenshot(path=str(SHOTS / "bug4-timing-shared-1024.png"))

        page.goto(f"{backlight.url}/requests/{rid}")  # the request view on its own page
        assert "not shared by the server" in page.locator(".rv-browser").inner_text()
        page.set_viewport_size({"width": 1440, "height": 900})
        page.screenshot(path=str(SHOTS / "bug4-request-page-1440.png"), full_page=True)
    finally:
        ui.close()
