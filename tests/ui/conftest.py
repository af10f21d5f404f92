"""UI test fixtures: the built assets, a real ``backlight serve`` seeded through the public
ingest endpoints, and Debian Chromium (Playwright) on a thread of its own.

Playwright's sync API refuses to start twice on one thread, and other test folders keep a
session-wide instance on the main thread; so the browser here lives on a dedicated thread
and each test hands it a function (``ui.run(fn)``) — assertion errors come back intact.
"""

from __future__ import annotations

import subprocess
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, Playwright, sync_playwright

from backlight_server.testing import CHROMIUM, CHROMIUM_ARGS, BacklightProcess

from .seed import Seed, seed

ROOT = Path(__file__).resolve().parents[2]
UI_SRC = ROOT / "server" / "ui"
BUILD = ROOT / "server" / "src" / "backlight_server" / "ui" / "static" / "build"
SHOTS = ROOT / "artifacts" / "screenshots"
T = TypeVar("T")


@pytest.fixture(scope="session")
def ui_assets() -> Path:
    """The esbuild output, rebuilt when a source is newer (setup.sh builds it normally)."""
    sources = [*UI_SRC.joinpath("src").rglob("*"), UI_SRC / "build.mjs", UI_SRC / "package.json"]
    bundle = BUILD / "manifest.json"  # written last by build.mjs
    if not (UI_SRC / "node_modules").is_dir():
        pytest.fail("server/ui/node_modules is missing: run scripts/setup.sh")
    if not bundle.exists() or max(p.stat().st_mtime for p in sources) > bundle.stat().st_mtime:
        subprocess.run(
            ["npm", "run", "--silent", "build"], cwd=UI_SRC, check=True, capture_output=True
        )
    return BUILD


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory, ui_assets: Path) -> Iterator[Seed]:
    with BacklightProcess(tmp_path_factory.mktemp("backlight-ui")) as server:
        yield seed(server)


class Ui:
    """A browser on its own thread, and a context logged in through the real login form."""

    def __init__(self, base_url: str, token: str) -> None:
        self.base_url, self.token = base_url, token
        self._pool = ThreadPoolExecutor(1, thread_name_prefix="playwright")
        self._pw: Playwright | None = None
        self._browser: Browser | None = None
        self.context: BrowserContext | None = None
        self.run(lambda: self._start())

    def _start(self) -> None:
        self._pw = sync_playwright().start()
        self._browser = self._pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        self.context = self.new_context()
        page = self.context.new_page()
        page.goto(self.base_url + "/login")
        page.fill("input[name=token]", self.token)
        page.click("button[type=submit]")
        page.wait_for_url("**/sessions")
        page.close()

    def new_context(self, **options: Any) -> BrowserContext:
        assert self._browser is not None
        ctx = self._browser.new_context(
            base_url=self.base_url, viewport={"width": 1400, "height": 1000}, **options
        )
        ctx.set_default_timeout(20_000)
        return ctx

    def run(self, fn: Callable[[], T], timeout: float = 120) -> T:
        return self._pool.submit(fn).result(timeout)

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
def ui(seeded: Seed) -> Iterator[Ui]:
    browser = Ui(seeded.server.url, seeded.server.token)
    yield browser
    browser.close()


class Watched:
    """A page whose console errors and uncaught exceptions are collected."""

    def __init__(self, page: Page) -> None:
        self.page = page
        self.problems: list[str] = []
        page.on(
            "console",
            lambda m: (
                self.problems.append(f"console.{m.type}: {m.text}") if m.type == "error" else None
            ),
        )
        page.on("pageerror", lambda e: self.problems.append(f"pageerror: {e}"))

    def shot(self, name: str) -> None:
        SHOTS.mkdir(parents=True, exist_ok=True)
        self.page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)

    def assert_clean(self, where: str) -> None:
        assert not self.problems, f"{where}: {self.problems}"


def watched(ui: Ui) -> Watched:
    assert ui.context is not None
    return Watched(ui.context.new_page())


def current_ms(page: Page) -> float:
    value: Any = page.get_attribute("#session", "data-current-ms")
    return float(value)
