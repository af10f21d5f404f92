"""Apps that carry the real highlight SDKs point at Backlight by changing only the endpoint.

highlight.run 10.7.5 (npm) runs in Debian Chromium with ``backendUrl`` = Backlight's
``/public`` and ``otlpEndpoint`` = Backlight; its page calls a backend instrumented with the
real highlight-io 0.10.2 (PyPI), which exports OTLP over gRPC to Backlight. The session, its
replay, console and errors must arrive, and each network request must link to that
backend's spans, logs and error.
"""

from __future__ import annotations

import json
import os
import subprocess
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Page, sync_playwright

from backlight_server import testing
from backlight_server.testing import BacklightProcess, free_port, wait_for
from bltest import in_thread

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
COMPAT_PY = ROOT / ".venv-compat" / "bin" / "python"
HL_UMD = HERE / "node_modules" / "highlight.run" / "dist" / "index.umd.js"
RRWEB_UMD = HERE / "node_modules" / "rrweb" / "dist" / "rrweb.umd.min.cjs"
CHROMIUM_ARGS = [
    *testing.CHROMIUM_ARGS,
    # highlight.run does not record when navigator.webdriver is true, as it is
    # under automation; a real user's browser looks like this instead.
    "--disable-blink-features=AutomationControlled",
]

pytestmark = [pytest.mark.browser, pytest.mark.slow]


class PageServer:
    """Serves the test page, highlight.run's UMD bundle and rrweb's replayer on loopback."""

    def __init__(self) -> None:
        self.files: dict[str, tuple[bytes, str]] = {
            "/hl.js": (HL_UMD.read_bytes(), "text/javascript"),
            "/rrweb.js": (RRWEB_UMD.read_bytes(), "text/javascript"),
        }
        files = self.files

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                body, ctype = files.get(self.path.split("?")[0], (b"not found", "text/plain"))
                self.send_response(200 if self.path.split("?")[0] in files else 404)
                self.send_header("content-type", ctype)
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.httpd.shutdown()


def app_page(backlight: BacklightProcess, api: str) -> bytes:
    options = {
        "backendUrl": backlight.url + "/public",
        "otlpEndpoint": backlight.url,
        "tracingOrigins": ["localhost"],
        "serviceName": "hl-web",
        "environment": "test",
        "networkRecording": {"enabled": True, "recordHeadersAndBody": True},
    }
    return f"""<!doctype html><html><head><meta charset="utf-8"><title>Shop</title>
<script src="/hl.js"></script>
<script>H.init({json.dumps(backlight.project)}, {json.dumps(options)});</script></head>
<body><h1 id="title">Highlight shop</h1>
<button id="ok" onclick="fetch('{api}/ok').then(r => r.json())">ok</button>
<button id="fail" onclick="fetch('{api}/fail').then(r => r.text())">fail</button>
<button id="boom"
 onclick="setTimeout(() => {{ throw new Error('hl frontend boom') }})">boom</button>
<button id="log" onclick="console.warn('hl console check')">log</button>
</body></html>""".encode()


REPLAY_PAGE = b"""<!doctype html><html><head><script src="/rrweb.js"></script></head>
<body><div id="root"></div></body></html>"""


@pytest.fixture(scope="module")
def backlight(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BacklightProcess]:
    grpc_port = free_port()
    server = BacklightProcess(
        tmp_path_factory.mktemp("compat"), args=["--otlp-grpc-port", str(grpc_port)]
    )
    server.grpc_port = grpc_port  # type: ignore[attr-defined]
    with server:
        yield server


@pytest.fixture(scope="module")
def pages() -> Iterator[PageServer]:
    server = PageServer()
    yield server
    server.close()


def start_backend(script: str, backlight: BacklightProcess) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    env = {
        **os.environ,
        "PORT": str(port),
        "PROJECT": backlight.project,
        "OTLP": f"http://127.0.0.1:{backlight.grpc_port}",  # type: ignore[attr-defined]
    }
    proc = subprocess.Popen(
        [str(COMPAT_PY), str(HERE / "apps" / script)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://localhost:{port}"

    def healthy() -> bool:
        try:
            return httpx.get(url + "/health", timeout=2).status_code == 200
        except httpx.TransportError:
            return False

    wait_for(healthy, f"{script} to start", 60)
    return proc, url


def sessions_of(backlight: BacklightProcess) -> list[dict[str, Any]]:
    data = backlight.api("/api/v1/sessions", limit=100)
    return [
        s for s in data["sessions"] if str(s.get("sdk_version", "")).startswith("highlight.run")
    ]


def rebuild(page: Page, pages: PageServer, events: list[dict[str, Any]]) -> str:
    """Replays the events with rrweb's Replayer and returns the rebuilt body's HTML."""
    pages.files["/replay"] = (REPLAY_PAGE, "text/html")
    page.goto(pages.url + "/replay")
    return str(
        page.evaluate(
            """(events) => new Promise((resolve) => {
        const r = new rrweb.Replayer(events, {root: document.getElementById('root'),
                                              showWarning: false});
        r.pause(events[events.length - 1].timestamp - events[0].timestamp);
        setTimeout(() => resolve(r.iframe.contentDocument.body
                                 ? r.iframe.contentDocument.body.innerHTML : ''), 300);
    })""",
            events,
        )
    )


@pytest.mark.parametrize(
    ("script", "service", "error_type"),
    [
        ("hl_fastapi.py", "hl-fastapi", "InventoryError"),
        ("hl_flask.py", "hl-flask", "RuntimeError"),
    ],
)
def test_highlight_sdks_link_through_backlight(
    backlight: BacklightProcess, pages: PageServer, script: str, service: str, error_type: str
) -> None:
    in_thread(lambda: _scenario(backlight, pages, script, service, error_type))


def _scenario(
    backlight: BacklightProcess, pages: PageServer, script: str, service: str, error_type: str
) -> None:
    proc, api = start_backend(script, backlight)
    before = {s["secure_id"] for s in sessions_of(backlight)}
    pages.files["/"] = (app_page(backlight, api), "text/html")
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=testing.CHROMIUM, args=CHROMIUM_ARGS)
            page = browser.new_page()
            page.goto(pages.url + "/")
            session = wait_for(
                lambda: [s for s in sessions_of(backlight) if s["secure_id"] not in before],
                "the session",
            )[0]
            sid = session["secure_id"]
            for button in ("ok", "fail", "log", "boom"):
                page.click(f"#{button}")
                page.wait_for_timeout(300)

            def linked() -> Any:
                data = backlight.api(f"/api/v1/sessions/{sid}")
                fails = [
                    n
                    for n in data["network"]
                    if n["url"].endswith("/fail") and n["request_id"] and n["backend"]["errors"]
                ]
                ok = fails and data["errors"] and data["console"]
                return (data, fails[0]) if ok else None

            data, fail_row = wait_for(linked, "linked network request, console and error", 90)

            def logged() -> dict[str, Any] | None:
                # the SDK exports its logs in a batch of their own: they may come later
                found = backlight.api(f"/api/v1/requests/{fail_row['request_id']}")
                logs = found["logs"]
                return found if any("stock check failing" in lg["body"] for lg in logs) else None

            view = wait_for(logged, "the failing request's log", 30)
            assert view["session_secure_id"] == sid
            assert service in view["services"]
            assert view["span_count"] >= 1
            assert any("stock check failing" in lg["body"] for lg in view["logs"])
            assert any(
                e["type"].endswith(error_type) and "inventory exploded" in e["message"]
                for e in view["errors"]
            )
            assert any("hl console check" in c["message"] for c in data["console"])
            assert any("hl frontend boom" in e["message"] for e in data["errors"])
            assert data["session"]["url"].startswith(pages.url)

            # highlight.run's own browser OTLP (to otlpEndpoint, with CORS) arrives too: its
            # fetch span carries the request id as trace id, so it joins the request
            browser_side = wait_for(
                lambda: (
                    "hl-web"
                    in backlight.api(f"/api/v1/requests/{fail_row['request_id']}")["services"]
                ),
                "highlight.run's browser span of the request",
                60,
            )
            assert browser_side

            # and in the UI's request view
            ui = browser.new_page(base_url=backlight.url)
            ui.goto(f"/login?token={backlight.token}")
            ui.goto(f"/requests/{fail_row['request_id']}")
            view_text = ui.locator(".request-view").inner_text()
            assert "inventory exploded" in view_text
            assert service in view_text
            ui.close()

            events = backlight.api(f"/api/v1/sessions/{sid}/replay")["events"]
            assert any(e["type"] == 2 for e in events)
            html = rebuild(page, pages, events)
            assert "Highlight shop" in html
            assert 'id="fail"' in html
            browser.close()
    finally:
        proc.terminate()
        proc.wait(timeout=20)
