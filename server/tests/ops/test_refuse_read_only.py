"""Start-up refuses a data dir it cannot write, on a real read-only file system, with one
clear line on stderr and a non-zero exit: with and without BACKLIGHT_AUTH_TOKEN, for
``backlight serve`` and ``backlight project create``."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path

import httpx
import pytest
from bl_mount import read_only_file, remount, tmpfs

from backlight_server.testing import free_port
from bltest import wait_for


def _run(data: Path, *args: str, token: str | None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "BACKLIGHT_AUTH_TOKEN"}
    if token is not None:
        env["BACKLIGHT_AUTH_TOKEN"] = token
    if args[0] == "serve":
        args = (*args, "--port", str(free_port()), "--otlp-grpc-port", "0")
    return subprocess.run(
        [sys.executable, "-m", "backlight_server", *args, "--data-dir", str(data)],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def _assert_refused(done: subprocess.CompletedProcess[str], words: str) -> None:
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert done.returncode != 0, done.stdout + done.stderr
    assert len(lines) == 1, done.stderr
    assert "Traceback" not in done.stderr
    assert lines[0].startswith("backlight: cannot write to ")
    assert words in lines[0], lines[0]
    assert "access token" not in done.stdout  # nothing was started


def _serve_once(data: Path, log: Path) -> None:
    """Start ``backlight serve`` until it is healthy, then stop it (SIGTERM)."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k != "BACKLIGHT_AUTH_TOKEN"}
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "backlight_server",
                "serve",
                "--port",
                str(port),
                "--otlp-grpc-port",
                "0",
                "--data-dir",
                str(data),
            ],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        wait_for(lambda: _healthy(f"http://127.0.0.1:{port}") or proc.poll() is not None)
        assert proc.poll() is None, log.read_text()
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def _healthy(url: str) -> bool:
    try:
        return httpx.get(url + "/healthz", timeout=1).status_code == 200
    except httpx.TransportError:
        return False


@contextmanager
def _existing_db_read_only(tmp: Path) -> Iterator[Path]:
    """A data dir used by a server before (database, token), then remounted read-only."""
    with tmpfs(tmp / "mnt", size="8m") as mnt:
        data = mnt / "data"
        assert _run(data, "project", "create", "shop", token=None).returncode == 0
        _serve_once(data, tmp / "first.log")  # no token set: it makes auth_token
        assert (data / "auth_token").exists() and (data / "backlight.db").exists()
        remount(mnt, read_only=True)
        try:
            yield data
        finally:
            remount(mnt, read_only=False)


@contextmanager
def _fresh_dir_read_only(tmp: Path) -> Iterator[Path]:
    """An empty data dir on a read-only file system: the database cannot be created."""
    with tmpfs(tmp / "mnt", size="1m") as mnt:
        (mnt / "data").mkdir(mode=0o700)
        remount(mnt, read_only=True)
        try:
            yield mnt / "data"
        finally:
            remount(mnt, read_only=False)


@contextmanager
def _missing_dir_read_only(tmp: Path) -> Iterator[Path]:
    """The data dir does not exist and its parent is read-only."""
    with tmpfs(tmp / "mnt", size="1m") as mnt:
        remount(mnt, read_only=True)
        try:
            yield mnt / "data"
        finally:
            remount(mnt, read_only=False)


@contextmanager
def _db_file_read_only(tmp: Path) -> Iterator[Path]:
    """A writable data dir whose database file alone is read-only (even for root)."""
    data = tmp / "data"
    assert _run(data, "project", "create", "shop", token=None).returncode == 0
    with read_only_file(data / "backlight.db"):
        yield data


CASES: dict[str, tuple[Callable[[Path], AbstractContextManager[Path]], str]] = {
    "existing database, read-only file system": (_existing_db_read_only, "read-only"),
    "empty data dir, read-only file system": (_fresh_dir_read_only, "read-only"),
    "no data dir, read-only parent": (_missing_dir_read_only, "read-only"),
    "read-only database file": (_db_file_read_only, "read-only"),
}


@pytest.mark.parametrize("case", list(CASES))
def test_start_refuses_a_read_only_data_dir(tmp_path: Path, case: str) -> None:
    make, words = CASES[case]
    with make(tmp_path) as data:
        before = sorted(p.name for p in data.iterdir()) if data.exists() else None
        for token in ("a-token", None):
            _assert_refused(_run(data, "serve", token=token), words)
        _assert_refused(_run(data, "project", "create", "other", token=None), words)
        after = sorted(p.name for p in data.iterdir()) if data.exists() else None
        assert after == before
