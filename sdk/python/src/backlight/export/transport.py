"""OTLP/HTTP: POST protobuf to ``{backend_url}/v1/traces`` and ``/v1/logs``.

Bodies are gzip'd, except to a loopback backend (``localhost``, 127.0.0.0/8, ``::1``):
there is no network to save, and compressing would only take CPU from the app.
"""

from __future__ import annotations

import codecs
import http.client
import ipaddress
import time
import zlib
from urllib.parse import urlsplit

from backlight._debug import debug

_RETRY_STATUS = frozenset({429, 502, 503, 504})

# The socket module encodes every host name with the "idna" codec, which Python imports on
# first use. Left to the export thread, that import can be under way when the app forks
# (gunicorn --preload forks workers while the master's first export connects); the child
# then finds the codec half-imported, the codec registry caches the failure, and every
# export of that child fails with "unknown encoding: idna". Loaded here, at import, the
# export thread imports nothing.
codecs.lookup("idna")


class ExportError(Exception):
    """An export that did not succeed; the worker counts it and moves on."""


class Transport:
    """One keep-alive connection to the backend, used only by the worker thread."""

    def __init__(
        self,
        backend_url: str,
        headers: dict[str, str],
        timeout: float = 10.0,
        attempts: int = 3,
        compress: bool | None = None,
    ) -> None:
        url = urlsplit(backend_url.rstrip("/"))
        if url.scheme not in ("http", "https") or not url.hostname:
            raise ValueError(f"backend_url must be an http(s) URL, got {backend_url!r}")
        self.scheme = url.scheme
        self.host = url.hostname
        self.port = url.port
        self.prefix = url.path
        self.timeout = timeout
        self.attempts = attempts
        self.compress = not is_loopback(url.hostname) if compress is None else compress
        self.headers = {
            "Content-Type": "application/x-protobuf",
            **({"Content-Encoding": "gzip"} if self.compress else {}),
            "User-Agent": "backlight-python",
            **headers,
        }
        self._conn: http.client.HTTPConnection | None = None

    def send(self, path: str, payload: bytes, deadline: float | None = None) -> None:
        """POST ``payload`` to ``path``; retry 429/5xx and connection errors with backoff."""
        body = gzip_bytes(payload) if self.compress else payload
        delay = 0.25
        for attempt in range(1, self.attempts + 1):
            status, retry_after = self._post(self.prefix + path, body)
            if 200 <= status < 300:
                debug("backlight: exported %d bytes to %s (HTTP %d)", len(payload), path, status)
                return
            retryable = status == 0 or status in _RETRY_STATUS
            debug("backlight: export to %s failed (HTTP %d), attempt %d", path, status, attempt)
            wait = retry_after if retry_after is not None else delay
            if not retryable or attempt == self.attempts:
                break
            if deadline is not None and time.monotonic() + wait > deadline:
                break
            time.sleep(wait)
            delay *= 2
        raise ExportError(f"export to {path} failed")

    def forget(self) -> None:
        """In a forked child: the connection's socket is the parent's too. Dropped without
        closing (the parent still uses it); the next export opens one of the child's own."""
        self._conn = None

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def _post(self, path: str, body: bytes) -> tuple[int, float | None]:
        """(status, Retry-After seconds); status 0 means the connection failed."""
        try:
            conn = self._conn or self._connect()
            conn.request("POST", path, body, self.headers)
            response = conn.getresponse()
            response.read()
            if response.will_close:
                self.close()
            return response.status, _retry_after(response.getheader("Retry-After"))
        except (OSError, http.client.HTTPException) as exc:
            debug("backlight: export connection error: %r", exc)
            self.close()
            return 0, None

    def _connect(self) -> http.client.HTTPConnection:
        cls = http.client.HTTPSConnection if self.scheme == "https" else http.client.HTTPConnection
        self._conn = cls(self.host, self.port, timeout=self.timeout)
        return self._conn


def is_loopback(host: str) -> bool:
    host = host.lower()
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def gzip_bytes(payload: bytes) -> bytes:
    compressor = zlib.compressobj(1, zlib.DEFLATED, 31)  # wbits 31: a gzip container; level 1:
    # protobuf of similar spans compresses almost as well as at level 6, at a third of the cost
    return compressor.compress(payload) + compressor.flush()


def _retry_after(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return min(max(float(value), 0.0), 30.0)
    except ValueError:
        return None
