"""The query API and the UI need the token; ingest does not."""

from __future__ import annotations

import httpx

from bltest import AUTH, TOKEN


async def test_api_without_token_is_401(client: httpx.AsyncClient) -> None:
    for path in (
        "/api/v1/sessions",
        "/api/v1/requests/abc",
        "/api/v1/error-groups",
        "/api/v1/logs",
        "/api/v1/traces/abc",
        "/api/v1/sessions/x/replay",
    ):
        r = await client.get(path)
        assert r.status_code == 401, path
        assert r.json()["error"] == "unauthorized"
    r = await client.get("/api/v1/sessions", headers={"Authorization": "Bearer wrong"})
    assert r.status_code == 401
    assert (await client.get("/api/v1/sessions", headers=AUTH)).status_code == 200


async def test_login_cookie_grants_access(client: httpx.AsyncClient) -> None:
    r = await client.get("/")
    assert r.status_code == 303 and r.headers["location"] == "/login"
    bad = await client.post("/login", data={"token": "nope"})
    assert bad.status_code == 401
    r = await client.post("/login", data={"token": TOKEN})
    assert r.status_code == 303
    assert (await client.get("/api/v1/sessions")).status_code == 200
    # the cookie is a session, never the token
    assert all(TOKEN not in value for value in client.cookies.values())
    # GET /logout only shows the button; the POST from our own page logs out
    assert (await client.get("/logout")).status_code == 200
    assert (await client.get("/api/v1/sessions")).status_code == 200
    r = await client.post("/logout", headers={"Origin": "http://backlight"})
    assert r.status_code == 303 and r.headers["location"] == "/login"
    assert (await client.get("/api/v1/sessions")).status_code == 401


async def test_openapi_document_lists_the_query_api(client: httpx.AsyncClient) -> None:
    doc = (await client.get("/api/openapi.json", headers=AUTH)).json()
    for path in (
        "/api/v1/sessions",
        "/api/v1/sessions/{secure_id}",
        "/api/v1/sessions/{secure_id}/replay",
        "/api/v1/requests/{request_id}",
        "/api/v1/error-groups",
        "/api/v1/error-groups/{group_id}",
        "/api/v1/logs",
        "/api/v1/traces/{trace_id}",
    ):
        assert path in doc["paths"], path


async def test_health_and_metrics(client: httpx.AsyncClient) -> None:
    assert (await client.get("/healthz")).json()["ok"] is True
    await client.post("/ingest/v1/batch", content=b"{", headers={"content-type": "text/plain"})
    text = (await client.get("/metrics", headers=AUTH)).text
    assert 'backlight_rejected_requests_total{reason="invalid_json"} 1.0' in text
    assert "backlight_write_queue_depth" in text
    assert "backlight_write_commit_seconds_bucket" in text
