"""A short scripted browser session on the demo page (Debian Chromium via Playwright)."""

from __future__ import annotations

from typing import Any

from playwright.sync_api import sync_playwright

from backlight_server import testing
from backlight_server.testing import CHROMIUM

CHROMIUM_ARGS = [*testing.CHROMIUM_ARGS, "--disable-quic"]
BUTTONS = ["ok-fetch", "ok-xhr", "checkout", "stock", "job", "frontend", "partner", "thirdparty"]


def drive(page_url: str, pause_ms: int = 400) -> dict[str, Any]:
    """Open the page, click every button, let the SDK flush; return the session id."""
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(page_url)
        page.wait_for_function("() => window.H && H.getSessionId && H.getSessionId()")
        session_id = str(page.evaluate("() => H.getSessionId()"))
        page.fill("#email", "grace@example.com")
        for button in BUTTONS:
            page.click(f"#{button}")
            page.wait_for_timeout(pause_ms)
        page.wait_for_timeout(2500)
        page.close()  # pagehide: the SDK flushes what is left
        browser.close()
    return {"session_id": session_id, "page_errors": errors}
