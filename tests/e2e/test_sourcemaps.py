"""Source maps end to end, with real apps in Chromium (docs/sourcemaps.md).

A TypeScript app (tests/apps/smapp: a click calls Cart.total, which calls formatPrice,
which throws) is bundled and minified twice: by esbuild (no debug id: its map is found
by release + URL) and by Rollup + terser with ``output.sourcemapDebugIds`` (the script
ends in ``//# debugId=``, and registers the id at run time, which the browser SDK sends).
Each runs in Chromium from its own loopback origin with the SDK of a real ``backlight
serve``; the error reaches the server; the real ``backlight sourcemaps upload`` sends the
maps; the error group page, at 1440 px, shows the original ``.ts`` file, line, function
and source lines.

How the maps reach the server is a parameter (``Delivery``): uploaded before the error,
or after it (display is symbolicated when read), or fetched by the server from the app's
origin once the project allowlists it (the opt-in fetch path; loopback is allowed by
``BACKLIGHT_SOURCEMAP_FETCH_ALLOW_PRIVATE`` for the test).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Page, sync_playwright

from backlight_server.testing import CHROMIUM, CHROMIUM_ARGS, BacklightProcess, wait_for
from bltest import in_thread

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[2]
APP = ROOT / "tests" / "apps" / "smapp"
SDK = ROOT / "sdk" / "browser"
UI_SRC = ROOT / "server" / "ui"
UI_BUILD = ROOT / "server" / "src" / "backlight_server" / "ui" / "static" / "build"
SHOTS = ROOT / "artifacts" / "screenshots"
BUNDLERS = ("esbuild", "rollup")
THROW_LINE = 9  # src/util/format.ts: throw new Error(`negative price: ${cents}`)
THROW_CODE = "throw new Error(`negative price: ${cents}`)"


@dataclass(frozen=True)
class Built:
    bundler: str
    dist: Path  # js/app.js and js/app.js.map
    debug_id: str | None  # the map's debugId (Rollup), None for esbuild


@pytest.fixture(scope="session")
def apps(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Built]:
    """Both builds of the app, made once per session into a tmp folder."""
    out: dict[str, Built] = {}
    for bundler in BUNDLERS:
        folder = tmp_path_factory.mktemp(f"smapp-{bundler}")
        subprocess.run(
            ["node", str(APP / "build.mjs"), bundler, str(folder)],
            check=True,
            capture_output=True,
            timeout=120,
        )
        source_map = json.loads((folder / "dist/js/app.js.map").read_text())
        out[bundler] = Built(bundler, folder / "dist", source_map.get("debugId"))
    assert out["rollup"].debug_id and not out["esbuild"].debug_id
    return out


@pytest.fixture(scope="session")
def ui_assets() -> Path:
    """The UI's esbuild output (its stack styles), rebuilt when a source is newer."""
    sources = [*UI_SRC.joinpath("src").rglob("*"), UI_SRC / "build.mjs", UI_SRC / "package.json"]
    bundle = UI_BUILD / "session.js"
    if not bundle.exists() or max(p.stat().st_mtime for p in sources) > bundle.stat().st_mtime:
        subprocess.run(["npm", "run", "--silent", "build"], cwd=UI_SRC, check=True)
    return UI_BUILD


@pytest.fixture(scope="session")
def sdk_dist() -> Path:
    """The browser SDK's dist/, rebuilt when a source is newer than the bundle."""
    bundle = SDK / "dist" / "backlight.js"
    sources = [*SDK.joinpath("src").rglob("*.ts"), SDK / "build.mjs", SDK / "package.json"]
    if not bundle.exists() or max(p.stat().st_mtime for p in sources) > bundle.stat().st_mtime:
        subprocess.run(["node", "build.mjs"], cwd=SDK, check=True, capture_output=True)
    return SDK / "dist"


class AppOrigin:
    """A loopback origin serving one build (``/js/…``) and its page (``/``)."""

    def __init__(self, dist: Path) -> None:
        self.page = ""
        origin = self

        class Handler(SimpleHTTPRequestHandler):
            def do_GET(self) -> None:
                if self.path != "/":
                    return super().do_GET()
                body = origin.page.encode()
                self.send_response(200)
                self.send_header("content-type", "text/html; charset=utf-8")
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), partial(Handler, directory=str(dist)))
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@dataclass
class Run:
    """One app on one server: what a ``Delivery`` works with."""

    built: Built
    server: BacklightProcess
    origin: AppOrigin
    version: str
    upload_key: str

    def upload(self, version: str | None = None, url_prefix: str | None = None) -> None:
        """``backlight sourcemaps upload``, as CI runs it (by default under the app's
        version and origin)."""
        version = version or self.version
        url_prefix = url_prefix or self.origin.url
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "backlight_server",
                "sourcemaps",
                "upload",
                str(self.built.dist),
                "--project",
                self.server.project,
                "--version",
                version,
                "--url-prefix",
                url_prefix,
                "--server",
                self.server.url,
            ],
            capture_output=True,
            text=True,
            timeout=120,
            env={**os.environ, "BACKLIGHT_UPLOAD_KEY": self.upload_key},
        )
        assert done.returncode == 0, done.stderr
        files = self.server.api(
            f"/api/v1/projects/{self.server.project}/artifacts", release=version
        )["files"]
        assert {f["url"] for f in files} == {
            f"{url_prefix}/js/app.js",
            f"{url_prefix}/js/app.js.map",
        }


@dataclass(frozen=True)
class Delivery:
    """How the maps reach the server: ``before`` runs before the app throws, ``after``
    once the error is stored (and shown minified)."""

    name: str
    before: Callable[[Run], None]
    after: Callable[[Run], None]


def _nothing(run: Run) -> None:
    pass


def _allow_fetch(run: Run) -> None:
    """The project switches the fetch path on for the app's origin: the script and the map
    its ``sourceMappingURL`` names are fetched when the error is read."""
    r = httpx.put(
        f"{run.server.url}/api/v1/projects/{run.server.project}/sourcemap-fetch",
        json={"enabled": True, "origins": [run.origin.url]},
        headers={"Authorization": f"Bearer {run.server.token}"},
    )
    assert r.status_code == 200, r.text


DELIVERIES = [
    Delivery("upload-before", before=Run.upload, after=_nothing),
    Delivery("upload-after", before=_nothing, after=Run.upload),
    Delivery("fetch", before=_nothing, after=_allow_fetch),
]


@pytest.fixture
def server(tmp_path: Path, sdk_dist: Path, ui_assets: Path) -> Iterator[BacklightProcess]:
    """A server per test: uploads are per project and debug ids match across releases."""
    env = {"BACKLIGHT_SDK_DIR": str(sdk_dist), "BACKLIGHT_SOURCEMAP_FETCH_ALLOW_PRIVATE": "true"}
    with BacklightProcess(tmp_path / "data", env=env) as s:
        yield s


@pytest.mark.parametrize("delivery", DELIVERIES, ids=lambda d: d.name)
@pytest.mark.parametrize("bundler", BUNDLERS)
def test_error_group_page_shows_the_typescript_source(
    apps: dict[str, Built], server: BacklightProcess, bundler: str, delivery: Delivery
) -> None:
    built = apps[bundler]
    origin = AppOrigin(built.dist)
    try:
        run = Run(built, server, origin, f"{bundler}-2.4.0", _upload_key(server))
        origin.page = _page(server, run.version)
        delivery.before(run)
        group = in_thread(lambda: _throw_in_chromium(run))
        if delivery.after is not _nothing:
            top = server.api(f"/api/v1/error-groups/{group}")["instances"][0]["stack"][0]
            assert top["file"] == f"{origin.url}/js/app.js" and "raw" not in top, top
        delivery.after(run)
        in_thread(lambda: _group_page(run, group, f"sourcemap-{bundler}-{delivery.name}"))
    finally:
        origin.close()


def test_the_debug_id_sent_finds_the_map_under_any_release_and_url(
    apps: dict[str, Built], server: BacklightProcess
) -> None:
    """Rollup's build, uploaded after the error under another release and URL prefix
    (neither matches the error): the debug id the SDK sent with the error finds it."""
    built = apps["rollup"]
    origin = AppOrigin(built.dist)
    try:
        run = Run(built, server, origin, "rollup-2.4.0", _upload_key(server))
        origin.page = _page(server, run.version)
        group = in_thread(lambda: _throw_in_chromium(run))
        run.upload(version="build-7781", url_prefix="https://cdn.example.com/assets")
        in_thread(lambda: _group_page(run, group, "sourcemap-rollup-debug-id"))
    finally:
        origin.close()


def _upload_key(server: BacklightProcess) -> str:
    r = httpx.post(
        f"{server.url}/api/v1/projects/{server.project}/upload-keys",
        headers={"Authorization": f"Bearer {server.token}"},
        timeout=30,
    )
    assert r.status_code == 201, r.text
    key: str = r.json()["key"]
    return key


def _page(server: BacklightProcess, version: str) -> str:
    return (
        '<!doctype html><html><head><meta charset="utf-8"><title>Shop</title>'
        f'<script src="{server.url}/sdk/backlight.js"></script>'
        f"<script>H.init({json.dumps(server.project)}, {{version: {json.dumps(version)}}})"
        "</script></head><body><button id=checkout>Check out</button><p id=total></p>"
        '<script src="/js/app.js"></script></body></html>'
    )


def _throw_in_chromium(run: Run) -> int:
    """Loads the app, clicks "Check out"; returns the stored error's group id once the
    error reached the server, after checking what the SDK sent with it."""
    server = run.server
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page()
            thrown: list[str] = []
            page.on("pageerror", lambda e: thrown.append(str(e)))
            page.goto(run.origin.url + "/")
            page.wait_for_function("() => window.H && H.getSessionId()")
            sid = page.evaluate("() => H.getSessionId()")
            page.click("#checkout")
            wait_for(lambda: thrown, "the page error", timeout=10)
            assert "negative price: -450" in thrown[0]
            errors = wait_for(lambda: _errors(server, sid), "the error on the server", timeout=30)
        finally:
            browser.close()
    session = server.api(f"/api/v1/sessions/{sid}")["session"]
    assert session["app_version"] == run.version  # the release its maps are under
    (error,) = errors
    script = f"{run.origin.url}/js/app.js"
    top = error["stack"][0]  # symbolicated already when the maps came first
    assert top.get("raw", top)["file"] == script
    ids = error["attributes"].get("debug_ids")
    # Rollup's chunk registered its debug id at run time; esbuild wrote none
    assert ids == ({script: run.built.debug_id} if run.built.debug_id else None)
    group: int = error["group_id"]
    return group


def _errors(server: BacklightProcess, sid: str) -> list[dict[str, Any]]:
    try:
        found: list[dict[str, Any]] = server.api(f"/api/v1/sessions/{sid}")["errors"]
        return found
    except httpx.HTTPStatusError:
        return []


def _group_page(run: Run, group: int, shot: str) -> None:
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            ctx = browser.new_context(
                viewport={"width": 1440, "height": 900},
                extra_http_headers={"Authorization": f"Bearer {run.server.token}"},
            )
            page = ctx.new_page()
            page.goto(f"{run.server.url}/errors/{group}")
            _check_frames(page, run)
            SHOTS.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(SHOTS / f"{shot}-1440.png"), full_page=True)
            page.set_viewport_size({"width": 1024, "height": 800})
            page.screenshot(path=str(SHOTS / f"{shot}-1024.png"), full_page=True)
        finally:
            browser.close()


def _check_frames(page: Page, run: Run) -> None:
    """The top frame reads as the TypeScript source (function, file:line, the source lines
    with the frame's own highlighted), the minified frame beside it."""
    frames = page.locator("ol.stack > li")
    top = frames.first
    assert top.locator(".fn").inner_text() == "formatPrice"
    where = top.locator(".file").inner_text()
    assert where.startswith(f"../../src/util/format.ts:{THROW_LINE}:"), where
    current = top.locator(".context .ln.at")
    assert current.locator(".no").inner_text() == str(THROW_LINE)
    assert THROW_CODE in current.inner_text()
    shown = top.inner_text()
    assert "export function formatPrice(cents: number): string {" in shown
    assert "return (cents / 100).toFixed(2)" in shown
    minified = top.text_content() or ""  # under a closed <details>
    assert f"{run.origin.url}/js/app.js:1:" in minified, minified
    text = frames.all_inner_texts()
    assert any("src/cart.ts" in t and "total" in t for t in text), text
