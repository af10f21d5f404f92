"""The links of an alert open the right UI pages in Debian Chromium.

A real ``backlight serve`` (its public URL is its own loopback address), a browser session
sent through the public browser protocol (a replay, and a fetch whose backend failed), the
backend's failing span sent through OTLP/HTTP, a ``new_group`` rule with a webhook to a
loopback receiver. The received message's ``links.replay``, ``links.request`` and
``links.group`` are opened in Chromium, logged in: the replay is paused within ±1 s of the
error with that request's view open, the request page shows that request, the group page
that group. A control opens the replay link with ``t`` or ``request`` changed and sees the
same checks fail, so they cannot pass whatever the link says.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urlsplit, urlunsplit

import httpx
import pytest
from blalerts import SECRET, Receiver, exception_span, traces, verify, webhook_rule
from playwright.sync_api import Page

from backlight_server.testing import BacklightProcess, free_port, wait_for
from bltest import request_id, session_id

from .conftest import Ui, current_ms, watched
from .seed import _network, rrweb_page

pytestmark = pytest.mark.browser
MESSAGE = "card declined for order 7 " + secrets.token_hex(3)


@dataclass
class Linked:
    server: BacklightProcess
    sid: str
    r_fail: str  # the request whose backend raised
    r_ok: str  # another request of the session
    error_ms: float  # when the backend raised (the span's exception event)
    event: dict[str, object]  # the alert's event, as the receiver got it


def _post(server: BacklightProcess, path: str, body: dict[str, object]) -> None:
    r = httpx.post(server.url + path, json=body, timeout=30)
    assert r.status_code == 200, (path, r.status_code, r.text)


@pytest.fixture(scope="module")
def linked(tmp_path_factory: pytest.TempPathFactory, ui_assets: Path) -> Iterator[Linked]:
    port = free_port()
    args = ["--public-url", f"http://127.0.0.1:{port}", "--alert-interval-s", "0.2"]
    data = tmp_path_factory.mktemp("alert-links")
    with Receiver().running() as rx, BacklightProcess(data, port=port, args=args) as server:
        rule = webhook_rule(rx.url + "/links", {"kind": "new_group"}, cooldown_seconds=0)
        r = httpx.post(
            server.url + "/api/v1/alert-rules",
            json=rule,
            headers={"Authorization": f"Bearer {server.token}"},
            timeout=30,
        )
        assert r.status_code == 201, r.text
        project, sid, r_ok, r_fail = server.project, session_id(), request_id(), request_id()
        t0 = time.time() * 1000 - 120_000
        start = {
            "v": 1,
            "project_id": project,
            "session_secure_id": sid,
            "started_at": t0,
            "url": "http://shop.test/cart",
            "user_agent": "Mozilla/5.0 (alert links test)",
            "sdk_version": "0.1.0",
        }
        _post(server, "/ingest/v1/session", start)
        network = [
            _network(r_ok, "GET", "http://api.shop.test/api/cart", 200, t0 + 3_000, t0 + 3_050),
            _network(r_fail, "POST", "http://api.shop.test/api/pay", 500, t0 + 20_000, t0 + 20_150),
        ]
        batch = {
            "v": 1,
            "project_id": project,
            "session_secure_id": sid,
            "seq": 0,
            "events": rrweb_page(t0, 60_000),
            "network": network,
            "identify": {"ts": t0 + 500, "identifier": "ada@example.com", "metadata": {}},
        }
        _post(server, "/ingest/v1/batch", batch)
        error_ms = t0 + 20_060
        span = exception_span(sid, r_fail, error_ms, "PaymentError", MESSAGE)
        _post(server, "/v1/traces", traces(project, [span], service="payments"))
        got = wait_for(lambda: rx.at("/links"), "the alert")
        assert verify(SECRET, got[0].headers, got[0].body)
        (event,) = got[0].json["events"]
        yield Linked(server, sid, r_fail, r_ok, error_ms, event)


@pytest.fixture(scope="module")
def ui(linked: Linked) -> Iterator[Ui]:
    browser = Ui(linked.server.url, linked.server.token)
    yield browser
    browser.close()


def _links(linked: Linked) -> dict[str, str]:
    links = linked.event["links"]
    assert isinstance(links, dict)
    return {k: str(v) for k, v in links.items() if v}


def _changed(url: str, **params: str) -> str:
    parts = urlsplit(url)
    query = {k: v[0] for k, v in parse_qs(parts.query).items()}
    return urlunsplit(parts._replace(query=urlencode({**query, **params})))


def _open_replay(page: Page, url: str) -> tuple[float, list[str]]:
    """Open a replay link: where the player stands, and which request views are open."""
    page.goto(url)
    page.wait_for_selector("#session[data-state=ready]")
    page.wait_for_load_state("networkidle")
    views = page.locator("#request-panel .request-view:visible")
    opened = [str(views.nth(i).get_attribute("data-request-id")) for i in range(views.count())]
    return current_ms(page), opened


def test_the_links_of_an_alert_open_the_replay_the_request_and_the_group(
    ui: Ui, linked: Linked
) -> None:
    links = _links(linked)
    public = linked.server.url
    assert set(links) == {"replay", "request", "group"}
    assert all(url.startswith(public + "/") for url in links.values()), links
    group_id = linked.event["group_id"]
    assert linked.event["error_type"] == "PaymentError" and linked.event["request_id"]

    def check() -> None:
        w = watched(ui)
        page = w.page
        # "play session at this moment": the replay at the error, that request's view open
        at, opened = _open_replay(page, links["replay"])
        assert abs(at - linked.error_ms) <= 1000, (at, linked.error_ms)
        assert opened == [linked.r_fail], opened
        view = page.locator(f"#request-panel .request-view[data-request-id='{linked.r_fail}']")
        assert "PaymentError" in view.inner_text() and MESSAGE in view.inner_text()
        w.shot("alert-link-replay")

        # the control: a link with another moment or another request fails these checks
        at, _ = _open_replay(page, _changed(links["replay"], t=str(linked.error_ms + 5_000)))
        assert abs(at - linked.error_ms) > 1000, "the player ignores t"
        _, opened = _open_replay(page, _changed(links["replay"], request=linked.r_ok))
        assert opened == [linked.r_ok], "the page ignores request"

        # the request view: that request, its backend error
        page.goto(links["request"])
        view = page.locator(f"main .request-view[data-request-id='{linked.r_fail}']")
        view.wait_for()
        assert page.locator("main .request-view").count() == 1
        assert "/api/pay" in view.inner_text() and MESSAGE in view.inner_text()
        w.shot("alert-link-request")

        # the error group: that group
        page.goto(links["group"])
        page.wait_for_selector("h1")
        assert "PaymentError" in page.inner_text("h1")
        assert MESSAGE in page.inner_text(".error-message")
        assert page.get_attribute(".group-actions .state-actions", "data-group") == str(group_id)
        w.shot("alert-link-group")
        w.assert_clean("alert links")
        page.close()

    ui.run(check)
    # the group the link opened is the one the error made (asked of the API, not the link)
    groups = linked.server.api("/api/v1/error-groups")["groups"]
    assert [g["id"] for g in groups if g["type"] == "PaymentError"] == [group_id]
