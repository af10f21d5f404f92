"""The SDK in a real page against a real ``backlight serve``: tracing headers only to
matching origins, and network, console, errors, track, identify and replay arriving."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import BrowserContext

from backlight_server.testing import BacklightProcess

from .conftest import Sites, sdk_page, session_data, wait_for

pytestmark = pytest.mark.browser

CALLS_JS = """
window.done = (async () => {
  const out = {};
  for (const [name, base] of Object.entries(TARGETS)) {
    // third parties get simple requests only (no preflight), as apps do
    const simple = name.startsWith('third');
    try {
      const r = await fetch(base + '/echo?via=fetch&to=' + name + '&from=' + location.pathname, {
        method: 'POST',
        headers: simple ? {'content-type': 'text/plain'}
                        : {'content-type': 'text/plain', 'x-app': 'kept'},
        body: JSON.stringify({password: 'hunter2', query: 'shoes'}),
      });
      out[name + ':fetch'] = [r.status, (await r.json()).body];
    } catch (e) { out[name + ':fetch'] = [String(e)]; }
    out[name + ':xhr'] = await new Promise((resolve) => {
      const x = new XMLHttpRequest();
      x.open('GET', base + '/echo?via=xhr&to=' + name + '&from=' + location.pathname);
      if (!simple) x.setRequestHeader('authorization', 'Bearer very-secret');
      x.onloadend = () => resolve([x.status]);
      x.send();
    });
  }
  return out;
})();
"""


def targets(sites: Sites) -> dict[str, str]:
    return {
        "same_site": sites.api.url("api.shop.test"),
        "cross_origin": sites.api.url("localhost"),
        "third_party": sites.third.url("cdn.thirdparty.test"),
    }


def _load(
    context: BrowserContext,
    sites: Sites,
    backlight: BacklightProcess,
    path: str,
    options: str,
    body: str = "",
    script: str = "",
    host: str = "app.shop.test",
) -> Any:
    sites.app.pages[path] = sdk_page(backlight, options, body, script)
    page = context.new_page()
    page.goto(sites.page_url(path, host))
    return page


def test_headers_go_to_matching_origins_only_and_everything_arrives(
    context: BrowserContext, sites: Sites, backlight: BacklightProcess
) -> None:
    tg = targets(sites)
    script = (
        f"const TARGETS = {json.dumps(tg)};"
        + CALLS_JS
        + """
      console.log('hello from the page', {n: 1});
      console.info('an info');
      console.warn('a warning');
      console.error('an error line');
      console.debug('a debug line');
      H.track('checkout', {total: 3});
      H.identify('user@example.com', {plan: 'pro'});
      setTimeout(function thrower() { null.boom(); }, 0);
      Promise.reject(new RangeError('rejected on purpose'));
    """
    )
    page = _load(
        context,
        sites,
        backlight,
        "/linkage",
        "{tracingOrigins: true, networkRecording: {recordHeadersAndBody: true}}",
        "<h1>Linkage</h1>",
        script,
    )
    results = page.evaluate("window.done")
    sid = page.evaluate("H.getSessionId()")
    assert re.fullmatch(r"[A-Za-z0-9]{28}", sid)
    assert page.evaluate("H.getSessionURL()") == f"{backlight.url}/sessions/{sid}"

    # The app saw normal results everywhere: the third party's CORS was not broken.
    for name in tg:
        assert results[f"{name}:fetch"][0] == 200, results
        assert json.loads(results[f"{name}:fetch"][1])["password"] == "hunter2"
        assert results[f"{name}:xhr"] == [200], results

    # Header and traceparent on same-site and cross-origin; nothing on the third party.
    sent: dict[str, str] = {}
    for seen in sites.api.requests("/echo"):
        if "from=/linkage" not in seen.target:
            continue
        header = seen.headers.get("x-highlight-request", "")
        m = re.fullmatch(rf"{sid}/([0-9a-f]{{32}})", header)
        assert m, (seen.target, seen.headers)
        rid = m.group(1)
        assert re.fullmatch(rf"00-{rid}-[0-9a-f]{{16}}-01", seen.headers["traceparent"])
        assert rid not in sent.values(), "request ids are fresh per request"
        sent[seen.target.split("?")[1].split("&from")[0]] = rid
    assert sorted(sent) == sorted(
        f"via={v}&to={t}" for v in ("fetch", "xhr") for t in ("same_site", "cross_origin")
    )
    assert len([s for s in sites.third.requests("/echo") if "from=/linkage" in s.target]) == 2
    for seen in sites.third.requests("/echo"):
        assert "x-highlight-request" not in seen.headers
        assert "traceparent" not in seen.headers

    # Everything arrives at the server.
    def complete() -> dict[str, Any] | None:
        data = session_data(backlight, sid)
        if not data or len(data["network"]) < 6 or len(data["console"]) < 5:
            return None
        if len(data["errors"]) < 2 or not data["track"]:
            return None
        return data

    data = wait_for(complete, "network, console, errors and track of the session")
    by_rid = {n["request_id"]: n for n in data["network"] if n["request_id"]}
    for target, rid in sent.items():
        entry = by_rid[rid]
        assert entry["type"] == target.split("&")[0].removeprefix("via=")
        assert entry["status"] == 200
    assert not [n for n in data["network"] if n["url"].startswith(backlight.url)], (
        "the SDK's own uploads are never recorded"
    )
    third = [n for n in data["network"] if "cdn.thirdparty.test" in n["url"]]
    assert len(third) == 2
    assert all(n["request_id"] is None and n["status"] == 200 for n in third)

    fetch_entry = next(n for n in data["network"] if "via=fetch&to=same_site" in n["url"])
    detail = fetch_entry["detail"]
    assert json.loads(detail["request_body"]) == {"password": "[REDACTED]", "query": "shoes"}
    assert detail["request_headers"]["x-app"] == "kept"
    assert json.loads(detail["response_body"])["method"] == "POST"
    assert detail["response_headers"]["x-echo"] == "yes"
    assert detail["timing"] is not None
    xhr_entry = next(n for n in data["network"] if "via=xhr&to=same_site" in n["url"])
    assert xhr_entry["detail"]["request_headers"]["authorization"] == "[REDACTED]"

    levels = {c["level"]: c["message"] for c in data["console"]}
    assert levels["log"] == 'hello from the page {"n":1}'
    assert levels["info"] == "an info"
    assert levels["warn"] == "a warning"
    assert levels["error"] == "an error line"
    assert levels["debug"] == "a debug line"

    errors = {e["type"]: e for e in data["errors"]}
    assert errors["TypeError"]["url"] == sites.page_url("/linkage")
    frame = errors["TypeError"]["stack"][0]
    assert frame["function"] == "thrower"
    assert frame["file"] == sites.page_url("/linkage")
    assert frame["line"] >= 1
    assert errors["RangeError"]["message"] == "rejected on purpose"
    assert data["track"][0]["event"] == "checkout"
    assert data["session"]["identifier"] == "user@example.com"
    assert data["session"]["sdk_version"] == "0.1.0"


def test_tracing_origins_list_and_default(
    context: BrowserContext, sites: Sites, backlight: BacklightProcess
) -> None:
    tg = {
        "partner": sites.api.url("api.partner.test"),
        "same_site": sites.api.url("api.shop.test"),
        "own": sites.page_url("").rstrip("/"),
    }
    script = f"const TARGETS = {json.dumps(tg)};" + CALLS_JS
    page = _load(
        context,
        sites,
        backlight,
        "/list",
        "{tracingOrigins: ['api.partner.test', /never-matches/]}",
        script=script,
    )
    page.evaluate("window.done")
    sid = page.evaluate("H.getSessionId()")

    def got(server_requests: list[Any], to: str) -> list[bool]:
        return [
            ("x-highlight-request" in s.headers)
            for s in server_requests
            if f"to={to}&from=/list" in s.target
        ]

    assert got(sites.api.requests("/echo"), "partner") == [True, True]
    assert got(sites.api.requests("/echo"), "same_site") == [False, False]
    page.close()

    # No tracingOrigins: the page's own origin only.
    page = _load(context, sites, backlight, "/default", "{}", script=script)
    page.evaluate("window.done")
    assert page.evaluate("H.getSessionId()") != sid
    own = [s for s in sites.app.requests("/echo") if "to=own&from=/default" in s.target]
    assert len(own) == 2 and all("x-highlight-request" in s.headers for s in own)
    partner = [s for s in sites.api.requests("/echo") if "to=partner&from=/default" in s.target]
    assert len(partner) == 2 and not any("x-highlight-request" in s.headers for s in partner)
    assert got(sites.app.requests("/echo"), "own") == [False, False]  # /list: not in its list


def test_public_suffix_is_never_a_site(
    context: BrowserContext, sites: Sites, backlight: BacklightProcess
) -> None:
    tg = {"sibling": sites.api.url("b.github.io"), "own_sub": sites.api.url("api.a.github.io")}
    script = f"const TARGETS = {json.dumps(tg)};" + CALLS_JS
    page = _load(
        context,
        sites,
        backlight,
        "/psl",
        "{tracingOrigins: true}",
        script=script,
        host="a.github.io",
    )
    page.evaluate("window.done")
    reqs = [s for s in sites.api.requests("/echo") if "github.io" in s.headers.get("host", "")]
    sibling = [s for s in reqs if "to=sibling" in s.target]
    own_sub = [s for s in reqs if "to=own_sub" in s.target]
    assert len(sibling) == 2 and not any("x-highlight-request" in s.headers for s in sibling)
    assert len(own_sub) == 2 and all("x-highlight-request" in s.headers for s in own_sub)


def test_server_serves_the_built_bundle_with_an_etag(
    backlight: BacklightProcess, sdk_dist: Path
) -> None:
    r = httpx.get(f"{backlight.url}/sdk/backlight.js", timeout=10)
    assert r.status_code == 200
    assert r.content == (sdk_dist / "backlight.js").read_bytes()
    assert r.headers.get("etag")
    again = httpx.get(
        f"{backlight.url}/sdk/backlight.js",
        timeout=10,
        headers={"if-none-match": r.headers["etag"]},
    )
    assert again.status_code == 304
