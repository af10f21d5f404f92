"""Issue 21, the fetch path, end to end in-process: a real esbuild bundle and its map
served by a real HTTP server on loopback (``blorigin``), a frontend error ingested through
the browser protocol, and the error group read through the API, which fetches the script
and its map from the project's allowlisted origin. Also every refusal: an origin not on
the allowlist, loopback without ``sourcemap_fetch_allow_private``, an oversize map, a
server that trickles, redirects to another origin and in a loop; and the cache (a second
read makes no request; the TTLs, on an injected clock)."""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import blsmapp
import httpx
import pytest
from blorigin import Origin, Route
from fastapi import FastAPI

from backlight_server import testing
from backlight_server.app import create_app
from backlight_server.pipeline import stack
from backlight_server.settings import Settings
from backlight_server.store.base import Artifact, FetchConfig
from backlight_server.symbolicate import fetch
from bltest import AUTH, TOKEN

SCRIPT_PATH = "/static/js/app.js"


@pytest.fixture(scope="module")
def bundle(tmp_path_factory: pytest.TempPathFactory) -> blsmapp.App:
    return blsmapp.build(tmp_path_factory.mktemp("fetch-app"))


@pytest.fixture
def origin(bundle: blsmapp.App) -> Iterator[Origin]:
    with Origin() as served:
        served.routes[SCRIPT_PATH] = Route(bundle.script)
        served.routes[SCRIPT_PATH + ".map"] = Route(bundle.source_map)
        yield served


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Backlight:
    """The app in-process, its API client, and the fetcher's injected clock."""

    def __init__(self, app: FastAPI, client: httpx.AsyncClient, clock: Clock) -> None:
        self.app, self.client, self.clock = app, client, clock
        self.project = str(app.state.backlight.default_project)
        self.store = app.state.backlight.store
        self.fetcher = fetch.fetcher_for(self.store)

    def allow(self, *origins: str, enabled: bool = True) -> None:
        self.store.set_sourcemap_fetch(FetchConfig(self.project, enabled, origins))

    async def ingest(self, bundle: blsmapp.App, url: str, count: int = 1) -> int:
        """``count`` instances of one error thrown by the bundle loaded from ``url``; the
        group's id."""
        raw = blsmapp.throw(bundle, url)
        frames = [
            {k: f.as_dict()[k] for k in ("file", "function", "line", "column")}
            for f in stack.parse(raw)
        ]
        message = f"negative price: -400 ({secrets.token_hex(4)})"
        sid, now = secrets.token_hex(12), time.time() * 1000
        session = {
            "v": 1,
            "project_id": self.project,
            "session_secure_id": sid,
            "started_at": now,
            "url": "https://shop.example.com/cart",
            "user_agent": "pytest",
            "sdk_version": "0.1.0",
            "app_version": "9.0.0",
        }
        r = await self.client.post("/ingest/v1/session", json=session)
        assert r.status_code == 200, r.text
        error = {
            "type": "Error",
            "message": message,
            "source": "onerror",
            "url": "https://shop.example.com/cart",
            "stack": frames,
            "raw_stack": raw,
        }
        errors = [{**error, "ts": now + i} for i in range(count)]
        batch = {"v": 1, "project_id": self.project, "session_secure_id": sid, "seq": 0}
        r = await self.client.post("/ingest/v1/batch", json={**batch, "errors": errors})
        assert r.status_code == 200, r.text
        groups = (await self.client.get("/api/v1/error-groups", headers=AUTH)).json()["groups"]
        return int(next(g["id"] for g in groups if g["message"] == message))

    async def group(self, gid: int) -> dict[str, Any]:
        r = await self.client.get(f"/api/v1/error-groups/{gid}", headers=AUTH)
        assert r.status_code == 200, r.text
        data: dict[str, Any] = r.json()
        return data

    async def top(self, gid: int) -> dict[str, Any]:
        frame: dict[str, Any] = (await self.group(gid))["instances"][0]["stack"][0]
        return frame

    async def recent(self) -> list[dict[str, Any]]:
        r = await self.client.get(f"/api/v1/projects/{self.project}/sourcemap-fetch", headers=AUTH)
        assert r.status_code == 200, r.text
        found: list[dict[str, Any]] = r.json()["recent"]
        return found


async def _backlight(tmp_path: Path, **settings: Any) -> AsyncIterator[Backlight]:
    data = tmp_path / "data"
    app = create_app(
        Settings(
            data_dir=data,
            store=testing.test_store_url(data),
            auth_token=TOKEN,
            retention_days=0,
            otlp_grpc_port=0,
            **settings,
        )
    )
    clock = Clock()
    fetch.install(app.state.backlight.store, fetch.Fetcher.of(app.state.backlight.settings, clock))
    try:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://backlight") as client:
            yield Backlight(app, client, clock)
    finally:
        app.state.backlight.store.close()


@pytest.fixture
async def backlight(tmp_path: Path) -> AsyncIterator[Backlight]:
    """Loopback allowed (the tests' origin is on 127.0.0.1), a short deadline."""
    async for made in _backlight(
        tmp_path,
        sourcemap_fetch_allow_private=True,
        sourcemap_fetch_timeout_s=1.0,
        sourcemap_fetch_max_bytes=256 * 1024,
    ):
        yield made


def assert_original(frame: dict[str, Any], url: str) -> None:
    assert frame["file"].endswith("src/util/format.ts"), frame
    assert frame["function"] == "formatPrice"
    assert frame["line"] == blsmapp.line_of(blsmapp.FORMAT_TS, "throw new Error")
    assert frame["code"] == 'throw new Error("negative price: " + cents);'
    assert frame["raw"]["file"] == url


def assert_raw(frame: dict[str, Any], url: str) -> None:
    assert frame["file"] == url and "raw" not in frame, frame


async def test_fetched_from_an_allowlisted_loopback_origin(
    backlight: Backlight, bundle: blsmapp.App, origin: Origin
) -> None:
    backlight.allow(origin.url)
    url = origin.url + SCRIPT_PATH
    gid = await backlight.ingest(bundle, url, count=5)
    view = await backlight.group(gid)
    assert len(view["instances"]) == 5
    for instance in view["instances"]:  # five errors, one script: fetched once
        assert_original(instance["stack"][0], url)
    assert view["group"]["stack"][0]["function"] == "formatPrice"
    assert origin.hits == {SCRIPT_PATH: 1, SCRIPT_PATH + ".map": 1}
    assert origin.hosts == [f"127.0.0.1:{origin.port}"] * 2
    recent = await backlight.recent()
    assert [(r["url"], r["ok"], r["detail"]) for r in recent] == [(url, True, url + ".map")]

    # the cache: a second read makes no request, and the session view neither
    assert_original(await backlight.top(gid), url)
    sid = view["instances"][0]["session_id"]
    session = (await backlight.client.get(f"/api/v1/sessions/{sid}", headers=AUTH)).json()
    assert_original(session["errors"][0]["stack"][0], url)
    assert origin.requests() == 2

    # after sourcemap_fetch_ttl_s, the script is fetched again (its map is the same)
    backlight.clock.now += 601
    assert_original(await backlight.top(gid), url)
    assert origin.requests() == 4


async def test_not_on_the_allowlist_nothing_is_fetched(
    backlight: Backlight, bundle: blsmapp.App, origin: Origin
) -> None:
    url = origin.url + SCRIPT_PATH
    gid = await backlight.ingest(bundle, url)
    assert_raw(await backlight.top(gid), url)  # off by default
    backlight.allow(origin.url, enabled=False)
    assert_raw(await backlight.top(gid), url)  # allowlisted but off
    backlight.allow("http://127.0.0.1:1", "https://*.example.com")
    assert_raw(await backlight.top(gid), url)
    assert origin.requests() == 0
    recent = await backlight.recent()
    assert "is not on the project's allowlist" in recent[0]["detail"]


async def test_loopback_refused_without_the_setting(
    tmp_path: Path, bundle: blsmapp.App, origin: Origin
) -> None:
    async for backlight in _backlight(tmp_path):  # sourcemap_fetch_allow_private off
        for base in (origin.url, f"http://localhost:{origin.port}"):
            backlight.allow(base)
            url = base + SCRIPT_PATH
            gid = await backlight.ingest(bundle, url)
            assert_raw(await backlight.top(gid), url)
        assert origin.requests() == 0  # not even a connection
        details = [r["detail"] for r in await backlight.recent()]
        assert any("resolves to a loopback address 127.0.0.1" in d for d in details), details
        assert any("localhost resolves to a loopback address" in d for d in details), details


async def test_a_name_connects_to_the_checked_address_with_its_host_header(
    backlight: Backlight, bundle: blsmapp.App, origin: Origin
) -> None:
    base = f"http://localhost:{origin.port}"
    backlight.allow(base)
    url = base + SCRIPT_PATH
    gid = await backlight.ingest(bundle, url)
    assert_original(await backlight.top(gid), url)
    assert origin.hosts == [f"localhost:{origin.port}"] * 2


async def test_oversize_map_is_cut_and_the_frame_stays_raw(
    backlight: Backlight, bundle: blsmapp.App, origin: Origin
) -> None:
    backlight.allow(origin.url)
    origin.routes[SCRIPT_PATH + ".map"] = Route(endless=True)  # no Content-Length
    url = origin.url + SCRIPT_PATH
    gid = await backlight.ingest(bundle, url)
    started = time.monotonic()
    assert_raw(await backlight.top(gid), url)
    assert time.monotonic() - started < 30  # cut at 256 KiB, not read to the end
    detail = (await backlight.recent())[0]["detail"]
    assert "over 262144 bytes read, over sourcemap_fetch_max_bytes (262144)" in detail

    # a Content-Length over the cap is refused before the body
    origin.routes[SCRIPT_PATH + ".map"] = Route(bundle.source_map + b" " * 300_000)
    backlight.clock.now += 61  # past sourcemap_fetch_failure_ttl_s
    assert_raw(await backlight.top(gid), url)
    detail = (await backlight.recent())[0]["detail"]
    assert f"Content-Length {len(bundle.source_map) + 300_000}, over sourcemap_fetch" in detail


async def test_a_slow_server_is_cut_at_the_deadline(
    backlight: Backlight, bundle: blsmapp.App, origin: Origin
) -> None:
    backlight.allow(origin.url)
    # a byte every 20 ms: 100+ s for the whole map; the deadline is 1 s
    origin.routes[SCRIPT_PATH + ".map"] = Route(bundle.source_map, trickle_s=0.02)
    url = origin.url + SCRIPT_PATH
    gid = await backlight.ingest(bundle, url)
    started = time.monotonic()
    assert_raw(await backlight.top(gid), url)
    assert time.monotonic() - started < 10
    detail = (await backlight.recent())[0]["detail"]
    assert "over the time limit (sourcemap_fetch_timeout_s 1 s" in detail


async def test_redirects_rechecked_and_capped(
    backlight: Backlight, bundle: blsmapp.App, origin: Origin
) -> None:
    with Origin() as elsewhere:
        elsewhere.routes[SCRIPT_PATH] = Route(bundle.script)
        backlight.allow(origin.url)
        # the script redirects to another origin, not allowlisted: never asked
        origin.routes["/moved.js"] = Route(
            status=302, headers={"Location": elsewhere.url + SCRIPT_PATH}
        )
        url = origin.url + "/moved.js"
        gid = await backlight.ingest(bundle, url)
        assert_raw(await backlight.top(gid), url)
        assert elsewhere.requests() == 0
        detail = (await backlight.recent())[0]["detail"]
        assert f"origin {elsewhere.url} is not on the project's allowlist" in detail

        # allowlisted, the redirect is followed (relative map URL against the final URL)
        backlight.allow(origin.url, elsewhere.url)
        elsewhere.routes[SCRIPT_PATH + ".map"] = Route(bundle.source_map)
        backlight.clock.now += 61
        assert_original(await backlight.top(gid), url)
        assert elsewhere.hits == {SCRIPT_PATH: 1, SCRIPT_PATH + ".map": 1}

    # a loop: the first request and three redirects, then it stops
    origin.routes["/loop.js"] = Route(status=301, headers={"Location": "/loop.js"})
    url = origin.url + "/loop.js"
    gid = await backlight.ingest(bundle, url)
    assert_raw(await backlight.top(gid), url)
    assert origin.hits["/loop.js"] == 4
    assert (await backlight.recent())[0]["detail"] == "more than 3 redirects"


async def test_failures_are_remembered_for_their_ttl(
    backlight: Backlight, bundle: blsmapp.App, origin: Origin
) -> None:
    backlight.allow(origin.url)
    del origin.routes[SCRIPT_PATH + ".map"]  # 404
    url = origin.url + SCRIPT_PATH
    gid = await backlight.ingest(bundle, url)
    assert_raw(await backlight.top(gid), url)
    assert_raw(await backlight.top(gid), url)
    assert origin.hits == {SCRIPT_PATH: 1, SCRIPT_PATH + ".map": 1}  # remembered
    assert (await backlight.recent())[0]["detail"].endswith("app.js.map: HTTP 404")
    origin.routes[SCRIPT_PATH + ".map"] = Route(bundle.source_map)
    backlight.clock.now += 59
    assert_raw(await backlight.top(gid), url)
    assert origin.requests() == 2
    backlight.clock.now += 2  # past sourcemap_fetch_failure_ttl_s (60 s)
    assert_original(await backlight.top(gid), url)
    assert origin.requests() == 4


async def test_header_inline_map_and_uploaded_maps_win(
    backlight: Backlight, bundle: blsmapp.App, origin: Origin
) -> None:
    backlight.allow(origin.url)
    # the SourceMap header names the map; the script has no comment
    script = bundle.script.split(b"//# sourceMappingURL=")[0]
    origin.routes["/a.js"] = Route(script, headers={"SourceMap": "/maps/a.map"})
    origin.routes["/maps/a.map"] = Route(bundle.source_map)
    url = origin.url + "/a.js"
    assert_original(await backlight.top(await backlight.ingest(bundle, url)), url)
    assert origin.hits == {"/a.js": 1, "/maps/a.map": 1}

    # a data: URL of base64 JSON: one request, the script
    inline = base64.b64encode(bundle.source_map)
    origin.routes["/b.js"] = Route(
        script + b"//# sourceMappingURL=data:application/json;charset=utf-8;base64," + inline
    )
    url = origin.url + "/b.js"
    assert_original(await backlight.top(await backlight.ingest(bundle, url)), url)
    assert origin.hits["/b.js"] == 1 and origin.requests() == 3

    # an uploaded map for the frame's script wins: nothing fetched
    url = origin.url + "/c.js"
    up = json.dumps(json.loads(bundle.source_map)).encode()
    store = backlight.store
    for name, kind, body in ((url, "script", bundle.script), (url + ".map", "map", up)):
        sha = hashlib.sha256(body).hexdigest()
        art = Artifact(backlight.project, "9.0.0", name, kind, sha, len(body))
        store.put_artifact(art, body)
    origin.routes["/c.js"] = Route(b"not the script")
    assert_original(await backlight.top(await backlight.ingest(bundle, url)), url)
    assert origin.hits["/c.js"] == 0


async def test_a_fetched_scripts_debug_id_finds_an_uploaded_map(
    backlight: Backlight, tmp_path: Path, origin: Origin
) -> None:
    debug_id = "5c3f9a1e-2b7d-4e8a-9f10-0123456789ab"
    built = blsmapp.build(tmp_path, debug_id=debug_id)
    for name, kind, body in (
        ("~/x.js", "script", built.script),
        ("~/x.map", "map", built.source_map),
    ):
        sha = hashlib.sha256(body).hexdigest()
        art = Artifact(backlight.project, "other", name, kind, sha, len(body), debug_id)
        backlight.store.put_artifact(art, body)  # another release, other names
    backlight.allow(origin.url)
    origin.routes["/d.js"] = Route(built.script)
    url = origin.url + "/d.js"
    gid = await backlight.ingest(built, url)
    assert_original(await backlight.top(gid), url)
    assert origin.hits == {"/d.js": 1}  # its map was not fetched: the uploaded one is used
    assert_original(await backlight.top(gid), url)
    assert origin.hits == {"/d.js": 1}  # remembered
