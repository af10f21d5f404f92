"""Frontend errors of the source-map fixture app (``blsmapp``) sent as the browser SDK sends
them, and what a symbolicated read of them must show: shared by the symbolication tests and
highlight's uploader test (tests/compat)."""

from __future__ import annotations

import html
import secrets
import time
from typing import Any

import blsmapp
import httpx

from backlight_server.pipeline import stack
from backlight_server.testing import BacklightProcess


def auth(server: BacklightProcess) -> dict[str, str]:
    return {"Authorization": f"Bearer {server.token}"}


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
    r = httpx.post(f"{server.url}/ingest/v1/session", json=session, timeout=30)
    assert r.status_code == 200, r.text
    batch = {
        "v": 1,
        "project_id": server.project,
        "session_secure_id": sid,
        "seq": 0,
        "errors": [error],
    }
    r = httpx.post(f"{server.url}/ingest/v1/batch", json=batch, timeout=30)
    assert r.status_code == 200, r.text
    return message


def group_of(server: BacklightProcess, message: str) -> int:
    groups = server.api("/api/v1/error-groups", limit=200)["groups"]
    return int(next(g["id"] for g in groups if g["message"] == message))


def assert_original_api(server: BacklightProcess, gid: int, url: str) -> None:
    view: dict[str, Any] = server.api(f"/api/v1/error-groups/{gid}")
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
    page = httpx.get(
        f"{server.url}/errors/{gid}", headers=auth(server), follow_redirects=True, timeout=30
    )
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
