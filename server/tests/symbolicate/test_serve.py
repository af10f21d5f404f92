"""Issue 21, "using the maps", end to end: a real TypeScript app bundled and minified by
esbuild throws from a nested function; its maps are uploaded with ``backlight sourcemaps
upload`` to a real ``backlight serve``; the error arrives through the public browser
ingest; the error group page and the API show the original ``.ts`` file, line, function
and source lines. Also when the maps are uploaded after the error."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import blsmapp
import httpx
import pytest
from blsmsend import assert_original_api, assert_original_page, auth, group_of, throw_and_ingest

from backlight_server.testing import BacklightProcess


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BacklightProcess]:
    with BacklightProcess(tmp_path_factory.mktemp("symbolicate-serve")) as running:
        yield running


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
