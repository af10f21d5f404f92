"""Issue 22's bug list, each in Debian Chromium against a real ``backlight serve`` fed through
the public ingest endpoints (seed.py, plus the data of ``_more`` below). Screenshots of the
pages involved, at 1440 and 1024 px, go to artifacts/screenshots/."""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Page

from backlight_server.testing import BacklightProcess
from bltest import request_id, session_id, wait_for

from .conftest import ROOT, Ui, watched
from .seed import Seed, _network, _post, rrweb_page, seed

pytestmark = pytest.mark.browser

RED, BOLD, RESET = "\x1b[31m", "\x1b[1m", "\x1b[0m"
WIDTHS = (1440, 1024)


@dataclass
class More:
    sid_dur: str  # started 0.8 s before its replay, a request ending 0.8 s after it
    dur_ms: float  # that session's span: last_ms - started_ms
    ansi_console: str  # a console message sent with terminal colours
    ansi_error: str  # a frontend error message sent with terminal colours


@dataclass
class Seeded:
    seed: Seed
    more: More

    @property
    def server(self) -> BacklightProcess:
        return self.seed.server


def _more(server: BacklightProcess, t0: float) -> More:
    """A session whose span (8.8 s) is wider than its replay (7.2 s), with colour codes in a
    console message and an error message, and an error group with a long message."""
    sid = session_id()
    start = t0 - 800
    replay_end = t0 + 7_200
    events = [e for e in rrweb_page(t0, 60_000) if e["timestamp"] <= replay_end]
    events.append(
        {
            "type": 3,
            "timestamp": replay_end,
            "data": {"source": 1, "positions": [{"x": 5, "y": 5, "id": 9, "timeOffset": 0}]},
        }
    )
    word = "colours" + secrets.token_hex(3)
    _post(
        server,
        "/ingest/v1/session",
        {
            "v": 1,
            "project_id": server.project,
            "session_secure_id": sid,
            "started_at": start,
            "url": "http://shop.test/colours",
            "user_agent": "Mozilla/5.0 (UI test)",
            "sdk_version": "0.1.0",
        },
    )
    _post(
        server,
        "/ingest/v1/batch",
        {
            "v": 1,
            "project_id": server.project,
            "session_secure_id": sid,
            "seq": 0,
            "events": events,
            "network": [
                _network(
                    request_id(),
                    "GET",
                    "http://api.shop.test/api/slow",
                    200,
                    t0 + 6_000,
                    t0 + 8_000,
                )
            ],
            "console": [
                {
                    "ts": t0 + 1_000,
                    "level": "error",
                    "message": f"{BOLD}{RED}ERROR{RESET} {word} console",
                }
            ],
            "errors": [
                {
                    "ts": t0 + 1_500,
                    "type": "RangeError",
                    "message": f"{RED}{word} failed{RESET}",
                    "source": "onerror",
                    "url": "http://shop.test/colours",
                    "raw_stack": "RangeError: failed\n    at paint (http://shop.test/app.js:3:1)",
                },
                {
                    "ts": t0 + 1_600,
                    "type": "SyntaxErrorWithAQuiteLongNameFromABundler",
                    "message": "Unexpected token in JSON at position 4096 while parsing the "
                    "response of https://api.shop.test/api/v2/catalogue/items?page=17&size=200",
                    "source": "onerror",
                    "url": "http://shop.test/colours",
                    "raw_stack": "SyntaxError: x\n    at parse (http://shop.test/app.js:9:1)",
                },
            ],
        },
    )
    wait_for(lambda: server.api(f"/api/v1/sessions/{sid}")["errors"] or None)
    return More(
        sid_dur=sid,
        dur_ms=8_800,
        ansi_console=f"ERROR {word} console",
        ansi_error=f"{word} failed",
    )


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory, ui_assets: Path) -> Iterator[Seeded]:
    """Overrides conftest's ``seeded`` for this module (``ui`` logs in to this server)."""
    with BacklightProcess(tmp_path_factory.mktemp("backlight-ui-bugs")) as server:
        base = seed(server)
        yield Seeded(base, _more(server, base.t0))


def _clock(ms: float) -> str:
    total = int(ms // 1000)
    return f"{total // 60}:{total % 60:02d}"


def _shots(ui: Ui, path: str, ready: str, name: str) -> None:
    """Screenshots of ``path`` at each width (full page), with no console error."""

    def take() -> None:
        for width in WIDTHS:
            w = watched(ui)
            w.page.set_viewport_size({"width": width, "height": 900})
            w.page.goto(path)
            w.page.wait_for_selector(ready)
            w.page.wait_for_load_state("networkidle")
            w.shot(f"{name}-{width}")
            w.assert_clean(f"{name} at {width}")
            w.page.close()

    ui.run(take)


# 2 ---------------------------------------------------------------------------------------


def test_state_buttons_follow_the_state_without_a_reload(ui: Ui, seeded: Seeded) -> None:
    group = seeded.seed.backend_group

    def check() -> None:
        w = watched(ui)
        page = w.page
        page.goto("/errors")
        row = page.locator(f"tr[data-group-id='{group}']")

        def button(state: str) -> bool:
            return row.locator(f"button[data-set-state={state}]").is_visible()

        assert button("resolved") and button("ignored") and not button("open")
        row.locator("button[data-set-state=resolved]").click()
        row.locator(".state-resolved").wait_for()
        assert not button("resolved"), "Resolve still shown on a resolved group"
        assert button("ignored") and button("open"), "Reopen must appear without a reload"
        row.locator("button[data-set-state=open]").click()
        row.locator(".state-open").wait_for()
        assert button("resolved") and button("ignored") and not button("open")
        w.assert_clean("errors state actions")
        page.close()

    ui.run(check)
    assert seeded.server.api(f"/api/v1/error-groups/{group}")["group"]["state"] == "open"


# 3 ---------------------------------------------------------------------------------------


def test_log_links_are_separate_words(ui: Ui, seeded: Seeded) -> None:
    s = seeded.seed

    def check() -> None:
        page = watched(ui).page
        page.goto(f"/logs?q={s.log_word}")
        cell = page.locator("tr.log-row td").last
        assert cell.inner_text().split() == ["session", "request", "trace"], cell.inner_text()
        page.close()

    ui.run(check)
    _shots(ui, f"/logs?q={s.log_word}", "table.logs-table", "bugs-logs")


# 5 ---------------------------------------------------------------------------------------


def test_unknown_path_is_the_ui_not_found_page_for_browsers(ui: Ui, seeded: Seeded) -> None:
    url = seeded.server.url

    def check() -> None:
        w = watched(ui)
        page = w.page
        answer = page.goto("/nope")
        assert answer is not None and answer.status == 404
        assert page.inner_text("h1") == "Not found"
        assert "/nope" in page.inner_text("main")
        assert page.locator("header.top nav a[href='/sessions']").count() == 1
        w.shot("bugs-not-found")
        page.close()

    ui.run(check)
    html = {"accept": "text/html,application/xhtml+xml,*/*;q=0.8"}
    # machines keep JSON: no Accept: text/html, or an API / ingest path
    for path, headers in (
        ("/nope", {}),
        ("/nope", {"accept": "application/json"}),
        ("/api/v1/nope", html),
        ("/ingest/v1/nope", html),
        ("/sdk/nope.js", html),
    ):
        r = httpx.get(url + path, headers=headers)
        assert r.status_code == 404, path
        assert r.json()["error"] == "not_found", (path, r.text)


def test_unknown_trace_and_request_say_one_thing(ui: Ui, seeded: Seeded) -> None:
    missing = secrets.token_hex(16)

    def check() -> None:
        page = watched(ui).page
        for path in (f"/traces/{missing}", f"/requests/{missing}"):
            answer = page.goto(path)
            assert answer is not None and answer.status == 404
            text = page.inner_text("main")
            assert "No backend spans" not in text, (path, text)
            assert len(re.findall(r"[Nn]othing is recorded", text)) == 1, (path, text)
        page.close()

    ui.run(check)


# 6 ---------------------------------------------------------------------------------------


def test_setup_page_says_what_the_readme_says(ui: Ui, seeded: Seeded) -> None:
    readme = (ROOT / "README.md").read_text()
    found = re.search(
        r"Install the SDK with the extra of your framework: `(pip install [^`]+)`", readme
    )
    assert found, "README's Python set-up line moved"
    install = found.group(1)
    # the README's FastAPI snippet, with the project id and server URL left out
    fastapi = next(b for b in re.findall(r"```python\n(.*?)```", readme, re.S) if "FastAPI()" in b)
    init = re.compile(r'backlight\.init\("[^"]*", backend_url="[^"]*"')

    def check() -> None:
        page = watched(ui).page
        page.goto("/setup")
        assert page.inner_text("#snippet-install").strip() == install
        snippet = page.inner_text("#snippet-python")
        assert init.sub("INIT", snippet).strip() == init.sub("INIT", fastapi).strip()
        assert "app.wsgi_app = BacklightMiddleware(app.wsgi_app)" in page.inner_text("main")
        hint = page.inner_text(".cors-hint")
        for header in ("x-highlight-request", "traceparent", "baggage"):
            assert header in hint, hint
        page.close()

    ui.run(check)
    _shots(ui, "/setup", ".observed", "bugs-setup")


# 7 ---------------------------------------------------------------------------------------


def test_empty_filter_result_offers_to_clear_the_filters(ui: Ui, seeded: Seeded) -> None:
    def check() -> None:
        w = watched(ui)
        page = w.page
        page.goto("/sessions?user=nobody-" + secrets.token_hex(4))
        empty = page.inner_text("table.sessions-table tbody")
        assert "No session matches these filters" in empty, empty
        assert "Set up the browser SDK" not in empty
        w.shot("bugs-sessions-no-match")
        page.click("a.clear-filters")
        page.wait_for_url(re.compile(r"/sessions$"))
        assert page.locator("tr.session-row").count() >= 3
        page.close()

    ui.run(check)


# 8 ---------------------------------------------------------------------------------------


def test_header_and_player_show_one_duration(ui: Ui, seeded: Seeded) -> None:
    m = seeded.more
    want = _clock(m.dur_ms)  # 8.8 s: from the session's start to its last request's end

    def check() -> None:
        w = watched(ui)
        page = w.page
        page.goto("/sessions")
        row = page.locator("tr.session-row", has=page.locator(f"a[href='/sessions/{m.sid_dur}']"))
        assert row.locator("td").nth(2).inner_text() == want
        page.goto(f"/sessions/{m.sid_dur}")
        page.wait_for_selector("#session[data-state=ready]")
        header = page.inner_text("#session-duration")
        total = page.inner_text("#clock").split("/")[1].strip()
        assert header == total == want, (header, total, want)
        assert page.get_attribute("#seek", "max") == str(int(m.dur_ms))
        # played to its end, the clock stops at that same total (the replay itself ends 0.8 s
        # earlier: the last request was still in flight)
        page.select_option("#speed", "8")
        page.click("#play")
        page.wait_for_selector("#session[data-playing=true]")
        page.wait_for_selector("#session[data-playing=false]")
        assert page.inner_text("#clock") == f"{want} / {want}"
        assert page.get_attribute("#session", "data-offset-ms") == str(int(m.dur_ms))
        w.assert_clean("session with a replay inside its span")
        page.close()

    ui.run(check)


# 9 ---------------------------------------------------------------------------------------


def _center_x(page: Page, selector: str) -> float:
    box = page.locator(selector).bounding_box()
    assert box is not None, selector
    return box["x"] + box["width"] / 2


def test_seek_bar_thumb_and_playhead_line_up(ui: Ui, seeded: Seeded) -> None:
    s = seeded.seed

    def check() -> None:
        w = watched(ui)
        page = w.page
        for width in WIDTHS:
            page.set_viewport_size({"width": width, "height": 900})
            page.goto(f"/sessions/{s.sid}")
            page.wait_for_selector("#session[data-state=ready]")
            seek = page.locator("#seek").bounding_box()
            lane = page.locator("[data-lane=network] .lane-track").bounding_box()
            assert seek is not None and lane is not None
            for at in (0.1, 0.5, 0.9):
                # a click on the slider puts its thumb's centre under the pointer...
                x = lane["x"] + at * lane["width"]
                page.mouse.click(x, seek["y"] + seek["height"] / 2)
                # ...and the playhead stands there, over the same moment of every lane
                assert abs(_center_x(page, "#playhead") - x) <= 2, (width, at)
            w.shot(f"bugs-session-{width}")
        w.assert_clean("seek bar")
        page.close()

    ui.run(check)


# 11 --------------------------------------------------------------------------------------


def test_terminal_colour_codes_never_reach_the_page(ui: Ui, seeded: Seeded) -> None:
    m = seeded.more
    groups = seeded.server.api("/api/v1/error-groups?limit=100")["groups"]
    group = next(g["id"] for g in groups if g["type"] == "RangeError")

    def clean(text: str, where: str) -> None:
        assert "\x1b" not in text and "[31m" not in text and "[0m" not in text, (where, text)

    def check() -> None:
        page = watched(ui).page
        page.goto(f"/sessions/{m.sid_dur}")
        page.wait_for_selector("#session[data-state=ready]")
        page.click("[data-tab=console]")
        console = page.inner_text("#list-console")
        assert m.ansi_console in console, console
        clean(console, "session console")
        page.click("[data-tab=errors]")
        errors = page.inner_text("#list-errors")
        assert m.ansi_error in errors, errors
        clean(errors, "session errors")
        page.goto("/errors")
        row = page.locator(f"tr[data-group-id='{group}']")
        assert m.ansi_error in row.inner_text()
        clean(row.inner_text() + (row.locator(".msg").get_attribute("title") or ""), "/errors")
        page.goto(f"/errors/{group}")
        assert m.ansi_error in page.inner_text("main")
        clean(page.inner_text("main"), "error group page")
        page.close()

    ui.run(check)


# 12 --------------------------------------------------------------------------------------


def test_errors_table_fits_1024_px_with_its_buttons(ui: Ui, seeded: Seeded) -> None:
    def check() -> None:
        w = watched(ui)
        page = w.page
        page.set_viewport_size({"width": 1024, "height": 800})
        page.goto("/errors")
        rows = page.locator("tr.group-row")
        assert rows.count() >= 4
        for i in range(rows.count()):
            for name in ("resolved", "ignored"):
                box = rows.nth(i).locator(f"button[data-set-state={name}]").bounding_box()
                assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= 1024, (
                    i,
                    name,
                    box,
                )
        width = page.evaluate("() => document.documentElement.scrollWidth")
        assert width <= 1024, width
        page.close()

    ui.run(check)
    _shots(ui, "/errors", "table.errors-table", "bugs-errors")
