"""The login cookie is a signed session with an expiry checked on the server, never the token."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from backlight_server.testing import BacklightProcess
from backlight_server.web import session
from bltest import TOKEN

DAY = 86_400


def set_cookie_headers(r: httpx.Response) -> list[str]:
    return r.headers.get_list("set-cookie")


def session_cookie(r: httpx.Response) -> tuple[str, str, list[str]]:
    """(name, value, lower-cased attributes) of the one session cookie set by ``r``."""
    found = [h for h in set_cookie_headers(r) if "backlight_session" in h.split("=", 1)[0]]
    assert len(found) == 1, set_cookie_headers(r)
    first, *attrs = [part.strip() for part in found[0].split(";")]
    name, _, value = first.partition("=")
    return name, value, [a.lower() for a in attrs]


async def test_login_sets_a_signed_session_not_the_token(client: httpx.AsyncClient) -> None:
    r = await client.post("/login", data={"token": TOKEN})
    assert r.status_code == 303
    name, value, attrs = session_cookie(r)
    assert name == "backlight_session"  # Host "backlight": no port
    assert TOKEN not in value and TOKEN not in r.headers.get("set-cookie", "")
    assert session.valid(TOKEN, value)
    assert "httponly" in attrs and "samesite=lax" in attrs and "path=/" in attrs
    assert f"max-age={30 * DAY}" in attrs
    assert "secure" not in attrs  # plain http
    assert (await client.get("/api/v1/sessions")).status_code == 200
    assert (await client.get("/sessions")).status_code == 200


async def test_login_url_printed_by_serve_still_works(client: httpx.AsyncClient) -> None:
    r = await client.get("/login", params={"token": TOKEN, "next": "/errors"})
    assert r.status_code == 303 and r.headers["location"] == "/errors"
    _, value, _ = session_cookie(r)
    assert session.valid(TOKEN, value)
    assert (await client.get("/errors")).status_code == 200


async def test_the_raw_token_as_a_cookie_is_not_accepted(app: FastAPI) -> None:
    transport = httpx.ASGITransport(app=app)
    for name in ("backlight_token", "backlight_session"):
        async with httpx.AsyncClient(
            transport=transport, base_url="http://backlight", cookies={name: TOKEN}
        ) as c:
            assert (await c.get("/api/v1/sessions")).status_code == 401, name
            r = await c.get("/sessions")
            assert r.status_code == 303 and r.headers["location"].startswith("/login"), name


async def test_old_token_cookie_is_removed_at_login(app: FastAPI) -> None:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(
        transport=transport, base_url="http://backlight", cookies={"backlight_token": TOKEN}
    ) as c:
        r = await c.post("/login", data={"token": TOKEN})
        assert any(
            h.startswith("backlight_token=") and "max-age=0" in h.lower()
            for h in set_cookie_headers(r)
        ), set_cookie_headers(r)


def _other_char(c: str) -> str:
    """A base64url character other than ``c`` (so the changed MAC differs, whatever it was)."""
    return "B" if c == "A" else "A"


@pytest.mark.parametrize(
    "case",
    [
        "expired",
        "other token",
        "tampered expiry",
        "bad mac",
        "too long a life",
        "garbage",
        "issued in the future",
    ],
)
async def test_forged_or_expired_sessions_are_refused(app: FastAPI, case: str) -> None:
    now = time.time()
    good = session.issue(TOKEN, now)
    version, issued, expires, nonce, mac = good.split(".")
    value = {
        "expired": session.issue(TOKEN, now - 30 * DAY - 1),
        "other token": session.issue("another-token", now),
        "tampered expiry": ".".join([version, issued, str(int(expires) + DAY), nonce, mac]),
        "bad mac": ".".join([version, issued, expires, nonce, _other_char(mac[0]) + mac[1:]]),
        "too long a life": ".".join([version, issued, str(int(issued) + 60 * DAY), nonce, mac]),
        "garbage": "1." + "9" * 5000,
        "issued in the future": session.issue(TOKEN, now + 3600),
    }[case]
    assert session.valid(TOKEN, good)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(
        transport=transport, base_url="http://backlight", cookies={"backlight_session": value}
    ) as c:
        assert (await c.get("/api/v1/sessions")).status_code == 401
        assert (await c.get("/sessions")).status_code == 303
    async with httpx.AsyncClient(
        transport=transport, base_url="http://backlight", cookies={"backlight_session": good}
    ) as c:
        assert (await c.get("/api/v1/sessions")).status_code == 200


async def test_expiry_is_checked_on_the_server() -> None:
    value = session.issue(TOKEN, time.time() - 29 * DAY)
    assert session.valid(TOKEN, value)
    assert not session.valid(TOKEN, value, now=time.time() + 2 * DAY)


@pytest.fixture
async def https_client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="https://backlight") as c:
        yield c


async def test_over_https_the_cookie_is_secure_with_the_host_prefix(
    https_client: httpx.AsyncClient,
) -> None:
    r = await https_client.post("/login", data={"token": TOKEN})
    name, _, attrs = session_cookie(r)
    assert name == "__Host-backlight_session"
    assert (
        "secure" in attrs and "path=/" in attrs and not any(a.startswith("domain=") for a in attrs)
    )
    assert (await https_client.get("/api/v1/sessions")).status_code == 200
    r = await https_client.post("/logout", headers={"Origin": "https://backlight"})
    name, _, attrs = session_cookie(r)
    assert name == "__Host-backlight_session" and "max-age=0" in attrs and "secure" in attrs
    assert (await https_client.get("/api/v1/sessions")).status_code == 401


def _login(url: str, **headers: str) -> httpx.Response:
    return httpx.post(url + "/login", data={"token": TOKEN}, headers=headers, timeout=10)


def test_forwarded_proto_is_honoured_only_when_the_proxy_is_trusted(tmp_path: Path) -> None:
    """A real ``backlight serve`` (uvicorn would trust X-Forwarded-Proto from any loopback
    client on its own): https from the proxy header only with trust_proxy_headers."""
    with BacklightProcess(tmp_path / "a", token=TOKEN) as server:
        name, _, attrs = session_cookie(_login(server.url, **{"X-Forwarded-Proto": "https"}))
        assert name == f"backlight_session_{server.port}" and "secure" not in attrs
    with BacklightProcess(
        tmp_path / "b", token=TOKEN, env={"BACKLIGHT_TRUST_PROXY_HEADERS": "true"}
    ) as server:
        name, _, attrs = session_cookie(_login(server.url, **{"X-Forwarded-Proto": "https"}))
        assert name == f"__Host-backlight_session_{server.port}" and "secure" in attrs
        name, _, attrs = session_cookie(_login(server.url))
        assert name == f"backlight_session_{server.port}" and "secure" not in attrs


def test_a_new_token_ends_every_session(tmp_path: Path) -> None:
    data = tmp_path / "data"
    with BacklightProcess(data, token=TOKEN) as server:
        port = server.port
        r = _login(server.url)
        cookies = {n: v for n, v, _ in [session_cookie(r)]}
        ok = httpx.get(server.url + "/api/v1/sessions", cookies=cookies, timeout=10)
        assert ok.status_code == 200
    with BacklightProcess(data, port=port, token=TOKEN) as server:  # same token: still in
        assert (
            httpx.get(server.url + "/api/v1/sessions", cookies=cookies, timeout=10).status_code
            == 200
        )
    with BacklightProcess(data, port=port, token="a-new-token") as server:
        assert (
            httpx.get(server.url + "/api/v1/sessions", cookies=cookies, timeout=10).status_code
            == 401
        )
