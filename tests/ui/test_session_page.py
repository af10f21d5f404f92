"""Issue 22, the session page, in Debian Chromium against a real ``backlight serve`` fed
through the public ingest endpoints (seed.py, plus the sessions of ``_more`` below): the
request drawer beside the player, list filters and search, the timeline's axis, lanes and
error navigation, the session's context, the player's keys, keyboard-only navigation, the
lists drawn before the replay downloads, and bugs 1 and 10; issue 24, a request only the
backend saw ("seen by the server") among the network rows. Screenshots at 1440 and 1024 px
go to artifacts/screenshots/."""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import pytest
from opentelemetry import trace
from opentelemetry.trace import NonRecordingSpan, SpanContext, SpanKind, TraceFlags
from playwright.sync_api import Page, Route, expect

from backlight_server.testing import BacklightProcess
from bltest import request_id, session_id, wait_for

from .conftest import Ui, current_ms, watched
from .seed import MS, Seed, _network, _otel, _post, rrweb_page, seed
from .test_a11y import axe_violations, describe

pytestmark = pytest.mark.browser

UA = (
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/126.0.0.0 Safari/537.36"
)
MANY, FAILING_AT = 300, 217
LONG_URL = "https://api.shop.test/" + "v2/catalogue/" * 8 + "items/8812?expand=prices&page=3"


@dataclass
class More:
    sid_many: str  # MANY requests, one of them (FAILING_AT) answered 500
    r_failing: str
    failing_path: str
    sid_rich: str  # Chrome on macOS, identify metadata, track events, 2 pages, a rage click
    rich_t0: float


@dataclass
class Seeded:
    seed: Seed
    more: More

    @property
    def server(self) -> BacklightProcess:
        return self.seed.server


def _start(server: BacklightProcess, sid: str, t0: float, ua: str) -> None:
    _post(
        server,
        "/ingest/v1/session",
        {
            "v": 1,
            "project_id": server.project,
            "session_secure_id": sid,
            "started_at": t0,
            "url": "http://shop.test/cart",
            "user_agent": ua,
            "sdk_version": "0.1.0",
            "environment": "test",
        },
    )


def _click(at: float, x: int, y: int) -> dict[str, Any]:
    return {"type": 3, "timestamp": at, "data": {"source": 2, "type": 2, "id": 14, "x": x, "y": y}}


def _more(server: BacklightProcess, t0: float) -> More:
    sid_many, ids = session_id(), [request_id() for _ in range(MANY)]
    failing_path = "/api/orders/7f3a/confirm"
    _start(server, sid_many, t0, UA)
    network = [
        _network(
            r,
            "POST" if i % 50 == 7 else "GET",
            f"http://api.shop.test/api/items/{i}" if i != FAILING_AT else LONG_URL,
            200,
            t0 + 100 + i * 150,
            t0 + 150 + i * 150,
        )
        for i, r in enumerate(ids)
    ]
    network[FAILING_AT] = _network(
        ids[FAILING_AT],
        "PUT",
        "http://api.shop.test" + failing_path,
        500,
        t0 + 100 + FAILING_AT * 150,
        t0 + 180 + FAILING_AT * 150,
    )
    network[FAILING_AT + 1]["url"] = LONG_URL
    _post(
        server,
        "/ingest/v1/batch",
        {
            "v": 1,
            "project_id": server.project,
            "session_secure_id": sid_many,
            "seq": 0,
            "events": rrweb_page(t0, 50_000),
            "network": network,
        },
    )

    sid_rich, rich_t0 = session_id(), t0 + 1_000
    _start(server, sid_rich, rich_t0, UA)
    events = rrweb_page(rich_t0, 40_000)
    events += [_click(rich_t0 + 10_000 + k * 150, 200, 300) for k in range(4)]  # rage
    second = [dict(e) for e in rrweb_page(rich_t0 + 30_000, 100)[:2]]
    second[0]["data"] = {**second[0]["data"], "href": "http://shop.test/receipt"}
    events += second
    _post(
        server,
        "/ingest/v1/batch",
        {
            "v": 1,
            "project_id": server.project,
            "session_secure_id": sid_rich,
            "seq": 0,
            "events": sorted(events, key=lambda e: float(e["timestamp"])),
            "track": [
                {
                    "ts": rich_t0 + 12_000,
                    "event": "checkout_started",
                    "properties": {"cart_items": 2},
                }
            ],
            "identify": {
                "ts": rich_t0 + 500,
                "identifier": "grace@example.com",
                "metadata": {"plan": "enterprise", "company": "Hopper & Co"},
            },
        },
    )
    wait_for(lambda: server.api(f"/api/v1/sessions/{sid_rich}")["track"] or None)
    return More(sid_many, ids[FAILING_AT], failing_path, sid_rich, rich_t0)


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory, ui_assets: Path) -> Iterator[Seeded]:
    """Overrides conftest's ``seeded`` for this module (``ui`` logs in to this server)."""
    with BacklightProcess(tmp_path_factory.mktemp("backlight-ui-session")) as server:
        base = seed(server)
        yield Seeded(base, _more(server, base.t0))


def _open(page: Page, sid: str, width: int = 1440, query: str = "") -> None:
    page.set_viewport_size({"width": width, "height": 900})
    page.goto(f"/sessions/{sid}{query}")
    page.wait_for_selector("#session[data-state=ready]")


def _box(page: Page, selector: str) -> dict[str, float]:
    box = page.locator(selector).first.bounding_box()
    assert box is not None, selector
    return {"x": box["x"], "y": box["y"], "width": box["width"], "height": box["height"]}


def _clock(ms: float) -> str:
    total = int(ms // 1000)
    return f"{total // 60}:{total % 60:02d}"


# bugs ------------------------------------------------------------------------------------


def test_bug1_the_drawer_link_names_what_it_opens(ui: Ui, seeded: Seeded) -> None:
    s = seeded.seed

    def check() -> None:
        w = watched(ui)
        page = w.page
        _open(page, s.sid)
        link = page.locator("#request-link")
        page.click("[data-tab=errors]")
        page.click("#list-errors .err-row:has-text('TypeError')")
        page.wait_for_selector("#request-panel .error-card ol.stack")
        assert link.inner_text() == "open the error group"
        assert link.get_attribute("href") == f"/errors/{s.frontend_group}"
        page.click("[data-tab=network]")  # beside the open drawer
        page.click(f".net-row[data-request-id='{s.r_fail}']")
        page.locator(f"#request-panel .request-view[data-request-id='{s.r_fail}']").wait_for()
        assert link.get_attribute("href") == f"/requests/{s.r_fail}"
        assert link.inner_text() == "open on its own page", "stale link text"
        w.assert_clean("bug 1")
        page.close()

    ui.run(check)


def test_bug10_play_at_a_frontend_error_shows_that_error(ui: Ui, seeded: Seeded) -> None:
    s = seeded.seed

    def check() -> None:
        w = watched(ui)
        page = w.page
        page.goto(f"/errors/{s.frontend_group}")
        page.click("#play-at-error")
        page.wait_for_url(re.compile(rf"/sessions/{s.sid}\?t="))
        page.wait_for_selector("#session[data-state=ready]")
        assert page.get_attribute("[data-tab=errors]", "aria-selected") == "true"
        assert page.locator("#list-errors").is_visible()
        expect(page.locator("#list-errors .vrow.active")).to_contain_text("TypeError")
        card = page.locator("#request-panel .error-card")
        card.wait_for()
        assert "order is undefined" in card.inner_text()
        assert card.locator("ol.stack li.in-app", has_text="showReceipt").count() == 1
        w.shot("session-bug10-frontend-error")
        w.assert_clean("bug 10")
        page.close()

    ui.run(check)


# the drawer ------------------------------------------------------------------------------


def test_drawer_is_open_beside_the_playing_replay(ui: Ui, seeded: Seeded) -> None:
    s = seeded.seed

    def check() -> None:
        w = watched(ui)
        page = w.page
        _open(page, s.sid, 1440)
        page.click(f".net-row[data-request-id='{s.r_fail}']")
        view = page.locator(f"#request-panel .request-view[data-request-id='{s.r_fail}']")
        view.wait_for()
        page.click("#play")
        page.wait_for_selector("#session[data-playing=true]")
        player, drawer = _box(page, "#player"), _box(page, "#request-panel")
        # side by side, both whole in a 1440 × 900 window, the backend's side in view
        assert player["x"] + player["width"] <= drawer["x"], (player, drawer)
        assert player["y"] >= 0 and player["y"] + player["height"] <= 900, player
        assert drawer["x"] + drawer["width"] <= 1440 and drawer["height"] <= 900, drawer
        assert view.locator(".wf-row", has_text="reserve_stock").first.is_visible()
        assert page.locator("#request-panel .rv-errors").is_visible()
        start = current_ms(page)
        page.wait_for_function(
            "s => Number(document.getElementById('session').dataset.currentMs) > s", arg=start
        )
        w.shot("session-drawer-1440")
        page.keyboard.press("Escape")
        assert page.locator("#request-panel").is_hidden()
        # at 1024 px the drawer overlays part of the player, which stays on screen
        page.set_viewport_size({"width": 1024, "height": 800})
        page.click(f".net-row[data-request-id='{s.r_fail}']")
        view.wait_for()
        drawer, player = _box(page, "#request-panel"), _box(page, "#player")
        assert drawer["x"] + drawer["width"] <= 1024 and drawer["x"] > player["x"] + 300
        w.shot("session-drawer-1024")
        w.assert_clean("drawer")
        page.close()

    ui.run(check)


# filters and search ----------------------------------------------------------------------


def test_find_the_one_failing_request_among_300_by_filter(ui: Ui, seeded: Seeded) -> None:
    m = seeded.more

    def check() -> None:
        w = watched(ui)
        page = w.page
        _open(page, m.sid_many)
        assert page.locator("#list-network .vrow").count() < 100  # virtualised
        page.select_option("#filter-network select[name=status]", "5xx")
        rows = page.locator("#list-network .net-row")
        page.wait_for_function(
            "() => document.querySelectorAll('#list-network .net-row').length === 1"
        )
        row = rows.first
        assert row.get_attribute("data-request-id") == m.r_failing
        # the URL's end, where requests differ, is shown whole
        assert "orders/7f3a/confirm" in row.inner_text() and "500" in row.inner_text()
        assert "1 of 300" in page.inner_text("#filter-network .shown-count")
        # its time from the session's start: request FAILING_AT starts 100 + i × 150 ms in
        assert row.locator(".at").inner_text() == _clock(100 + FAILING_AT * 150)
        row.click()
        page.locator(f"#request-panel .request-view[data-request-id='{m.r_failing}']").wait_for()
        assert abs(current_ms(page) - (seeded.seed.t0 + 100 + FAILING_AT * 150)) <= 1
        w.shot("session-filter-5xx")
        # method, text, and back to everything
        page.select_option("#filter-network select[name=status]", "")
        page.select_option("#filter-method", "POST")
        page.wait_for_function(
            "() => document.querySelectorAll('#list-network .net-row').length === 6"
        )
        assert set(rows.locator(".method").all_inner_texts()) == {"POST"}
        page.select_option("#filter-method", "")
        # any case, any substring: items/21, /210 … /219 but 217 (the PUT) and 218 (long)
        page.fill("#filter-network input[name=q]", "ITEMS/21")
        page.wait_for_function(
            "() => document.querySelectorAll('#list-network .net-row').length === 9"
        )
        page.fill("#filter-network input[name=q]", "nothing-like-this")
        page.locator("#list-network .empty", has_text="No request matches").wait_for()
        page.fill("#filter-network input[name=q]", "")
        page.wait_for_function(
            "() => document.querySelectorAll('#list-network .net-row').length > 20"
        )
        w.assert_clean("filters")
        page.close()

    ui.run(check)


def test_backend_errors_filter_and_the_other_tabs_filters(ui: Ui, seeded: Seeded) -> None:
    s = seeded.seed

    def check() -> None:
        w = watched(ui)
        page = w.page
        _open(page, s.sid)
        page.check("#filter-network input[name=backend]")
        page.wait_for_function(
            "() => document.querySelectorAll('#list-network .net-row').length === 1"
        )
        assert page.get_attribute("#list-network .net-row", "data-request-id") == s.r_fail
        page.click("[data-tab=console]")
        page.select_option("#filter-console select[name=level]", "error")
        page.wait_for_function(
            "() => document.querySelectorAll('#list-console .con-row').length === 1"
        )
        assert "checkout failed" in page.inner_text("#list-console")
        page.click("[data-tab=errors]")
        page.select_option("#filter-errors select[name=source]", "frontend")
        page.wait_for_function(
            "() => document.querySelectorAll('#list-errors .err-row').length === 1"
        )
        assert "TypeError" in page.inner_text("#list-errors")
        page.fill("#filter-errors input[name=q]", "stock")
        page.locator("#list-errors .empty", has_text="No error matches").wait_for()
        page.select_option("#filter-errors select[name=source]", "")
        page.wait_for_function(
            "() => document.querySelectorAll('#list-errors .err-row').length === 1"
        )
        assert "ValueError" in page.inner_text("#list-errors")
        w.assert_clean("tab filters")
        page.close()

    ui.run(check)


def test_long_urls_are_shortened_in_the_middle(ui: Ui, seeded: Seeded) -> None:
    m = seeded.more

    def check() -> None:
        w = watched(ui)
        page = w.page
        for width in (1440, 1024):
            _open(page, m.sid_many, width)
            page.fill("#filter-network input[name=q]", "items/8812")
            page.wait_for_function(
                "() => document.querySelectorAll('#list-network .net-row').length === 1"
            )
            url = page.locator("#list-network .net-row .url")
            text = url.inner_text()
            assert "…" in text and len(text) < len(LONG_URL), text
            # the scheme goes first, then the middle: the host and the end stay
            assert text.startswith("api.shop.") and text.endswith("page=3"), text
            assert url.get_attribute("title") == LONG_URL
            # it fits: nothing cut off by the column's own ellipsis
            assert url.evaluate("e => e.scrollWidth <= e.clientWidth"), (width, text)
        w.assert_clean("long urls")
        page.close()

    ui.run(check)


# timeline --------------------------------------------------------------------------------


def test_timeline_axis_lanes_and_target_size(ui: Ui, seeded: Seeded) -> None:
    m = seeded.more

    def check() -> None:
        w = watched(ui)
        page = w.page
        for width in (1440, 1024):
            _open(page, m.sid_rich, width)
            total = float(page.get_attribute("#seek", "max") or 0)
            lane = _box(page, "[data-lane=network] .lane-track")
            ticks = page.locator("#axis .tick")
            assert ticks.count() >= 4
            assert ticks.nth(0).inner_text() == "0:00"
            for i in range(1, ticks.count()):
                tick = ticks.nth(i)
                at = float(tick.get_attribute("data-ms") or 0)
                assert tick.inner_text() == _clock(at)
                box = tick.bounding_box()
                assert box is not None
                want = lane["x"] + at / total * lane["width"]
                # a label at the track's end is drawn to the left of its tick
                end = "end" in (tick.get_attribute("class") or "")
                x = box["x"] + box["width"] if end else box["x"] + box["width"] / 2
                assert abs(x - want) <= 1.5, (width, i)
            # pages (two loads), clicks with one rage click, the track event
            assert page.locator("[data-lane=pages] .marker").count() == 2
            assert "http://shop.test/receipt" in (
                page.locator("[data-lane=pages] .marker").nth(1).get_attribute("title") or ""
            )
            rage = page.locator("[data-lane=clicks] .marker.bad")
            assert rage.count() == 1 and "Rage click: 4 clicks" in (
                rage.get_attribute("title") or ""
            )
            assert page.locator("[data-lane=clicks] .marker:not(.bad)").count() == 1
            track = page.locator("[data-lane=track] .marker")
            assert track.count() == 1 and "checkout_started" in (track.get_attribute("title") or "")
            for marker in page.locator(".marker").all():
                box = marker.bounding_box()
                assert box is not None and box["width"] >= 24 and box["height"] >= 24
            # a marker seeks to its moment
            rage.click()
            assert abs(current_ms(page) - (m.rich_t0 + 10_000)) <= 1
            w.shot(f"session-timeline-{width}")
        w.assert_clean("timeline")
        page.close()

    ui.run(check)


def test_next_error_seeks_to_the_error(ui: Ui, seeded: Seeded) -> None:
    s = seeded.seed
    frontend_ms = s.t0 + 20_160

    def check() -> None:
        w = watched(ui)
        page = w.page
        _open(page, s.sid)
        assert current_ms(page) < s.error_ms
        page.click("#next-error")
        assert abs(current_ms(page) - s.error_ms) <= 1
        assert "ValueError" in page.inner_text("#error-pos")
        page.click("[data-tab=errors]")
        expect(page.locator("#list-errors .vrow.active")).to_contain_text("ValueError")
        page.click("#next-error")
        assert abs(current_ms(page) - frontend_ms) <= 1
        expect(page.locator("#list-errors .vrow.active")).to_contain_text("TypeError")
        page.click("#next-error")  # none after the last: stays
        assert abs(current_ms(page) - frontend_ms) <= 1
        assert "No later error" in page.inner_text("#error-pos")
        page.locator("#player").click()  # the keys work from anywhere but a field
        page.keyboard.press("p")
        assert abs(current_ms(page) - s.error_ms) <= 1
        page.keyboard.press("n")
        assert abs(current_ms(page) - frontend_ms) <= 1
        w.assert_clean("error navigation")
        page.close()

    ui.run(check)


# context ---------------------------------------------------------------------------------


def test_user_agent_context_and_identify_metadata_are_shown(ui: Ui, seeded: Seeded) -> None:
    m = seeded.more

    def check() -> None:
        w = watched(ui)
        page = w.page
        _open(page, m.sid_rich)
        summary = page.inner_text("#ua-summary")
        assert summary == "Chrome 126.0 · Mac OS X 10.15.7 · Apple Mac", summary
        page.click("[data-tab=context]")
        assert page.inner_text("#ctx-browser") == "Chrome 126.0"
        assert page.inner_text("#ctx-os") == "Mac OS X 10.15.7"
        assert page.inner_text("#ctx-device") == "Apple Mac"
        identify = page.inner_text("#ctx-identify")
        for text in ("grace@example.com", "plan", "enterprise", "company", "Hopper & Co"):
            assert text in identify, identify
        track = page.locator("#ctx-track li")
        assert track.count() == 1
        assert "checkout_started" in track.inner_text()
        assert '"cart_items":2' in track.inner_text().replace(" ", "")
        pages = page.locator("#pages-visited li")
        assert pages.count() == 2
        assert "http://shop.test/cart" in pages.nth(0).inner_text()
        assert "http://shop.test/receipt" in pages.nth(1).inner_text()
        track.locator("button").click()  # seeks to the event
        assert abs(current_ms(page) - (m.rich_t0 + 12_000)) <= 1
        pages.nth(1).locator("button").click()
        assert abs(current_ms(page) - (m.rich_t0 + 30_000)) <= 1
        w.shot("session-context-1440")
        page.set_viewport_size({"width": 1024, "height": 900})
        w.shot("session-context-1024")
        w.assert_clean("context")
        page.close()

    ui.run(check)


def test_hostile_user_agents_never_break_the_page(ui: Ui, seeded: Seeded) -> None:
    server = seeded.server
    hostile = ["(" * 511, "Mozilla/5.0 (" + "; " * 240, "\u202e<script>x</script>", " "]
    sids = []
    for ua in hostile:
        sid = session_id()
        _start(server, sid, seeded.seed.t0, ua)
        sids.append(sid)

    def check() -> None:
        w = watched(ui)
        page = w.page
        for sid in sids:
            answer = page.goto(f"/sessions/{sid}")
            assert answer is not None and answer.status == 200
            page.wait_for_selector("#session[data-state=ready]")
            assert "unknown browser" in page.inner_text("#ua-summary")
        w.assert_clean("hostile user agents")
        page.close()

    ui.run(check)


# player keys -----------------------------------------------------------------------------


def test_player_keys_and_fullscreen(ui: Ui, seeded: Seeded) -> None:
    s = seeded.seed

    def check() -> None:
        w = watched(ui)
        page = w.page
        _open(page, s.sid)
        page.locator("details.keys summary").click()  # the help lists the keys
        help_text = page.inner_text(".keys-help")
        for key in ("Space", "←", "→", "N", "P", "F"):
            assert key in help_text, help_text
        page.locator("details.keys summary").click()
        page.locator("#player").click()
        start = current_ms(page)
        page.keyboard.press("ArrowRight")
        assert abs(current_ms(page) - (start + 5000)) <= 1
        page.keyboard.press("ArrowRight")
        page.keyboard.press("ArrowLeft")
        assert abs(current_ms(page) - (start + 5000)) <= 1
        page.keyboard.press("Space")
        page.wait_for_selector("#session[data-playing=true]")
        page.keyboard.press("Space")
        page.wait_for_selector("#session[data-playing=false]")
        # typing in a search field is typing, not playing
        page.fill("#filter-network input[name=q]", "")
        page.focus("#filter-network input[name=q]")
        page.keyboard.press("Space")
        page.keyboard.press("n")
        assert page.get_attribute("#session", "data-playing") == "false"
        assert page.input_value("#filter-network input[name=q]") == " n"
        page.locator("#player").click()
        page.keyboard.press("f")
        page.wait_for_function(
            "() => document.fullscreenElement && document.fullscreenElement.id === 'player-col'"
        )
        page.keyboard.press("f")
        page.wait_for_function("() => document.fullscreenElement === null")
        page.click("#fullscreen")
        page.wait_for_function("() => document.fullscreenElement !== null")
        page.click("#fullscreen")
        page.wait_for_function("() => document.fullscreenElement === null")
        w.assert_clean("player keys")
        page.close()

    ui.run(check)


# keyboard only ---------------------------------------------------------------------------


def _tab_to(page: Page, predicate: str, limit: int = 80) -> None:
    """Presses Tab until ``predicate`` (a JS function of the focused element) holds."""
    for _ in range(limit):
        page.keyboard.press("Tab")
        if page.evaluate(f"() => ({predicate})(document.activeElement)"):
            return
    raise AssertionError(f"Tab never reached {predicate}")


def test_keyboard_only_from_the_sessions_list_to_a_request_stack(ui: Ui, seeded: Seeded) -> None:
    s = seeded.seed

    def check() -> None:
        w = watched(ui)
        page = w.page
        page.set_viewport_size({"width": 1440, "height": 900})
        page.goto("/sessions")
        _tab_to(page, f"e => e.getAttribute('href') === '/sessions/{s.sid}'")
        page.keyboard.press("Enter")
        page.wait_for_url(re.compile(rf"/sessions/{s.sid}$"))
        page.wait_for_selector("#session[data-state=ready]")
        _tab_to(page, "e => e.id === 'list-network'")
        first = page.locator("#list-network .vrow.focused")  # the list's focus: its first row
        assert first.get_attribute("data-request-id") == s.r_ok
        page.keyboard.press("ArrowDown")  # the checkout: r_fail
        focused = page.locator("#list-network .vrow.focused")
        assert focused.get_attribute("data-request-id") == s.r_fail
        assert page.get_attribute(
            "#list-network", "aria-activedescendant"
        ) == focused.get_attribute("id")
        # the row stays the focused one when the list draws again (scrolled away and back)
        page.eval_on_selector(
            "#list-network", "e => { e.scrollTop = 0; e.dispatchEvent(new Event('scroll')) }"
        )
        page.wait_for_timeout(50)
        assert (
            page.locator("#list-network .vrow.focused").get_attribute("data-request-id") == s.r_fail
        )
        page.keyboard.press("Enter")
        view = page.locator(f"#request-panel .request-view[data-request-id='{s.r_fail}']")
        view.wait_for()
        assert page.evaluate("() => document.activeElement.id") == "request-panel"
        stack = view.locator("ol.stack").first
        assert stack.locator("li.in-app", has_text="_reserve_stock").first.is_visible()
        # Tab goes on inside the drawer, into the error's card
        _tab_to(page, "e => !!e.closest('#request-panel .error-card')")
        page.keyboard.press("Escape")  # back to the list, on the same row
        assert page.locator("#request-panel").is_hidden()
        assert page.evaluate("() => document.activeElement.id") == "list-network"
        w.assert_clean("keyboard only")
        page.close()

    ui.run(check)


# lists before the replay -----------------------------------------------------------------


def test_lists_render_before_the_replay_downloads(ui: Ui, seeded: Seeded) -> None:
    s = seeded.seed
    held: list[Route] = []

    def check() -> None:
        w = watched(ui)
        page = w.page
        page.route("**/api/v1/sessions/*/replay*", lambda route: held.append(route))
        page.goto(f"/sessions/{s.sid}")
        page.locator("#list-network .net-row").first.wait_for(timeout=10_000)
        assert held, "the replay was not asked for"
        assert page.get_attribute("#session", "data-state") == "loading"
        assert page.locator("#list-network .net-row").count() == 3
        page.click("[data-tab=console]")
        assert "checkout failed" in page.inner_text("#list-console")
        page.click("[data-tab=errors]")
        assert page.locator("#list-errors .err-row").count() == 2
        assert page.locator("[data-lane=network] .marker").count() >= 2
        page.click("[data-tab=network]")
        page.click(f".net-row[data-request-id='{s.r_fail}']")  # the drawer works already
        page.locator(f"#request-panel .request-view[data-request-id='{s.r_fail}']").wait_for()
        for route in held:
            route.continue_()
        page.wait_for_selector("#session[data-state=ready]")
        w.assert_clean("lists before replay")
        page.close()

    ui.run(check)


# requests seen by the server (issue 24) ---------------------------------------------------

POST_AT, PAGE_AT = 15_000, 15_250  # ms from the session's start
SCHEMES: tuple[Literal["light", "dark"], ...] = ("light", "dark")


class CardDeclined(Exception):
    pass


@dataclass
class SeenByServer:
    sid: str
    t0: float
    fetch: str  # GET /api/cart: a fetch the browser recorded, with its backend side
    post: str  # POST /orders: only the backend saw it (linked by the session cookie)
    page: str  # GET /orders/7, where the POST redirected: recorded from its Server-Timing
    error_ms: float
    group: int


def _sdk_span(web: Any, name: str, at_ms: float, link: dict[str, str], **attrs: Any) -> Any:
    """A server span as the Python SDK's middleware makes it (kind SERVER, its attributes);
    ``link`` is set once the request id is known (the cookie path: its own trace id)."""
    method, path = name.split(" ", 1)
    span = web.tracer.start_span(
        name,
        kind=SpanKind.SERVER,
        start_time=int(at_ms * MS),
        attributes={"http.request.method": method, "url.path": path, **attrs},
        **({"context": link.pop("_context")} if "_context" in link else {}),
    )
    trace_id = format(span.get_span_context().trace_id, "032x")
    span.set_attributes(
        {"highlight.session_id": link["sid"], "highlight.trace_id": link.get("rid", trace_id)}
    )
    return span, trace_id


def _seen_by_server(server: BacklightProcess) -> SeenByServer:
    """A session with two fetches and, linked by the session cookie as the Python SDK links
    a request without ``x-highlight-request``: a form POST that raised (its browser never
    rendered its answer, a redirect) and the page it redirected to, which the browser SDK
    recorded from its ``Server-Timing`` (the same request id: one row)."""
    # whole ms: the spans' ns below are then exact, and their times read back exact
    sid, t0, fetch = session_id(), time.time_ns() // 1_000_000 - 120_000, request_id()
    _start(server, sid, t0, UA)
    web = _otel(server, "web")
    try:
        remote = NonRecordingSpan(
            SpanContext(
                int(fetch, 16), 0x1F2E3D4C5B6A7988, is_remote=True, trace_flags=TraceFlags(1)
            )
        )
        link: dict[str, Any] = {
            "sid": sid,
            "rid": fetch,
            "_context": trace.set_span_in_context(remote),
        }
        span, _ = _sdk_span(
            web, "GET /api/cart", t0 + 2_010, link, **{"http.response.status_code": 200}
        )
        span.end(end_time=int((t0 + 2_060) * MS))
        span, post = _sdk_span(web, "POST /orders", t0 + POST_AT, {"sid": sid})
        attrs = {"highlight.session_id": sid, "highlight.trace_id": post}
        with trace.use_span(span, end_on_exit=False):
            child = web.tracer.start_span(
                "INSERT orders", attributes=attrs, start_time=int((t0 + POST_AT + 3) * MS)
            )
            child.end(end_time=int((t0 + POST_AT + 9) * MS))
            record = web.logger.makeRecord(
                web.logger.name,
                logging.WARNING,
                __file__,
                0,
                "order form rejected: %s",
                ("card ending 4242",),
                None,
                extra=attrs,
            )
            record.created = (t0 + POST_AT + 5) / 1000  # during the request, as it was
            web.logger.handle(record)
            try:
                raise CardDeclined("card declined for order 7")
            except CardDeclined as exc:
                span.record_exception(exc, timestamp=int((t0 + POST_AT + 12) * MS))
        span.set_attribute("http.response.status_code", 500)
        span.set_status(trace.Status(trace.StatusCode.ERROR))
        span.end(end_time=int((t0 + POST_AT + 40) * MS))
        span, page = _sdk_span(
            web,
            "GET /orders/7",
            t0 + PAGE_AT + 20,
            {"sid": sid},
            **{"http.response.status_code": 200},
        )
        span.end(end_time=int((t0 + PAGE_AT + 90) * MS))
        web.flush()
    finally:
        web.shutdown()
    page_row = _network(
        page, "GET", "http://shop.test/orders/7", 200, t0 + PAGE_AT, t0 + PAGE_AT + 400
    )
    page_row["type"] = "other"  # the document request, as the browser SDK records it
    network = [
        _network(fetch, "GET", "http://shop.test/api/cart", 200, t0 + 2_000, t0 + 2_080),
        _network(request_id(), "GET", "http://shop.test/api/products", 200, t0 + 8_000, t0 + 8_090),
        page_row,
    ]
    body = {"v": 1, "project_id": server.project, "session_secure_id": sid, "seq": 0}
    _post(
        server, "/ingest/v1/batch", {**body, "events": rrweb_page(t0, 40_000), "network": network}
    )
    view = wait_for(
        lambda: (lambda v: v if v["backend_errors"] and v["server_seen"]["shown"] else None)(
            server.api(f"/api/v1/sessions/{sid}")
        )
    )
    groups = server.api("/api/v1/error-groups")["groups"]
    group = next(g["id"] for g in groups if "card declined" in g["message"])
    return SeenByServer(sid, t0, fetch, post, page, view["backend_errors"][0]["ts_ms"], group)


@pytest.fixture(scope="module")
def seen(seeded: Seeded) -> SeenByServer:
    return _seen_by_server(seeded.server)


def test_a_request_seen_by_the_server_is_on_the_timeline_the_list_and_opens(
    ui: Ui, seen: SeenByServer
) -> None:
    def check() -> None:
        w = watched(ui)
        page = w.page
        _open(page, seen.sid, 1440)
        rows = page.locator("#list-network .net-row")
        # among the browser's rows by time; the page it redirected to is one row, not two
        ids = [rows.nth(i).get_attribute("data-request-id") for i in range(rows.count())]
        assert ids[0] == seen.fetch and ids[2:] == [seen.post, seen.page] and len(ids) == 4
        row = page.locator(f".net-row[data-request-id='{seen.post}']")
        assert row.get_attribute("data-source") == "server"
        assert row.locator(".badge.seen").inner_text() == "seen by the server"
        assert row.locator(".at").inner_text() == _clock(POST_AT)  # its root span's start
        assert row.locator(".method").inner_text() == "POST"
        assert row.locator(".url").inner_text() == "/orders"
        assert row.locator(".status").inner_text() == "500"
        assert page.locator(f".net-row[data-request-id='{seen.page}'] .badge.seen").count() == 0
        # on the timeline, at its moment
        marker = page.locator("[data-lane=network] .marker[title*='seen by the server']")
        assert marker.count() == 1
        title = marker.get_attribute("title") or ""
        assert "POST /orders 500 · seen by the server" in title
        assert abs(float(marker.get_attribute("data-ms") or 0) - (seen.t0 + POST_AT)) < 1
        total = float(page.get_attribute("#seek", "max") or 0)
        lane, box = _box(page, "[data-lane=network] .lane-track"), marker.bounding_box()
        assert box is not None
        want = lane["x"] + POST_AT / total * lane["width"]
        assert abs(box["x"] + box["width"] / 2 - want) <= 24, (box, want)
        # the filter by who recorded it
        page.select_option("#filter-network select[name=source]", "server")
        page.wait_for_function(
            "() => document.querySelectorAll('#list-network .net-row').length === 1"
        )
        page.select_option("#filter-network select[name=source]", "")
        page.wait_for_function(
            "() => document.querySelectorAll('#list-network .net-row').length === 4"
        )
        for scheme in SCHEMES:  # the list and the timeline
            page.emulate_media(color_scheme=scheme)
            for width in (1440, 1024):
                page.set_viewport_size({"width": width, "height": 900})
                w.shot(f"session-server-seen-{scheme}-{width}")
                # a narrower list says "server"; the row still fits its column
                label = "seen by the server" if width == 1440 else "server"
                assert row.locator(".badge.seen").inner_text() == label
                assert row.evaluate("e => e.scrollWidth <= e.clientWidth"), width
        # its spans, logs and error in the drawer, like any request's
        page.set_viewport_size({"width": 1440, "height": 900})
        row.click()
        view = page.locator(f"#request-panel .request-view[data-request-id='{seen.post}']")
        view.wait_for()
        assert view.locator(".rv-head .badge.seen").inner_text() == "seen by the server"
        assert "POST /orders" in view.locator(".rv-head").inner_text()
        assert view.locator(".wf-row", has_text="INSERT orders").count() == 1
        assert "order form rejected" in view.locator(".rv-logs").inner_text()
        assert "card declined for order 7" in view.locator(".rv-errors").inner_text()
        assert row.locator(".badge.seen").inner_text() == "server"  # the list: an index
        for scheme in SCHEMES:
            page.emulate_media(color_scheme=scheme)
            found = axe_violations(page)
            assert not found, f"{scheme}:\n{describe(found)}"
            for width in (1440, 1024):
                page.set_viewport_size({"width": width, "height": 900})
                w.shot(f"session-server-seen-drawer-{scheme}-{width}")
        w.assert_clean("seen by the server")
        page.close()

    ui.run(check)


def test_play_at_the_error_of_a_request_seen_by_the_server(ui: Ui, seen: SeenByServer) -> None:
    def check() -> None:
        w = watched(ui)
        page = w.page
        page.goto(f"/errors/{seen.group}")
        page.click("#play-at-error")
        page.wait_for_url(re.compile(rf"/sessions/{seen.sid}\?t=.*request={seen.post}"))
        page.wait_for_selector("#session[data-state=ready]")
        assert abs(current_ms(page) - seen.error_ms) <= 1000, (current_ms(page), seen.error_ms)
        view = page.locator(f"#request-panel .request-view[data-request-id='{seen.post}']")
        view.wait_for()
        assert "card declined for order 7" in view.locator(".rv-errors").inner_text()
        assert page.get_attribute("[data-tab=network]", "aria-selected") == "true"
        active = page.locator("#list-network .vrow.active")
        assert active.get_attribute("data-request-id") == seen.post
        w.shot("session-server-seen-play-at-error")
        w.assert_clean("play at a server-seen error")
        page.close()

    ui.run(check)
