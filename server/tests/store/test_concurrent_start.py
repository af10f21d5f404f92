"""Several ``backlight serve`` started at the same moment on one fresh data dir all come
up, and agree on the access token and the default project (made once)."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from contextlib import closing
from pathlib import Path

import httpx
import pytest

from backlight_server.testing import free_port

PROCESSES = 3
# Four rounds: each is a fresh data dir raced by three first starts. (Ten took two minutes
# of the suite on 2 cores; the race is in the first start, which every round repeats.)
ROUNDS = 4
# ``backlight serve`` through its real entry point, after the imports and a barrier on stdin,
# so that the start-ups really overlap (imports alone spread them by a second on 2 cores)
READY_THEN_SERVE = (
    "import sys, uvicorn, backlight_server.app\n"
    "from backlight_server.cli import main\n"
    "print('ready', flush=True)\n"
    "sys.stdin.readline()\n"
    "sys.exit(main(sys.argv[1:]))\n"
)


def _healthy(port: int) -> bool:
    try:
        return httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200
    except httpx.TransportError:
        return False


def _printed(log: str, label: str) -> str:
    for line in log.splitlines():
        if line.strip().startswith(label):
            return line.split(":", 1)[1].strip()
    raise AssertionError(f"{label!r} not printed:\n{log[-3000:]}")


def _round(data: Path, logs: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "BACKLIGHT_AUTH_TOKEN"}
    ports = [free_port() for _ in range(PROCESSES)]
    paths = [logs / f"{data.name}-{i}.log" for i in range(PROCESSES)]
    procs: list[subprocess.Popen[bytes]] = []
    try:
        for port, path in zip(ports, paths, strict=True):
            with path.open("wb") as out:
                procs.append(
                    subprocess.Popen(
                        [
                            sys.executable,
                            "-c",
                            READY_THEN_SERVE,
                            "serve",
                            "--port",
                            str(port),
                            "--otlp-grpc-port",
                            "0",
                            "--data-dir",
                            str(data),
                        ],
                        env=env,
                        stdin=subprocess.PIPE,
                        stdout=out,
                        stderr=subprocess.STDOUT,
                    )
                )
        deadline = time.monotonic() + 60
        while not all("ready" in p.read_text() for p in paths):
            assert time.monotonic() < deadline, "the processes did not get ready"
            time.sleep(0.02)
        for proc in procs:  # go
            assert proc.stdin is not None
            proc.stdin.write(b"\n")
            proc.stdin.flush()
        waiting = set(range(PROCESSES))
        while waiting and time.monotonic() < deadline:
            for i in list(waiting):
                assert procs[i].poll() is None, f"server {i} exited:\n{paths[i].read_text()}"
                if _healthy(ports[i]):
                    waiting.discard(i)
            time.sleep(0.05)
        assert not waiting, f"not healthy within 60 s: {sorted(waiting)}"
        outputs = [p.read_text() for p in paths]
        tokens = {_printed(o, "access token") for o in outputs}
        projects = {_printed(o, "default project") for o in outputs}
        assert len(tokens) == 1, tokens
        assert len(projects) == 1, projects
        (token,), (project,) = tokens, projects
        assert (data / "auth_token").read_text().strip() == token
        for port in ports:  # each server accepts the one token and knows the one project
            r = httpx.get(
                f"http://127.0.0.1:{port}/api/v1/projects",
                headers={"Authorization": f"Bearer {token}"},
                timeout=10,
            )
            assert r.status_code == 200, r.text
            assert r.json()["default"] == project
        for text in outputs:
            assert "Traceback" not in text, text
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in procs:
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
    with closing(sqlite3.connect(data / "backlight.db")) as conn:
        assert conn.execute("SELECT count(*) FROM projects").fetchone()[0] == 1
        assert conn.execute("PRAGMA user_version").fetchone()[0] >= 2


@pytest.mark.slow
def test_concurrent_first_starts_agree(tmp_path: Path) -> None:
    for n in range(ROUNDS):
        _round(tmp_path / f"data{n}", tmp_path)
