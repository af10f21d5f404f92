"""Issue 21, grouping by original frames, end to end: the same TypeScript source built
twice by esbuild (another bundle layout and file name, so other minified names and
positions), both errors sent through the browser ingest of a real ``backlight serve``.
With both maps uploaded first: one group (without maps: two). Errors first, maps after:
two groups that the regroup job merges into one, the old ids redirecting to it."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any

import blsmapp
import httpx
import pytest

from backlight_server.pipeline import stack
from backlight_server.testing import BacklightProcess

PRELUDE = """\
// Feature flags, read once at start.
export function flag(name: string): boolean {
  const all = (globalThis as any).flags || {};
  return Boolean(all[name]);
}
export function track(event: string, value: number): number {
  const seen = (globalThis as any).seen || [];
  seen.push([event, value, flag(event)]);
  (globalThis as any).seen = seen;
  return seen.length;
}
track("boot", 1);
"""
HOST = "https://shop.example.com/static"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BacklightProcess]:
    with BacklightProcess(tmp_path_factory.mktemp("grouping-serve")) as running:
        yield running


@pytest.fixture(scope="module")
def builds(tmp_path_factory: pytest.TempPathFactory) -> tuple[blsmapp.App, blsmapp.App]:
    """Two builds of one source: other minified names, other file names."""
    one = blsmapp.build(tmp_path_factory.mktemp("build-one"))
    two = blsmapp.build(tmp_path_factory.mktemp("build-two"), name="app.9f3c2a", prelude=PRELUDE)
    return one, two


def url_of(app: blsmapp.App) -> str:
    return f"{HOST}/js/{app.name}.js"


def auth(server: BacklightProcess) -> dict[str, str]:
    return {"Authorization": f"Bearer {server.token}"}


def upload(server: BacklightProcess, app: blsmapp.App, version: str) -> None:
    key = httpx.post(
        f"{server.url}/api/v1/projects/{server.project}/upload-keys", headers=auth(server)
    ).json()["key"]
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "backlight_server",
            "sourcemaps",
            "upload",
            str(app.dist),
            "--project",
            server.project,
            "--version",
            version,
            "--url-prefix",
            HOST,
            "--server",
            server.url,
        ],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "BACKLIGHT_UPLOAD_KEY": key},
    )
    assert done.returncode == 0, done.stderr


def send(server: BacklightProcess, app: blsmapp.App, version: str, message: str) -> None:
    """The error as the browser SDK sends it, from a session of app version ``version``."""
    raw = blsmapp.throw(app, url_of(app))
    sid, now = secrets.token_hex(12), time.time() * 1000
    session = {
        "v": 1,
        "project_id": server.project,
        "session_secure_id": sid,
        "started_at": now,
        "url": "https://shop.example.com/cart",
        "app_version": version,
    }
    frames = [
        {k: f.as_dict()[k] for k in ("file", "function", "line", "column")}
        for f in stack.parse(raw)
    ]
    error = {"ts": now, "type": "Error", "message": message, "stack": frames, "raw_stack": raw}
    r = httpx.post(f"{server.url}/ingest/v1/session", json=session)
    assert r.status_code == 200, r.text
    batch = {"v": 1, "project_id": server.project, "session_secure_id": sid, "seq": 0}
    r = httpx.post(f"{server.url}/ingest/v1/batch", json={**batch, "errors": [error]})
    assert r.status_code == 200, r.text


def groups_of(server: BacklightProcess, message: str) -> list[dict[str, Any]]:
    groups = server.api("/api/v1/error-groups", limit=200)["groups"]
    return [g for g in groups if g["message"] == message]


def message() -> str:
    """One message per test: a word that fingerprints keep (no digits, not hex)."""
    word = "".join(secrets.choice("ghijklmnopqrstuvwxyz") for _ in range(10))
    return f"negative price in cart {word}"


def test_two_builds_with_their_maps_make_one_group(
    server: BacklightProcess, builds: tuple[blsmapp.App, blsmapp.App]
) -> None:
    one, two = builds
    upload(server, one, "8.0.0")
    upload(server, two, "8.0.1")
    text = message()
    send(server, one, "8.0.0", text)
    send(server, two, "8.0.1", text)
    found = groups_of(server, text)
    assert len(found) == 1 and found[0]["count"] == 2
    view = server.api(f"/api/v1/error-groups/{found[0]['id']}")
    raws = {i["stack"][0]["raw"]["file"] for i in view["instances"]}
    assert raws == {url_of(one), url_of(two)}  # the stored frames stay the minified ones
    # the same errors from releases without maps: two groups (the builds differ)
    other = message()
    send(server, one, "9.0.0", other)
    send(server, two, "9.0.1", other)
    assert len(groups_of(server, other)) == 2


def wait_for(check: Any, timeout_s: float = 60.0) -> Any:
    deadline = time.monotonic() + timeout_s
    while True:
        found = check()
        if found or time.monotonic() > deadline:
            return found
        time.sleep(0.2)


def test_maps_after_the_errors_merge_the_groups(
    server: BacklightProcess, builds: tuple[blsmapp.App, blsmapp.App]
) -> None:
    one, two = builds
    text = message()
    send(server, one, "10.0.0", text)
    send(server, two, "10.0.1", text)
    old = sorted(g["id"] for g in groups_of(server, text))
    assert len(old) == 2
    upload(server, one, "10.0.0")
    upload(server, two, "10.0.1")

    def one_group() -> list[dict[str, Any]]:
        found = groups_of(server, text)  # one read: the job may merge between two
        return found if len(found) == 1 and found[0]["count"] == 2 else []

    merged = wait_for(one_group)
    assert merged, groups_of(server, text)
    new = merged[0]["id"]
    assert merged[0]["count"] == 2 and new not in old
    for gid in old:
        r = httpx.get(
            f"{server.url}/api/v1/error-groups/{gid}?limit=5", headers=auth(server), timeout=30
        )
        assert r.status_code == 307
        assert r.headers["location"] == f"/api/v1/error-groups/{new}?limit=5"
        page = httpx.get(f"{server.url}/errors/{gid}", headers=auth(server), timeout=30)
        assert page.status_code == 307 and page.headers["location"] == f"/errors/{new}"
        followed = httpx.get(
            f"{server.url}/errors/{gid}", headers=auth(server), follow_redirects=True, timeout=30
        )
        assert followed.status_code == 200 and "formatPrice" in followed.text
    # a later error of either build joins the merged group
    send(server, one, "10.0.0", text)
    assert [g["count"] for g in groups_of(server, text)] == [3]
