"""Issue 22's Traces and Logs pages in Debian Chromium, against a real ``backlight serve`` fed
through the public OTLP/HTTP endpoints (OTLP/JSON with explicit times): the trace list
filtered by service and duration, the waterfall (time axis, error icon, span panel, logs on
their spans), the log histogram and facets (click and drag to zoom), a row's attributes,
live tail and search on any substring. Screenshots at 1440 and 1024 px go to
artifacts/screenshots/."""

from __future__ import annotations

import re
import secrets
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Page

from backlight_server.testing import BacklightProcess
from bltest import wait_for

from .conftest import Ui, watched

pytestmark = pytest.mark.browser

MS = 1_000_000
WIDTHS = (1440, 1024)


def _attrs(values: dict[str, Any]) -> list[dict[str, Any]]:
    out = []
    for key, value in values.items():
        kind = "intValue" if isinstance(value, int) else "stringValue"
        out.append({"key": key, "value": {kind: str(value) if kind == "intValue" else value}})
    return out


def _resource(project: str, service: str) -> dict[str, Any]:
    return {"attributes": _attrs({"service.name": service, "highlight.project_id": project})}


def _span(
    trace: str,
    name: str,
    start_ms: float,
    dur_ms: float,
    *,
    span_id: str | None = None,
    parent: str | None = None,
    error: bool = False,
    attributes: dict[str, Any] | None = None,
) -> dict[str, Any]:
    span: dict[str, Any] = {
        "traceId": trace,
        "spanId": span_id or secrets.token_hex(8),
        "name": name,
        "kind": 2,
        "startTimeUnixNano": str(int(start_ms * MS)),
        "endTimeUnixNano": str(int((start_ms + dur_ms) * MS)),
        "attributes": _attrs(attributes or {}),
    }
    if parent:
        span["parentSpanId"] = parent
    if error:
        span["status"] = {"code": 2, "message": "card declined"}
    return span


def _log(
    ts_ms: float,
    severity: int,
    body: str,
    *,
    trace: str | None = None,
    span_id: str | None = None,
    attributes: dict[str, Any] | None = None,
) -> dict[str, Any]:
    text = {5: "DEBUG", 9: "INFO", 13: "WARN", 17: "ERROR"}[severity]
    record: dict[str, Any] = {
        "timeUnixNano": str(int(ts_ms * MS)),
        "severityNumber": severity,
        "severityText": text,
        "body": {"stringValue": body},
        "attributes": _attrs(attributes or {}),
    }
    if trace:
        record["traceId"] = trace
    if span_id:
        record["spanId"] = span_id
    return record


def post_spans(server: BacklightProcess, service: str, spans: list[dict[str, Any]]) -> None:
    body = {
        "resourceSpans": [
            {"resource": _resource(server.project, service), "scopeSpans": [{"spans": spans}]}
        ]
    }
    r = httpx.post(server.url + "/v1/traces", json=body, timeout=30)
    assert r.status_code == 200, r.text


def post_logs(server: BacklightProcess, service: str, logs: list[dict[str, Any]]) -> None:
    body = {
        "resourceLogs": [
            {"resource": _resource(server.project, service), "scopeLogs": [{"logRecords": logs}]}
        ]
    }
    r = httpx.post(server.url + "/v1/logs", json=body, timeout=30)
    assert r.status_code == 200, r.text


@dataclass
class Seeded:
    server: BacklightProcess
    checkout: str  # api → billing (failing, with a log on its span): 1.2 s
    products: str  # api only: 40 ms
    reserve: str  # inventory only: 700 ms
    ping: str  # inventory only: 15 ms
    failing_span: str  # the billing span with the error status
    span_log: str  # the body of the log on that span
    base_ms: float  # a whole 10 minutes, 40 minutes ago: the logs' times are after it
    word: str  # in every seeded log body, so the search isolates this module's logs


def _seed(server: BacklightProcess) -> Seeded:
    now = time.time() * 1000
    checkout, products, reserve, ping = (secrets.token_hex(16) for _ in range(4))
    root, failing = secrets.token_hex(8), secrets.token_hex(8)
    t = now - 120_000
    word = "wombat" + secrets.token_hex(3)
    span_log = f"{word} card declined by issuer for order 7"
    post_spans(
        server,
        "api",
        [
            _span(
                checkout,
                "POST /api/checkout",
                t,
                1200,
                span_id=root,
                attributes={"http.method": "POST", "http.route": "/api/checkout"},
            ),
            _span(products, "GET /api/products", t + 5_000, 40),
        ],
    )
    post_spans(
        server,
        "billing",
        [
            _span(
                checkout,
                "charge card",
                t + 300,
                500,
                span_id=failing,
                parent=root,
                error=True,
                attributes={"payment.provider": "acme", "order.id": "7"},
            ),
        ],
    )
    post_spans(
        server,
        "inventory",
        [
            _span(reserve, "reserve_stock", t + 10_000, 700),
            _span(ping, "GET /healthz", t + 20_000, 15),
        ],
    )
    post_logs(
        server,
        "billing",
        [
            _log(
                t + 450,
                17,
                span_log,
                trace=checkout,
                span_id=failing,
                attributes={"order.id": "7", "retry": 2},
            )
        ],
    )
    base = (now // 600_000) * 600_000 - 2_400_000  # a whole 10 minutes, 40 minutes ago
    logs: dict[str, list[dict[str, Any]]] = {"api": [], "worker": []}
    for minute, severity, service, text in [
        (1, 9, "api", "request served in 12 ms"),
        (1, 9, "api", "request served in 9 ms"),
        (1, 13, "worker", "queue is slow to drain"),
        (12, 17, "api", "connection broken by upstream"),
        (12, 9, "worker", "job 41 done"),
        (25, 13, "api", "retrying payment webhook"),
        (25, 9, "worker", "job 42 done"),
        (25, 5, "worker", "heartbeat"),
    ]:
        logs[service].append(
            _log(
                base + minute * 60_000,
                severity,
                f"{word} {text}",
                attributes={"user.id": "u-1001", "region": "eu-west-1"},
            )
        )
    for service, records in logs.items():
        post_logs(server, service, records)

    def stored(trace: str, spans: int) -> bool | None:
        return server.api(f"/api/v1/traces/{trace}")["span_count"] >= spans or None

    for trace, spans in ((checkout, 2), (products, 1), (reserve, 1), (ping, 1)):
        wait_for(lambda t=trace, n=spans: stored(t, n))  # type: ignore[misc]
    wait_for(lambda: len(server.api(f"/api/v1/logs?q={word}")["logs"]) >= 9 or None)
    return Seeded(server, checkout, products, reserve, ping, failing, span_log, base, word)


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory, ui_assets: Path) -> Iterator[Seeded]:
    """Overrides conftest's ``seeded`` for this module (``ui`` logs in to this server)."""
    with BacklightProcess(tmp_path_factory.mktemp("backlight-ui-traces")) as server:
        yield _seed(server)


def _shots(ui: Ui, path: str, ready: str, name: str, then: str | None = None) -> None:
    """Full-page screenshots of ``path`` at each width, with no console error; ``then``:
    a selector to click first."""

    def take() -> None:
        for width in WIDTHS:
            w = watched(ui)
            w.page.set_viewport_size({"width": width, "height": 900})
            w.page.goto(path)
            w.page.wait_for_selector(ready)
            if then:
                w.page.locator(then).first.click()
            w.page.wait_for_load_state("networkidle")
            w.shot(f"{name}-{width}")
            w.assert_clean(f"{name} at {width}")
            w.page.close()

    ui.run(take)


def _trace_ids(page: Page) -> list[str]:
    return [
        str(page.locator("tr.trace-row").nth(i).get_attribute("data-trace-id"))
        for i in range(page.locator("tr.trace-row").count())
    ]


# traces --------------------------------------------------------------------------------


def test_the_trace_list_filters_by_service_and_duration(ui: Ui, seeded: Seeded) -> None:
    s = seeded

    def check() -> None:
        w = watched(ui)
        page = w.page
        page.goto("/")
        page.locator("header.top nav a", has_text="Traces").click()
        page.wait_for_url(re.compile(r"/traces$"))
        assert _trace_ids(page) == [s.ping, s.reserve, s.products, s.checkout]  # newest first
        row = page.locator(f"tr[data-trace-id='{s.checkout}']")
        assert "POST /api/checkout" in row.inner_text() and "1.2 s" in row.inner_text()
        assert row.locator(".svc-tag").all_inner_texts() == ["api", "billing"]
        assert row.locator(".trace-status.error").is_visible()

        page.fill("input[name=service]", "inventory")
        page.locator("form.trace-filters button[type=submit]").click()
        page.wait_for_url(re.compile(r"service=inventory"))
        assert _trace_ids(page) == [s.ping, s.reserve]

        page.fill("input[name=min_ms]", "100")
        page.locator("form.trace-filters button[type=submit]").click()
        page.wait_for_url(re.compile(r"min_ms=100"))
        assert _trace_ids(page) == [s.reserve]

        page.fill("input[name=service]", "")
        page.fill("input[name=max_ms]", "1000")
        page.locator("form.trace-filters button[type=submit]").click()
        page.wait_for_url(re.compile(r"max_ms=1000"))
        assert _trace_ids(page) == [s.reserve]  # checkout (1.2 s) is over the maximum

        page.goto("/traces?status=error")
        assert _trace_ids(page) == [s.checkout]
        page.goto("/traces?name=charge")
        assert _trace_ids(page) == [s.checkout]  # a child span's name
        page.goto("/traces?service=nothing-like-this")
        assert "No trace matches" in page.locator("table.traces-table").inner_text()
        page.goto("/traces")
        page.locator(f"tr[data-trace-id='{s.checkout}'] a.trace-name").click()
        page.wait_for_url(re.compile(rf"/traces/{s.checkout}"))
        page.locator(".waterfall").wait_for()
        w.assert_clean("trace list")
        page.close()

    ui.run(check)
    _shots(ui, "/traces", "table.traces-table", "traces-list")
    _shots(ui, "/traces?service=inventory&min_ms=100", "table.traces-table", "traces-filtered")


def test_the_waterfall_has_an_axis_an_error_icon_a_span_panel_and_logs_on_spans(
    ui: Ui, seeded: Seeded
) -> None:
    s = seeded

    def check() -> None:
        w = watched(ui)
        page = w.page
        page.goto(f"/traces/{s.checkout}")
        wf = page.locator(".waterfall")
        wf.wait_for()
        # a time axis from 0 over the trace's 1.2 s
        ticks = wf.locator(".wf-axis .wf-tick").all_inner_texts()
        assert ticks[0] == "0" and "1 s" in ticks, ticks
        # no <details> and no table roles among the rows (issue 22: a11y)
        assert wf.locator("details").count() == 0
        assert wf.locator("[role=table], [role=row], [role=cell]").count() == 0
        rows = wf.locator("li.wf-row")
        assert rows.count() == 2
        failing = rows.filter(has_text="charge card")
        assert failing.locator(".wf-err-icon").is_visible()
        assert rows.filter(has_text="POST /api/checkout").locator(".wf-err-icon").count() == 0
        # the log sits on its span's bar, coloured by its level
        marker = failing.locator(".wf-log")
        assert marker.count() == 1 and "lvl-error" in str(marker.get_attribute("class"))
        bar, at = failing.locator(".wf-bar").bounding_box(), marker.bounding_box()
        assert bar and at and bar["x"] - 6 <= at["x"] <= bar["x"] + bar["width"]
        # the panel shows the failing span first; the root's attributes after a click
        panel = wf.locator(".wf-panel")
        shown = panel.locator(".wf-detail:visible")
        assert shown.count() == 1 and "charge card" in shown.inner_text()
        assert "payment.provider" in shown.inner_text() and s.span_log in shown.inner_text()
        root = rows.filter(has_text="POST /api/checkout").locator("button")
        root.click()
        shown = panel.locator(".wf-detail:visible")
        assert shown.count() == 1 and "http.route" in shown.inner_text()
        assert "payment.provider" not in shown.inner_text()
        assert root.get_attribute("aria-pressed") == "true"
        # the keyboard moves between spans (↓) and the panel follows
        root.focus()
        page.keyboard.press("ArrowDown")
        assert "payment.provider" in panel.locator(".wf-detail:visible").inner_text()
        w.assert_clean("trace waterfall")
        page.close()

    ui.run(check)
    _shots(ui, f"/traces/{s.checkout}", ".waterfall", "trace-waterfall")


# logs ----------------------------------------------------------------------------------


def _log_bodies(page: Page) -> list[str]:
    return [b.strip() for b in page.locator("tr.log-row td.body summary").all_inner_texts()]


def test_the_log_histogram_and_facets_count_and_zoom(ui: Ui, seeded: Seeded) -> None:
    s = seeded
    start, end = int(s.base_ms), int(s.base_ms + 30 * 60_000)

    def check() -> None:
        w = watched(ui)
        page = w.page
        page.goto(f"/logs?q={s.word}&start={start}&end={end}")
        hist = page.locator("#log-histogram")
        hist.wait_for()
        # bars coloured by level: the errors and warnings are drawn in their own colours
        assert hist.locator("rect.hist-seg.lvl-error").count() == 1
        assert hist.locator("rect.hist-seg.lvl-warn").count() == 2
        assert hist.locator("rect.hist-seg.lvl-info").count() == 3  # minutes 1, 12, 25
        assert "8 logs" in page.locator(".hist-head").inner_text()
        # facets with counts
        levels = dict(
            zip(
                page.locator(".facets ul").first.locator(".level").all_text_contents(),
                page.locator(".facets ul").first.locator(".facet-count").all_inner_texts(),
                strict=True,
            )
        )
        assert levels == {"debug": "1", "info": "4", "warn": "2", "error": "1"}
        services = page.locator(".facets ul").nth(1)
        assert services.locator(".facet-name").all_inner_texts() == [
            "api",
            "worker",
        ]  # ties by name
        assert services.locator(".facet-count").all_inner_texts() == ["4", "4"]
        # a facet filters; its own counts stay (a level is counted without the level filter)
        page.locator(".facets a.facet.lvl-warn").click()
        page.wait_for_url(re.compile(r"level=warn"))
        assert sorted(_log_bodies(page)) == [
            f"{s.word} queue is slow to drain",
            f"{s.word} retrying payment webhook",
        ]
        assert page.locator(".facets a.facet.active .level").text_content() == "warn"
        assert page.locator(".facets ul").first.locator("a.facet").count() == 4
        page.locator(".facets a.facet.active").click()  # off again
        page.wait_for_url(lambda url: "level=" not in url)
        # a click on a bar zooms into its time
        bar = hist.locator("a.hist-col").filter(has=page.locator("rect.lvl-error"))
        bar.locator("rect.hist-hit").click()
        page.wait_for_url(re.compile(r"start=\d+&end=\d+"))
        assert sorted(_log_bodies(page)) == [
            f"{s.word} connection broken by upstream",
            f"{s.word} job 41 done",
        ]
        assert page.locator("a.zoom-out").is_visible()
        # a drag across the first half of the whole range zooms to it
        page.goto(f"/logs?q={s.word}&start={start}&end={end}")
        box = page.locator("#log-histogram").bounding_box()
        assert box
        y = box["y"] + box["height"] / 2
        page.mouse.move(box["x"] + 2, y)
        page.mouse.down()
        page.mouse.move(box["x"] + box["width"] * 0.2, y, steps=5)
        page.mouse.move(box["x"] + box["width"] * 0.5, y, steps=5)
        page.mouse.up()
        page.wait_for_url(lambda url: f"end={end}" not in url)
        zoom = dict(re.findall(r"(start|end)=(\d+)", page.url))
        assert abs(int(zoom["start"]) - start) < 60_000
        assert abs(int(zoom["end"]) - (start + end) / 2) < 60_000
        assert sorted(_log_bodies(page)) == sorted(
            f"{s.word} {t}"
            for t in (
                "request served in 12 ms",
                "request served in 9 ms",
                "queue is slow to drain",
                "connection broken by upstream",
                "job 41 done",
            )
        )
        w.assert_clean("log histogram")
        page.close()

    ui.run(check)
    _shots(ui, f"/logs?q={s.word}&start={start}&end={end}", "#log-histogram", "logs-histogram")


def test_a_log_row_opens_to_all_its_attributes(ui: Ui, seeded: Seeded) -> None:
    s = seeded

    def check() -> None:
        w = watched(ui)
        page = w.page
        page.goto(f"/logs?q={s.word} broken")
        row = page.locator("tr.log-row")
        assert row.count() == 1
        attrs = row.locator("dl.log-attrs")
        assert not attrs.is_visible()
        row.locator("summary").click()
        assert attrs.is_visible()
        text = attrs.inner_text()
        assert "user.id" in text and "u-1001" in text and "eu-west-1" in text
        row.locator("summary").focus()
        page.keyboard.press("Enter")  # and closed again from the keyboard
        assert not attrs.is_visible()
        w.assert_clean("log attributes")
        page.close()

    ui.run(check)
    _shots(ui, f"/logs?q={s.word}", "tr.log-row", "logs-row-open", then="tr.log-row summary")


def test_log_search_finds_any_substring(ui: Ui, seeded: Seeded) -> None:
    s = seeded

    def check() -> None:
        w = watched(ui)
        page = w.page
        page.goto("/logs")
        page.fill("input[name=q]", f"{s.word} broke")  # "broke" inside "broken"
        page.click("form.filters button[type=submit]")
        page.wait_for_url(re.compile(r"/logs\?q="))
        assert _log_bodies(page) == [f"{s.word} connection broken by upstream"]
        page.goto(f"/logs?q={s.word}+NNECTION")  # the middle of a word, any case
        assert _log_bodies(page) == [f"{s.word} connection broken by upstream"]
        page.goto(f"/logs?q={s.word}+ayment+webh")
        assert _log_bodies(page) == [f"{s.word} retrying payment webhook"]
        w.assert_clean("substring search")
        page.close()

    ui.run(check)


def test_live_tail_puts_new_logs_on_top_without_a_reload(ui: Ui, seeded: Seeded) -> None:
    s = seeded
    tail = "tail" + secrets.token_hex(3)

    def check() -> None:
        w = watched(ui)
        page = w.page
        page.goto(f"/logs?q={tail}")
        assert page.locator("tr.log-row").count() == 0
        page.evaluate("window.__sameDocument = true")
        page.locator("#live-tail").check()
        page.wait_for_url(re.compile(r"live=1"))
        page.locator("#live-status").filter(has_text="live").wait_for()
        post_logs(s.server, "api", [_log(time.time() * 1000, 13, f"first {tail} arrived")])
        page.locator("tr.log-row", has_text=f"first {tail}").wait_for(timeout=15_000)
        post_logs(s.server, "api", [_log(time.time() * 1000 + 5, 17, f"second {tail} arrived")])
        page.locator("tr.log-row", has_text=f"second {tail}").wait_for(timeout=15_000)
        assert _log_bodies(page) == [f"second {tail} arrived", f"first {tail} arrived"]
        assert page.evaluate("window.__sameDocument") is True  # no reload
        assert "lvl-error" in str(page.locator("tr.log-row").first.get_attribute("class"))
        page.locator("#live-tail").uncheck()
        page.wait_for_url(lambda url: "live=1" not in url)
        assert page.locator("#live-status").inner_text() == ""
        w.assert_clean("live tail")
        page.close()

    ui.run(check)
