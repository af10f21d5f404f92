"""``--store URL`` picks the store; a URL it cannot use is refused with one line, and a
chdb folder serves one process (a second ``backlight serve`` on it is refused)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import httpx

from backlight_server.testing import BacklightProcess, free_port


def _serve(tmp_path: Path, store: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "backlight_server",
            "serve",
            "--data-dir",
            str(tmp_path / "d"),
            "--port",
            str(free_port()),
            "--otlp-grpc-port",
            "0",
            "--store",
            store,
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_unusable_store_urls_are_refused_in_one_line(tmp_path: Path) -> None:
    for url, words in (
        ("bogus://x", "is not sqlite:///DIR, chdb:///DIR or clickhouse://"),
        ("chdb://", "names no folder"),
        ("clickhouse://default:hunter2@127.0.0.1:1/db", "cannot connect"),
    ):
        done = _serve(tmp_path, url)
        lines = done.stderr.strip().splitlines()
        assert done.returncode != 0, url
        assert len(lines) == 1 and words in lines[0], (url, done.stderr)
        assert "hunter2" not in done.stderr + done.stdout  # the password is never printed


def test_a_chdb_folder_serves_one_process(tmp_path: Path) -> None:
    url = f"chdb://{tmp_path / 'engine'}"
    with BacklightProcess(tmp_path / "a", env={"BACKLIGHT_STORE": url}) as server:
        assert httpx.get(server.url + "/healthz").status_code == 200
        second = _serve(tmp_path, url)
        assert second.returncode == 1
        assert "open in another process" in second.stderr, second.stderr
        assert httpx.get(server.url + "/healthz").json()["ok"] is True
