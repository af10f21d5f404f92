"""Small real HTTP servers on loopback that play the page's origin and the APIs it calls.

Roles:
- ``app``: serves the test pages (registered by path) and rrweb's replayer bundle.
- ``api``: an API that allows any request header in CORS (so tracing headers are fine).
- ``third``: a third-party API whose CORS allows simple requests only: a custom header
  would fail its preflight, as with real third parties.
Every server records the requests it received (method, path, lower-cased headers).
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

RRWEB_UMD = (
    Path(__file__).resolve().parents[2]
    / "sdk"
    / "browser"
    / "node_modules"
    / "rrweb"
    / "dist"
    / "rrweb.umd.min.cjs"
)


@dataclass
class Seen:
    method: str
    path: str
    target: str
    headers: dict[str, str]


@dataclass
class AppServer:
    role: str
    host: str = "127.0.0.1"
    pages: dict[str, str] = field(default_factory=dict)
    seen: list[Seen] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    httpd: ThreadingHTTPServer | None = None

    @property
    def port(self) -> int:
        assert self.httpd is not None
        return int(self.httpd.server_address[1])

    def url(self, host: str, path: str = "") -> str:
        return f"http://{host}:{self.port}{path}"

    def start(self) -> AppServer:
        server = self

        class Handler(_Handler):
            app = server

        self.httpd = ThreadingHTTPServer((self.host, 0), Handler)
        self.httpd.daemon_threads = True
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self.httpd is not None:
            self.httpd.shutdown()
            self.httpd.server_close()

    def requests(self, path: str) -> list[Seen]:
        with self.lock:
            return [s for s in self.seen if s.path == path]


class _Handler(BaseHTTPRequestHandler):
    app: AppServer
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _cors(self) -> None:
        origin = self.headers.get("origin")
        if origin and self.app.role != "app":
            self.send_header("access-control-allow-origin", origin)
            self.send_header("access-control-expose-headers", "x-echo, content-length")

    def _send(
        self,
        status: int,
        body: bytes,
        ctype: str,
        extra: dict[str, str] | None = None,
        cors: bool = True,
    ) -> None:
        self.send_response(status)
        self.send_header("content-type", ctype)
        self.send_header("content-length", str(len(body)))
        self.send_header("cache-control", "no-store")
        for k, v in (extra or {}).items():
            self.send_header(k, v)
        if cors:
            self._cors()
        self.end_headers()
        if self.command != "HEAD":
            with contextlib.suppress(OSError):  # the client may have gone (abort tests)
                self.wfile.write(body)

    def do_OPTIONS(self) -> None:
        self.send_response(204)
        origin = self.headers.get("origin", "*")
        self.send_header("access-control-allow-origin", origin)
        self.send_header("access-control-allow-methods", "GET, POST, PUT, OPTIONS")
        if self.app.role == "api":
            asked = self.headers.get("access-control-request-headers", "")
            self.send_header("access-control-allow-headers", asked)
        else:
            self.send_header("access-control-allow-headers", "content-type")
        self.send_header("content-length", "0")
        self.end_headers()

    def do_GET(self) -> None:
        self._handle(b"")

    def do_HEAD(self) -> None:
        self._handle(b"")

    def do_POST(self) -> None:
        n = int(self.headers.get("content-length") or 0)
        self._handle(self.rfile.read(n) if n else b"")

    do_PUT = do_POST

    def _handle(self, body: bytes) -> None:
        path = urlsplit(self.path).path
        headers = {k.lower(): v for k, v in self.headers.items()}
        with self.app.lock:
            self.app.seen.append(Seen(self.command, path, self.path, headers))
        if self.app.role == "app" and path == "/rrweb.js":
            self._send(200, RRWEB_UMD.read_bytes(), "text/javascript")
        elif self.app.role == "app" and path in self.app.pages:
            self._send(200, self.app.pages[path].encode(), "text/html; charset=utf-8")
        elif path == "/echo":
            echo = {
                "method": self.command,
                "path": self.path,
                "headers": headers,
                "body": body.decode("utf-8", "replace"),
            }
            self._send(200, json.dumps(echo).encode(), "application/json", {"x-echo": "yes"})
        elif path == "/json":
            data = {"user": "bob", "token": "tok-123", "items": [{"password": "pw-1", "n": 1}]}
            self._send(200, json.dumps(data).encode(), "application/json", {"x-echo": "yes"})
        elif path == "/bytes":
            self._send(200, bytes(range(256)) * 4, "application/octet-stream")
        elif path == "/slow":
            time.sleep(1.5)
            self._send(200, b"slow", "text/plain")
        elif path == "/nocors":
            self._send(200, b"hidden", "text/plain", cors=False)
        elif path == "/stream":
            self._stream()
        else:
            self._send(404, b"not found", "text/plain")

    def _stream(self) -> None:
        self.send_response(200)
        self.send_header("content-type", "text/plain")
        self.send_header("transfer-encoding", "chunked")
        self._cors()
        self.end_headers()
        with contextlib.suppress(OSError):
            for i in range(5):
                chunk = f"chunk-{i};".encode()
                self.wfile.write(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
                self.wfile.flush()
                time.sleep(0.03)
            self.wfile.write(b"0\r\n\r\n")
