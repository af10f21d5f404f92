"""thirdparty: an origin the page must NOT send linkage headers to. It records the headers
of every request (preflights included) and shows them at ``/seen``."""

from __future__ import annotations

import json
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from demo.services.common import port

SEEN: list[dict[str, Any]] = []


class Handler(BaseHTTPRequestHandler):
    def _reply(self, status: int, body: bytes, ctype: str = "application/json") -> None:
        self.send_response(status)
        self.send_header("Access-Control-Allow-Origin", "*")  # simple requests only
        self.send_header("content-type", ctype)
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        if self.path == "/seen":
            self._reply(200, json.dumps(SEEN).encode())
            return
        SEEN.append(
            {
                "method": "GET",
                "path": self.path,
                "headers": {k.lower(): v for k, v in self.headers.items()},
            }
        )
        self._reply(200, b'{"pixel": true}')

    def do_OPTIONS(self) -> None:
        SEEN.append(
            {
                "method": "OPTIONS",
                "path": self.path,
                "headers": {k.lower(): v for k, v in self.headers.items()},
            }
        )
        self._reply(204, b"")

    def log_message(self, *args: object) -> None:
        pass


if __name__ == "__main__":
    ThreadingHTTPServer(("127.0.0.2", port("thirdparty", 8094)), Handler).serve_forever()
