"""The browser SDK's session cookie and navigation timing, wired in the real SDK, in
Chromium against a real ``backlight serve``: a link click and a form post that redirects
reach the app's server with the session's cookie, every page load is recorded as a
``navigation`` entry with the trace id the server put in ``Server-Timing``, and the cookie
ends with ``H.stop()``.

The app here is a loopback server that does what the Python SDK's middlewares do to HTML
responses (a fresh traceparent and the server's time in ``Server-Timing`` per request);
the Python side has its own tests (sdk/python/tests/integrations/test_navigation.py)."""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import BrowserContext

from backlight_server.testing import BacklightProcess

from .conftest import sdk_page, session_data, wait_for

pytestmark = pytest.mark.browser


@dataclass
class Hit:
    method: str
    path: str
    cookie: str
    trace: str


@dataclass
class App:
    page: str = ""
    hits: list[Hit] = field(default_factory=list)


@pytest.fixture(scope="module")
def app() -> Iterator[tuple[App, int]]:
    state = App()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: object) -> None:
            pass

        def _answer(self) -> None:
            trace = secrets.token_hex(16)
            path = urlsplit(self.path).path
            if path != "/favicon.ico":
                state.hits.append(Hit(self.command, path, self.headers.get("cookie") or "", trace))
            if self.command == "POST":
                self.rfile.read(int(self.headers.get("content-length") or 0))
                self.send_response(303)
                self.send_header("location", "/done")
                self.send_header("content-length", "0")
                self.end_headers()
                return
            body = state.page.encode()
            self.send_response(200)
            self.send_header("content-type", "text/html; charset=utf-8")
            self.send_header("content-length", str(len(body)))
            self.send_header("cache-control", "no-store")
            ms = int(time.time() * 1000)
            traceparent = f"00-{trace}-{secrets.token_hex(8)}-01"
            self.send_header(
                "server-timing", f'traceparent;desc="{traceparent}", backlight-time;desc={ms}'
            )
            self.end_headers()
            self.wfile.write(body)

        do_GET = do_POST = _answer

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield state, server.server_address[1]
    server.shutdown()
    server.server_close()


def _navigations(backlight: BacklightProcess, sid: str) -> dict[str, Any]:
    data = session_data(backlight, sid) or {"network": []}
    return {n["request_id"]: n for n in data["network"] if n["type"] == "navigation"}


def test_links_and_form_posts_carry_the_session(
    context: BrowserContext, backlight: BacklightProcess, app: tuple[App, int]
) -> None:
    state, port = app
    body = (
        "<a id='next' href='/next'>next</a>"
        "<form id='f' method='post' action='/order'><input name='q' value='1'>"
        "<button id='send'>send</button></form>"
    )
    state.page = sdk_page(backlight, "{tracingOrigins: true}", body)
    page = context.new_page()
    base = f"http://app.shop.test:{port}"
    page.goto(f"{base}/first")
    sid = page.evaluate("H.getSessionId()")
    cookie = f"backlight_session={sid}"
    assert page.evaluate("document.cookie") == cookie
    [stored] = [c for c in context.cookies() if c["name"] == "backlight_session"]
    assert (stored["domain"], stored["sameSite"], stored["path"]) == (".shop.test", "Lax", "/")
    assert 800 < stored["expires"] - time.time() <= 900

    page.click("#next")  # a real click on a link
    page.wait_for_url(f"{base}/next")
    assert page.evaluate("H.getSessionId()") == sid
    page.click("#send")  # a real form submit: POST, then the 303's GET
    page.wait_for_url(f"{base}/done")
    page.wait_for_load_state("load")
    assert page.evaluate("H.getSessionId()") == sid
    assert page.evaluate("document.cookie") == cookie, "written again by the next page"

    hits = [(h.method, h.path) for h in state.hits]
    assert hits == [("GET", "/first"), ("GET", "/next"), ("POST", "/order"), ("GET", "/done")]
    assert state.hits[0].cookie == "", "the first page load has no cookie yet"
    for hit in state.hits[1:]:
        assert hit.cookie == cookie, hit  # the click, the post and its redirect

    # every page load is a navigation entry whose request id is the server's trace id
    want = {h.trace: h.path for h in state.hits if h.method == "GET"}
    wait_for(lambda: _navigations(backlight, sid).keys() >= want.keys(), "navigation entries")
    rows = _navigations(backlight, sid)
    for trace, path in want.items():
        assert rows[trace]["url"] == f"{base}{path}"
        assert rows[trace]["method"] == "GET"
        assert rows[trace]["status"] == 200
    assert state.hits[2].trace not in rows, "the post's own response was never rendered"

    page.evaluate("H.stop()")
    assert page.evaluate("document.cookie") == ""
