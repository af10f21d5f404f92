"""The ``tracingOrigins: true`` cases of docs/linkage-vectors.json in real Chromium: the
browser SDK's origins.ts on a page served at each case's host, with the real cookie-domain
probe against Chromium's own public-suffix list (the Node tests simulate that jar).

Every host name resolves to 127.0.0.1 (``--host-resolver-rules``); nothing leaves loopback.
"""

from __future__ import annotations

import json
import subprocess
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Browser, Playwright

from .conftest import CHROMIUM_ARGS, SDK

pytestmark = pytest.mark.browser

VECTORS: dict[str, Any] = json.loads(
    (Path(__file__).resolve().parents[2] / "docs" / "linkage-vectors.json").read_text("utf-8")
)
CASES = [c for c in VECTORS["origins"]["cases"] if c["tracingOrigins"] is True]

# As client.ts wires it: the page, its site found lazily by the probe on document.cookie.
CHECK_JS = """(cases) => cases.map(([raw]) => {
  let site = null
  const page = {origin: location.origin, hostname: location.hostname, site: () => {
    if (site === null) site = O.findSite(location.hostname,
      {read: () => document.cookie, write: (c) => { document.cookie = c }})
    return site
  }}
  return O.matches(true, raw, new URL(raw, location.href), page)
})"""


@pytest.fixture(scope="module")
def origins_js() -> str:
    """sdk/browser/src/origins.ts bundled for a page, as the global ``O``."""
    esbuild = SDK / "node_modules" / ".bin" / "esbuild"
    out = subprocess.run(
        [
            str(esbuild),
            "src/origins.ts",
            "--bundle",
            "--format=iife",
            "--global-name=O",
            "--log-level=warning",
        ],
        cwd=SDK,
        check=True,
        capture_output=True,
        text=True,
    )
    return out.stdout


@pytest.fixture(scope="module")
def page_server(origins_js: str) -> Iterator[int]:
    """One page for every host name: it carries origins.ts and nothing else."""
    body = f"<!doctype html><html><head><script>{origins_js}</script></head></html>".encode()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("content-type", "text/html; charset=utf-8")
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def any_host_browser(playwright: Playwright) -> Iterator[Browser]:
    """Chromium that resolves every name (example.com, a.github.io, intranet...) to
    127.0.0.1."""
    args = [a for a in CHROMIUM_ARGS if not a.startswith("--host-resolver-rules")]
    browser = playwright.chromium.launch(
        executable_path="/usr/bin/chromium", args=[*args, "--host-resolver-rules=MAP * 127.0.0.1"]
    )
    yield browser
    browser.close()


def test_tracing_origins_true_in_chromium(any_host_browser: Browser, page_server: int) -> None:
    by_host: dict[str, list[dict[str, Any]]] = {}
    for case in CASES:
        host = urlsplit(case["page"]).hostname or ""
        if ":" not in host:  # the page server listens on 127.0.0.1 only
            by_host.setdefault(host, []).append(case)
    assert {
        "app.example.com",
        "a.github.io",
        "www.example.co.uk",
        "localhost",
        "127.0.0.1",
    } <= by_host.keys()
    wrong = []
    for host, cases in by_host.items():
        context = any_host_browser.new_context()
        page = context.new_page()
        page.goto(f"http://{host}:{page_server}/")
        traced = page.evaluate(CHECK_JS, [[c["url"]] for c in cases])
        assert page.evaluate("document.cookie") == "", "the probe leaves no cookie behind"
        for case, got in zip(cases, traced, strict=True):
            if got != case["traced"]:
                wrong.append((case["page"], case["url"], got, case["why"]))
        context.close()
    assert not wrong, "\n".join(map(str, wrong))
