"""Times on the pages: the server renders ``<time>`` absolute in UTC (a page without JS reads
right), app.ts makes it relative ("2 min ago") with the local time and the time zone on
hover; log lines keep their absolute local time, to the millisecond."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import Locator

from backlight_server.ui.render import fmt_time

from .conftest import Ui
from .seed import Seed

pytestmark = pytest.mark.browser
ZONE = "Asia/Tokyo"  # UTC+09:00 all year, unlike the test machine's zone


def _local(ms: float, precise: bool = False) -> str:
    when = datetime.fromtimestamp(ms / 1000, ZoneInfo(ZONE))
    text = when.strftime("%Y-%m-%d %H:%M:%S")
    return f"{text}.{int(ms) % 1000:03d}" if precise else text


def _utc(ms: float) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%d %H:%M:%S") + " UTC"


def _facts(time: Locator) -> tuple[float, str, str, str]:
    ms = float(time.get_attribute("data-ms") or "nan")
    return (
        ms,
        time.inner_text(),
        time.get_attribute("title") or "",
        time.get_attribute("datetime") or "",
    )


def test_times_are_relative_with_local_time_and_zone_on_hover(ui: Ui, seeded: Seed) -> None:
    assert ui.context is not None
    state: Any = ui.run(lambda: ui.context.storage_state() if ui.context else None)

    def check() -> None:
        context = ui.new_context(timezone_id=ZONE, storage_state=state)
        page = context.new_page()
        try:
            for path, selector in (
                ("/sessions", "table.sessions-table tbody tr:has-text('ada@example.com') time"),
                ("/errors", "table.errors-table tbody tr:has-text('ValueError') time >> nth=-1"),
                (f"/errors/{seeded.backend_group}", "dl.facts time >> nth=0"),
            ):
                page.goto(path)
                time = page.locator(selector)
                page.wait_for_function(
                    "t => !t.textContent.endsWith('UTC')", arg=time.element_handle()
                )
                ms, text, title, iso = _facts(time)
                assert re.fullmatch(r"(just now|\d+ min ago)", text), (path, text)
                assert title == f"{_local(ms)} {ZONE} (UTC+09:00)", (path, title)
                assert iso == datetime.fromtimestamp(ms / 1000, UTC).isoformat(
                    timespec="milliseconds"
                ).replace("+00:00", "Z")
            # the request view's log line: absolute, local, to the millisecond
            page.goto(f"/requests/{seeded.r_fail}")
            time = page.locator(".request-view time[data-precise] >> nth=0")
            page.wait_for_function("t => !t.textContent.endsWith('UTC')", arg=time.element_handle())
            ms, text, title, _ = _facts(time)
            assert text == _local(ms, precise=True)
            assert re.fullmatch(
                rf"(just now|\d+ min ago) · {re.escape(_local(ms, True))} {ZONE} \(UTC\+09:00\)",
                title,
            ), title
        finally:
            context.close()

    ui.run(check)


def test_without_javascript_times_read_absolute_in_utc(ui: Ui, seeded: Seed) -> None:
    assert ui.context is not None
    state: Any = ui.run(lambda: ui.context.storage_state() if ui.context else None)

    def check() -> None:
        context = ui.new_context(timezone_id=ZONE, storage_state=state, java_script_enabled=False)
        page = context.new_page()
        try:
            page.goto("/sessions")
            time = page.locator("table.sessions-table tbody tr:has-text('ada@example.com') time")
            ms, text, title, iso = _facts(time)
            assert text == title == _utc(ms)
            assert iso.endswith("Z") and iso.startswith(_utc(ms)[:10])
        finally:
            context.close()

    ui.run(check)


@pytest.mark.parametrize("value", [None, "x", True, float("nan"), 1e20, -1e20, [], {}])
def test_the_time_filter_survives_any_stored_value(value: object) -> None:
    assert fmt_time(value) == "–"


def test_the_time_filter_renders_utc_and_escapes_nothing_it_should_not() -> None:
    html = fmt_time(1_764_583_200_123, precise=True)
    assert html == (
        '<time datetime="2025-12-01T10:00:00.123Z" data-ms="1764583200123" data-precise'
        ' title="2025-12-01 10:00:00.123 UTC">2025-12-01 10:00:00.123 UTC</time>'
    )
    assert "data-precise" not in fmt_time(1_764_583_200_123)


@pytest.mark.parametrize("value", [1_764_583_200_999.6, 1_764_583_200_999.0001, 59_999.9])
def test_a_fractional_millisecond_is_cut_once_for_the_text_and_both_attributes(
    value: float,
) -> None:
    """The text, ``datetime`` and ``data-ms`` of one time agree: a value just under a whole
    second shows that second everywhere (as a JS ``Date`` of it does), not the next one in
    ``data-ms`` alone."""
    html = str(fmt_time(value, precise=True))
    ms = int(re.findall(r'data-ms="(\d+)"', html)[0])
    assert ms == int(value)
    shown = datetime.fromtimestamp(ms / 1000, UTC)
    assert f'datetime="{shown.strftime("%Y-%m-%dT%H:%M:%S")}.999Z"' in html
    assert f">{shown.strftime('%Y-%m-%d %H:%M:%S')}.999 UTC<" in html
