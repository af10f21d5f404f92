"""fetch and XMLHttpRequest behave for the app exactly as without the SDK: the same
scenario runs in a page without the SDK and in one with it (tracing and bodies on), and
every observable result must be equal. Then the SDK page's records are checked."""

from __future__ import annotations

import json
from typing import Any

import pytest
from playwright.sync_api import BrowserContext

from backlight_server.testing import BacklightProcess, free_port

from .conftest import Sites, sdk_page, session_data, wait_for

pytestmark = pytest.mark.browser

SCENARIO = r"""
window.done = (async () => {
  const r = {};
  const pick = (h) => ({a: h['x-a'] ?? null, b: h['x-b'] ?? null, ct: h['content-type'] ?? null});
  let res, j;

  const req = new Request(API + '/echo', {method: 'PUT', body: 'req-body', headers: {'X-A': '1'}});
  res = await fetch(req);
  j = await res.json();
  r.request = [res.status, res.ok, j.method, j.body, pick(j.headers), req.bodyUsed,
               res.headers.get('x-echo'), res.headers.get('content-type'), res.type, res.url];

  res = await fetch(new Request(API + '/echo', {headers: {'X-A': 'from-request'}}),
                    {method: 'POST', body: 'init-body', headers: [['X-B', '2']]});
  j = await res.json();
  r.merge = [j.method, j.body, pick(j.headers)];

  for (const [k, h] of [['obj', {'X-A': 'o'}], ['arr', [['X-A', 'a'], ['X-B', 'b']]],
                        ['hdr', new Headers({'X-B': 'h'})]]) {
    j = await (await fetch(API + '/echo', {headers: h})).json();
    r['headers_' + k] = pick(j.headers);
  }
  const frozen = Object.freeze({headers: Object.freeze({'X-A': 'frozen'})});
  j = await (await fetch(API + '/echo', frozen)).json();
  r.frozen = pick(j.headers);

  j = await (await fetch(new URL(API + '/echo?u=1'))).json();
  r.url_object = j.path;

  res = await fetch(API + '/stream');
  const reader = res.body.getReader();
  const chunks = [];
  for (;;) {
    const {done, value} = await reader.read();
    if (done) break;
    chunks.push(new TextDecoder().decode(value));
  }
  r.stream = chunks.join('');

  try {
    const body = new ReadableStream({
      start(c) { c.enqueue(new TextEncoder().encode('up')); c.close(); },
    });
    res = await fetch(API + '/echo', {method: 'POST', body, duplex: 'half'});
    r.upload = [res.status, (await res.json()).body];
  } catch (e) { r.upload = e.name; }

  const ac = new AbortController();
  const slow = fetch(API + '/slow', {signal: ac.signal});
  setTimeout(() => ac.abort(), 50);
  try { await slow; r.abort = 'not aborted'; } catch (e) { r.abort = [e.name, ac.signal.aborted]; }
  try { await fetch(API + '/echo', {signal: AbortSignal.abort()}); r.preaborted = 'sent'; }
  catch (e) { r.preaborted = e.name; }

  res = await fetch(API + '/json');
  const copy = res.clone();
  r.json = [await res.json(), await copy.text(), res.bodyUsed];
  res = await fetch(API + '/bytes');
  const buf = await res.arrayBuffer();
  r.bytes = [buf.byteLength, new Uint8Array(buf)[255]];

  try { await fetch(CLOSED + '/x'); r.closed = 'ok'; } catch (e) { r.closed = [e.name, e.message]; }
  try { await fetch(THIRD + '/nocors'); r.nocors = 'ok'; }
  catch (e) { r.nocors = [e.name, e.message]; }
  try { await fetch('http://[bad'); } catch (e) { r.bad_url = e.name; }
  try { await fetch(API + '/echo', {headers: {'bad header': 'x'}}); }
  catch (e) { r.bad_header = e.name; }

  const xhr = (type, path, setup) => new Promise((resolve) => {
    const x = new XMLHttpRequest();
    const events = [];
    for (const t of ['loadstart', 'load', 'error', 'abort', 'timeout', 'loadend'])
      x.addEventListener(t, () => events.push(t));
    x.onreadystatechange = () => events.push('rs' + x.readyState);
    x.open('GET', API + path);
    x.responseType = type;
    if (setup) setup(x);
    x.onloadend = () => resolve({x, events});
    x.send();
  });
  let o = await xhr('json', '/json');
  r.xhr_json = [o.x.status, o.x.response, o.events, o.x.getResponseHeader('x-echo')];
  o = await xhr('blob', '/bytes');
  r.xhr_blob = [o.x.response.size, o.x.response.type];
  o = await xhr('arraybuffer', '/bytes');
  r.xhr_arraybuffer = [o.x.response.byteLength, new Uint8Array(o.x.response)[255]];
  o = await xhr('', '/echo');
  r.xhr_text = [JSON.parse(o.x.responseText).method, o.events];
  o = await xhr('text', '/slow', (x) => { x.timeout = 50; });
  r.xhr_timeout = [o.x.status, o.events];
  o = await xhr('text', '/slow', (x) => setTimeout(() => x.abort(), 50));
  r.xhr_abort = [o.x.status, o.events];
  o = await new Promise((resolve) => {
    const x = new XMLHttpRequest();
    x.open('POST', API + '/echo');
    x.setRequestHeader('X-A', 'x1');
    x.setRequestHeader('X-A', 'x2');
    x.onload = () => resolve(JSON.parse(x.responseText));
    x.send('xhr-body');
  });
  r.xhr_post = [o.body, o.headers['x-a']];
  const sx = new XMLHttpRequest();
  sx.open('GET', API + '/echo?sync=1', false);
  sx.send();
  r.xhr_sync = [sx.status, JSON.parse(sx.responseText).path];
  try { new XMLHttpRequest().send(); } catch (e) { r.xhr_unopened = e.name; }
  try { new XMLHttpRequest().setRequestHeader('a', 'b'); }
  catch (e) { r.xhr_header_early = e.name; }
  r.fetch_is_function = typeof window.fetch;
  return r;
})();
"""


def _run(context: BrowserContext, sites: Sites, html: str, path: str) -> Any:
    sites.app.pages[path] = html
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(sites.page_url(path))
    results = page.evaluate("window.done")
    assert errors == []
    return page, results


def test_fetch_and_xhr_are_unchanged_for_the_app(
    context: BrowserContext, sites: Sites, backlight: BacklightProcess
) -> None:
    consts = (
        f"const API = {json.dumps(sites.api.url('api.shop.test'))};"
        f"const THIRD = {json.dumps(sites.third.url('cdn.thirdparty.test'))};"
        f"const CLOSED = 'http://127.0.0.1:{free_port()}';"
    )
    bare_html = f"<!doctype html><html><body><script>{consts}{SCENARIO}</script></body></html>"
    _, bare = _run(context, sites, bare_html, "/bare")
    with_sdk_html = sdk_page(
        backlight,
        "{tracingOrigins: true, networkRecording: "
        "{recordHeadersAndBody: true, bodySizeLimit: 512}}",
        script=consts + SCENARIO,
    )
    page, with_sdk = _run(context, sites, with_sdk_html, "/with-sdk")
    assert with_sdk == bare
    # the scenario did what it says (so that equality means something)
    assert bare["stream"] == "".join(f"chunk-{i};" for i in range(5))
    assert bare["abort"] == ["AbortError", True]
    assert bare["xhr_json"][1]["items"][0]["password"] == "pw-1"
    assert bare["xhr_timeout"][1][-2:] == ["timeout", "loadend"]
    assert bare["merge"] == [
        "POST",
        "init-body",
        {"a": None, "b": "2", "ct": "text/plain;charset=UTF-8"},
    ]

    # ... and the SDK saw it all, with the right failure kinds
    sid = page.evaluate("H.getSessionId()")

    def recorded() -> dict[str, Any] | None:
        data = session_data(backlight, sid)
        done = data and any(n["url"].endswith("?sync=1") for n in data["network"])
        return data if done else None

    net = wait_for(recorded, "the scenario's network entries")["network"]
    failed = {
        (n["type"], n["method"], n["url"].split("/", 3)[-1], n["error"]) for n in net if n["error"]
    }
    assert ("fetch", "GET", "slow", "abort") in failed
    assert ("fetch", "GET", "echo", "abort") in failed  # the pre-aborted signal
    assert ("fetch", "GET", "nocors", "cors") in failed
    assert ("fetch", "GET", "x", "network") in failed
    xhr_slow = [n["error"] for n in net if n["type"] == "xhr" and n["url"].endswith("/slow")]
    assert sorted(xhr_slow) == ["abort", "timeout"]
    json_entry = next(n for n in net if n["url"].endswith("/json") and n["type"] == "fetch")
    body = json.loads(json_entry["detail"]["response_body"])
    assert body["token"] == "[REDACTED]" and body["items"][0]["password"] == "[REDACTED]"
    stream_entry = next(n for n in net if n["url"].endswith("/stream"))
    assert stream_entry["detail"]["response_body"] == bare["stream"]
    xhr_json = next(n for n in net if n["url"].endswith("/json") and n["type"] == "xhr")
    assert json.loads(xhr_json["detail"]["response_body"])["token"] == "[REDACTED]"
    blob = next(n for n in net if n["url"].endswith("/bytes") and n["type"] == "xhr")
    assert blob["detail"]["response_size"] == 1024
