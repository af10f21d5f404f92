"""Issue 24, requests "seen by the server", through the app in-process: ingest by the public
endpoints (browser protocol; OTLP/JSON shaped as the Python SDK's middleware sends a
request linked by the session cookie: a server span whose ``highlight.trace_id`` is its
own trace id, an ``exception`` event, a log), then the JSON API (typed, as its OpenAPI
document says), the session page's data and the request view.
"""

from __future__ import annotations

import re
import secrets
import time
from typing import Any

import httpx
import orjson

from backlight_server.api import schemas
from backlight_server.query import serverseen
from bltest import AUTH, TOKEN, batch, session_id, session_start

BASE_MS = float(int(time.time() * 1000) - 120_000)


def _attrs(values: dict[str, Any]) -> list[dict[str, Any]]:
    def value(v: Any) -> dict[str, Any]:
        return {"intValue": str(v)} if isinstance(v, int) else {"stringValue": v}

    return [{"key": k, "value": value(v)} for k, v in values.items()]


def _ns(offset_ms: int) -> str:
    return str(int(BASE_MS + offset_ms) * 1_000_000)  # whole ms: exact in ns


def _resource(project: str) -> dict[str, Any]:
    return {"attributes": _attrs({"service.name": "web", "highlight.project_id": project})}


def sdk_request(
    project: str,
    sid: str,
    trace: str,
    at_ms: int,
    method: str,
    path: str,
    status: int,
    error: str | None = None,
) -> dict[str, Any]:
    """What the Python SDK's middleware sends for a request that carried the session
    cookie and no ``x-highlight-request``: its server span (kind 2) linked to the session
    with its own trace id as the request id, a child span, and an exception event."""
    link = {"highlight.session_id": sid, "highlight.trace_id": trace}
    root_id = secrets.token_hex(8)
    root: dict[str, Any] = {
        "traceId": trace,
        "spanId": root_id,
        "name": f"{method} {path}",
        "kind": 2,
        "startTimeUnixNano": _ns(at_ms),
        "endTimeUnixNano": _ns(at_ms + 30),
        "attributes": _attrs(
            {
                **link,
                "http.request.method": method,
                "url.path": path,
                "http.route": path,
                "http.response.status_code": status,
            }
        ),
    }
    if error:
        root["events"] = [
            {
                "name": "exception",
                "timeUnixNano": _ns(at_ms + 10),
                "attributes": _attrs(
                    {
                        "exception.type": "ValueError",
                        "exception.message": error,
                        "exception.stacktrace": "Traceback (most recent call last):\n"
                        '  File "/app/views.py", line 12, in place_order\n'
                        f"ValueError: {error}",
                    }
                ),
            }
        ]
    child = {
        "traceId": trace,
        "spanId": secrets.token_hex(8),
        "parentSpanId": root_id,
        "name": "db.query",
        "kind": 1,
        "startTimeUnixNano": _ns(at_ms + 2),
        "endTimeUnixNano": _ns(at_ms + 8),
        "attributes": _attrs(link),
    }
    return {
        "resourceSpans": [
            {"resource": _resource(project), "scopeSpans": [{"spans": [root, child]}]}
        ]
    }


def sdk_log(project: str, sid: str, trace: str, at_ms: int, body: str) -> dict[str, Any]:
    record = {
        "timeUnixNano": _ns(at_ms),
        "severityNumber": 13,
        "severityText": "WARNING",
        "body": {"stringValue": body},
        "traceId": trace,
        "spanId": secrets.token_hex(8),
        "attributes": _attrs({"highlight.session_id": sid, "highlight.trace_id": trace}),
    }
    return {
        "resourceLogs": [{"resource": _resource(project), "scopeLogs": [{"logRecords": [record]}]}]
    }


def _net(rid: str, kind: str, method: str, url: str, start: float, end: float) -> dict[str, Any]:
    return {
        "request_id": rid,
        "type": kind,
        "method": method,
        "url": url,
        "status": 200,
        "start": BASE_MS + start,
        "end": BASE_MS + end,
        "error": None,
    }


async def _post(client: httpx.AsyncClient, path: str, body: dict[str, Any]) -> None:
    r = await client.post(path, json=body)
    assert r.status_code == 200, r.text
    assert "partialSuccess" not in r.text, r.text


async def test_a_form_post_the_browser_never_saw_is_listed_and_opens(
    client: httpx.AsyncClient, project: str
) -> None:
    sid = session_id()
    fetch, post, page = (secrets.token_hex(16) for _ in range(3))
    await _post(client, "/ingest/v1/session", session_start(project, sid, started_at=BASE_MS))
    # the browser recorded a fetch, and the page the POST redirected to (from its
    # Server-Timing: the same request id as the backend's trace)
    network = [
        _net(fetch, "fetch", "GET", "http://shop.test/api/cart", 1_000, 1_080),
        _net(page, "other", "GET", "http://shop.test/orders/7", 5_000, 5_400),
    ]
    await _post(client, "/ingest/v1/batch", batch(project, sid, 0, network=network))
    await _post(
        client, "/v1/traces", sdk_request(project, sid, fetch, 1_010, "GET", "/api/cart", 200)
    )
    await _post(
        client,
        "/v1/traces",
        sdk_request(project, sid, post, 5_020, "POST", "/orders", 500, "card declined"),
    )
    await _post(client, "/v1/logs", sdk_log(project, sid, post, 5_025, "order form invalid"))
    await _post(
        client, "/v1/traces", sdk_request(project, sid, page, 5_300, "GET", "/orders/7", 200)
    )

    r = await client.get(f"/api/v1/sessions/{sid}", headers=AUTH)
    assert r.status_code == 200
    view = schemas.SessionView.model_validate(r.json())  # typed as the OpenAPI says
    rows = [(n.request_id, n.source) for n in view.network]
    assert rows == [(fetch, "browser"), (page, "browser"), (post, "server")]  # one row each
    row = view.network[2]
    assert (row.id, row.method, row.url, row.status) == (None, "POST", "/orders", 500)
    assert row.start_ms == BASE_MS + 5_020 and row.end_ms == BASE_MS + 5_050
    assert (row.service, row.name) == ("web", "POST /orders")
    assert row.backend is not None and row.backend.model_dump() == {
        "spans": 2,
        "logs": 1,
        "errors": 1,
        "worst_level": "warn",
    }
    assert view.server_seen.model_dump() == {"shown": 1, "more": 0, "complete": True}
    # its error is the session's, with its request id (what "play at this moment" links)
    assert [(e.message, e.request_id) for e in view.backend_errors] == [("card declined", post)]
    # and it is not also matched by time to the page in flight around it
    page_view = (await client.get(f"/api/v1/requests/{page}", headers=AUTH)).json()
    assert page_view["errors"] == [] and page_view["logs"] == []

    spec = (await client.get("/api/openapi.json", headers=AUTH)).json()["components"]["schemas"]
    assert spec["SessionRequest"]["properties"]["source"]["enum"] == ["browser", "server"]
    assert spec["SessionView"]["properties"]["network"]["items"] == {
        "$ref": "#/components/schemas/SessionRequest"
    }
    assert "server_seen" in spec["SessionView"]["required"]

    # the session page: the row in its data, the request view in its drawer
    assert (await client.post("/login", data={"token": TOKEN})).status_code in (200, 303)
    html = (await client.get(f"/sessions/{sid}")).text
    data = orjson.loads(
        re.search(r'<script type="application/json" id="session-data">(.*?)</script>', html, re.S)
        .group(1)  # type: ignore[union-attr]
        .replace("\\u003c", "<")
    )
    assert [(n["request_id"], n["source"]) for n in data["network"]] == rows
    assert 'name="source"' in html and "not shown" not in html
    drawer = (await client.get(f"/requests/{post}?fragment=1")).text
    assert "seen by the server" in drawer and "POST /orders" in drawer
    assert "card declined" in drawer and "order form invalid" in drawer
    assert f"/sessions/{sid}?request={post}&amp;t={BASE_MS + 5_020}" in drawer


async def test_many_bogus_request_ids_cannot_blow_up_the_page(
    client: httpx.AsyncClient, project: str
) -> None:
    """Anyone with the project id can send spans that name a session: at most
    ``MAX_ROWS`` rows, the page says how many more."""
    sid = session_id()
    await _post(client, "/ingest/v1/session", session_start(project, sid, started_at=BASE_MS))
    n = serverseen.MAX_ROWS + 120
    spans = [
        {
            "traceId": secrets.token_hex(16),
            "spanId": secrets.token_hex(8),
            "name": "GET /x",
            "kind": 2,
            "startTimeUnixNano": _ns(i),
            "endTimeUnixNano": _ns(i + 1),
            "attributes": _attrs({"highlight.session_id": sid}),
        }
        for i in range(n)
    ]
    body = {"resourceSpans": [{"resource": _resource(project), "scopeSpans": [{"spans": spans}]}]}
    await _post(client, "/v1/traces", body)
    view = (await client.get(f"/api/v1/sessions/{sid}", headers=AUTH)).json()
    assert len(view["network"]) == serverseen.MAX_ROWS
    assert view["server_seen"] == {"shown": serverseen.MAX_ROWS, "more": 120, "complete": True}
    assert (await client.post("/login", data={"token": TOKEN})).status_code in (200, 303)
    html = (await client.get(f"/sessions/{sid}")).text
    assert "120 more seen by the server not shown" in html
