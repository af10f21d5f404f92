"""Page-time overhead of the browser SDK in headless Chromium, beside highlight.run.

    .venv/bin/python bench/browser_overhead.py [--rounds 5]

A loopback page runs a fixed workload: 200 rounds of 10 DOM insertions (2,000 mutations)
followed by one awaited ``fetch`` of a small JSON API (200 fetches). The workload is timed
in the page (``performance.now()``, wall time) and by Chromium's main-thread task time
(``Performance.getMetrics`` ``TaskDuration``, the CPU the page's thread spent, less
sensitive to loopback latency) in four variants, each in a fresh browser context,
rounds interleaved so all variants see the same machine load; medians are reported:

- ``none``: no SDK;
- ``backlight``: dist/backlight.js (built here) sending to a real ``backlight serve``, with
  ``tracingOrigins: true`` and ``networkRecording.recordHeadersAndBody`` (the most work);
  ``backlight, defaults``: the same with no options but ``backendUrl``;
- ``highlight.run``: the 10.7.5 UMD bundle (fetched with npm into .cache/bench/), same
  options, its GraphQL/OTLP backend played by a loopback stub. Reported only if it loads.

Every request the browser makes to anything but 127.0.0.1 is aborted by the harness, and
``navigator.webdriver`` reads false in every variant (highlight.run refuses to record under
automation otherwise).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import re
import statistics
import tempfile
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from _browser_common import CHROMIUM_ARGS, build_sdk, npm_file, table
from playwright.sync_api import Browser, CDPSession, sync_playwright

from backlight_server.testing import CHROMIUM, BacklightProcess

HIGHLIGHT = "highlight.run@10.7.5"
WORKLOAD = """
async () => {
  const list = document.getElementById('list');
  const t0 = performance.now();
  for (let round = 0; round < 200; round++) {
    for (let j = 0; j < 10; j++) {
      const el = document.createElement('li');
      el.textContent = 'item ' + (round * 10 + j);
      el.className = j % 2 ? 'odd' : 'even';
      list.appendChild(el);
    }
    const r = await fetch('/api/item?i=' + round, {headers: {'x-app': '1'}});
    await r.json();
  }
  return performance.now() - t0;
}
"""


class Site:
    """Serves the workload page, a JSON API, the two SDK bundles and a highlight stub."""

    def __init__(self, files: dict[str, bytes], heads: dict[str, str]) -> None:
        site = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def send(self, body: bytes, ctype: str) -> None:
                self.send_response(200)
                self.send_header("content-type", ctype)
                self.send_header("content-length", str(len(body)))
                self.send_header("access-control-allow-origin", "*")
                self.send_header("access-control-allow-headers", "*")
                self.end_headers()
                with contextlib.suppress(OSError):  # a page closed mid-request
                    self.wfile.write(body)

            def do_OPTIONS(self) -> None:
                self.send(b"", "text/plain")

            def do_GET(self) -> None:
                path = self.path.split("?")[0]
                if path.startswith("/page/"):
                    head = site.heads[unquote(path.removeprefix("/page/"))]
                    html = (
                        f"<!doctype html><html><head>{head}</head>"
                        "<body><h1>Workload</h1><ul id='list'></ul></body></html>"
                    )
                    self.send(html.encode(), "text/html")
                elif path == "/api/item":
                    self.send(
                        json.dumps({"ok": True, "path": self.path}).encode(), "application/json"
                    )
                elif path in site.files:
                    self.send(site.files[path], "text/javascript")
                else:
                    self.send(b"{}", "application/json")

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length") or 0))
                self.send(highlight_stub(body), "application/json")

        self.files, self.heads = files, heads
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def highlight_stub(body: bytes) -> bytes:
    """Answers highlight.run's GraphQL calls well enough for it to keep recording."""
    try:
        req = json.loads(body)
    except ValueError:
        return b"{}"
    if not isinstance(req, dict):
        return b"{}"
    op = str(req.get("operationName", ""))
    variables = req.get("variables") or {}
    if op == "initializeSession":
        sid = str(variables.get("session_secure_id", "stub"))
        data = {"initializeSession": {"secure_id": sid, "project_id": "1", "sampling": None}}
        return json.dumps({"data": data}).encode()
    if op == "Ignore":
        return json.dumps({"data": {"ignore": None}}).encode()
    return json.dumps({"data": {op[:1].lower() + op[1:]: None}}).encode()


def task_seconds(cdp: CDPSession) -> float:
    """Main-thread task time of the page so far (Chromium's Performance.getMetrics)."""
    metrics = cdp.send("Performance.getMetrics")["metrics"]
    return float(next(m["value"] for m in metrics if m["name"] == "TaskDuration"))


def run_once(browser: Browser, url: str) -> tuple[float, float, str]:
    """Runs the workload once: (wall ms, main-thread task ms, SDK state)."""
    context = browser.new_context()
    context.route(re.compile(r"^(?!http://127\.0\.0\.1[:/])"), lambda route: route.abort())
    # highlight.run does not record when navigator.webdriver is set (as under automation)
    context.add_init_script("Object.defineProperty(navigator, 'webdriver', {get: () => false})")
    page = context.new_page()
    cdp = context.new_cdp_session(page)
    cdp.send("Performance.enable")
    page.goto(url)
    page.wait_for_timeout(500)  # let an SDK start (highlight.run loads lazily)
    state = page.evaluate(
        "typeof H === 'undefined' ? 'no SDK' : (H.getRecordingState ? H.getRecordingState()"
        " : (H.getSessionId() ? 'Recording' : 'not started'))"
    )
    before = task_seconds(cdp)
    ms = float(page.evaluate(WORKLOAD))
    busy = (task_seconds(cdp) - before) * 1000
    context.close()
    return ms, busy, str(state)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rounds", type=int, default=7)
    args = ap.parse_args()
    files = {
        "/backlight.js": build_sdk().read_bytes(),
        "/highlight.js": npm_file(HIGHLIGHT, "dist/index.umd.js"),
    }
    with tempfile.TemporaryDirectory() as tmp, BacklightProcess(Path(tmp) / "data") as server:
        options = "{tracingOrigins: true, networkRecording: {recordHeadersAndBody: true}}"
        heads = {"none": ""}
        site = Site(files, heads)
        init = f"H.init({json.dumps(server.project)}, {{backendUrl: {json.dumps(server.url)}"
        tag = '<script src="/backlight.js"></script>'
        heads["backlight, defaults"] = f"{tag}<script>{init}}});</script>"
        heads["backlight"] = f"{tag}<script>{init}, {options[1:-1]}}});</script>"
        heads["highlight.run"] = (
            '<script src="/highlight.js"></script><script>H.init("1", '
            f"{{backendUrl: '{site.url}/public', otlpEndpoint: '{site.url}/otlp', "
            f"{options[1:-1]}}});</script>"
        )
        times: dict[str, list[float]] = {k: [] for k in heads}
        busy: dict[str, list[float]] = {k: [] for k in heads}
        states: dict[str, set[str]] = {k: set() for k in heads}
        try:
            with sync_playwright() as p:
                browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
                run_once(browser, f"{site.url}/page/none")  # warm-up, not counted
                for _ in range(args.rounds):
                    for mode in heads:
                        page_url = f"{site.url}/page/{mode.replace(' ', '%20')}"
                        ms, task_ms, state = run_once(browser, page_url)
                        times[mode].append(ms)
                        busy[mode].append(task_ms)
                        states[mode].add(state)
                browser.close()
        finally:
            site.close()
    base = statistics.median(times["none"])
    base_busy = statistics.median(busy["none"])
    rows = []
    for mode, values in times.items():
        med, med_busy = statistics.median(values), statistics.median(busy[mode])
        rows.append(
            [
                mode,
                ", ".join(sorted(states[mode])),
                f"{med:.0f}",
                f"{med / base:.2f}x",
                f"{med_busy:.0f}",
                f"{med_busy / base_busy:.2f}x",
            ]
        )
    print(f"workload: 2,000 DOM mutations + 200 fetches; {args.rounds} rounds, medians")
    print(
        table(
            [
                "variant",
                "SDK state",
                "wall ms",
                "wall vs none",
                "main-thread ms",
                "main-thread vs none",
            ],
            rows,
        )
    )


if __name__ == "__main__":
    main()
