"""Run a real ``backlight serve`` process on a loopback port (for tests and benchmarks)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import Any, TypeVar

import httpx

T = TypeVar("T")

# Debian's Chromium, headless, with none of its own background traffic (tests and benchmarks
# talk to loopback only; on a machine without internet those connections would fail).
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def wait_for(
    probe: Callable[[], T | None],
    what: str = "the condition",
    timeout: float = 30.0,
    interval: float = 0.1,
) -> T:
    """Poll ``probe`` until it returns something truthy and return that; fail after
    ``timeout`` seconds with ``what`` and the last value. The one bounded wait of the tests
    (never a fixed sleep)."""
    deadline = time.monotonic() + timeout
    last: T | None = None
    while True:
        last = probe()
        if last:
            return last
        if time.monotonic() > deadline:
            raise AssertionError(
                f"timed out after {timeout} s waiting for {what}; last value: {last!r}"
            )
        time.sleep(interval)


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def test_store_url(data_dir: Path) -> str:
    """The store tests run on: SQLite in the data dir (""), or, with the environment
    variable ``BACKLIGHT_TEST_STORE=chdb``, the embedded ClickHouse engine in it (how the
    whole suite is run once on ClickHouse)."""
    kind = os.environ.get("BACKLIGHT_TEST_STORE", "")
    if kind == "chdb":
        return f"chdb://{data_dir.resolve() / 'chdb'}"
    if kind not in ("", "sqlite"):
        raise ValueError(f"BACKLIGHT_TEST_STORE: {kind!r} is not sqlite or chdb")
    return ""


class BacklightProcess:
    """``with BacklightProcess(tmp_path) as server: server.url, server.token, server.project``."""

    def __init__(
        self,
        data_dir: Path,
        *,
        port: int | None = None,
        token: str = "test-token",
        env: dict[str, str] | None = None,
        args: list[str] | None = None,
        command: list[str] | None = None,
    ) -> None:
        self.data_dir = data_dir
        # what runs ``backlight``: this interpreter's package, or e.g. an installed script
        self.command = command or [sys.executable, "-m", "backlight_server"]
        self.port = port or free_port()
        self.token = token
        self.url = f"http://127.0.0.1:{self.port}"
        self._env = env or {}
        self._args = args or []
        self.proc: subprocess.Popen[bytes] | None = None
        self.project = ""
        self.log_path = data_dir / "server.log"

    def start(self, timeout: float = 30.0) -> BacklightProcess:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        env = {**os.environ, "BACKLIGHT_AUTH_TOKEN": self.token, **self._env}
        if "BACKLIGHT_STORE" not in self._env and test_store_url(self.data_dir):
            env["BACKLIGHT_STORE"] = test_store_url(self.data_dir)
        cmd = [
            *self.command,
            "serve",
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--data-dir",
            str(self.data_dir),
        ]
        if "--otlp-grpc-port" not in self._args:
            cmd += ["--otlp-grpc-port", "0"]
        cmd += self._args
        log = self.log_path.open("ab")
        self.proc = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT)
        log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"backlight serve exited: {self.log_path.read_text()[-2000:]}")
            try:
                if httpx.get(self.url + "/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.1)
        else:
            self.stop()
            raise RuntimeError("backlight serve did not become healthy in time")
        self.project = str(self.api("/api/v1/projects")["default"])
        return self

    def api(self, path: str, **params: object) -> dict[str, Any]:
        r = httpx.get(
            self.url + path,
            params=params,  # type: ignore[arg-type]
            headers={"Authorization": f"Bearer {self.token}"},
            timeout=30,
            follow_redirects=True,  # a group merged by source maps answers 307 to its new id
        )
        r.raise_for_status()
        data: dict[str, Any] = r.json()
        return data

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(sig)
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()

    def kill(self) -> None:
        self.stop(signal.SIGKILL)

    def __enter__(self) -> BacklightProcess:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
