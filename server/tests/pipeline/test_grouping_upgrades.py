"""The same error from two runtime or library versions is one group of a real
``backlight serve``, with stacks made live: Node 20 and Node 26 (OTLP), two versions of a
Python library installed in a venv and in a user site without a venv (OTLP, recorded by the
real OpenTelemetry SDK), and two versions of a browser library in Chromium, sent by the
real browser SDK. And the Python SDK's middleware frame is never shown as the app's code."""

from __future__ import annotations

import importlib.util
import json
import shutil
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import ModuleType
from typing import Any

import playwright
import pytest
from playwright.sync_api import sync_playwright

from backlight_server.testing import BacklightProcess
from bltest import OtelService, in_thread, wait_for

STACKS = Path(__file__).parent / "stacks"
ROOT = Path(__file__).resolve().parents[3]
SDK_DIST = ROOT / "sdk" / "browser" / "dist"
PLAYWRIGHT_NODE = Path(playwright.__file__).parent / "driver" / "node"
Group = dict[str, Any]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BacklightProcess]:
    """A server of this module's own: every group it holds was made here."""
    if not (SDK_DIST / "backlight.js").exists():
        subprocess.run(["node", "build.mjs"], cwd=SDK_DIST.parent, check=True, capture_output=True)
    with BacklightProcess(
        tmp_path_factory.mktemp("upgrades"), env={"BACKLIGHT_SDK_DIR": str(SDK_DIST)}
    ) as proc:
        yield proc


def groups(server: BacklightProcess, error_type: str) -> list[Group]:
    found: list[Group] = server.api("/api/v1/error-groups", limit=500)["groups"]
    return [g for g in found if g["type"] == error_type]


def settled(server: BacklightProcess, error_type: str, instances: int) -> list[Group]:
    """The groups of ``error_type`` once ``instances`` instances are stored."""

    def enough() -> list[Group] | None:
        found = groups(server, error_type)
        return found if sum(g["count"] for g in found) >= instances else None

    result: list[Group] = wait_for(enough)
    return result


def record(svc: OtelService, error_type: str, message: str, raw_stack: str) -> None:
    """An exception event as any OpenTelemetry SDK (Node's too) writes it."""
    with svc.tracer.start_as_current_span("job") as span:
        span.add_event(
            "exception",
            {
                "exception.type": error_type,
                "exception.message": message,
                "exception.stacktrace": raw_stack,
            },
        )


def in_app(group: Group) -> list[str]:
    return [f["function"] for f in group["stack"] if f["in_app"]]


# --- Node -----------------------------------------------------------------------------------


def node_stacks(binary: str, app: Path) -> tuple[str, dict[str, str]]:
    version = subprocess.run(
        [binary, "--version"], capture_output=True, text=True, check=True, timeout=60
    ).stdout.strip()
    out = subprocess.run(
        [binary, str(app)], capture_output=True, text=True, check=True, timeout=60, cwd=app.parent
    )
    stacks: dict[str, str] = json.loads(out.stdout)
    return version, stacks


def test_same_error_from_two_node_versions_is_one_group(
    server: BacklightProcess, otel_service: Callable[..., OtelService], tmp_path: Path
) -> None:
    node = shutil.which("node")
    assert node is not None and PLAYWRIGHT_NODE.exists(), "needs node and Playwright's node"
    app = tmp_path / "srv" / "app.js"  # one app, one path: only the runtime changes
    app.parent.mkdir()
    shutil.copy(STACKS / "node" / "app.js", app)
    runs = dict(node_stacks(binary, app) for binary in (node, str(PLAYWRIGHT_NODE)))
    assert len(runs) == 2, f"two Node versions expected, got {list(runs)}"
    first, second = runs.values()
    assert first["emitter"] != second["emitter"]  # node:events line numbers differ

    svc = otel_service(server.url, "node-upgrade", server.project)
    for stacks in runs.values():
        for raw in stacks.values():
            record(svc, "Error", raw.split("\n", 1)[0].removeprefix("Error: "), raw)
    svc.flush()
    found = settled(server, "Error", 8)
    assert sorted((g["message"], g["count"]) for g in found) == [
        ("card declined for order 42", 2),
        ("card declined for order 7", 2),
        ("card declined for order 9", 2),
        ("connect ECONNREFUSED 127.0.0.1:1", 2),
    ]
    by_message = {g["message"]: g for g in found}
    assert in_app(by_message["card declined for order 7"]) == [
        "chargeCard",
        "EventEmitter.<anonymous>",
        "Server.<anonymous>",
    ]
    assert in_app(by_message["connect ECONNREFUSED 127.0.0.1:1"]) == []


# --- Python ---------------------------------------------------------------------------------


def install(site_packages: Path, source: str) -> ModuleType:
    """``tinypay`` installed into a site-packages folder and imported from there."""
    package = site_packages / "tinypay"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text((STACKS / "python" / source).read_text())
    spec = importlib.util.spec_from_file_location("tinypay", package / "__init__.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def checkout(tinypay: ModuleType, amount: int) -> str:
    result: str = tinypay.charge(amount)
    return result


def test_same_error_from_two_python_library_versions_is_one_group(
    server: BacklightProcess, otel_service: Callable[..., OtelService], tmp_path: Path
) -> None:
    versions = [
        install(tmp_path / "venv" / "lib" / "python3.11" / "site-packages", "tinypay-1.0.0.py.txt"),
        # no venv: the user site of another Python (``pip install --user``)
        install(
            tmp_path / "home" / ".local" / "lib" / "python3.13" / "site-packages",
            "tinypay-2.0.0.py.txt",
        ),
    ]
    svc = otel_service(server.url, "python-upgrade", server.project)
    for tinypay in versions:
        with svc.tracer.start_as_current_span("checkout") as span:
            try:
                checkout(tinypay, 500)
            except Exception as exc:
                span.record_exception(exc)
        with ThreadPoolExecutor(1) as pool:  # the library's frames alone
            failure = pool.submit(tinypay.charge, 700).exception()
        assert failure is not None
        with svc.tracer.start_as_current_span("worker") as span:
            span.record_exception(failure)
    svc.flush()
    found = settled(server, "tinypay.CardError", 4)
    assert sorted(g["count"] for g in found) == [2, 2]
    with_app, library_only = sorted(found, key=lambda g: len(in_app(g)), reverse=True)
    assert in_app(with_app)[0] == "checkout"
    assert in_app(library_only) == []
    detail = server.api(f"/api/v1/error-groups/{library_only['id']}")
    instances: list[dict[str, Any]] = detail["instances"]
    raws = [i["raw_stack"] for i in instances]
    assert any("python3.11/site-packages/tinypay" in r for r in raws)
    assert any(".local/lib/python3.13/site-packages/tinypay" in r for r in raws)
    assert any("_check(int(amount))" in r for r in raws)  # 2.0.0 changed the code too


FASTAPI_APP = """
import json, sys, traceback
from fastapi import FastAPI
from fastapi.testclient import TestClient
from backlight.integrations.asgi import BacklightMiddleware

app = FastAPI()
app.add_middleware(BacklightMiddleware)


@app.get("/stock/{sku}")
def stock(sku: str) -> dict[str, int]:
    counts: dict[str, int] = {}
    return {"count": counts[sku]}


try:
    TestClient(app).get("/stock/abc")
except KeyError:
    json.dump(traceback.format_exc(), sys.stdout)
"""


def test_sdk_middleware_frame_is_not_shown_as_app_code(
    server: BacklightProcess, otel_service: Callable[..., OtelService], tmp_path: Path
) -> None:
    script = tmp_path / "service" / "main.py"
    script.parent.mkdir()
    script.write_text(FASTAPI_APP)
    out = subprocess.run(
        [sys.executable, "-W", "ignore", str(script)],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    raw: str = json.loads(out.stdout)
    assert "backlight/integrations/asgi.py" in raw
    svc = otel_service(server.url, "fastapi", server.project)
    record(svc, "KeyError", "'abc'", raw)
    svc.flush()
    [group] = settled(server, "KeyError", 1)
    sdk = [f for f in group["stack"] if f["file"].endswith("backlight/integrations/asgi.py")]
    assert sdk and not any(f["in_app"] for f in sdk)
    assert in_app(group) == ["stock", "<module>"]


# --- Browsers -------------------------------------------------------------------------------

LIBRARY = {
    "1.0.0": "export function parse(text) {\n  return JSON.parse(text)\n}\n"
    "export function later(text) {\n  setTimeout(function tick() { parse(text) }, 0)\n}\n",
    "1.1.0": "// tinylib 1.1.0: adds sum()\nexport function sum(items) {\n"
    "  return items.reduce((a, b) => a + b, 0)\n}\n\n"
    "export function parse(text) {\n  return JSON.parse(text)\n}\n\n"
    "export function later(text) {\n  setTimeout(function tick() { parse(text) }, 0)\n}\n",
}
APP = (
    "import { parse, later } from '/npm/tinylib@VERSION/index.js'\n"
    "export function run(text) { parse(text) }\n"
    "export function timer(text) { later(text) }\n"
)


class Site:
    """The app's origin on loopback; ``version`` is the tinylib it imports (from a
    versioned CDN-style path, as unpkg or jsDelivr serve it)."""

    def __init__(self, backlight: BacklightProcess) -> None:
        site = self
        self.version = "1.0.0"
        self.page = (
            f'<!doctype html><script src="{backlight.url}/sdk/backlight.js"></script>'
            f"<script>H.init({json.dumps(backlight.project)}, {{}})</script>"
            '<script type="module">import { run, timer } from "/assets/app.js?v=VERSION"\n'
            'setTimeout(() => run("{oops"))\ntimer("{oops")\n</script>'
        )

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                path = self.path.partition("?")[0]
                if path == "/":
                    body, kind = site.page.replace("VERSION", site.version), "text/html"
                elif path == "/assets/app.js":
                    body, kind = APP.replace("VERSION", site.version), "text/javascript"
                elif path.startswith("/npm/tinylib@"):
                    body, kind = LIBRARY[path.split("@")[1].split("/")[0]], "text/javascript"
                else:
                    self.send_error(404)
                    return
                data = body.encode()
                self.send_response(200)
                self.send_header("content-type", kind)
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/"

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def browse(site: Site, server: BacklightProcess) -> list[str]:
    """Each library version in a fresh context (a new session), kept open until the SDK
    has delivered its two errors; returns the page errors Chromium saw."""
    seen: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path="/usr/bin/chromium",
            args=["--headless", "--no-sandbox", "--disable-gpu"],
        )
        for n, version in enumerate(LIBRARY, start=1):
            site.version = version
            context = browser.new_context()
            page = context.new_page()
            page.on("pageerror", lambda e: seen.append(str(e)))
            page.goto(site.url)
            settled(server, "SyntaxError", 2 * n)
            context.close()
        browser.close()
    return seen


@pytest.mark.browser
def test_same_error_from_two_browser_library_versions_is_one_group(
    server: BacklightProcess,
) -> None:
    site = Site(server)
    try:
        page_errors = in_thread(lambda: browse(site, server))
    finally:
        site.close()
    assert len(page_errors) == 4
    found = settled(server, "SyntaxError", 4)
    assert sorted(g["count"] for g in found) == [2, 2]
    called_from_app, library_only = sorted(found, key=lambda g: len(in_app(g)), reverse=True)
    assert in_app(called_from_app)[0] == "run"
    assert in_app(library_only) == []
    files = {f["file"] for g in found for f in g["stack"] if "tinylib@" in f["file"]}
    assert files and not any(
        f["in_app"] for g in found for f in g["stack"] if "tinylib@" in f["file"]
    )
