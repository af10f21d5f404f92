"""The session cookie and navigation timing (docs/linkage.md) in real Chromium:

- the ``cookie_scope`` cases of docs/linkage-vectors.json: the browser SDK's cookie.ts sets
  the cookie on a page at each case's host, with Chromium's own public-suffix list, and a
  loopback server records which hosts' requests carried it (a host outside the cookie's
  scope, a third party included, never receives it);
- a page with a stale ``Server-Timing`` traceparent, and a page the browser serves from
  its cache, are not linked to the request that first made them.

Every host name resolves to 127.0.0.1 (``--host-resolver-rules``); nothing leaves loopback.
"""

from __future__ import annotations

import json
import subprocess
import threading
import time
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
SID = "Ab3dEf7hIj0lMn4pQr8tUv2xYz6a"
TRACE = "0af7651916cd43dd8448eb211c80319c"
TRACEPARENT = f"00-{TRACE}-b7ad6b7169203331-01"

# As client.ts wires it: cookieScope with the probe on document.cookie, then SessionCookie.
SET_JS = """([rules, forced]) => {
  const jar = {read: () => document.cookie, write: (c) => { document.cookie = c }}
  const page = {protocol: location.protocol, hostname: location.hostname,
                site: () => N.findSite(location.hostname, jar)}
  const scope = N.cookieScope(rules, forced, page)
  if (scope === null) return null
  new N.SessionCookie(jar, scope, location.protocol === 'https:').set(SID, 900000)
  return scope
}""".replace("SID", repr(SID))

READ_NAV_JS = """() => {
  const nav = performance.getEntriesByType('navigation')[0]
  return [N.documentRequestId(nav, null, performance.timeOrigin), nav.transferSize]
}"""


@pytest.fixture(scope="module")
def sdk_js() -> str:
    """cookie.ts, navigation.ts and the probe of origins.ts bundled for a page, as ``N``."""
    esbuild = SDK / "node_modules" / ".bin" / "esbuild"
    entry = (
        "export * from './src/cookie'\n"
        "export * from './src/navigation'\n"
        "export { findSite } from './src/origins'\n"
    )
    out = subprocess.run(
        [str(esbuild), "--bundle", "--format=iife", "--global-name=N", "--log-level=warning"],
        cwd=SDK,
        input=entry,
        check=True,
        capture_output=True,
        text=True,
    )
    return out.stdout


class Pages:
    """One loopback server for every host name: it serves the page and records the
    ``Cookie`` header each host received."""

    def __init__(self, script: str) -> None:
        self.cookies: list[tuple[str, str]] = []
        self.server_time: int | None = None  # the page's backlight-time, None: now
        pages = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                host = (self.headers.get("host") or "").split(":")[0]
                pages.cookies.append((host, self.headers.get("cookie") or ""))
                ms = pages.server_time if pages.server_time is not None else int(time.time() * 1000)
                links = "<a href='/other'>other</a> <a href='/cached'>cached</a>"
                body = f"<!doctype html><script>{script}</script>{links}".encode()
                self.send_response(200)
                self.send_header("content-type", "text/html; charset=utf-8")
                self.send_header("content-length", str(len(body)))
                self.send_header("access-control-allow-origin", "*")
                if self.path.startswith("/cached"):
                    self.send_header("cache-control", "private, max-age=600")
                self.send_header(
                    "server-timing", f'traceparent;desc="{TRACEPARENT}", backlight-time;desc={ms}'
                )
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def received(self, host: str) -> list[str]:
        return [c for h, c in self.cookies if h == host]


@pytest.fixture(scope="module")
def pages(sdk_js: str) -> Iterator[Pages]:
    p = Pages(sdk_js)
    yield p
    p.server.shutdown()
    p.server.server_close()


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


def _rules(given: Any) -> str:
    """The case's tracingOrigins as JavaScript (RegExps rebuilt)."""
    if given is None:
        return "'self'"
    if isinstance(given, list):
        items = [
            json.dumps(r) if isinstance(r, str) else f"new RegExp({json.dumps(r['regexp'])})"
            for r in given
        ]
        return "[" + ", ".join(items) + "]"
    return json.dumps(given)


def test_cookie_scope_vectors_in_chromium(any_host_browser: Browser, pages: Pages) -> None:
    """Pages are served over http here, so the Secure attribute is not part of this test
    (the Node tests check it); the domain scope is Chromium's own."""
    cases = [
        c
        for c in VECTORS["cookie_scope"]
        if c["jar"] is None and urlsplit(c["page"]).scheme in ("http", "https")
    ]
    assert len(cases) >= 15
    wrong = []
    context = any_host_browser.new_context()
    page = context.new_page()
    for case in cases:
        host = urlsplit(case["page"]).hostname or ""
        context.clear_cookies()
        page.goto(f"http://{host}:{pages.port}/")
        forced = (
            json.dumps(case["sessionCookie"]) if case["sessionCookie"] is not None else "undefined"
        )
        scope = page.evaluate(f"() => ({SET_JS})([{_rules(case['tracingOrigins'])}, {forced}])")
        if (scope is None) != (case["domain"] is None) or (
            case["domain"] is not None and scope != case["domain"]
        ):
            wrong.append((case["why"], "scope", scope))
        stored = [c for c in context.cookies() if c["name"] == "backlight_session"]
        want = [] if case["domain"] is None else [case["domain"] or host]
        if [c["domain"].lstrip(".") for c in stored] != want:
            wrong.append((case["why"], "stored", stored))
        secure_only = urlsplit(case["page"]).scheme == "https"
        urls = [
            u
            for u in case["sent"] + case["not_sent"]
            if not (secure_only and u.startswith("http:"))  # Secure: an http page can't set it
        ]
        pages.cookies.clear()
        page.evaluate(
            """(us) => Promise.all(us.map((u) =>
                 fetch(u, {credentials: 'include', mode: 'no-cors'}).catch(() => null)))""",
            [f"http://{urlsplit(u).hostname}:{pages.port}/probe" for u in urls],
        )
        for url in urls:
            got = any(
                f"backlight_session={SID}" in c
                for c in pages.received(urlsplit(url).hostname or "")
            )
            if got != (url in case["sent"]):
                wrong.append((case["why"], url, "sent" if got else "not sent"))
    context.close()
    assert not wrong, "\n".join(map(str, wrong))


def test_stale_and_cached_pages_are_not_linked(any_host_browser: Browser, pages: Pages) -> None:
    context = any_host_browser.new_context()
    page = context.new_page()
    base = f"http://app.example.com:{pages.port}"
    pages.server_time = None
    page.goto(f"{base}/fresh")
    assert page.evaluate(READ_NAV_JS)[0] == TRACE, "a fresh value links the document request"
    pages.server_time = int(time.time() * 1000) - 5 * 60_000
    page.goto(f"{base}/stale")
    assert page.evaluate(READ_NAV_JS)[0] is None, "five minutes old: from a cache"
    # a page the browser keeps (max-age), its time still fresh: served again from the
    # browser's cache by a link click, it carries the first request's traceparent
    pages.server_time = None
    page.goto(f"{base}/cached")
    assert page.evaluate(READ_NAV_JS)[0] == TRACE
    page.goto(f"{base}/other")
    page.click("text=cached")  # a real click on the link
    page.wait_for_url(f"{base}/cached")
    page.wait_for_load_state("load")
    got, size = page.evaluate(READ_NAV_JS)
    assert size == 0, "served from the browser's cache"
    assert got is None
    context.close()
