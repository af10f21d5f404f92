"""A tiny HTTP server on loopback for the fetch-path tests: it serves what a test puts in
``routes`` (a path → a ``Route``) and counts the requests per path and the Host headers
it saw. Real sockets, a real HTTP/1.1 exchange: nothing of the client is mocked."""

from __future__ import annotations

import contextlib
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType


@dataclass
class Route:
    body: bytes = b""
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    trickle_s: float = 0.0  # a pause before each byte of the body
    endless: bool = False  # the body never ends (no Content-Length; 64 KiB chunks)
    length: bool = True  # send Content-Length


class Origin:
    def __init__(self) -> None:
        self.routes: dict[str, Route] = {}
        self.hits: Counter[str] = Counter()
        self.hosts: list[str] = []
        origin = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                path = self.path.split("?", 1)[0]
                origin.hits[path] += 1
                origin.hosts.append(self.headers.get("Host", ""))
                route = origin.routes.get(path, Route(b"not found", 404))
                with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                    self._send(route)

            def _send(self, route: Route) -> None:
                self.send_response(route.status)
                for name, value in route.headers.items():
                    self.send_header(name, value)
                if route.endless or not route.length:
                    self.send_header("Connection", "close")
                    self.close_connection = True
                else:
                    self.send_header("Content-Length", str(len(route.body)))
                self.end_headers()
                if route.endless:
                    chunk = b" " * 65536
                    for _ in range(100_000):  # ~6 GB: the client stops long before
                        self.wfile.write(chunk)
                elif route.trickle_s:
                    for i in range(len(route.body)):
                        self.wfile.write(route.body[i : i + 1])
                        self.wfile.flush()
                        time.sleep(route.trickle_s)
                else:
                    self.wfile.write(route.body)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> Origin:
        self._thread.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.server.shutdown()
        self.server.server_close()

    def requests(self) -> int:
        return sum(self.hits.values())
