"""Empty list pages say what is empty and what to do next, the same way on every list
(templates/_empty.html), on a fresh ``backlight serve`` with nothing recorded and, for
filters that match nothing, on the seeded one. The next step's link leads somewhere real."""

from __future__ import annotations

import secrets
from collections.abc import Iterator

import pytest

from backlight_server.testing import BacklightProcess

from .conftest import SHOTS, Ui
from .seed import Seed

pytestmark = pytest.mark.browser

# page, the empty title, the next step's words, where its link goes
FRESH = [
    ("/sessions", "No session recorded yet.", "Set up the browser SDK", "/setup"),
    ("/errors", "No error recorded yet.", "set them up", "/setup"),
    ("/errors?state=resolved", "No error recorded yet.", "set them up", "/setup"),
    ("/logs", "No log recorded yet.", "see Setup", "/setup"),
    ("/alerts", "No alert rules yet.", "Make one", "/alerts/new"),
]


@pytest.fixture(scope="module")
def fresh(tmp_path_factory: pytest.TempPathFactory, ui_assets: object) -> Iterator[Ui]:
    with BacklightProcess(tmp_path_factory.mktemp("backlight-empty")) as server:
        browser = Ui(server.url, server.token)
        try:
            yield browser
        finally:
            browser.close()


def _check(ui: Ui, cases: list[tuple[str, str, str, str]], shot: str) -> None:
    def run() -> None:
        assert ui.context is not None
        page = ui.context.new_page()
        try:
            for path, title, words, target in cases:
                for scheme in ("light", "dark"):
                    page.emulate_media(color_scheme=scheme)
                    page.goto(path)
                    row = page.locator("tr.empty-row").first
                    assert row.locator(".empty-title").inner_text() == title, path
                    link = row.locator(".empty-next a", has_text=words)
                    assert link.count() == 1, (path, row.inner_text())
                    name = path.strip("/").replace("?", "-").replace("=", "-")
                    page.screenshot(path=str(SHOTS / f"empty-{shot}-{name}-{scheme}.png"))
                link.click()
                page.wait_for_url(f"**{target}")
                assert page.locator("main h1").count() == 1
        finally:
            page.close()

    SHOTS.mkdir(parents=True, exist_ok=True)
    ui.run(run)


def test_fresh_server_lists_say_what_to_do_next(fresh: Ui) -> None:
    _check(fresh, FRESH, "fresh")


def test_filters_that_match_nothing_offer_to_clear_them(ui: Ui, seeded: Seed) -> None:
    nobody = "nobody-" + secrets.token_hex(4)
    cases = [
        (f"/sessions?user={nobody}", "No session matches these filters.", "Clear", "/sessions"),
        (f"/logs?q={nobody}", "No log matches these filters.", "Clear", "/logs"),
        (
            "/errors?state=ignored",
            "No ignored error groups.",
            "Show every group",
            "/errors?state=all",
        ),
    ]
    _check(ui, cases, "filtered")
