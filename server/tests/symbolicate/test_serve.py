"""Issue 21, "using the maps", end to end: a real TypeScript app bundled and minified by
esbuild throws from a nested function; its maps are uploaded with ``backlight sourcemaps
upload`` to a real ``backlight serve``; the error arrives through the public browser
ingest; the error group page and the API show the original ``.ts`` file, line, function
and source lines. Also when the maps are uploaded after the error."""

from __future__ import annotations

import html
import os
import secrets
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import blsmapp
import httpx
import pytest

from backlight_server.pipeline import stack
from backlight_server.testing import BacklightProcess


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BacklightProcess]:
    with BacklightProcess(tmp_path_factory.mktemp("symbolicate-serve")) as running:
        yield running


def auth(server: BacklightProcess) -> dict[str, str]:
    return {"Authorization": f"Bearer {server.token}"}


def upload(server: BacklightProcess, app: blsmapp.App, version: str, prefix: str) -> None:
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
            prefix,
            "--server",
            server.url,
        ],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "BACKLIGHT_UPLOAD_KEY": key},
    )
    assert done.returncode == 0, done.stderr
    assert "2 stored" in done.stdout


def throw_and_ingest(server: BacklightProcess, app: blsmapp.App, version: str, url: str) -> str:
    """The error as the browser SDK sends it: frames and the raw stack; its message."""
    raw = blsmapp.throw(app, url)
    message = f"negative price: -400 ({secrets.token_hex(4)})"  # one group per test
    sid = secrets.token_hex(12)
    now = time.time() * 1000
    session = {
        "v": 1,
        "project_id": server.project,
        "session_secure_id": sid,
        "started_at": now,
        "url": "https://shop.example.com/cart",
        "user_agent": "pytest",
        "sdk_version": "0.1.0",
        "service": "shop",
        "app_version": version,
    }
    frames = [
        {k: f.as_dict()[k] for k in ("file", "function", "line", "column")}
        for f in stack.parse(raw)
    ]
    error = {
        "ts": now,
        "type": "Error",
        "message": message,
        "source": "onerror",
        "url": "https://shop.example.com/cart",
        "stack": frames,
        "raw_stack": raw,
    }
    r = httpx.post(f"{server.url}/ingest/v1/session", json=session)
    assert r.status_code == 200, r.text
    batch = {
        "v": 1,
        "project_id": server.project,
        "session_secure_id": sid,
        "seq": 0,
        "errors": [error],
    }
    r = httpx.post(f"{server.url}/ingest/v1/batch", json=batch)
    assert r.status_code == 200, r.text
    return message


def group_of(server: BacklightProcess, message: str) -> int:
    groups = server.api("/api/v1/error-groups", limit=200)["groups"]
    return int(next(g["id"] for g in groups if g["message"] == message))


def assert_original_api(server: BacklightProcess, gid: int, url: str) -> None:
    r = httpx.get(
        f"{server.url}/api/v1/error-groups/{gid}", headers=auth(server), follow_redirects=True
    )
    view: dict[str, Any] = r.raise_for_status().json()
    top = view["instances"][0]["stack"][0]
    assert top["file"].endswith("src/util/format.ts")
    assert top["function"] == "formatPrice"
    assert top["line"] == blsmapp.line_of(blsmapp.FORMAT_TS, "throw new Error")
    assert top["code"] == 'throw new Error("negative price: " + cents);'
    assert "export function formatPrice(cents: number): string {" in top["context"]["lines"]
    assert top["raw"]["file"] == url and top["raw"]["line"] == 1
    assert view["group"]["stack"][0]["function"] == "formatPrice"


def assert_original_page(server: BacklightProcess, gid: int, url: str) -> None:
    # follows the redirect of a group merged by the maps (docs/sourcemaps.md, "Grouping")
    page = httpx.get(f"{server.url}/errors/{gid}", headers=auth(server), follow_redirects=True)
    assert page.status_code == 200
    text = html.unescape(page.text)
    line = blsmapp.line_of(blsmapp.FORMAT_TS, "throw new Error")
    assert f"src/util/format.ts:{line}:" in text
    assert '<span class="fn">formatPrice</span>' in text
    assert '<span class="fn">cartTotal</span>' in text
    assert 'throw new Error("negative price: " + cents);' in text  # the source lines
    assert "// Money formatting for the cart." in text  # context above the line
    assert f"{url}:1:" in text  # the minified frame, on demand
    assert '<span class="tag">library</span>' in text  # node_modules/tinylib, collapsed
    assert "tinylib/index.js" in text


def test_uploaded_before_the_error(server: BacklightProcess, tmp_path: Path) -> None:
    app = blsmapp.build(tmp_path)
    upload(server, app, "7.0.0", "https://shop.example.com/static")
    url = "https://shop.example.com/static/js/app.js"
    gid = group_of(server, throw_and_ingest(server, app, "7.0.0", url))
    assert_original_api(server, gid, url)
    assert_original_page(server, gid, url)


def test_uploaded_after_the_error(server: BacklightProcess, tmp_path: Path) -> None:
    app = blsmapp.build(tmp_path)
    url = "https://cdn.example.net/static/js/app.js"
    gid = group_of(server, throw_and_ingest(server, app, "7.1.0", url))
    before = server.api(f"/api/v1/error-groups/{gid}")["instances"][0]["stack"][0]
    assert before["file"] == url and "raw" not in before  # no map yet: the minified frame
    upload(server, app, "7.1.0", "~/static")  # any origin
    assert_original_api(server, gid, url)
    assert_original_page(server, gid, url)
