"""The ``backlight`` command as a user runs it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from backlight_server.testing import BacklightProcess
from bltest import session_id, session_start


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "backlight_server", *args],
        text=True,
        capture_output=True,
        timeout=60,
        check=False,
    )


@pytest.mark.sqlite_only
def test_project_create_then_ingest(tmp_path: Path) -> None:
    data = tmp_path / "data"
    created = run("project", "create", "shop", "--data-dir", str(data))
    assert created.returncode == 0, created.stderr
    pid = created.stdout.strip()
    assert len(pid) == 8
    assert pid.isalnum()
    custom = run("project", "create", "legacy", "--id", "hl-4d7k1", "--data-dir", str(data))
    assert custom.stdout.strip() == "hl-4d7k1"
    dup = run("project", "create", "again", "--id", "hl-4d7k1", "--data-dir", str(data))
    assert dup.returncode == 1
    assert "already exists" in dup.stderr
    listed = run("project", "list", "--data-dir", str(data)).stdout
    assert f"{pid}\tshop" in listed
    assert "hl-4d7k1\tlegacy" in listed

    with BacklightProcess(data) as server:
        # a project created while the server runs is accepted without a restart
        late = run("project", "create", "late", "--data-dir", str(data)).stdout.strip()
        for project in (pid, "hl-4d7k1", late):
            r = httpx.post(
                server.url + "/ingest/v1/session", json=session_start(project, session_id())
            )
            assert r.status_code == 200, r.text


def test_serve_prints_address_token_and_project(tmp_path: Path) -> None:
    with BacklightProcess(tmp_path / "d", token="printed-token-123") as server:
        out = server.log_path.read_text()
    assert f"{server.url}/login?token=printed-token-123" in out
    assert f"default project: {server.project}" in out


def test_serve_flags_match_env_vars() -> None:
    out = run("serve", "--help").stdout
    for flag, env in (
        ("--port", "BACKLIGHT_PORT"),
        ("--data-dir", "BACKLIGHT_DATA_DIR"),
        ("--host", "BACKLIGHT_HOST"),
        ("--retention-days", "BACKLIGHT_RETENTION_DAYS"),
    ):
        assert flag in out
        assert env in out
