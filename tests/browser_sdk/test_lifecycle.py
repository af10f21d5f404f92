"""Session lifecycle and transport in Chromium against a real server: reload resumes,
a duplicated tab gets its own session, pagehide flushes, a server outage loses nothing
and duplicates nothing, and no internal error reaches the page."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import BrowserContext, Page

from backlight_server.testing import BacklightProcess, free_port

from .conftest import Sites, sdk_page, session_data, wait_for

pytestmark = pytest.mark.browser


def _messages(backlight: BacklightProcess, sid: str) -> list[str]:
    data = session_data(backlight, sid)
    return [c["message"] for c in data["console"]] if data else []


def _open(
    context: BrowserContext,
    sites: Sites,
    backlight: BacklightProcess,
    path: str,
    options: str = "{}",
    script: str = "",
) -> Page:
    sites.app.pages[path] = sdk_page(backlight, options, "<p>page</p>", script)
    page = context.new_page()
    page.goto(sites.page_url(path))
    return page


def test_reload_resumes_and_a_duplicated_tab_gets_its_own_session(
    context: BrowserContext, sites: Sites, backlight: BacklightProcess
) -> None:
    page = _open(context, sites, backlight, "/life")
    sid = page.evaluate("H.getSessionId()")
    page.evaluate("console.log('before reload')")
    wait_for(lambda: "before reload" in _messages(backlight, sid), "the first page's batch")
    page.reload()
    assert page.evaluate("H.getSessionId()") == sid
    # the reloaded page continues the sequence: its batches are not taken for duplicates
    page.evaluate("console.log('after reload')")
    wait_for(lambda: "after reload" in _messages(backlight, sid), "the reloaded page's batch")

    # Duplicating a tab copies its sessionStorage while the original page is alive.
    storage = page.evaluate("JSON.stringify(Object.entries(sessionStorage))")
    dup = context.new_page()
    dup.add_init_script(
        f"if (!sessionStorage.length) for (const [k, v] of {storage}) sessionStorage.setItem(k, v);"
    )
    dup.goto(sites.page_url("/life"))
    dup_sid = dup.evaluate("H.getSessionId()")
    assert dup_sid != sid
    dup.evaluate("console.log('from the duplicate')")
    wait_for(lambda: "from the duplicate" in _messages(backlight, dup_sid), "the duplicate's batch")
    # ... and both tabs keep their own session over reloads
    dup.reload()
    assert dup.evaluate("H.getSessionId()") == dup_sid
    page.reload()
    assert page.evaluate("H.getSessionId()") == sid
    assert "from the duplicate" not in _messages(backlight, sid)

    # A new tab (no copied storage) starts its own session.
    other = context.new_page()
    other.goto(sites.page_url("/life"))
    assert other.evaluate("H.getSessionId()") not in (sid, dup_sid)


def test_a_copy_made_by_the_browser_is_detected(
    context: BrowserContext, sites: Sites, backlight: BacklightProcess
) -> None:
    """window.open copies sessionStorage in Chromium, as duplicating a tab does."""
    context.add_init_script(
        f"window.__copied = sessionStorage.getItem('backlight_{backlight.project}')"
    )
    page = _open(context, sites, backlight, "/copied")
    sid = page.evaluate("H.getSessionId()")
    with context.expect_page() as opened:
        page.evaluate("window.open(location.href)")
    popup = opened.value
    popup.wait_for_load_state()
    copied = json.loads(popup.evaluate("window.__copied"))
    assert copied["id"] == sid and copied["open"] is True  # the browser copied a live state
    popup_sid = popup.evaluate("H.getSessionId()")
    assert popup_sid != sid
    popup.evaluate("console.log('from the popup')")
    wait_for(lambda: "from the popup" in _messages(backlight, popup_sid), "the popup's batch")
    assert "from the popup" not in _messages(backlight, sid)


def test_pagehide_flushes_what_is_buffered(
    context: BrowserContext, sites: Sites, backlight: BacklightProcess
) -> None:
    sites.app.pages["/elsewhere"] = "<!doctype html><p>another site</p>"
    page = _open(context, sites, backlight, "/leaving")
    sid = page.evaluate("H.getSessionId()")
    wait_for(lambda: session_data(backlight, sid), "the session start")
    # Log and leave for another site in the same task: only the pagehide flush can send it.
    away = sites.page_url("/elsewhere", host="www.partner.test")
    page.evaluate(f"console.warn('last words'); location.href = {json.dumps(away)};")
    page.wait_for_url(away)
    wait_for(lambda: "last words" in _messages(backlight, sid), "the pagehide flush")


def test_server_outage_loses_nothing_and_duplicates_nothing(
    context: BrowserContext, sites: Sites, tmp_path: Path, sdk_dist: Path
) -> None:
    port = free_port()
    env = {"BACKLIGHT_SDK_DIR": str(sdk_dist)}
    server = BacklightProcess(tmp_path / "data", port=port, env=env).start()
    try:
        page = _open(context, sites, server, "/outage")
        sid = page.evaluate("H.getSessionId()")
        page.evaluate("for (let i = 0; i < 5; i++) console.log('up-' + i)")
        wait_for(lambda: "up-4" in _messages(server, sid), "the messages sent while up")
        server.stop()

        # While the server is down: more data, sent in several batches that fail and wait.
        for i in range(5):
            page.evaluate(f"console.log('down-{i}'); document.body.append('mutation {i}')")
            page.wait_for_timeout(600)
        server = BacklightProcess(tmp_path / "data", port=port, env=env).start()

        expected = [f"up-{i}" for i in range(5)] + [f"down-{i}" for i in range(5)]
        wait_for(lambda: "down-4" in _messages(server, sid), "the queued batches", timeout=60)
        page.evaluate("console.log('after')")
        wait_for(lambda: "after" in _messages(server, sid), "a batch after the outage")
        got = [m for m in _messages(server, sid) if m != "after"]
        assert sorted(got) == sorted(expected), got

        replay: list[dict[str, Any]] = server.api(f"/api/v1/sessions/{sid}/replay")["events"]
        keys = [json.dumps(e, sort_keys=True) for e in replay]
        assert len(keys) == len(set(keys)), "no replay event is stored twice"
        for i in range(5):
            assert f"mutation {i}" in str(replay)
        session: dict[str, Any] = server.api(f"/api/v1/sessions/{sid}")["session"]
        assert session["event_count"] == len(replay)
        assert session["dropped_events"] == 0
    finally:
        server.stop()


def test_internal_errors_never_reach_the_page(
    context: BrowserContext, sites: Sites, backlight: BacklightProcess
) -> None:
    closed = f"http://127.0.0.1:{free_port()}"
    options = (
        f"{{backendUrl: {json.dumps(closed)}, debug: true,"
        " tracingOrigins: [null, 5, 'api.shop.test'],"
        " networkRecording: {recordHeadersAndBody: true, bodySizeLimit: -1,"
        " requestResponseSanitizer: () => { throw new Error('sanitizer bug'); }}}"
    )
    api = sites.api.url("api.shop.test")
    script = """
      window.done = (async () => {
        const cyclic = {}; cyclic.self = cyclic;
        H.track('cyclic', cyclic);
        H.identify(undefined, cyclic);
        H.consumeError('not an Error object', 'custom', cyclic);
        H.consumeError(null);
        H.init('again', {});
        const r = await fetch(API + '/echo');
        return [r.status, (await r.json()).headers['x-highlight-request'] !== undefined];
      })();
    """
    sites.app.pages["/guarded"] = sdk_page(backlight, options, "", f"const API = '{api}';" + script)
    page = context.new_page()
    page_errors: list[str] = []
    logs: list[str] = []
    page.on("pageerror", lambda e: page_errors.append(str(e)))
    page.on("console", lambda m: logs.append(m.text))
    page.goto(sites.page_url("/guarded"))
    assert page.evaluate("window.done") == [200, True]
    page.wait_for_timeout(1500)  # let an upload to the closed backend fail
    assert page_errors == []
    assert any(line.startswith("[backlight]") for line in logs), logs
    assert page.evaluate("H.getSessionURL()").startswith(closed + "/sessions/")


def test_stop_and_start(context: BrowserContext, sites: Sites, backlight: BacklightProcess) -> None:
    api = sites.api.url("api.shop.test")
    page = _open(context, sites, backlight, "/stopstart", "{tracingOrigins: true}")
    sid = page.evaluate("H.getSessionId()")
    call = f"fetch('{api}/echo').then(r => r.json()).then(j => j.headers['x-highlight-request'])"
    assert page.evaluate(call).startswith(sid + "/")
    # highlight.run's helpers that apps call
    assert page.evaluate("new Promise((r) => H.onHighlightReady(() => r('ready')))") == "ready"
    details = page.evaluate("H.getSessionDetails()")
    assert details["sessionSecureID"] == sid
    assert details["url"] == f"{backlight.url}/sessions/{sid}"
    assert page.evaluate("H.getRecordingState()") == "Recording"
    page.evaluate("H.stop(); console.log('while stopped')")
    assert page.evaluate("H.getRecordingState()") == "NotRecording"
    assert page.evaluate(call) is None
    page.evaluate("H.start(); console.log('started again')")
    assert page.evaluate(call).startswith(sid + "/")
    wait_for(lambda: "started again" in _messages(backlight, sid), "the restarted recording")
    assert "while stopped" not in _messages(backlight, sid)
