"""``backlight sourcemaps upload`` and ``backlight project upload-key``, as a user runs
them: the real command against a real ``backlight serve``."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from backlight_server.testing import BacklightProcess

DEBUG_ID = "5e1f0a4c-3b2d-4c1e-9f00-a1b2c3d4e5f6"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BacklightProcess]:
    with BacklightProcess(tmp_path_factory.mktemp("cli-upload")) as running:
        yield running


def backlight(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "backlight_server", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, **(env or {})},
    )


def dist(folder: Path) -> Path:
    (folder / "js").mkdir(parents=True)
    (folder / "node_modules/lib").mkdir(parents=True)
    (folder / ".cache").mkdir()
    (folder / "js/app.js").write_text(
        f"function a(){{throw new Error('x')}}a();\n//# debugId={DEBUG_ID}\n"
        "//# sourceMappingURL=app.js.map\n"
    )
    (folder / "js/app.js.map").write_text(
        f'{{"version":3,"file":"app.js","sources":["a.ts"],"mappings":"AAAA",'
        f'"debugId":"{DEBUG_ID}"}}'
    )
    (folder / "js/chunk.mjs").write_text("export const x = 1;\n")
    (folder / "index.html").write_text("<html></html>")  # not uploaded
    (folder / "node_modules/lib/index.js").write_text("module.exports = 1;\n")  # skipped
    (folder / ".cache/old.js").write_text("1\n")  # skipped
    return folder


def stored(server: BacklightProcess, release: str) -> list[str]:
    r = httpx.get(
        f"{server.url}/api/v1/projects/{server.project}/artifacts",
        params={"release": release},
        headers={"Authorization": f"Bearer {server.token}"},
    )
    return [f["url"] for f in r.json()["files"]]


def test_upload_key_commands(tmp_path: Path) -> None:
    data = tmp_path / "data"
    project = backlight("project", "create", "shop", "--data-dir", str(data)).stdout.strip()
    made = backlight(
        "project", "upload-key", "create", "--project", project, "--data-dir", str(data)
    )
    assert made.returncode == 0, made.stderr
    key = made.stdout.strip()
    assert key.startswith("blup_")
    listed = backlight(
        "project", "upload-key", "list", "--project", project, "--data-dir", str(data)
    )
    key_id, masked = listed.stdout.strip().split("\t")
    assert key.startswith(f"blup_{key_id}_") and masked.endswith(key[-4:]) and key not in masked
    gone = backlight(
        "project", "upload-key", "delete", key_id, "--project", project, "--data-dir", str(data)
    )
    assert gone.returncode == 0
    listed = backlight(
        "project", "upload-key", "list", "--project", project, "--data-dir", str(data)
    )
    assert listed.stdout == ""
    missing = backlight(
        "project", "upload-key", "create", "--project", "nope", "--data-dir", str(data)
    )
    assert missing.returncode == 1 and "no project 'nope'" in missing.stderr


def test_upload_is_idempotent_and_names_files_by_url_prefix(
    server: BacklightProcess, tmp_path: Path
) -> None:
    key = httpx.post(
        f"{server.url}/api/v1/projects/{server.project}/upload-keys",
        headers={"Authorization": f"Bearer {server.token}"},
    ).json()["key"]
    folder = dist(tmp_path / "dist")
    args = [
        "sourcemaps",
        "upload",
        str(folder),
        "--project",
        server.project,
        "--version",
        "3.1.0",
        "--url-prefix",
        "https://app.example.com/static/",
        "--server",
        server.url,
    ]
    first = backlight(*args, env={"BACKLIGHT_UPLOAD_KEY": key})
    assert first.returncode == 0, first.stderr
    assert "3/3 files" in first.stdout  # the progress line's last state
    assert "3 stored, 0 replaced, 0 already there (2 uploaded with a debug id)" in first.stdout
    prefix = "https://app.example.com/static/js/"
    assert stored(server, "3.1.0") == [
        prefix + "app.js",
        prefix + "app.js.map",
        prefix + "chunk.mjs",
    ]
    again = backlight(*args, "--key", key)
    assert again.returncode == 0 and "0 stored, 0 replaced, 3 already there" in again.stdout
    assert "files" not in again.stdout  # nothing to upload: no progress line
    (folder / "js/chunk.mjs").write_text("export const x = 2;\n")
    third = backlight(*args, "--key", key)
    assert "0 stored, 1 replaced, 2 already there" in third.stdout


def test_upload_errors_are_one_line(server: BacklightProcess, tmp_path: Path) -> None:
    folder = dist(tmp_path / "dist")
    base = ["sourcemaps", "upload", "--project", server.project, "--version", "1"]
    wrong = backlight(*base, str(folder), "--server", server.url, "--key", "blup_wrong")
    assert wrong.returncode == 1
    assert wrong.stderr.count("\n") == 1 and "401 unauthorized" in wrong.stderr
    nokey = backlight(*base, str(folder), env={"BACKLIGHT_UPLOAD_KEY": ""})
    assert nokey.returncode == 2 and "BACKLIGHT_UPLOAD_KEY" in nokey.stderr
    down = backlight(*base, str(folder), "--server", "http://127.0.0.1:9", "--key", "blup_x")
    assert down.returncode == 1 and "cannot reach http://127.0.0.1:9" in down.stderr
    empty = tmp_path / "empty"
    empty.mkdir()
    none = backlight(*base, str(empty), "--server", server.url, "--key", "blup_x")
    assert none.returncode == 1 and "no .js" in none.stderr
