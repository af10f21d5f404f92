"""Issue 23: the wheels are complete. From a clean clone of HEAD (no node_modules, no
builds, a stale ``server/build/`` planted), ``pip wheel`` builds the server (its build hook
runs npm: the UI assets and the browser SDK go inside the package) and the Python SDK, in
one build environment with setuptools (pip would make one per build, the same);
both are installed in a fresh venv outside the repository, with the server's dependencies
pinned from requirements/dev.lock (pip resolves nothing); that venv's ``backlight serve``
runs on a loopback port, and Debian Chromium checks every UI asset, a replay and a page
that loads ``/sdk/backlight.js``. Also: the sdist carries the built assets, so a wheel
built from it needs no npm, and without npm a build stops with one line.

Commit first: the clone is of HEAD, not of the work tree.
"""

from __future__ import annotations

import ast
import json
import os
import re
import subprocess
import sys
import tarfile
import threading
import time
import tomllib
import zipfile
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import metadata
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest
from playwright.sync_api import Browser, BrowserContext, Playwright, Response, sync_playwright

from backlight_server.testing import CHROMIUM, CHROMIUM_ARGS, BacklightProcess, wait_for
from bltest import session_id

# the installed server runs on SQLite whatever BACKLIGHT_TEST_STORE says: nothing here
# depends on the store, so the suite's run on chdb skips it rather than build twice
pytestmark = [pytest.mark.browser, pytest.mark.sqlite_only]

ROOT = Path(__file__).resolve().parents[2]
LOCK = ROOT / "requirements" / "dev.lock"
STALE = "backlight_server/ui/static/build/stale-AAAAAAAA.js"
STALE_MODULE = "backlight_server/stale_module.py"
PIP = [sys.executable, "-m", "pip"]
QUIET = ["-q", "--disable-pip-version-check", "--no-input"]
# offline: every package comes from the wheels scripts/setup.sh keeps (tests use loopback only)
WHEELHOUSE = ROOT / ".cache" / "wheelhouse"
OFFLINE = ["--no-index", "--find-links", str(WHEELHOUSE)]
T = TypeVar("T")
# a requirement's name and extras (PEP 508, as metadata writes it)
REQUIREMENT = re.compile(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)\s*(?:\[([^\]]*)\])?")
EXTRA_MARKER = re.compile(r"""\bextra\s*==\s*["']([^"']+)["']""")


def _env(**extra: str) -> dict[str, str]:
    """This environment without PYTHONPATH: the installed venv imports only what it holds."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    # the build hook's `npm ci`: from npm's cache, which scripts/setup.sh filled
    return {**env, "npm_config_prefer_offline": "true", **extra}


def _run(
    cmd: list[str], cwd: Path | None = None, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        cmd, capture_output=True, text=True, timeout=600, cwd=cwd, env=env or _env()
    )
    if done.returncode != 0:
        raise AssertionError(f"{cmd} failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
    return done


def _finish(proc: subprocess.Popen[str], what: str) -> float:
    """Waits for ``proc`` (which must succeed); when it ended (``time.monotonic``)."""
    out, _ = proc.communicate(timeout=600)
    assert proc.returncode == 0, f"{what} failed ({proc.returncode}):\n{out[-6000:]}"
    return time.monotonic()


def _canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _requirement(text: str) -> tuple[str, list[str], str | None]:
    """A requirement as metadata writes it: its name, its extras, and the extra it is for
    (``… ; extra == "x"``). Other markers are left to the environment: see ``pins``."""
    spec, _, marker = text.partition(";")
    found = REQUIREMENT.match(spec)
    assert found is not None, text
    extras = [_canonical(e) for e in (found[2] or "").split(",") if e.strip()]
    extra = EXTRA_MARKER.search(marker)
    return _canonical(found[1]), extras, _canonical(extra[1]) if extra else None


def pins(pyprojects: list[Path]) -> list[str]:
    """The dependencies of these distributions, and theirs, pinned as requirements/dev.lock
    pins them. The walk reads this environment's metadata (which that lock installed): a
    dependency for another platform or Python is not installed here, and is left out."""
    lock: dict[str, str] = {}
    for line in LOCK.read_text().splitlines():
        if "==" in line and not line.startswith("#"):
            lock[_canonical(line.split("==")[0].split("[")[0])] = line.strip()
    todo: list[tuple[str, str]] = []
    for path in pyprojects:
        todo += [(d, "") for d in tomllib.loads(path.read_text())["project"]["dependencies"]]
    seen: set[tuple[str, str]] = set()
    while todo:
        text, extra = todo.pop()
        name, extras, for_extra = _requirement(text)
        if for_extra not in (None, extra):
            continue
        try:
            requires = metadata.requires(name) or []
        except metadata.PackageNotFoundError:
            continue
        for wanted in ("", *extras):
            if (name, wanted) not in seen:
                seen.add((name, wanted))
                todo += [(r, wanted) for r in requires]
    names = sorted({n for n, _ in seen})
    missing = [n for n in names if n not in lock]
    assert not missing, f"not pinned in {LOCK}: {missing}"
    return [lock[n] for n in names]


@dataclass
class Built:
    clone: Path
    tools: Path  # the build environment: setuptools, as the pyproject.toml files ask
    venv: Path  # the user's: the two wheels and the server's dependencies
    server_wheel: Path
    sdk_wheel: Path
    seconds: dict[str, float]


def _start(cmd: list[str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        cmd, env=_env(), text=True, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )


def _hook(
    tools: Path, hook: str, out: Path, cwd: Path, env: dict[str, str]
) -> subprocess.CompletedProcess[str]:
    """A PEP 517 hook of setuptools' backend, called as a build frontend calls it."""
    code = f"import setuptools.build_meta as m; print(m.{hook}({str(out)!r}))"
    return subprocess.run(
        [str(tools / "bin" / "python"), "-c", code],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Built:
    """Both wheels from a clean clone, installed in a fresh venv (timed, for the report).
    One build environment serves every build (``--no-build-isolation``): pip would make
    the same one, with the same setuptools, for each of them."""
    tmp = tmp_path_factory.mktemp("wheels")
    started = time.monotonic()
    clone, wheels, tools, venv = tmp / "clone", tmp / "dist", tmp / "tools", tmp / "venv"
    _run(["git", "clone", "-q", "--depth", "1", f"file://{ROOT}", str(clone)])
    for stale in (STALE, STALE_MODULE):  # what an old build left: must not reach the wheel
        planted = clone / "server" / "build" / "lib" / stale
        planted.parent.mkdir(parents=True, exist_ok=True)
        planted.write_text("stale\n")
    for env in (tools, venv):
        _run([sys.executable, "-m", "venv", "--without-pip", str(env)])
    requirements = tmp / "requirements.txt"
    projects = [clone / "server" / "pyproject.toml", clone / "sdk" / "python" / "pyproject.toml"]
    requirements.write_text("\n".join(pins(projects)) + "\n")
    into_venv = [*PIP, "--python", str(venv / "bin" / "python"), "install", *QUIET, *OFFLINE]
    in_tools = [*PIP, "--python", str(tools / "bin" / "python")]
    # the dependencies need no wheel: they install while the wheels build
    deps = _start([*into_venv, "--no-deps", "--no-compile", "-r", str(requirements)])
    _finish(_start([*in_tools, "install", *QUIET, *OFFLINE, "setuptools>=70.1"]), "setuptools")
    build = [*in_tools, "wheel", *QUIET, "--no-deps", "--no-build-isolation", "-w", str(wheels)]
    jobs = {
        "server wheel": _start([*build, str(clone / "server")]),
        "SDK wheel": _start([*build, str(clone / "sdk" / "python")]),
        "dependencies": deps,
    }
    seconds = {"clone, venvs, setuptools": time.monotonic() - started}
    started = time.monotonic()
    with ThreadPoolExecutor(len(jobs)) as pool:  # each job's own time, for the report
        waits = {what: pool.submit(_finish, proc, what) for what, proc in jobs.items()}
        for what, wait in waits.items():
            seconds[what] = wait.result() - started
    started = time.monotonic()
    server_wheel = next(wheels.glob("backlight_server-*.whl"))
    sdk_wheel = next(wheels.glob("backlight-*.whl"))
    _run([*into_venv, "--no-deps", "--no-compile", str(server_wheel), str(sdk_wheel)])
    seconds["the two wheels installed"] = time.monotonic() - started
    return Built(clone, tools, venv, server_wheel, sdk_wheel, seconds)


@pytest.fixture(scope="module")
def server(built: Built, tmp_path_factory: pytest.TempPathFactory) -> Iterator[BacklightProcess]:
    """The venv's ``backlight serve``, run from outside the repository."""
    data = tmp_path_factory.mktemp("installed-server")
    proc = BacklightProcess(
        data,
        command=[str(built.venv / "bin" / "backlight")],
        env={"PYTHONPATH": "", "BACKLIGHT_STORE": "", "BACKLIGHT_SDK_DIR": ""},
    )
    with proc:
        yield proc


class Chromium:
    """Debian Chromium through Playwright, on a thread of its own (the sync API refuses a
    second instance on a thread that has one), with a context logged in to ``server``."""

    def __init__(self, server: BacklightProcess) -> None:
        self._pool = ThreadPoolExecutor(1, thread_name_prefix="playwright")
        self._pw: Playwright | None = None
        self._browser: Browser | None = None
        self.run(lambda: self._start(server))

    def _start(self, server: BacklightProcess) -> None:
        self._pw = sync_playwright().start()
        self._browser = self._pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        self.context = self.new_context(base_url=server.url)
        page = self.context.new_page()
        page.goto("/login")
        page.fill("input[name=token]", server.token)
        page.click("button[type=submit]")
        page.wait_for_url("**/sessions")
        page.close()

    def new_context(self, **options: Any) -> BrowserContext:
        assert self._browser is not None
        context = self._browser.new_context(**options)
        context.set_default_timeout(20_000)
        return context

    def run(self, fn: Callable[[], T]) -> T:
        return self._pool.submit(fn).result(120)

    def close(self) -> None:
        def stop() -> None:
            if self._browser is not None:
                self._browser.close()
            if self._pw is not None:
                self._pw.stop()

        try:
            self.run(stop)
        finally:
            self._pool.shutdown()


@pytest.fixture(scope="module")
def chromium(server: BacklightProcess) -> Iterator[Chromium]:
    browser = Chromium(server)
    yield browser
    browser.close()


class Site:
    """A loopback HTTP server answering every GET with one page (an app's origin)."""

    def __init__(self, html: str) -> None:
        body = html.encode()

        class Page(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                self.send_response(200)
                self.send_header("content-type", "text/html; charset=utf-8")
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Page)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def _post(server: BacklightProcess, path: str, body: dict[str, Any]) -> None:
    r = httpx.post(server.url + path, json=body, timeout=10)
    assert r.status_code == 200, r.text


def _replay(t0: float) -> list[dict[str, Any]]:
    """rrweb events of a one-heading page: meta, full snapshot, two pointer moves."""

    def node(i: int, tag: str, children: list[dict[str, Any]]) -> dict[str, Any]:
        return {"type": 2, "tagName": tag, "attributes": {}, "childNodes": children, "id": i}

    heading = node(5, "h1", [{"type": 3, "textContent": "Wheel shop", "id": 6}])
    html = node(2, "html", [node(3, "head", []), node(4, "body", [heading])])
    move = {"source": 1, "positions": [{"x": 10, "y": 10, "id": 5, "timeOffset": 0}]}
    return [
        {
            "type": 4,
            "data": {"href": "http://shop.test/", "width": 800, "height": 600},
            "timestamp": t0,
        },
        {
            "type": 2,
            "data": {
                "node": {"type": 0, "id": 1, "childNodes": [html]},
                "initialOffset": {"left": 0, "top": 0},
            },
            "timestamp": t0 + 5,
        },
        {"type": 3, "data": move, "timestamp": t0 + 1_000},
        {"type": 3, "data": move, "timestamp": t0 + 5_000},
    ]


def _names(wheel: Path) -> list[str]:
    with zipfile.ZipFile(wheel) as z:
        return z.namelist()


def test_the_server_wheel_holds_the_built_ui_and_sdk_and_nothing_stale(built: Built) -> None:
    names = _names(built.server_wheel)
    assert not [n for n in names if ".map" in n], "source maps in the wheel"
    assert STALE not in names and STALE_MODULE not in names, "a stale build/lib leaked in"
    with zipfile.ZipFile(built.server_wheel) as z:
        manifest = json.loads(z.read("backlight_server/ui/static/build/manifest.json"))
    assert {"app.js", "app.css", "session.js", "session.css"} <= set(manifest)
    for file in manifest.values():
        for suffix in ("", ".gz", ".br"):
            assert f"backlight_server/ui/static/build/{file}{suffix}" in names
    for sdk in ("backlight.js", "backlight.esm.js"):
        assert f"backlight_server/sdk_assets/{sdk}" in names
    print("\nwheels from a clean clone, s:", {k: round(v, 1) for k, v in built.seconds.items()})


def _installed_manifest(built: Built) -> dict[str, str]:
    found = _run(
        [
            str(built.venv / "bin" / "python"),
            "-c",
            "import backlight_server; print(backlight_server.__file__)",
        ],
        env=_env(),
        cwd=built.venv,
    ).stdout.strip()
    package = Path(found).parent
    assert package.is_relative_to(built.venv), f"imported from {package}, not the venv"
    manifest: dict[str, str] = json.loads((package / "ui/static/build/manifest.json").read_text())
    return manifest


def test_the_installed_server_serves_every_ui_asset_and_plays_a_replay(
    built: Built, server: BacklightProcess, chromium: Chromium
) -> None:
    with httpx.Client(base_url=server.url, timeout=10) as client:
        for file in _installed_manifest(built).values():
            r = client.get(f"/ui-static/{file}")
            assert r.status_code == 200, (file, r.text[:200])
            assert r.headers["cache-control"].endswith("immutable")
        assert "built assets missing" not in server.log_path.read_text()

    sid, t0 = session_id(), time.time() * 1000 - 60_000
    start = {
        "v": 1,
        "project_id": server.project,
        "session_secure_id": sid,
        "started_at": t0,
        "url": "http://shop.test/cart",
        "user_agent": "Mozilla/5.0 (wheel test)",
        "sdk_version": "0.1.0",
    }
    _post(server, "/ingest/v1/session", start)
    batch = {
        "v": 1,
        "project_id": server.project,
        "session_secure_id": sid,
        "seq": 0,
        "events": _replay(t0),
    }
    _post(server, "/ingest/v1/batch", batch)
    wait_for(lambda: server.api(f"/api/v1/sessions/{sid}/replay")["events"], "the replay stored")

    def check() -> list[tuple[str, int]]:
        page = chromium.context.new_page()
        assets: list[tuple[str, int]] = []

        def seen(response: Response) -> None:
            if "/ui-static/" in response.url:
                assets.append((response.url, response.status))

        page.on("response", seen)
        page.goto(f"/sessions/{sid}")
        page.wait_for_selector("#player iframe")
        page.wait_for_selector("#player-msg", state="detached")  # no longer "Loading replay…"
        for path in ("/sessions", "/logs", "/alerts"):
            page.goto(path)
        page.close()
        return assets

    assets = chromium.run(check)
    names = {url.rsplit("/", 1)[1] for url, _ in assets}
    assert {"app.js", "app.css", "session.js", "session.css", "logs.js", "alerts.js"} <= {
        n.split("-")[0] + "." + n.rsplit(".", 1)[1] for n in names
    }, names
    assert all(status == 200 for _, status in assets), assets


def test_a_page_loading_sdk_backlight_js_records_a_session(
    server: BacklightProcess, chromium: Chromium
) -> None:
    for name, kind in (("backlight.js", "javascript"), ("backlight.esm.js", "javascript")):
        r = httpx.get(f"{server.url}/sdk/{name}", timeout=10)
        assert r.status_code == 200 and kind in r.headers["content-type"], (name, r.status_code)
    site = Site(
        '<!doctype html><html><head><meta charset="utf-8"><title>Shop</title>'
        f'<script src="{server.url}/sdk/backlight.js"></script>'
        f"<script>H.init({json.dumps(server.project)}, {{}});</script>"
        '</head><body><h1>Wheel shop</h1><button id="buy">Buy</button></body></html>'
    )

    def record() -> str:
        context = chromium.new_context()
        page = context.new_page()
        page.goto(site.url)
        page.click("#buy")
        sid = page.evaluate("H.getSessionId()")
        assert isinstance(sid, str) and sid
        context.close()  # the page's unload flushes what it recorded
        return sid

    try:
        sid = chromium.run(record)
    finally:
        site.close()

    def snapshot() -> bool:
        events = server.api(f"/api/v1/sessions/{sid}/replay")["events"]
        return any(e["type"] == 2 for e in events)

    wait_for(snapshot, "the SDK's full snapshot in the installed server")
    listed = server.api("/api/v1/sessions", project_id=server.project)
    assert sid in json.dumps(listed)


def test_the_python_sdk_wheel_sends_to_the_installed_server(
    built: Built, server: BacklightProcess
) -> None:
    word = "wombat" + session_id()[:8]
    script = (
        "import logging, backlight\n"
        "from backlight.export import scope\n"
        f"backlight.init({server.project!r}, backend_url={server.url!r}, service_name='wheels')\n"
        f"logging.getLogger('shop').warning('sent from the wheel {word}')\n"
        "backlight.flush(timeout=10)\n"
        "print(scope._speedups is not None)\n"
    )
    out = _run([str(built.venv / "bin" / "python"), "-c", script], env=_env(), cwd=built.venv)
    assert out.stdout.strip() == "True", "the wheel's compiled encoder did not load"
    assert "linux_x86_64" in built.sdk_wheel.name or "manylinux" in built.sdk_wheel.name
    wait_for(
        lambda: word in json.dumps(server.api("/api/v1/logs", q=word)),
        "the SDK's log in the installed server",
    )


def test_a_wheel_built_from_the_sdist_needs_no_npm(built: Built, tmp_path: Path) -> None:
    """``python -m build``'s path: the sdist first (npm builds the assets into it), then
    the wheel from the unpacked sdist, on a PATH without npm."""
    made = _hook(built.tools, "build_sdist", tmp_path, built.clone / "server", _env())
    assert made.returncode == 0, made.stdout + made.stderr
    sdist = tmp_path / made.stdout.strip().splitlines()[-1]
    with tarfile.open(sdist) as tar:
        held = tar.getnames()
        tar.extractall(tmp_path / "unpacked", filter="data")
    assert not [n for n in held if ".map" in n or "/ui/src/" in n or "/tests/" in n], held
    root = tmp_path / "unpacked" / sdist.name.removesuffix(".tar.gz")
    no_npm = _env(PATH=str(tmp_path / "empty"))
    wheel = _hook(built.tools, "build_wheel", tmp_path / "wheel", root, no_npm)
    assert wheel.returncode == 0, wheel.stdout + wheel.stderr
    from_sdist = _names(tmp_path / "wheel" / wheel.stdout.strip().splitlines()[-1])
    direct = _names(built.server_wheel)
    assert sorted(n for n in from_sdist if ".dist-info/" not in n) == sorted(
        n for n in direct if ".dist-info/" not in n
    )


def test_without_npm_the_build_stops_with_one_line(built: Built, tmp_path: Path) -> None:
    no_npm = _env(PATH=str(tmp_path / "empty"))
    failed = _hook(built.tools, "build_wheel", tmp_path, built.clone / "server", no_npm)
    assert failed.returncode != 0
    said = [line for line in (failed.stdout + failed.stderr).splitlines() if "npm" in line]
    assert said == [
        "error: npm is not on PATH: building backlight-server bundles its web UI and browser "
        "SDK with npm (Node.js 20); install them, or build the wheel from the sdist, which "
        "carries both built"
    ], failed.stdout + failed.stderr


def test_the_server_declares_every_package_it_imports() -> None:
    """Each third-party module under server/src comes from a declared dependency or extra
    (an undeclared one works in the dev venv and fails in the wheel's)."""
    project = tomllib.loads((ROOT / "server" / "pyproject.toml").read_text())["project"]
    extras = [r for group in project["optional-dependencies"].values() for r in group]
    declared = {_requirement(r)[0] for r in [*project["dependencies"], *extras]}
    providers = metadata.packages_distributions()
    undeclared: dict[str, str] = {}
    for path in (ROOT / "server" / "src" / "backlight_server").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                tops = [a.name.split(".")[0] for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                tops = [node.module.split(".")[0]]
            else:
                continue
            for top in tops:
                if top in sys.stdlib_module_names or top == "backlight_server":
                    continue
                dists = {_canonical(d) for d in providers.get(top, [top])}
                if not dists & declared:
                    undeclared[top] = str(path.relative_to(ROOT))
    assert not undeclared, f"imported, not in server/pyproject.toml: {undeclared}"
