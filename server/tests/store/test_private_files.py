"""The data dir is created 0700 and the database (-wal, -shm) and token 0600; existing
files others may read are made 0600, an existing open data dir is warned about."""

from __future__ import annotations

import logging
import os
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from backlight_server.app import create_app
from backlight_server.settings import Settings


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture(autouse=True)
def usual_umask() -> Iterator[None]:
    old = os.umask(0o022)  # the common default: files 0644 and folders 0755 unless asked
    yield
    os.umask(old)


def _start(data: Path) -> None:
    app = create_app(Settings(data_dir=data, retention_days=0, otlp_grpc_port=0))
    app.state.backlight.store.close()


def test_fresh_data_dir_is_private(tmp_path: Path) -> None:
    data = tmp_path / "home" / "data"
    app = create_app(Settings(data_dir=data, retention_days=0, otlp_grpc_port=0))
    try:
        assert _mode(data) == 0o700
        for name in ("backlight.db", "backlight.db-wal", "backlight.db-shm", "auth_token"):
            assert _mode(data / name) == 0o600, name
    finally:
        app.state.backlight.store.close()
    assert _mode(data.parent) == 0o755  # folders above it are not ours to change


def test_project_create_makes_a_private_data_dir(tmp_path: Path) -> None:
    data = tmp_path / "data"
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "backlight_server",
            "project",
            "create",
            "shop",
            "--data-dir",
            str(data),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert _mode(data) == 0o700
    assert _mode(data / "backlight.db") == 0o600


def test_existing_open_files_are_made_private(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    data = tmp_path / "data"
    data.mkdir(mode=0o755)
    _start(data)
    for name in ("backlight.db", "auth_token"):
        (data / name).chmod(0o644)
    with caplog.at_level(logging.WARNING, logger="backlight.datadir"):
        _start(data)
    assert _mode(data / "backlight.db") == 0o600
    assert _mode(data / "auth_token") == 0o600
    assert _mode(data) == 0o755  # warned about, not changed
    text = caplog.text
    assert "backlight.db had mode 0644; set to 0600" in text
    assert "auth_token had mode 0644; set to 0600" in text
    assert f"data dir {data} has mode 0755" in text
