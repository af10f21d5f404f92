"""The browser side of the UI's hardening, in Debian Chromium against a real server.

The login cookie is a session (HttpOnly, SameSite=Lax), and a page of another origin on the
same host (same site: the cookie goes with its requests) cannot log the viewer out.

Replaying a session never makes the viewer's browser fetch what the recorded page
referenced: the replayer's about:blank iframe inherits the UI's Content-Security-Policy. A
session recorded by a hostile page (sent, as anyone can, through the public browser
protocol) references a loopback HTTP receiver in every way a DOM can load something. The
session page is opened, played and seeked: the receiver must see no connection at all, and
the replay must still render. A control run with the CSP bypassed (Playwright's
``bypass_csp``) shows that the same replay does reach the receiver, so the test cannot pass
for the wrong reason.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Page

from backlight_server.testing import BacklightProcess
from bltest import session_id

from .conftest import Ui, Watched
from .seed import _el, _text

pytestmark = pytest.mark.browser
VISIBLE_TEXT = "Replay isolation check"
LATER_TEXT = "Added by a mutation"


@dataclass
class Hits:
    connections: int = 0
    paths: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)


class Receiver(ThreadingHTTPServer):
    """Counts every TCP connection and every HTTP request; answers 200 to each."""

    daemon_threads = True

    def __init__(self, pages: dict[str, str] | None = None) -> None:
        self.hits = Hits()
        self.pages = pages or {}  # path → HTML served there
        super().__init__(("127.0.0.1", 0), _Handler)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def process_request(self, request: Any, client_address: Any) -> None:
        with self.hits.lock:
            self.hits.connections += 1
        super().process_request(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    server: Receiver

    def do_GET(self) -> None:
        with self.server.hits.lock:
            self.server.hits.paths.append(self.path)
        kinds = {".css": "text/css", ".html": "text/html", ".woff": "font/woff"}
        kind = next((v for k, v in kinds.items() if self.path.endswith(k)), "image/png")
        body = self.server.pages.get(self.path, "").encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/html" if body else kind)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_POST = do_GET

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def hostile_page(r: str, t0: float) -> list[dict[str, Any]]:
    """rrweb events of a page that references ``r`` from every kind of element and CSS."""
    css = (
        f"@import url({r}/import.css);"
        f"@font-face{{font-family:leak;src:url({r}/font.woff) format('woff')}}"
        f".fancy{{font-family:leak,sans-serif}}"
        f"body{{margin:0;font-family:sans-serif;background:#fff url({r}/body-bg.png)}}"
        f"h1{{padding:20px;background:#234;color:#fff;cursor:url({r}/cursor.png),auto}}"
    )
    svg = {
        "type": 2,
        "tagName": "svg",
        "isSVG": True,
        "id": 40,
        "attributes": {"width": "20", "height": "20"},
        "childNodes": [
            {
                "type": 2,
                "tagName": "image",
                "isSVG": True,
                "id": 41,
                "attributes": {"href": f"{r}/svg-image.png", "width": "20", "height": "20"},
                "childNodes": [],
            }
        ],
    }
    doc = {
        "type": 0,
        "id": 1,
        "childNodes": [
            {"type": 1, "name": "html", "publicId": "", "systemId": "", "id": 2},
            _el(
                3,
                "html",
                [
                    _el(
                        4,
                        "head",
                        [
                            _el(5, "style", [], _cssText=css),
                            _el(6, "link", [], rel="stylesheet", href=f"{r}/sheet.css"),
                            _el(7, "link", [], rel="preconnect", href=f"{r}"),
                            _el(8, "link", [], rel="prefetch", href=f"{r}/prefetch.html"),
                            _el(9, "link", [], rel="icon", href=f"{r}/favicon.ico"),
                            _el(
                                10,
                                "meta",
                                [],
                                **{"http-equiv": "refresh", "content": f"1;url={r}/refresh"},
                            ),
                        ],
                    ),
                    _el(
                        11,
                        "body",
                        [
                            _el(12, "h1", [_text(13, VISIBLE_TEXT)], **{"class": "fancy"}),
                            _el(14, "img", [], src=f"{r}/img.png", width="20", height="20"),
                            _el(
                                15, "img", [], srcset=f"{r}/srcset.png 2x", width="20", height="20"
                            ),
                            _el(
                                16,
                                "div",
                                [_text(17, "background")],
                                style=f"height:30px;background:url({r}/inline-bg.png)",
                            ),
                            _el(
                                18,
                                "video",
                                [],
                                poster=f"{r}/poster.png",
                                src=f"{r}/video.mp4",
                                width="40",
                                height="30",
                            ),
                            _el(19, "audio", [], src=f"{r}/audio.mp3", preload="auto"),
                            _el(20, "iframe", [], src=f"{r}/frame.html", width="40", height="30"),
                            _el(21, "object", [], data=f"{r}/object.html", width="40", height="30"),
                            _el(22, "embed", [], src=f"{r}/embed.html", width="40", height="30"),
                            _el(23, "input", [], type="image", src=f"{r}/input.png"),
                            _el(24, "table", [], background=f"{r}/table.png"),
                            _el(
                                27,
                                "iframe",
                                [],
                                srcdoc=f"<img src='{r}/srcdoc.png'><iframe "
                                f"src='{r}/srcdoc-frame.html'></iframe>",
                            ),
                            svg,
                            _el(25, "p", [_text(26, "Status")], id="status"),
                        ],
                    ),
                ],
            ),
        ],
    }
    # the replayer builds each added node alone (its children come as adds of their own)
    later = [
        (11, _el(50, "div", [], style=f"background-image:url({r}/later-bg.png)")),
        (50, _text(51, LATER_TEXT)),
        (50, _el(52, "img", [], src=f"{r}/later.png")),
        (50, _el(53, "iframe", [], src=f"{r}/later-frame.html")),
    ]
    events: list[dict[str, Any]] = [
        {
            "type": 4,
            "data": {"href": "http://hostile.test/", "width": 1024, "height": 640},
            "timestamp": t0,
        },
        {
            "type": 2,
            "data": {"node": doc, "initialOffset": {"left": 0, "top": 0}},
            "timestamp": t0 + 5,
        },
        {
            "type": 3,
            "timestamp": t0 + 2_000,
            "data": {
                "source": 0,
                "texts": [],
                "attributes": [],
                "removes": [],
                "adds": [{"parentId": p, "nextId": None, "node": n} for p, n in later],
            },
        },
        {
            "type": 3,
            "timestamp": t0 + 3_000,
            "data": {  # a frame's src set afterwards
                "source": 0,
                "texts": [],
                "removes": [],
                "adds": [],
                "attributes": [
                    {"id": 20, "attributes": {"src": f"{r}/changed-frame.html"}},
                    {"id": 53, "attributes": {"src": f"{r}/changed-later-frame.html"}},
                ],
            },
        },
    ]
    for i in range(1, 9):
        events.append(
            {
                "type": 3,
                "timestamp": t0 + i * 1000,
                "data": {
                    "source": 1,
                    "positions": [{"x": 50 + i * 30, "y": 80, "id": 11, "timeOffset": 0}],
                },
            }
        )
    return events


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, ui_assets: Path) -> Iterator[BacklightProcess]:
    with BacklightProcess(tmp_path_factory.mktemp("backlight-replay")) as s:
        yield s


@pytest.fixture(scope="module")
def ui(server: BacklightProcess) -> Iterator[Ui]:
    browser = Ui(server.url, server.token)
    yield browser
    browser.close()


def ingest(server: BacklightProcess, r: str) -> str:
    sid, t0 = session_id(), time.time() * 1000 - 60_000
    start = {
        "v": 1,
        "project_id": server.project,
        "session_secure_id": sid,
        "started_at": t0,
        "url": "http://hostile.test/",
        "user_agent": "Mozilla/5.0",
        "sdk_version": "0.1.0",
    }
    batch = {
        "v": 1,
        "project_id": server.project,
        "session_secure_id": sid,
        "seq": 0,
        "events": hostile_page(r, t0),
    }
    for path, body in (("/ingest/v1/session", start), ("/ingest/v1/batch", batch)):
        resp = httpx.post(server.url + path, json=body, timeout=30)
        assert resp.status_code == 200, resp.text
    return sid


def replay_everything(page: Page, sid: str) -> None:
    """Open the session, check the rebuilt page, play, seek past the mutation, play on."""
    page.goto(f"/sessions/{sid}")
    page.wait_for_selector("#session[data-state=ready]")
    frame = page.frame_locator("#player iframe")
    frame.get_by_text(VISIBLE_TEXT).wait_for(state="visible")
    page.click("#play")
    page.wait_for_timeout(800)
    page.eval_on_selector(
        "#seek",
        "(el) => { el.value = '5000'; el.dispatchEvent(new Event('input', {bubbles: true})) }",
    )
    frame.get_by_text(LATER_TEXT).wait_for(state="visible")
    page.select_option("#speed", "8")
    page.wait_for_timeout(1500)


def test_replay_frame_loads_nothing_from_the_network(
    ui: Ui, server: BacklightProcess, receiver: Receiver
) -> None:
    sid = ingest(server, receiver.url)

    def control() -> None:  # the same replay without the CSP does reach the receiver
        ctx = ui.new_context(bypass_csp=True)
        page = ctx.new_page()
        page.goto(f"/login?token={server.token}")
        page.wait_for_url("**/sessions")
        page.goto(f"/sessions/{sid}")
        page.wait_for_selector("#session[data-state=ready]")
        deadline = time.monotonic() + 10
        while not receiver.hits.paths and time.monotonic() < deadline:
            page.wait_for_timeout(100)
        ctx.close()

    def check() -> list[str]:
        assert ui.context is not None
        w = Watched(ui.context.new_page())
        replay_everything(w.page, sid)
        # what the replay rebuilt does reference the receiver: the CSP is what stops it
        frame = w.page.frame_locator("#player iframe")
        assert frame.locator(f"img[src^='{receiver.url}']").count() >= 2
        assert frame.locator(f"link[href^='{receiver.url}']").count() >= 1
        w.page.wait_for_timeout(500)  # let any late load (fonts, the meta refresh) happen
        w.shot("session-replay-isolated")
        w.page.close()
        return w.problems

    problems = ui.run(check)
    with receiver.hits.lock:
        assert receiver.hits.connections == 0 and receiver.hits.paths == [], (
            receiver.hits.connections,
            receiver.hits.paths,
        )
    # the console holds only refusals: by the CSP, or by the frame's sandbox (meta refresh)
    others = [p for p in problems if "Content Security Policy" not in p and "is sandboxed" not in p]
    assert not others, others
    ui.run(control)
    with receiver.hits.lock:
        assert receiver.hits.paths, "control: without the CSP the replay should load"


def logged_in_page(ui: Ui, server: BacklightProcess) -> tuple[Any, Page]:
    """A fresh browser context, logged in through the login form."""
    ctx = ui.new_context()
    page = ctx.new_page()
    page.goto("/login")
    page.fill("input[name=token]", server.token)
    page.click("button[type=submit]")
    page.wait_for_url("**/sessions")
    return ctx, page


def test_login_cookie_is_an_httponly_session(ui: Ui, server: BacklightProcess) -> None:
    def check() -> None:
        ctx, page = logged_in_page(ui, server)
        cookies = ctx.cookies()
        assert [c["name"] for c in cookies] == [f"backlight_session_{server.port}"]
        cookie = cookies[0]
        assert server.token not in cookie["value"]
        assert cookie["httpOnly"] and cookie["sameSite"] == "Lax" and cookie["path"] == "/"
        assert cookie["expires"] > time.time() + 29 * 86_400
        assert page.evaluate("() => document.cookie") == ""  # not readable by scripts
        ctx.close()

    ui.run(check)


def test_another_site_cannot_log_the_viewer_out(ui: Ui, server: BacklightProcess) -> None:
    """A page on another port of the same host is the same *site*: the browser sends the
    SameSite=Lax cookie with its POST, so only the same-origin rule stops it."""
    attack = (
        f"<form id=f method=post action='{server.url}/logout'></form>"
        "<script>document.getElementById('f').submit()</script>"
    )
    attacker = Receiver({"/attack.html": attack})
    thread = threading.Thread(target=attacker.serve_forever, daemon=True)
    thread.start()

    def check() -> None:
        ctx, page = logged_in_page(ui, server)
        response = page.goto(f"{attacker.url}/attack.html")
        assert response is not None
        page.wait_for_url(lambda url: url.startswith(server.url))  # the form went
        refusal = page.content()
        page.goto("/sessions")  # still logged in
        assert page.url.endswith("/sessions"), page.url
        assert "cross_site_request" in refusal
        page.goto("/logout")  # a GET (a link, an <img>) shows the button and nothing more
        page.goto("/sessions")
        assert page.url.endswith("/sessions"), page.url
        ctx.close()

    try:
        ui.run(check)
    finally:
        attacker.shutdown()
        attacker.server_close()


def test_log_out_button(ui: Ui, server: BacklightProcess) -> None:
    def check() -> None:
        ctx, page = logged_in_page(ui, server)
        page.click("form.logout button")
        page.wait_for_url("**/login")
        assert ctx.cookies() == []
        page.goto("/sessions")
        assert "/login?next=" in page.url, page.url
        ctx.close()

    ui.run(check)
