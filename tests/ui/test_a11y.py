"""Every UI page, light and dark, with data loaded (seed.py), in Debian Chromium against a
real ``backlight serve``: axe-core (npm, pinned in server/ui/package.json) finds no critical
or serious WCAG 2.1 A/AA violation; at 1024 px nothing scrolls sideways. Screenshots of
each page, light and dark, at 1440 and 1024 px go to artifacts/screenshots/."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from playwright.sync_api import Page

from .conftest import SHOTS, UI_SRC, Ui, watched
from .seed import Seed

pytestmark = pytest.mark.browser

AXE = UI_SRC / "node_modules" / "axe-core" / "axe.min.js"
WCAG21_AA = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
SCHEMES = ("light", "dark")
WIDTHS = (1440, 1024)


@dataclass(frozen=True)
class Target:
    path: str
    ready: str  # a selector that exists once the page has its data on screen
    logged_in: bool = True


def targets(s: Seed, rule_id: str) -> dict[str, Target]:
    return {
        "sessions": Target("/sessions", "table.sessions-table"),
        "session": Target(f"/sessions/{s.sid}", "#session[data-state=ready]"),
        "session-request": Target(
            f"/sessions/{s.sid}?t={int(s.error_ms)}&request={s.r_fail}",
            f"#request-panel .request-view[data-request-id='{s.r_fail}']",
        ),
        "errors": Target("/errors", "table.errors-table"),
        "error-group": Target(f"/errors/{s.backend_group}", "#play-at-error"),
        "error-group-frontend": Target(f"/errors/{s.frontend_group}", "ol.stack"),
        "logs": Target("/logs", "table.logs-table"),
        "traces": Target("/traces", "main h1"),
        "trace": Target(f"/traces/{s.r_fail}", ".waterfall"),
        "request": Target(f"/requests/{s.r_fail}", ".request-view"),
        "alerts": Target("/alerts", "table.alert-rules"),
        "alert-form": Target(f"/alerts/rules/{rule_id}", "form.rule-form"),
        "alert-new": Target("/alerts/new", "form.rule-form"),
        "setup": Target("/setup", ".observed"),
        "login": Target("/login", "input[name=token]", logged_in=False),
        "not-found": Target("/nope", "main h1"),
    }


PAGES = [
    "sessions",
    "session",
    "session-request",
    "errors",
    "error-group",
    "error-group-frontend",
    "logs",
    "traces",
    "trace",
    "request",
    "alerts",
    "alert-form",
    "alert-new",
    "setup",
    "login",
    "not-found",
]


@pytest.fixture(scope="module")
def rule_id(seeded: Seed) -> str:
    """One alert rule, so the Alerts pages have a row and a filled-in form."""
    server = seeded.server
    body = {
        "name": "Checkout errors",
        "trigger": {"kind": "new_group"},
        "channels": [{"kind": "webhook", "url": "http://127.0.0.1:9/hook", "secret": "s" * 32}],
    }
    headers = {"Authorization": f"Bearer {server.token}"}
    made = httpx.post(f"{server.url}/api/v1/alert-rules", json=body, headers=headers, timeout=30)
    assert made.status_code < 300, made.text
    return str(made.json()["id"])


def axe_violations(page: Page) -> list[dict[str, Any]]:
    """axe-core's WCAG 2.1 A/AA violations of impact serious or critical. The source goes
    in through the DevTools protocol (``evaluate``), which the page's CSP does not govern."""
    page.evaluate(AXE.read_text("utf-8") + "\n;undefined")
    result: dict[str, Any] = page.evaluate(
        "async (tags) => await axe.run(document, {runOnly: {type: 'tag', values: tags},"
        " resultTypes: ['violations']})",
        WCAG21_AA,
    )
    return [v for v in result["violations"] if v["impact"] in ("serious", "critical")]


def describe(violations: list[dict[str, Any]]) -> str:
    lines = []
    for v in violations:
        lines.append(f"{v['impact']} {v['id']}: {v['help']}")
        for node in v["nodes"][:6]:
            lines.append(f"    {node['target']}: {node.get('failureSummary', '')[:300]!r}")
    return "\n".join(lines)


def open_page(ui: Ui, target: Target, scheme: str) -> tuple[Any, Page]:
    if target.logged_in:
        w = watched(ui)
        page = w.page
    else:
        context = ui.new_context()
        page = context.new_page()
        w = None
    page.emulate_media(color_scheme=scheme)  # type: ignore[arg-type]
    page.set_viewport_size({"width": WIDTHS[0], "height": 900})
    page.goto(target.path)
    page.wait_for_selector(target.ready)
    page.wait_for_load_state("networkidle")
    return w, page


@pytest.mark.parametrize("scheme", SCHEMES)
@pytest.mark.parametrize("name", PAGES)
def test_page_has_no_serious_wcag_violations_and_fits_1024(
    ui: Ui, seeded: Seed, rule_id: str, name: str, scheme: str
) -> None:
    target = targets(seeded, rule_id)[name]

    def check() -> None:
        w, page = open_page(ui, target, scheme)
        try:
            found = axe_violations(page)
            assert not found, f"{name} ({scheme}):\n{describe(found)}"
            SHOTS.mkdir(parents=True, exist_ok=True)
            for width in WIDTHS:
                page.set_viewport_size({"width": width, "height": 900})
                page.wait_for_timeout(50)  # one frame for the layout (no timing is asserted)
                page.screenshot(path=str(SHOTS / f"{name}-{scheme}-{width}.png"), full_page=True)
                overflow = page.evaluate(
                    "() => [document.documentElement.scrollWidth, window.innerWidth]"
                )
                assert overflow[0] <= overflow[1], f"{name} at {width}px scrolls sideways"
            if w is not None and name != "not-found":  # its own 404 is logged by Chromium
                w.assert_clean(name)
        finally:
            page.context.close() if w is None else page.close()

    ui.run(check)
