"""The browser SDK as an npm package, installed the way a bundler user gets it.

``npm pack`` runs on a copy of ``sdk/browser`` without ``dist/`` (as a fresh clone is), so
its ``prepare`` build makes what is packed. The tarball goes into two apps kept in
``npm_consumers/`` — a fresh Vite app (an ES module package) and a plain esbuild app (a
CommonJS package) — whose own dependencies ``scripts/setup.sh`` installs from their locks;
the tarball is added with ``npm install --no-save``, so the locks stay as committed. Each
app is type-checked by the tsc of its devDependencies under ``strict`` and
``exactOptionalPropertyTypes`` with ``moduleResolution`` ``bundler`` and ``node16`` (the
Vite app reads the ``import`` declarations, the CommonJS app under node16 the ``require``
ones), bundled, served on loopback and opened in Debian Chromium against the session-wide
``backlight serve``, which must record the session.
"""

from __future__ import annotations

import functools
import json
import os
import re
import shutil
import subprocess
import tarfile
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from threading import Thread
from typing import Any, TypeVar
from urllib.parse import urlencode

import httpx
import pytest
from playwright.sync_api import Browser, Playwright, sync_playwright

from backlight_server.testing import CHROMIUM, CHROMIUM_ARGS, BacklightProcess, wait_for

ROOT = Path(__file__).resolve().parents[2]
SDK = ROOT / "sdk" / "browser"
APPS = Path(__file__).resolve().parent / "npm_consumers"
# app name -> (the folder its build serves, the page in it)
SERVED = {"vite": ("dist", "index.html"), "esbuild": (".", "index.html")}
T = TypeVar("T")

pytestmark = pytest.mark.browser


def npm(args: list[str], cwd: Path, timeout: float = 180) -> str:
    """Runs npm (offline first: setup.sh filled the cache); fails with its output."""
    r = subprocess.run(
        ["npm", *args, "--no-audit", "--no-fund", "--prefer-offline"],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert r.returncode == 0, f"npm {' '.join(args)} in {cwd}:\n{r.stdout}\n{r.stderr}"
    return r.stdout


@pytest.fixture(scope="module")
def tarball(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``npm pack`` of a copy of sdk/browser without build outputs (its node_modules linked)."""
    if not (SDK / "node_modules").is_dir():
        pytest.fail("sdk/browser/node_modules is missing: run scripts/setup.sh")
    work = tmp_path_factory.mktemp("npm-pack")
    src = work / "browser"
    shutil.copytree(SDK, src, ignore=shutil.ignore_patterns("node_modules", "dist", "*.tgz"))
    (src / "node_modules").symlink_to(SDK / "node_modules")
    out = work / "out"
    out.mkdir()
    npm(["pack", "--pack-destination", str(out)], src)
    (packed,) = out.glob("*.tgz")
    return packed


@pytest.fixture(scope="module")
def apps(tarball: Path) -> dict[str, Path]:
    """Both apps with the tarball installed (their lock files untouched)."""
    found = {}
    for name in SERVED:
        app = APPS / name
        if not (app / "node_modules").is_dir():
            pytest.fail(f"{app.relative_to(ROOT)}/node_modules is missing: run scripts/setup.sh")
        lock = (app / "package-lock.json").read_bytes()
        shutil.rmtree(app / "node_modules" / "@backlight", ignore_errors=True)
        npm(["install", "--no-save", str(tarball)], app)
        assert (app / "package-lock.json").read_bytes() == lock
        found[name] = app
    return found


def package_files(tgz: Path) -> dict[str, bytes]:
    with tarfile.open(tgz) as tar:
        files = {}
        for member in tar.getmembers():
            f = tar.extractfile(member)
            if f is not None:
                files[member.name.removeprefix("package/")] = f.read()
        return files


def test_the_tarball_holds_the_builds_and_their_declarations(tarball: Path) -> None:
    files = package_files(tarball)
    types = {f for f in files if f.startswith("dist/types/")}
    assert sorted(set(files) - types) == [
        "README.md",
        "dist/backlight.cjs",
        "dist/backlight.esm.js",
        "package.json",
    ]
    # the declarations index.d.ts reaches, each also as .d.cts
    esm = {f.removesuffix(".d.ts") for f in types if f.endswith(".d.ts")}
    assert "dist/types/index" in esm and "dist/types/types" in esm
    assert types == {f + ".d.ts" for f in esm} | {f + ".d.cts" for f in esm}
    pkg = json.loads(files["package.json"])
    assert "private" not in pkg
    assert "dependencies" not in pkg, "rrweb's recorder is bundled: nothing to install with it"
    root = pkg["exports"]["."]
    for condition, code, decl in [
        ("import", "dist/backlight.esm.js", "dist/types/index.d.ts"),
        ("require", "dist/backlight.cjs", "dist/types/index.d.cts"),
    ]:
        assert root[condition] == {"types": f"./{decl}", "default": f"./{code}"}
    # the declarations import only each other, with the extension node16 asks for
    for name in types:
        specifiers = re.findall(r"\bfrom '([^']*)'", files[name].decode())
        ext = ".cjs" if name.endswith(".d.cts") else ".js"
        assert all(s.startswith("./") and s.endswith(ext) for s in specifiers), (name, specifiers)
    # the module builds carry rrweb's recorder (its default block class) and point at no
    # source map (the package has none); that they import nothing, Node shows below
    for name in ("dist/backlight.esm.js", "dist/backlight.cjs"):
        code = files[name].decode()
        assert '"rr-block"' in code, f"{name} does not include rrweb's recorder"
        assert not code.rstrip().splitlines()[-1].startswith("//# sourceMappingURL"), name


@pytest.mark.parametrize("name", sorted(SERVED))
def test_the_app_type_checks_with_bundler_and_node16_resolution(
    apps: dict[str, Path], name: str
) -> None:
    app = apps[name]
    tsconfig = json.loads((app / "tsconfig.json").read_text())["compilerOptions"]
    assert tsconfig["strict"] and tsconfig["exactOptionalPropertyTypes"]
    assert tsconfig["moduleResolution"] == "bundler" and tsconfig["skipLibCheck"] is False
    node16 = json.loads((app / "tsconfig.node16.json").read_text())["compilerOptions"]
    assert node16["moduleResolution"] == "node16"
    for config in ("tsconfig.json", "tsconfig.node16.json"):
        r = subprocess.run(
            [str(app / "node_modules" / ".bin" / "tsc"), "-p", config, "--listFiles"],
            cwd=app,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert r.returncode == 0, f"{name}/{config}:\n{r.stdout}\n{r.stderr}"
        # checked against the package's generated declarations, never our sources
        ours = [f for f in r.stdout.splitlines() if "@backlight/browser" in f]
        want = ".d.cts" if name == "esbuild" and config == "tsconfig.node16.json" else ".d.ts"
        assert ours and all(f.endswith(want) and "/dist/types/" in f for f in ours), ours


def test_node_loads_both_entries_without_a_dom(apps: dict[str, Path]) -> None:
    """Server-side rendering imports the package in Node: both builds load, with no rrweb
    installed beside them, and H.init is a no-op."""
    app = apps["esbuild"]
    assert not (app / "node_modules" / "@rrweb").exists()
    checks = {
        "require": [
            "-e",
            "const m = require('@backlight/browser');"
            "m.H.init('1'); console.log(m.default === m.H, m.VERSION)",
        ],
        "import": [
            "--input-type=module",
            "-e",
            "import H, { H as named, VERSION } from '@backlight/browser';"
            "H.init('1'); console.log(H === named, VERSION)",
        ],
    }
    version = json.loads((SDK / "package.json").read_text())["version"]
    for kind, args in checks.items():
        r = subprocess.run(["node", *args], cwd=app, capture_output=True, text=True, timeout=60)
        assert r.returncode == 0, f"{kind}: {r.stderr}"
        assert r.stdout.split() == ["true", version], kind


class _Quiet(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


class Static:
    """A folder served on a loopback port."""

    def __init__(self, folder: Path) -> None:
        handler = functools.partial(_Quiet, directory=str(folder))
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


class Chromium:
    """Debian Chromium on a thread of its own (another suite may hold Playwright's sync API
    on the main thread); ``run(fn)`` calls ``fn(browser)`` there."""

    def __init__(self) -> None:
        self._pool = ThreadPoolExecutor(1, thread_name_prefix="playwright")
        self._pw: Playwright | None = None
        self._browser: Browser | None = None

        def start() -> None:
            self._pw = sync_playwright().start()
            self._browser = self._pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)

        self._pool.submit(start).result(60)

    def run(self, fn: Callable[[Browser], T]) -> T:
        def call() -> T:
            assert self._browser is not None
            return fn(self._browser)

        return self._pool.submit(call).result(120)

    def close(self) -> None:
        def stop() -> None:
            if self._browser is not None:
                self._browser.close()
            if self._pw is not None:
                self._pw.stop()

        try:
            self._pool.submit(stop).result(60)
        finally:
            self._pool.shutdown()


@pytest.fixture(scope="module")
def chromium() -> Iterator[Chromium]:
    browser = Chromium()
    yield browser
    browser.close()


@pytest.mark.parametrize("name", sorted(SERVED))
def test_the_bundled_app_records_a_session(
    apps: dict[str, Path], name: str, chromium: Chromium, backlight_server: BacklightProcess
) -> None:
    app = apps[name]
    shutil.rmtree(app / "dist", ignore_errors=True)
    npm(["run", "--silent", "build"], app)
    folder, page_name = SERVED[name]
    site = Static(app / folder)
    release = f"{name}-{os.getpid()}"
    query = urlencode(
        {"project": backlight_server.project, "backend": backlight_server.url, "release": release}
    )
    problems: list[str] = []

    def visit(browser: Browser) -> str:
        page = browser.new_page()
        page.on("pageerror", lambda e: problems.append(str(e)))
        page.goto(f"{site.url}/{page_name}?{query}")
        page.wait_for_function("document.body.dataset.session", timeout=20_000)
        page.mouse.click(20, 20)  # something for the replay besides the snapshot
        sid = page.evaluate("document.body.dataset.session")
        assert isinstance(sid, str)
        # the first upload goes after a second; polled while the page stays open
        wait_for(lambda: recorded(backlight_server, sid), f"{name}'s session {sid}", 30)
        page.close()
        return sid

    try:
        sid = chromium.run(visit)
    finally:
        site.close()
    assert not problems, problems
    data = backlight_server.api(f"/api/v1/sessions/{sid}")
    session = data["session"]
    assert session["service"] == f"{name}-consumer"
    assert session["app_version"] == release
    assert session["sdk_version"] == json.loads((SDK / "package.json").read_text())["version"]
    assert any(t["event"] == "consumer-ready" for t in data["track"]), data["track"]
    events = backlight_server.api(f"/api/v1/sessions/{sid}/replay")["events"]
    assert any(e["type"] == 2 for e in events), "no full snapshot: rrweb did not record"


def recorded(server: BacklightProcess, sid: str) -> bool:
    try:
        data = server.api(f"/api/v1/sessions/{sid}")
    except httpx.HTTPStatusError:
        return False
    return bool(data["track"]) and data["session"]["event_count"] > 0
