"""Fixtures for the end-to-end navigation tests (issue 24): the server-rendered shops of
``apps/`` run for real on loopback, each in a process of its own with the Python SDK
exporting to the session-wide ``backlight serve`` (the root conftest's
``backlight_server``), and Debian Chromium driven by Playwright.

Host names: Chromium maps ``*.shop.test`` to 127.0.0.1 (``--host-resolver-rules``), so a
shop's pages are on a site of their own (``shop.test``), where the browser SDK's session
cookie can be scoped, and every byte stays on loopback.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Playwright, sync_playwright

from backlight_server import testing
from backlight_server.testing import BacklightProcess

ROOT = Path(__file__).resolve().parents[2]
SDK = ROOT / "sdk" / "browser"
UI = ROOT / "server" / "ui"
UI_BUILD = ROOT / "server" / "src" / "backlight_server" / "ui" / "static" / "build"
HOST_RULES = "MAP *.shop.test 127.0.0.1"
CHROMIUM_ARGS = [*testing.CHROMIUM_ARGS, "--disable-quic", f"--host-resolver-rules={HOST_RULES}"]

# Each shop under a real WSGI server in a process of its own (the SDK is per process):
# Flask under werkzeug's threaded server, Django under the standard library's wsgiref
# with a thread per request. The child prints its port once it listens.
SERVE = {
    "flask": (
        "from werkzeug.serving import make_server\n"
        "from tests.navigation.apps.flask_shop import app\n"
        "server = make_server('127.0.0.1', 0, app, threaded=True)\n"
    ),
    "django": (
        "from socketserver import ThreadingMixIn\n"
        "from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server\n"
        "from tests.navigation.apps.django_shop import application\n"
        "class Quiet(WSGIRequestHandler):\n"
        "    def log_message(self, *args): pass\n"
        "class Threading(ThreadingMixIn, WSGIServer):\n"
        "    daemon_threads = True\n"
        "server = make_server('127.0.0.1', 0, application, Threading, Quiet)\n"
    ),
}
LISTEN = "print(server.server_port, flush=True)\nserver.serve_forever()\n"


def _built(folder: Path, output: Path, command: list[str]) -> None:
    """Run ``command`` in ``folder`` when a source is newer than ``output`` (setup.sh
    builds them normally; the /sdk/ and UI routes read the files at each request)."""
    sources = [*folder.joinpath("src").rglob("*"), folder / "build.mjs", folder / "package.json"]
    if not (folder / "node_modules").is_dir():
        pytest.fail(f"{folder}/node_modules is missing: run scripts/setup.sh")
    newest = max(p.stat().st_mtime for p in sources if p.is_file())
    if not output.exists() or newest > output.stat().st_mtime:
        subprocess.run(command, cwd=folder, check=True, capture_output=True)


@pytest.fixture(scope="module")
def backlight(backlight_server: BacklightProcess) -> BacklightProcess:
    """The session-wide server, serving a current build of the browser SDK and the UI."""
    _built(SDK, SDK / "dist" / "backlight.js", ["node", "build.mjs"])
    _built(UI, UI_BUILD / "manifest.json", ["npm", "run", "--silent", "build"])
    return backlight_server


class Shop:
    """One shop (``flask`` or ``django``) on loopback, served as ``http://<name>.shop.test``."""

    def __init__(self, name: str, backlight: BacklightProcess, log: Path) -> None:
        self.name = name
        env = {
            **os.environ,
            "BACKLIGHT_URL": backlight.url,
            "BACKLIGHT_PROJECT": backlight.project,
            "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
        }
        self._log = log.open("ab")
        self.proc = subprocess.Popen(
            [sys.executable, "-c", SERVE[name] + LISTEN],
            env=env,
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=self._log,
        )
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line.strip().isdigit():
            self.stop()
            raise RuntimeError(f"the {name} shop did not start: {log.read_text()[-2000:]}")
        self.port = int(line)

    def url(self, path: str = "/") -> str:
        return f"http://{self.name}.shop.test:{self.port}{path}"

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self._log.close()


@pytest.fixture(scope="module", params=["flask", "django"])
def shop(
    request: pytest.FixtureRequest,
    backlight: BacklightProcess,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Shop]:
    name: str = request.param
    running = Shop(name, backlight, tmp_path_factory.mktemp(f"shop-{name}") / "shop.log")
    yield running
    running.stop()


@pytest.fixture(scope="module")
def playwright() -> Iterator[Playwright]:
    """Per module, so that no Playwright event loop outlives these tests."""
    with sync_playwright() as p:
        yield p


@pytest.fixture(scope="module")
def browser(playwright: Playwright) -> Iterator[Browser]:
    b = playwright.chromium.launch(executable_path=testing.CHROMIUM, args=CHROMIUM_ARGS)
    yield b
    b.close()
