"""BrowserGuard: security headers, the same-origin rule for cookie-authenticated state
changes (logout included), and the token on /metrics and /api/docs unless made public."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from backlight_server.app import create_app
from backlight_server.cli import build_parser
from backlight_server.settings import Settings, settings_from_env
from bltest import AUTH, TOKEN, batch, session_id, session_start

CROSS_SITE = [
    {"Origin": "http://evil.example"},
    {"Origin": "null"},
    {"Origin": "http://backlight:8083"},  # another port of the same host
    {"Sec-Fetch-Site": "cross-site"},
    {"Sec-Fetch-Site": "same-site"},
    {"Sec-Fetch-Site": "cross-site", "Origin": "http://backlight"},
]
SAME_ORIGIN = [
    {"Origin": "http://backlight"},
    {"Sec-Fetch-Site": "same-origin"},
    {"Sec-Fetch-Site": "same-origin", "Origin": "http://backlight"},
    {},
]


@pytest.fixture
async def logged_in(client: httpx.AsyncClient) -> httpx.AsyncClient:
    r = await client.post("/login", data={"token": TOKEN})
    assert r.status_code == 303
    return client


def csp(r: httpx.Response) -> dict[str, list[str]]:
    policy = r.headers["content-security-policy"]
    return {d.split()[0]: d.split()[1:] for d in policy.split(";") if d.strip()}


# --- logout and the same-origin rule ------------------------------------------------------


async def test_get_logout_does_not_log_out(logged_in: httpx.AsyncClient) -> None:
    r = await logged_in.get("/logout")
    assert r.status_code == 200 and 'action="/logout"' in r.text
    assert "set-cookie" not in r.headers
    assert (await logged_in.get("/api/v1/sessions")).status_code == 200


@pytest.mark.parametrize("headers", CROSS_SITE)
async def test_cross_site_logout_is_refused(
    logged_in: httpx.AsyncClient, headers: dict[str, str]
) -> None:
    r = await logged_in.post("/logout", headers=headers)
    assert r.status_code == 403
    body = r.json()
    assert body["error"] == "cross_site_request" and "/logout" in body["detail"]
    assert "set-cookie" not in r.headers
    assert (await logged_in.get("/api/v1/sessions")).status_code == 200


@pytest.mark.parametrize("headers", SAME_ORIGIN)
async def test_same_origin_logout_logs_out(
    logged_in: httpx.AsyncClient, headers: dict[str, str]
) -> None:
    r = await logged_in.post("/logout", headers=headers)
    assert r.status_code == 303 and r.headers["location"] == "/login"
    assert (await logged_in.get("/api/v1/sessions")).status_code == 401


async def test_public_url_is_an_own_origin(tmp_path: Path) -> None:
    app = create_app(
        Settings(
            data_dir=tmp_path / "d",
            auth_token=TOKEN,
            retention_days=0,
            otlp_grpc_port=0,
            public_url="https://bl.example.com/",
        )
    )
    try:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1:8082") as c:
            r = await c.post("/logout", headers={"Origin": "https://bl.example.com"})
            assert r.status_code == 303
            r = await c.post("/logout", headers={"Origin": "https://other.example.com"})
            assert r.status_code == 403
    finally:
        app.state.backlight.store.close()


@pytest.mark.parametrize("headers", CROSS_SITE)
async def test_cookie_state_changes_must_be_same_origin(
    logged_in: httpx.AsyncClient, headers: dict[str, str]
) -> None:
    r = await logged_in.patch(
        "/api/v1/error-groups/999999", json={"state": "resolved"}, headers=headers
    )
    assert r.status_code == 403 and r.json()["error"] == "cross_site_request"
    # the same request from our own page passes the guard (and finds no such group)
    r = await logged_in.patch(
        "/api/v1/error-groups/999999",
        json={"state": "resolved"},
        headers={"Origin": "http://backlight", "Sec-Fetch-Site": "same-origin"},
    )
    assert r.status_code == 404


@pytest.mark.parametrize("headers", CROSS_SITE)
async def test_bearer_requests_are_not_affected(
    client: httpx.AsyncClient, headers: dict[str, str]
) -> None:
    r = await client.patch(
        "/api/v1/error-groups/999999", json={"state": "resolved"}, headers={**AUTH, **headers}
    )
    assert r.status_code == 404
    # a wrong bearer token with the cookie does not pass as a bearer request
    await client.post("/login", data={"token": TOKEN})
    r = await client.patch(
        "/api/v1/error-groups/999999",
        json={"state": "resolved"},
        headers={"Authorization": "Bearer wrong", **headers},
    )
    assert r.status_code == 403


async def test_cross_site_login_post_is_refused(client: httpx.AsyncClient) -> None:
    r = await client.post(
        "/login", data={"token": TOKEN}, headers={"Origin": "http://evil.example"}
    )
    assert r.status_code == 403 and "set-cookie" not in r.headers


async def test_ingest_from_any_origin_still_works(client: httpx.AsyncClient, project: str) -> None:
    sid = session_id()
    headers = {"Origin": "http://shop.example", "Sec-Fetch-Site": "cross-site"}
    r = await client.post("/ingest/v1/session", json=session_start(project, sid), headers=headers)
    assert r.status_code == 200
    r = await client.post("/ingest/v1/batch", json=batch(project, sid, 0), headers=headers)
    assert r.status_code == 200
    assert r.headers["access-control-allow-origin"] == "http://shop.example"


# --- headers ------------------------------------------------------------------------------

UI_PATHS = [
    "/login",
    "/logout",
    "/sessions",
    "/errors",
    "/logs",
    "/traces",
    "/setup",
    "/sessions/nope",
    "/no-such-page",
    "/api/v1/sessions",
    "/healthz",
]
ALLOWED_SOURCES = {"'self'", "'none'", "data:", "blob:", "'unsafe-inline'"}


async def test_every_ui_response_has_the_security_headers(logged_in: httpx.AsyncClient) -> None:
    for path in UI_PATHS:
        r = await logged_in.get(path)
        assert r.status_code < 500, path
        assert r.headers["x-frame-options"] == "DENY", path
        assert r.headers["x-content-type-options"] == "nosniff", path
        assert r.headers["referrer-policy"] == "same-origin", path
        policy = csp(r)
        assert policy["default-src"] == ["'none'"], path
        assert policy["script-src"] == ["'self'"], path  # no inline script, no eval
        assert policy["frame-ancestors"] == ["'none'"] and policy["object-src"] == ["'none'"]
        for directive, sources in policy.items():
            # no other origin anywhere: the replay frame inherits this policy
            assert set(sources) <= ALLOWED_SOURCES, (path, directive, sources)
        for directive in (
            "img-src",
            "media-src",
            "font-src",
            "frame-src",
            "child-src",
            "worker-src",
            "manifest-src",
        ):
            assert "'self'" not in policy[directive], directive


async def test_ingest_and_sdk_get_only_nosniff(client: httpx.AsyncClient, project: str) -> None:
    r = await client.post("/ingest/v1/session", json=session_start(project, session_id()))
    assert r.status_code == 200
    r2 = await client.post(
        "/v1/traces",
        content=b"{}",
        headers={"content-type": "application/json", "x-highlight-project": project},
    )
    r3 = await client.get("/sdk/backlight.js")
    for resp in (r, r2, r3):
        assert resp.headers["x-content-type-options"] == "nosniff"
        assert "content-security-policy" not in resp.headers
        assert "x-frame-options" not in resp.headers


async def test_security_headers_on_refusals_too(client: httpx.AsyncClient) -> None:
    r = await client.get("/metrics")
    assert r.status_code == 401 and r.headers["x-frame-options"] == "DENY"
    r = await client.post("/logout", headers={"Origin": "http://evil.example"})
    assert r.status_code == 403 and "content-security-policy" in r.headers


# --- /metrics and /api/docs ---------------------------------------------------------------


async def test_metrics_and_docs_need_the_token_by_default(client: httpx.AsyncClient) -> None:
    for path in ("/metrics", "/api/openapi.json"):
        r = await client.get(path)
        assert r.status_code == 401, path
        assert r.json()["error"] == "unauthorized" and "BACKLIGHT_PUBLIC_" in r.json()["detail"]
        assert (await client.get(path, headers=AUTH)).status_code == 200, path
    r = await client.get("/api/docs")
    assert r.status_code == 303 and r.headers["location"] == "/login?next=%2Fapi%2Fdocs"
    assert (await client.get("/api/docs", headers=AUTH)).status_code == 200
    assert (await client.get("/docs/oauth2-redirect")).status_code == 404
    # the login session works as well as the bearer token
    await client.post("/login", data={"token": TOKEN})
    for path in ("/metrics", "/api/openapi.json", "/api/docs"):
        assert (await client.get(path)).status_code == 200, path


async def test_healthz_stays_public(client: httpx.AsyncClient) -> None:
    assert (await client.get("/healthz")).json()["ok"] is True


@pytest.fixture
def public_app(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[FastAPI]:
    application = create_app(
        Settings(
            data_dir=tmp_path / "data",
            auth_token=TOKEN,
            retention_days=0,
            otlp_grpc_port=0,
            **request.param,
        )
    )
    yield application
    application.state.backlight.store.close()


@pytest.fixture
async def public_client(public_app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=public_app)
    async with httpx.AsyncClient(transport=transport, base_url="http://backlight") as c:
        yield c


@pytest.mark.parametrize("public_app", [{"public_metrics": True}], indirect=True)
async def test_public_metrics_setting(public_client: httpx.AsyncClient) -> None:
    r = await public_client.get("/metrics")
    assert r.status_code == 200 and "backlight_write_queue_depth" in r.text
    assert (await public_client.get("/api/openapi.json")).status_code == 401


@pytest.mark.parametrize("public_app", [{"public_api_docs": True}], indirect=True)
async def test_public_api_docs_setting(public_client: httpx.AsyncClient) -> None:
    assert "paths" in (await public_client.get("/api/openapi.json")).json()
    r = await public_client.get("/api/docs")
    assert r.status_code == 200 and "swagger" in r.text.lower()
    assert "https://cdn.jsdelivr.net" in " ".join(csp(r)["script-src"])
    assert (await public_client.get("/metrics")).status_code == 401
    assert (await public_client.get("/api/v1/sessions")).status_code == 401


def test_bool_settings_from_env_and_flags() -> None:
    s = settings_from_env(
        environ={
            "BACKLIGHT_PUBLIC_METRICS": "true",
            "BACKLIGHT_TRUST_PROXY_HEADERS": "1",
            "BACKLIGHT_PUBLIC_API_DOCS": "off",
        }
    )
    assert s.public_metrics and s.trust_proxy_headers and not s.public_api_docs
    assert not settings_from_env(environ={}).public_metrics
    with pytest.raises(SystemExit, match="BACKLIGHT_PUBLIC_METRICS"):
        settings_from_env(environ={"BACKLIGHT_PUBLIC_METRICS": "maybe"})
    args = build_parser().parse_args(["serve", "--public-api-docs", "--no-public-metrics"])
    assert args.public_api_docs is True and args.public_metrics is False
    assert build_parser().parse_args(["serve"]).trust_proxy_headers is None


@pytest.mark.parametrize("host", ["[", "example.com:x", "a:99999999", ""])
async def test_odd_host_headers_are_not_a_500(client: httpx.AsyncClient, host: str) -> None:
    for method, path in [
        ("GET", "/sessions"),
        ("POST", "/logout"),
        ("GET", "/metrics"),
        ("POST", "/login"),
        ("GET", "/login"),
    ]:
        r = await client.request(method, path, headers={"host": host})
        assert r.status_code in (200, 303, 401), (method, path, r.status_code)
    r = await client.post("/login", data={"token": TOKEN}, headers={"host": host})
    assert r.status_code == 303 and "set-cookie" in r.headers
