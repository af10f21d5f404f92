"""Starts and stops the whole demo: Redis (when installed), Backlight, the services and the
page. Used by ``python -m demo`` and by the end-to-end test."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
PAGE = Path(__file__).resolve().parent / "page" / "index.html"


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


@dataclass
class Ports:
    backlight: int = 8082
    page: int = 8090
    api: int = 8091
    inventory: int = 8092
    partner: int = 8093
    thirdparty: int = 8094
    redis: int = 6390
    grpc: int = 0

    @classmethod
    def free(cls) -> Ports:
        backlight, page, api, inventory, partner, thirdparty, redis = (
            free_port() for _ in range(7)
        )
        return cls(backlight, page, api, inventory, partner, thirdparty, redis, grpc=0)


@dataclass
class Demo:
    data_dir: Path
    ports: Ports = field(default_factory=Ports)
    token: str = ""
    use_redis: bool = True
    backlight_url: str = ""
    project: str = ""
    queue: str = "local"
    procs: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    page_server: ThreadingHTTPServer | None = None

    @property
    def page_url(self) -> str:
        return f"http://localhost:{self.ports.page}/"

    def log(self, name: str) -> Path:
        return self.data_dir / "logs" / f"{name}.log"

    def _spawn(self, name: str, cmd: list[str], env: dict[str, str] | None = None) -> None:
        self.log(name).parent.mkdir(parents=True, exist_ok=True)
        with self.log(name).open("ab") as out:
            self.procs[name] = subprocess.Popen(
                cmd,
                cwd=ROOT,
                stdout=out,
                stderr=subprocess.STDOUT,
                env={**os.environ, **(env or {})},
            )

    def _wait(self, name: str, url: str, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            proc = self.procs.get(name)
            if proc is not None and proc.poll() is not None:
                raise RuntimeError(
                    f"{name} exited; see {self.log(name)}:\n" + self.log(name).read_text()[-1500:]
                )
            try:
                if httpx.get(url, timeout=2).status_code < 500:
                    return
            except httpx.TransportError:
                time.sleep(0.2)
        raise RuntimeError(f"{name} did not start within {timeout}s; see {self.log(name)}")

    def start_redis(self) -> None:
        redis_server = shutil.which("redis-server")
        if not self.use_redis or redis_server is None:
            self.queue = "local"
            return
        self._spawn(
            "redis",
            [
                redis_server,
                "--port",
                str(self.ports.redis),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ],
        )
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.ports.redis), timeout=1):
                    self.queue = f"redis://127.0.0.1:{self.ports.redis}/0"
                    return
            except OSError:
                time.sleep(0.1)
        raise RuntimeError("redis-server did not start")

    def start_backlight(self) -> None:
        if self.backlight_url:
            return
        env = {"BACKLIGHT_AUTH_TOKEN": self.token} if self.token else {}
        self._spawn(
            "backlight",
            [
                sys.executable,
                "-m",
                "backlight_server",
                "serve",
                "--port",
                str(self.ports.backlight),
                "--data-dir",
                str(self.data_dir / "backlight"),
                "--otlp-grpc-port",
                str(self.ports.grpc),
            ],
            env,
        )
        self.backlight_url = f"http://127.0.0.1:{self.ports.backlight}"
        self._wait("backlight", self.backlight_url + "/healthz")
        if not self.token:
            self.token = (self.data_dir / "backlight" / "auth_token").read_text().strip()

    def api(self, path: str, **params: Any) -> Any:
        r = httpx.get(
            self.backlight_url + path,
            params=params,
            timeout=30,
            headers={"Authorization": f"Bearer {self.token}"},
        )
        r.raise_for_status()
        return r.json()

    def start_services(self) -> None:
        self.project = self.project or self.api("/api/v1/projects")["default"]
        env = {
            "DEMO_PROJECT": self.project,
            "DEMO_BACKLIGHT_URL": self.backlight_url,
            "DEMO_PAGE_ORIGIN": f"http://localhost:{self.ports.page}",
            "DEMO_INVENTORY_URL": f"http://127.0.0.1:{self.ports.inventory}",
            "DEMO_QUEUE": self.queue,
            "DEMO_API_PORT": str(self.ports.api),
            "DEMO_INVENTORY_PORT": str(self.ports.inventory),
            "DEMO_PARTNER_PORT": str(self.ports.partner),
            "DEMO_THIRDPARTY_PORT": str(self.ports.thirdparty),
        }
        names = ["inventory", "api", "partner", "thirdparty"]
        if self.queue != "local":
            names.append("worker")
        for name in names:
            self._spawn(name, [sys.executable, "-m", f"demo.services.{name}"], env)
        self._wait("inventory", f"http://127.0.0.1:{self.ports.inventory}/health")
        self._wait("api", f"http://localhost:{self.ports.api}/health")
        self._wait("partner", f"http://127.0.0.1:{self.ports.partner}/health")
        self._wait("thirdparty", f"http://127.0.0.2:{self.ports.thirdparty}/seen")

    def start_page(self) -> None:
        values = {
            "BACKLIGHT": self.backlight_url,
            "PROJECT": self.project,
            "API_PORT": self.ports.api,
            "PARTNER_PORT": self.ports.partner,
            "THIRDPARTY_PORT": self.ports.thirdparty,
        }
        html = PAGE.read_text()
        for key, value in values.items():
            html = html.replace("{{" + key + "}}", str(value))
        body = html.encode()

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                status = 200 if self.path.split("?")[0] in ("/", "/index.html") else 404
                self.send_response(status)
                self.send_header("content-type", "text/html; charset=utf-8")
                self.send_header("content-length", str(len(body) if status == 200 else 0))
                self.end_headers()
                if status == 200:
                    self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self.page_server = ThreadingHTTPServer(("127.0.0.1", self.ports.page), Handler)
        threading.Thread(target=self.page_server.serve_forever, daemon=True).start()

    def start(self) -> Demo:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        try:
            self.start_redis()
            self.start_backlight()
            self.start_services()
            self.start_page()
        except BaseException:
            self.stop()
            raise
        return self

    def third_party_seen(self) -> list[dict[str, Any]]:
        seen: list[dict[str, Any]] = httpx.get(
            f"http://127.0.0.2:{self.ports.thirdparty}/seen", timeout=5
        ).json()
        return seen

    def stop(self) -> None:
        if self.page_server is not None:
            self.page_server.shutdown()
            self.page_server = None
        for name in reversed(list(self.procs)):
            proc = self.procs[name]
            if proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    proc.kill()
        self.procs.clear()
