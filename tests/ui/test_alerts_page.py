"""The Alerts page in Debian Chromium against a real ``backlight serve``: a rule made, tested,
muted, switched off, edited and deleted through the page, with a loopback webhook receiver
that checks every signature; the form for every trigger and channel kind; the API's
refusals next to the fields they name; screenshots at 1440 and 1024 px, light and dark."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from functools import partial
from typing import Any

import httpx
import pytest
from blalerts import SECRET, Receiver, verify
from playwright.sync_api import Locator, Page, expect

from backlight_server.testing import BacklightProcess, wait_for

from .conftest import SHOTS, Ui, Watched, watched

pytestmark = pytest.mark.browser
HOUR_MS = 3_600_000


@pytest.fixture(scope="module")
def server(
    tmp_path_factory: pytest.TempPathFactory, ui_assets: object
) -> Iterator[BacklightProcess]:
    args = ["--alert-interval-s", "0.2"]
    with BacklightProcess(tmp_path_factory.mktemp("alerts-ui"), args=args) as running:
        yield running


@pytest.fixture(scope="module")
def ui(server: BacklightProcess) -> Iterator[Ui]:
    browser = Ui(server.url, server.token)
    yield browser
    browser.close()


@pytest.fixture(scope="module")
def rx() -> Iterator[Receiver]:
    with Receiver().running() as receiver:
        yield receiver


def api(server: BacklightProcess, method: str, path: str, body: Any = None) -> Any:
    r = httpx.request(
        method,
        server.url + path,
        json=body,
        headers={"Authorization": f"Bearer {server.token}"},
        timeout=30,
    )
    return r.json() if r.status_code < 300 else (r.status_code, r.json())


def rules_named(server: BacklightProcess, name: str) -> list[dict[str, Any]]:
    return [r for r in api(server, "GET", "/api/v1/alert-rules")["rules"] if r["name"] == name]


def muted_until(server: BacklightProcess, rid: str, how: str) -> float | None:
    """The rule's mute once it is the one asked for (``how``: ms from now, or forever)."""
    muted = api(server, "GET", f"/api/v1/alert-rules/{rid}")["muted_until_ms"]
    if muted is None:
        return None
    if how == "forever":
        return float(muted) if muted >= 4e12 else None
    return float(muted) if abs(muted - (time.time() * 1000 + int(how))) < 60_000 else None


def shows_ms(time_element: Locator, ms: float) -> bool:
    return float(time_element.get_attribute("data-ms") or 0) == ms


def field(page: Page, path: str, scope: str = "#rule-form") -> Any:
    """The input of ``path`` (data-field) that is shown: trigger fields of the chosen kind."""
    return page.locator(f"{scope} [data-field='{path}']:visible")


def add_channel(page: Page, kind: str) -> Any:
    page.select_option("#add-kind", kind)
    page.click("#add-channel")
    return page.locator(f"#channels .channel-card[data-channel-kind='{kind}']").last


def test_a_rule_made_tested_muted_edited_and_deleted_through_the_page(
    ui: Ui, server: BacklightProcess, rx: Receiver
) -> None:
    hook = rx.url + "/lifecycle"
    down = "http://127.0.0.1:9/slack-webhook-path-t0k3n"  # nothing listens: a failed channel

    def make() -> None:
        w = watched(ui)
        page = w.page
        page.goto("/alerts")
        assert "No alert rules yet" in page.inner_text("table.alert-rules")
        page.click("#new-rule")
        page.wait_for_url("**/alerts/new")
        field(page, "name").fill("Checkout failures")
        page.check("input[data-trigger-kind][value=spike]")
        field(page, "trigger.threshold").fill("0")  # the API takes 1 … 1e6
        field(page, "trigger.window_minutes").fill("5")
        field(page, "filters.service").fill("api")
        page.select_option("[data-field='filters.source']", "backend")
        card = add_channel(page, "webhook")
        card.locator("[data-field=url]").fill("ftp://127.0.0.1/not-http")  # http(s) only
        card.locator("[data-field=secret]").fill(SECRET)
        slack = add_channel(page, "slack")
        slack.locator("[data-field=webhook_url]").fill(down)
        page.click("#save-rule")
        # the refusal is shown next to the field it names, and nothing was saved
        error = page.locator("[data-box='trigger.threshold']:visible .field-error")
        error.wait_for()
        assert "greater than or equal to 1" in error.inner_text()
        url_error = card.locator("[data-box=url] .field-error")
        assert "should match pattern" in url_error.inner_text()
        assert card.locator("[data-box=secret] .field-error").is_hidden()
        assert page.locator(".form-error").is_visible()
        assert rules_named(server, "Checkout failures") == []
        w.shot("alerts-form-refused")
        assert [p for p in w.problems if "status of 400" not in p] == []  # Chromium logs the 400
        w.problems.clear()
        field(page, "trigger.threshold").fill("3")
        assert not error.is_visible()  # changing the field clears its error
        card.locator("[data-field=url]").fill(hook)
        page.click("#save-rule")
        page.wait_for_url(re.compile(r"/alerts$"))
        assert "Saved the rule" in page.inner_text("#alerts-status")
        w.assert_clean("make a rule")
        page.close()

    ui.run(make)
    (rule,) = rules_named(server, "Checkout failures")
    rid = rule["id"]
    assert rule["trigger"] == {
        "kind": "spike",
        "threshold": 3,
        "window_minutes": 5,
        "scope": "group",
        "group_id": None,
    }
    assert rule["filters"] == {"service": "api", "environment": None, "source": "backend"}
    assert rule["channels"][0]["url"] == hook and rule["channels"][0]["secret"].startswith("••••")
    assert rule["channels"][1]["kind"] == "slack" and rule["cooldown_seconds"] == 300

    def test_mute_toggle() -> None:
        w = watched(ui)
        page = w.page
        page.goto("/alerts")
        row = page.locator(f"tr.rule-row[data-rule-id='{rid}']")
        text = row.inner_text()
        assert "Checkout failures" in text and "More than 3 errors in 5 min" in text
        assert "service api · backend only" in text and "none yet" in text
        assert row.locator(".badge.ch").all_inner_texts() == ["webhook", "slack"]
        # send a test message: each channel's result
        row.locator("button[data-action=test]").click()
        results = page.locator(f"tr.rule-extra[data-for-rule='{rid}'] ul.test-results li")
        results.first.wait_for()
        ok, failed = results.nth(0), results.nth(1)
        assert "webhook" in ok.inner_text() and "delivered" in ok.inner_text()
        assert "HTTP 200" in ok.inner_text()
        assert "slack" in failed.inner_text() and "failed" in failed.inner_text()
        assert "t0k3n" not in failed.inner_text()  # a secret URL never comes back
        # mute for an hour, a day, until unmuted; unmute
        cell = row.locator(".mute-cell")
        for how in ("3600000", "86400000", "forever"):
            cell.locator("summary").click()
            cell.locator(f"button[data-mute='{how}']").click()
            muted = wait_for(partial(muted_until, server, rid, how), f"the mute {how}")
            if how == "forever":
                expect(cell.locator(".muted-state")).to_have_text("until unmuted")
            else:  # the time shown is the one stored
                wait_for(partial(shows_ms, cell.locator(".muted-state time"), muted), "the time")
            assert cell.locator("button[data-mute='0']").is_visible()
        w.shot("alerts-muted")
        cell.locator("button[data-mute='0']").click()
        cell.locator("button[data-mute='0']").wait_for(state="hidden")
        expect(cell.locator(".muted-state")).to_have_text("no")
        assert api(server, "GET", f"/api/v1/alert-rules/{rid}")["muted_until_ms"] is None
        # off and on again
        switch = row.locator("input[data-action=enabled]")
        switch.click()
        wait_for(lambda: api(server, "GET", f"/api/v1/alert-rules/{rid}")["enabled"] is False)
        expect(row.locator(".switch-text")).to_have_text("off")  # the page follows
        switch.click()
        wait_for(lambda: api(server, "GET", f"/api/v1/alert-rules/{rid}")["enabled"] is True)
        expect(row.locator(".switch-text")).to_have_text("on")
        w.assert_clean("test, mute, on/off")
        page.close()

    ui.run(test_mute_toggle)
    (first,) = rx.at("/lifecycle")
    assert verify(SECRET, first.headers, first.body)
    assert first.json["rule"]["name"] == "Checkout failures"

    def edit() -> None:
        w = watched(ui)
        page = w.page
        page.goto("/alerts")
        page.locator(f"tr.rule-row[data-rule-id='{rid}'] a.rule-name").click()
        page.wait_for_url(f"**/alerts/rules/{rid}")
        secret = page.locator("#channels .channel-card").first.locator("[data-field=secret]")
        assert secret.input_value().startswith("••••") and SECRET not in page.content()
        assert field(page, "trigger.threshold").input_value() == "3"
        assert field(page, "filters.service").input_value() == "api"
        field(page, "name").fill("Checkout failures (api)")
        field(page, "cooldown_seconds").fill("60")
        page.locator("#channels .channel-card").nth(1).locator("[data-remove-channel]").click()
        page.click("#save-rule")
        page.wait_for_url(re.compile(r"/alerts$"))
        row = page.locator(f"tr.rule-row[data-rule-id='{rid}']")
        assert "Checkout failures (api)" in row.inner_text()
        row.locator("button[data-action=test]").click()
        page.locator(f"tr.rule-extra[data-for-rule='{rid}'] li.test-ok").wait_for()
        w.assert_clean("edit")
        page.close()

    ui.run(edit)
    rule = api(server, "GET", f"/api/v1/alert-rules/{rid}")
    assert rule["name"] == "Checkout failures (api)" and rule["cooldown_seconds"] == 60
    assert [c["kind"] for c in rule["channels"]] == ["webhook"]
    second = rx.at("/lifecycle")[1]
    assert verify(SECRET, second.headers, second.body), "the signing secret was not kept"
    assert second.json["rule"]["name"] == "Checkout failures (api)"

    def log_and_delete() -> None:
        w = watched(ui)
        page = w.page
        page.goto("/alerts")
        rows = page.locator("tr.delivery-row")
        assert rows.count() == 3  # two test messages on the webhook, one on slack
        newest = rows.first.inner_text()
        assert "Checkout failures (api)" in newest and "webhook" in newest
        assert "delivered" in newest and "200" in newest
        slack = page.locator("tr.delivery-row", has_text="slack").inner_text()
        assert "failed" in slack and "t0k3n" not in slack
        last = page.locator(f"tr.rule-row[data-rule-id='{rid}'] .last-cell")
        assert "delivered" in last.inner_text()
        last.locator("a").click()  # this rule's deliveries only
        page.wait_for_url(re.compile(rf"/alerts\?rule={rid}"))
        assert page.locator("tr.delivery-row").count() == 3
        w.shot("alerts-list")
        # delete: cancel first, then confirm
        row = page.locator(f"tr.rule-row[data-rule-id='{rid}']")
        row.locator("button[data-action=delete]").click()
        dialog = page.locator("dialog#confirm-delete")
        assert "Checkout failures (api)" in dialog.inner_text()
        w.shot("alerts-delete-confirm")
        dialog.locator("button[value=cancel]").click()
        assert not dialog.is_visible() and row.count() == 1
        row.locator("button[data-action=delete]").click()
        dialog.locator("button[data-confirm]").click()
        row.wait_for(state="detached")
        assert "Deleted the rule" in page.inner_text("#alerts-status")
        assert "No alert rules" in page.inner_text("table.alert-rules")
        w.assert_clean("log and delete")
        page.close()

    ui.run(log_and_delete)
    assert api(server, "GET", f"/api/v1/alert-rules/{rid}")[0] == 404


TRIGGERS: dict[str, tuple[dict[str, str], dict[str, Any]]] = {
    # kind: (what is typed into the form, the trigger the API then holds)
    "new_group": ({}, {"kind": "new_group"}),
    "regression": ({}, {"kind": "regression"}),
    "spike": (
        {"threshold": "10", "window_minutes": "15", "scope": "service"},
        {
            "kind": "spike",
            "threshold": 10,
            "window_minutes": 15,
            "scope": "service",
            "group_id": None,
        },
    ),
    "log_match": (
        {"query": "timeout", "level": "error", "threshold": "5", "window_minutes": "10"},
        {
            "kind": "log_match",
            "query": "timeout",
            "level": "error",
            "threshold": 5,
            "window_minutes": 10,
        },
    ),
    "user_error": (
        {"user": "ada@example.com", "property_name": "plan", "property_value": "paid"},
        {
            "kind": "user_error",
            "user": "ada@example.com",
            "property_name": "plan",
            "property_value": "paid",
        },
    ),
}
CHANNELS: list[tuple[str, dict[str, str], dict[str, Any]]] = [
    # kind, what is typed, the channel the API then shows (secrets masked)
    (
        "webhook",
        {"url": "http://127.0.0.1:9/hook", "secret": SECRET},
        {"url": "http://127.0.0.1:9/hook", "secret": "••••ests"},
    ),
    (
        "slack",
        {"webhook_url": "https://hooks.slack.test/services/T0/B0/abcdefgh12345678"},
        {"webhook_url": "••••5678"},
    ),
    (
        "discord",
        {"webhook_url": "https://discord.test/api/webhooks/1/tok"},
        {"webhook_url": "••••/tok"},
    ),
    (
        "teams",
        {"webhook_url": "https://teams.test/workflows/run?sig=xyz0"},
        {"webhook_url": "••••xyz0"},
    ),
    (
        "pagerduty",
        {"routing_key": "0123456789abcdef0123456789abcdef"},
        {"routing_key": "••••cdef", "events_url": "https://events.pagerduty.com/v2/enqueue"},
    ),
    (
        "email",
        {
            "host": "smtp.test",
            "port": "2525",
            "sender": "alerts@shop.test",
            "to": "ops@shop.test\ndev@shop.test",
        },
        {
            "host": "smtp.test",
            "port": 2525,
            "starttls": False,
            "username": "",
            "password": "",
            "sender": "alerts@shop.test",
            "to": ["ops@shop.test", "dev@shop.test"],
        },
    ),
]


def test_the_form_makes_every_trigger_and_channel_kind_and_keeps_them_on_save(
    ui: Ui, server: BacklightProcess
) -> None:
    def make() -> None:
        w = watched(ui)
        page = w.page
        for kind, (typed, _) in TRIGGERS.items():
            page.goto("/alerts/new")
            field(page, "name").fill(f"every kind: {kind}")
            page.check(f"input[data-trigger-kind][value={kind}]")
            for name, value in typed.items():
                box = field(page, f"trigger.{name}")
                if box.evaluate("e => e.tagName") == "SELECT":
                    box.select_option(value)
                else:
                    box.fill(value)
            channels = CHANNELS if kind == "user_error" else CHANNELS[:1]
            for channel, values, _ in channels:
                card = add_channel(page, channel)
                for name, value in values.items():
                    card.locator(f"[data-field={name}]").fill(value)
                if channel == "email":
                    card.locator("[data-field=starttls]").uncheck()
            page.click("#save-rule")
            page.wait_for_url(re.compile(r"/alerts$"))
        w.assert_clean("every kind")
        page.close()

    ui.run(make)
    made = {}
    for kind, (_, expected) in TRIGGERS.items():
        (rule,) = rules_named(server, f"every kind: {kind}")
        assert rule["trigger"] == expected, kind
        channels = CHANNELS if kind == "user_error" else CHANNELS[:1]
        assert rule["channels"] == [{"kind": c, **shown} for c, _, shown in channels], kind
        made[kind] = rule

    def save_unchanged() -> None:
        w = watched(ui)
        page = w.page
        for rule in made.values():
            page.goto(f"/alerts/rules/{rule['id']}")
            page.click("#save-rule")
            page.wait_for_url(re.compile(r"/alerts$"))
        w.assert_clean("save unchanged")
        page.close()

    ui.run(save_unchanged)
    for kind, before in made.items():
        after = api(server, "GET", f"/api/v1/alert-rules/{before['id']}")
        assert after["updated_ms"] > before["updated_ms"], kind  # it was saved again …
        assert {**after, "updated_ms": 0} == {**before, "updated_ms": 0}, kind  # … unchanged
    for rule in made.values():
        api(server, "DELETE", f"/api/v1/alert-rules/{rule['id']}")


def test_screenshots_at_1440_and_1024_light_and_dark(
    ui: Ui, server: BacklightProcess, rx: Receiver
) -> None:
    made = []
    for name, trigger, extra in (
        (
            "New errors in production",
            {"kind": "new_group"},
            {"filters": {"environment": "production"}},
        ),
        (
            "Checkout regressions",
            {"kind": "regression"},
            {"muted_until_ms": time.time() * 1000 + HOUR_MS},
        ),
        (
            "Spikes of the api",
            {"kind": "spike", "threshold": 50, "window_minutes": 10, "scope": "service"},
            {"filters": {"service": "api", "source": "backend"}, "enabled": False},
        ),
        (
            "Paying customers hit a 500",
            {"kind": "user_error", "property_name": "plan", "property_value": "paid"},
            {"muted_until_ms": 9e12},
        ),
    ):
        body = {
            "name": name,
            "trigger": trigger,
            "channels": [
                {"kind": "webhook", "url": rx.url + "/shots", "secret": SECRET},
                {"kind": "slack", "webhook_url": "http://127.0.0.1:9/services/T0/B0/x"},
            ],
            **extra,
        }
        made.append(api(server, "POST", "/api/v1/alert-rules", body)["id"])
    api(server, "POST", f"/api/v1/alert-rules/{made[0]}/test")
    assert ui.context is not None
    state = ui.run(lambda: ui.context.storage_state() if ui.context else None)

    def shoot() -> None:
        for width in (1440, 1024):
            for scheme in ("light", "dark"):
                ctx = ui.new_context(storage_state=state, color_scheme=scheme)
                page = ctx.new_page()
                page.set_viewport_size({"width": width, "height": 900})
                w = Watched(page)
                for name, path, ready in (
                    ("alerts", "/alerts", "table.alert-rules"),
                    ("alerts-new", "/alerts/new", "#rule-form"),
                    ("alerts-edit", f"/alerts/rules/{made[2]}", "#rule-form"),
                ):
                    page.goto(path)
                    page.wait_for_selector(ready)
                    if name == "alerts":
                        row = page.locator(f"tr.rule-row[data-rule-id='{made[0]}']")
                        row.locator("button[data-action=test]").click()
                        row.page.locator("ul.test-results li").first.wait_for()
                    page.screenshot(
                        path=str(SHOTS / f"{name}-{width}-{scheme}.png"), full_page=True
                    )
                    # nothing is cut off or pushes the page sideways at this width
                    overflow = page.evaluate(
                        "() => document.documentElement.scrollWidth - window.innerWidth"
                    )
                    assert overflow <= 0, (name, width, scheme, overflow)
                w.assert_clean(f"{name} {width} {scheme}")
                ctx.close()

    SHOTS.mkdir(parents=True, exist_ok=True)
    ui.run(shoot, timeout=300)
    for rule_id in made:
        api(server, "DELETE", f"/api/v1/alert-rules/{rule_id}")
