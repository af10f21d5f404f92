"""Fixtures for the browser SDK tests: a real ``backlight serve``, Debian Chromium driven by
Playwright, and loopback HTTP servers playing the app and the APIs it calls.

Host names: Chromium maps ``*.shop.test``, ``*.partner.test``, ``*.thirdparty.test``,
``*.github.io`` and ``localhost`` to 127.0.0.1 (``--host-resolver-rules``), so the page can
call same-site, cross-site and third-party origins while every byte stays on loopback.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest
from playwright.sync_api import Browser, BrowserContext, Playwright, sync_playwright

from backlight_server import testing
from backlight_server.testing import BacklightProcess, wait_for

__all__ = ["wait_for"]

from .apps import AppServer

SDK = Path(__file__).resolve().parents[2] / "sdk" / "browser"
HOST_RULES = (
    "MAP *.shop.test 127.0.0.1, MAP *.partner.test 127.0.0.1, "
    "MAP *.thirdparty.test 127.0.0.1, MAP *.github.io 127.0.0.1, "
    "MAP localhost 127.0.0.1"
)
CHROMIUM_ARGS = [*testing.CHROMIUM_ARGS, "--disable-quic", f"--host-resolver-rules={HOST_RULES}"]

T = TypeVar("T")


def sdk_page(backlight: BacklightProcess, options_js: str, body: str = "", script: str = "") -> str:
    """A page that loads the SDK from the server, calls H.init, then runs ``script``."""
    return (
        '<!doctype html><html><head><meta charset="utf-8"><title>Backlight test</title>'
        f'<script src="{backlight.url}/sdk/backlight.js"></script>'
        f"<script>H.init({json.dumps(backlight.project)}, {options_js});</script>"
        f"</head><body>{body}<script>{script}</script></body></html>"
    )


def session_data(backlight: BacklightProcess, sid: str) -> dict[str, Any] | None:
    try:
        return backlight.api(f"/api/v1/sessions/{sid}")
    except httpx.HTTPStatusError:
        return None


@pytest.fixture(scope="session")
def sdk_dist() -> Path:
    """dist/ of the browser SDK, rebuilt when a source file is newer than the bundle."""
    bundle = SDK / "dist" / "backlight.js"
    sources = [*SDK.joinpath("src").rglob("*.ts"), SDK / "build.mjs", SDK / "package.json"]
    if not (SDK / "node_modules").is_dir():
        pytest.fail("sdk/browser/node_modules is missing: run scripts/setup.sh")
    if not bundle.exists() or max(p.stat().st_mtime for p in sources) > bundle.stat().st_mtime:
        subprocess.run(["node", "build.mjs"], cwd=SDK, check=True, capture_output=True)
    return SDK / "dist"


@pytest.fixture(scope="session")
def backlight(
    tmp_path_factory: pytest.TempPathFactory, sdk_dist: Path
) -> Iterator[BacklightProcess]:
    proc = BacklightProcess(
        tmp_path_factory.mktemp("backlight"), env={"BACKLIGHT_SDK_DIR": str(sdk_dist)}
    )
    with proc:
        yield proc


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


@pytest.fixture
def context(browser: Browser) -> Iterator[BrowserContext]:
    ctx = browser.new_context()
    yield ctx
    ctx.close()


class Sites:
    """The page's server and two APIs; ``page_url`` is on app.shop.test."""

    def __init__(self) -> None:
        self.app = AppServer("app").start()
        self.api = AppServer("api").start()
        self.third = AppServer("third").start()

    def page_url(self, path: str, host: str = "app.shop.test") -> str:
        return self.app.url(host, path)

    def close(self) -> None:
        for s in (self.app, self.api, self.third):
            s.stop()


@pytest.fixture(scope="session")
def sites() -> Iterator[Sites]:
    s = Sites()
    yield s
    s.close()
