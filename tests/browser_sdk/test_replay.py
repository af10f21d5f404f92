"""Replay events recorded in Chromium rebuild the page in rrweb's Replayer, with inputs
masked by default and all text masked in strict mode."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import BrowserContext

from backlight_server.testing import BacklightProcess

from .conftest import Sites, sdk_page, wait_for

pytestmark = pytest.mark.browser

BODY = (
    '<h1 id="title">Replay me</h1><p>Visible text</p>'
    '<input id="name" type="text"><input id="pw" type="password">'
)
MUTATE = """
document.getElementById('name').addEventListener('change', () => {
  const d = document.createElement('div');
  d.id = 'later';
  d.textContent = 'added later';
  document.body.appendChild(d);
});
"""

REBUILD = """
(events) => {
  const root = document.getElementById('root');
  const r = new rrweb.Replayer(events, {root, mouseTail: false, showWarning: false});
  r.pause(events[events.length - 1].timestamp - events[0].timestamp + 1);
  const doc = r.iframe.contentDocument;
  const text = (sel) => doc.querySelector(sel) && doc.querySelector(sel).textContent;
  return {
    title: text('#title'), later: text('#later'), p: text('p'),
    name: doc.getElementById('name').value, pw: doc.getElementById('pw').value,
  };
}
"""


def _record(
    context: BrowserContext, sites: Sites, backlight: BacklightProcess, path: str, options: str
) -> tuple[list[dict[str, Any]], Any]:
    sites.app.pages[path] = sdk_page(backlight, options, BODY, MUTATE)
    page = context.new_page()
    page.goto(sites.page_url(path))
    page.fill("#name", "secret-typed")
    page.fill("#pw", "hunter2")
    page.press("#name", "Tab")
    page.wait_for_selector("#later")
    sid = page.evaluate("H.getSessionId()")

    def replay() -> list[dict[str, Any]] | None:
        events: list[dict[str, Any]] = backlight.api(f"/api/v1/sessions/{sid}/replay")["events"]
        has_snapshot = any(e["type"] == 2 for e in events)
        mutated = "'id': 'later'" in str(events)
        return events if has_snapshot and mutated else None

    events = wait_for(replay, "the full snapshot and the mutation in the replay")
    sites.app.pages["/replayer"] = (
        '<!doctype html><html><body><div id="root"></div>'
        '<script src="/rrweb.js"></script></body></html>'
    )
    viewer = context.new_page()
    viewer.goto(sites.page_url("/replayer"))
    return events, viewer.evaluate(REBUILD, events)


def test_replay_rebuilds_the_page_with_inputs_masked(
    context: BrowserContext, sites: Sites, backlight: BacklightProcess
) -> None:
    events, dom = _record(context, sites, backlight, "/replay", "{}")
    types = [e["type"] for e in events]
    assert types.index(4) < types.index(2)  # Meta, then the full snapshot
    assert dom["title"] == "Replay me"
    assert dom["p"] == "Visible text"
    assert dom["later"] == "added later"
    assert dom["name"] == "*" * len("secret-typed")
    assert dom["pw"] == "*" * len("hunter2")
    assert "secret-typed" not in str(events) and "hunter2" not in str(events)


def test_strict_privacy_masks_all_text(
    context: BrowserContext, sites: Sites, backlight: BacklightProcess
) -> None:
    events, dom = _record(context, sites, backlight, "/strict", "{privacySetting: 'strict'}")
    assert dom["title"] == "****** **"  # rrweb keeps whitespace
    assert dom["later"] == "***** *****"
    assert "Replay me" not in str(events) and "Visible text" not in str(events)
    assert "secret-typed" not in str(events)


def test_privacy_none_records_inputs_but_never_passwords(
    context: BrowserContext, sites: Sites, backlight: BacklightProcess
) -> None:
    _, dom = _record(context, sites, backlight, "/none", "{privacySetting: 'none'}")
    assert dom["name"] == "secret-typed"
    assert dom["pw"] == "*" * len("hunter2")
