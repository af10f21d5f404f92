"""The web UI in Debian Chromium against a real ``backlight serve`` (data sent through the
public ingest endpoints, see seed.py). Screenshots go to artifacts/screenshots/."""

from __future__ import annotations

import re

import httpx
import pytest
from playwright.sync_api import expect

from .conftest import Ui, current_ms, watched
from .seed import BIG_AT, BIG_N, Seed

pytestmark = pytest.mark.browser


def test_every_page_renders_without_console_errors(ui: Ui, seeded: Seed) -> None:
    s = seeded
    pages = {
        "sessions": ("/sessions", "table.sessions-table", "ada@example.com"),
        "session": (f"/sessions/{s.sid}", "#session[data-state=ready]", "ada@example.com"),
        "session-no-replay": (
            f"/sessions/{s.sid_empty}",
            "#session[data-state=ready]",
            "No replay was recorded",
        ),
        "request": (f"/requests/{s.r_fail}", ".request-view", "out of stock for order"),
        "errors": ("/errors", "table.errors-table", "ValueError"),
        "error-group": (f"/errors/{s.backend_group}", "#play-at-error", "out of stock"),
        "logs": ("/logs", "table.logs-table", s.log_word),
        "trace": (f"/traces/{s.r_fail}", ".waterfall", "reserve_stock"),
        "setup": ("/setup", ".observed", s.server.project),
    }

    def visit() -> None:
        for name, (path, ready, text) in pages.items():
            w = watched(ui)
            w.page.goto(path)
            w.page.wait_for_selector(ready)
            w.page.wait_for_load_state("networkidle")
            assert text in w.page.content(), (name, text)
            w.shot(name)
            w.assert_clean(name)
            w.page.close()

    ui.run(visit)


def test_network_row_with_backend_error_opens_request_view(ui: Ui, seeded: Seed) -> None:
    s = seeded

    def check() -> None:
        w = watched(ui)
        page = w.page
        page.goto(f"/sessions/{s.sid}")
        page.wait_for_selector("#session[data-state=ready]")
        row = page.locator(f".net-row[data-request-id='{s.r_fail}']")
        assert "1 err" in row.inner_text()
        row.click()
        view = page.locator(f"#request-panel .request-view[data-request-id='{s.r_fail}']")
        view.wait_for()
        text = view.inner_text()
        assert "ValueError" in text and "out of stock for order" in text
        in_app = view.locator("ol.stack li.in-app", has_text="_reserve_stock")
        assert in_app.count() >= 1
        assert view.locator(".wf-row", has_text="reserve_stock").count() == 1
        assert "inventory said no" in text  # the request's log
        # the click also moved the player to the request's start, and highlighted the row
        assert abs(current_ms(page) - (s.t0 + 20_000)) <= 1000
        assert "active" in (row.get_attribute("class") or "")
        w.shot("session-request-open")
        w.assert_clean("session page")
        page.close()

    ui.run(check)


def test_large_session_list_is_virtualised_and_loads_badges_in_view(ui: Ui, seeded: Seed) -> None:
    s = seeded

    def check() -> None:
        w = watched(ui)
        page = w.page
        page.goto(f"/sessions/{s.sid_big}")
        page.wait_for_selector("#session[data-state=ready]")
        assert f"Network {BIG_N}" in page.inner_text("[data-tab=network]")
        assert page.locator("#list-network .vrow").count() < 100  # only the rows in view
        page.eval_on_selector("#list-network", f"e => e.scrollTop = {BIG_AT * 30 - 120}")
        row = page.locator(f".net-row[data-request-id='{s.r_big}']")
        row.locator(".badge.be").wait_for()  # its backend summary was fetched when in view
        row.click()
        view = page.locator(f"#request-panel .request-view[data-request-id='{s.r_big}']")
        view.wait_for()
        assert "LookupError" in view.inner_text()
        w.shot("session-large")
        w.assert_clean("large session")
        page.close()

    ui.run(check)


def test_play_session_at_error_moment(ui: Ui, seeded: Seed) -> None:
    s = seeded

    def check() -> None:
        w = watched(ui)
        page = w.page
        page.goto(f"/errors/{s.backend_group}")
        assert page.locator("ol.stack li.in-app").count() >= 1
        page.click("#play-at-error")
        page.wait_for_url(re.compile(rf"/sessions/{s.sid}\?t="))
        page.wait_for_selector("#session[data-state=ready]")
        assert abs(current_ms(page) - s.error_ms) <= 1000, (current_ms(page), s.error_ms)
        page.locator(f"#request-panel .request-view[data-request-id='{s.r_fail}']").wait_for()
        # the errors tab highlights the backend error at this moment
        page.click("[data-tab=errors]")
        expect(page.locator("#list-errors .vrow.active")).to_contain_text("ValueError")
        w.shot("play-at-error")
        w.assert_clean("play at error")
        page.close()

    ui.run(check)


def test_player_controls_play_and_pause(ui: Ui, seeded: Seed) -> None:
    s = seeded

    def check() -> None:
        w = watched(ui)
        page = w.page
        page.goto(f"/sessions/{s.sid}")
        page.wait_for_selector("#session[data-state=ready]")
        assert page.locator("#player iframe").count() == 1
        frame = page.frame_locator("#player iframe")
        assert frame.locator("header").inner_text() == "Demo shop"
        page.select_option("#speed", "8")
        page.click("#play")
        page.wait_for_function(  # a function, not an expression: the CSP forbids eval
            "() => Number(document.getElementById('session').dataset.offsetMs) > 1500"
        )
        page.click("#play")  # pause
        page.wait_for_selector("#session[data-playing=false]")
        paused = current_ms(page)
        page.wait_for_timeout(300)
        assert current_ms(page) == paused
        w.assert_clean("player")
        page.close()

    ui.run(check)


def test_log_search_finds_a_log_and_links_to_its_session(ui: Ui, seeded: Seed) -> None:
    s = seeded

    def check() -> None:
        w = watched(ui)
        page = w.page
        page.goto("/logs")
        page.fill("input[name=q]", s.log_word)
        page.click("form.filters button[type=submit]")
        page.wait_for_url(re.compile(r"/logs\?q="))
        rows = page.locator("tr.log-row")
        assert rows.count() == 1
        assert s.log_word in rows.inner_text()
        w.shot("logs-search")
        rows.locator("a.session-link").click()
        page.wait_for_url(re.compile(rf"/sessions/{s.sid}"))
        page.wait_for_selector("#session[data-state=ready]")
        page.locator(f"#request-panel .request-view[data-request-id='{s.r_fail}']").wait_for()
        w.assert_clean("logs")
        page.close()

    ui.run(check)


def test_error_state_actions_patch_the_group(ui: Ui, seeded: Seed) -> None:
    s = seeded

    def check() -> None:
        w = watched(ui)
        page = w.page
        page.goto("/errors")
        row = page.locator(f"tr[data-group-id='{s.frontend_group}']")
        row.locator("button[data-set-state=ignored]").click()
        row.locator(".state-ignored").wait_for()
        w.assert_clean("errors actions")
        page.close()

    ui.run(check)
    group = s.server.api(f"/api/v1/error-groups/{s.frontend_group}")["group"]
    assert group["state"] == "ignored"


def test_without_the_token_access_is_refused(ui: Ui, seeded: Seed) -> None:
    s = seeded
    for path in ("/api/v1/sessions", f"/api/v1/requests/{s.r_fail}", "/api/v1/logs"):
        assert httpx.get(s.server.url + path).status_code == 401, path
    for path in (
        "/sessions",
        f"/sessions/{s.sid}",
        f"/requests/{s.r_fail}",
        "/errors",
        "/logs",
        "/traces",
        "/setup",
        f"/requests/{s.r_fail}?fragment=1",
    ):
        r = httpx.get(s.server.url + path)
        assert r.status_code == 303 and r.headers["location"].startswith("/login"), path
    with pytest.raises(httpx.HTTPStatusError):
        httpx.patch(
            s.server.url + f"/api/v1/error-groups/{s.backend_group}", json={"state": "resolved"}
        ).raise_for_status()

    def check() -> None:
        ctx = ui.new_context()  # no cookie
        page = ctx.new_page()
        page.goto(f"/sessions/{s.sid}")
        assert re.search(r"/login\?next=", page.url), page.url
        page.fill("input[name=token]", "wrong-token")
        page.click("button[type=submit]")
        assert "not valid" in page.inner_text("[role=alert]")
        page.fill("input[name=token]", s.server.token)
        page.click("button[type=submit]")
        page.wait_for_url(re.compile(rf"/sessions/{s.sid}$"))  # back where it was going
        ctx.close()

    ui.run(check)
