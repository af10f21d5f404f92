"""One guarded GET of the fetch path: only http(s), only allowlisted origins (the URL and
every redirect hop, at most ``MAX_REDIRECTS``), only public addresses (``netpin``), the body
streamed and cut at ``max_bytes`` (Content-Length is a hint), everything within one
deadline. No proxy (environment proxies would connect elsewhere than the checked address),
no cookies, no content decoding (``Accept-Encoding: identity``)."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit

import httpcore

from backlight_server.symbolicate import netguard
from backlight_server.symbolicate.netpin import Clock, Deadline, PinnedBackend, Refused

__all__ = ["MAX_REDIRECTS", "FetchFailed", "Fetched", "Limits", "get"]

MAX_REDIRECTS = 3
MAX_URL_CHARS = 4096
_REDIRECTS = (301, 302, 303, 307, 308)
_HEADERS = [
    (b"Accept", b"*/*"),
    (b"Accept-Encoding", b"identity"),
    (b"User-Agent", b"Backlight-sourcemap-fetch"),
]


class FetchFailed(Exception):
    """Why a fetch gave nothing; the message is shown to operators (logs, the API)."""


@dataclass(frozen=True, slots=True)
class Limits:
    max_bytes: int
    timeout_s: float
    connect_timeout_s: float
    allow_private: bool


@dataclass(frozen=True, slots=True)
class Fetched:
    url: str  # the last hop's
    headers: dict[str, str]  # lowercased names, first value; latin-1
    body: bytes
    addresses: tuple[str, ...]  # connected to, in order


def _check(url: str, allowlist: Sequence[str]) -> None:
    if len(url) > MAX_URL_CHARS:
        raise FetchFailed(f"URL longer than {MAX_URL_CHARS} characters")
    scheme = urlsplit(url).scheme.lower()
    if scheme not in ("http", "https"):
        raise FetchFailed(f"scheme {scheme[:20]!r} refused: only http and https")
    if netguard.origin_of(url) is None:
        raise FetchFailed(f"{url[:200]}: not a plain http(s) URL (no user info, a valid host)")
    if not netguard.allowed(url, allowlist):
        raise FetchFailed(f"origin {netguard.origin_of(url)} is not on the project's allowlist")


def get(url: str, allowlist: Sequence[str], limits: Limits, clock: Clock | None = None) -> Fetched:
    """The body at ``url`` (its fragment dropped) after at most ``MAX_REDIRECTS``
    redirects, or ``FetchFailed`` saying why not."""
    deadline = Deadline(limits.timeout_s, clock or time.monotonic)
    url = url.split("#", 1)[0]
    backend = PinnedBackend(deadline, limits.connect_timeout_s, limits.allow_private)
    try:
        with httpcore.ConnectionPool(network_backend=backend, max_connections=1) as pool:
            for _hop in range(MAX_REDIRECTS + 1):
                _check(url, allowlist)
                status, headers, body = _one(pool, url, limits, deadline)
                if status in _REDIRECTS and "location" in headers:
                    url = urljoin(url, headers["location"].strip())
                    continue
                if status != 200:
                    raise FetchFailed(f"{url[:200]}: HTTP {status}")
                return Fetched(url, headers, body, tuple(backend.connected))
    except Refused as exc:
        raise FetchFailed(f"refused: {exc}") from None
    except httpcore.TimeoutException:
        raise FetchFailed(
            f"{url[:200]}: over the time limit (sourcemap_fetch_timeout_s "
            f"{limits.timeout_s:g} s, connect {limits.connect_timeout_s:g} s)"
        ) from None
    except (httpcore.NetworkError, httpcore.ProtocolError, httpcore.UnsupportedProtocol) as exc:
        raise FetchFailed(f"{url[:200]}: {type(exc).__name__}: {str(exc)[:200]}") from None
    raise FetchFailed(f"more than {MAX_REDIRECTS} redirects")


def _one(
    pool: httpcore.ConnectionPool, url: str, limits: Limits, deadline: Deadline
) -> tuple[int, dict[str, str], bytes]:
    wait = deadline.left()
    timeouts = {"connect": min(wait, limits.connect_timeout_s), "read": wait, "write": wait}
    timeouts["pool"] = wait
    with pool.stream("GET", url, headers=_HEADERS, extensions={"timeout": timeouts}) as response:
        headers: dict[str, str] = {}
        for name, value in response.headers:
            headers.setdefault(name.decode("latin-1").lower(), value.decode("latin-1"))
        if response.status != 200:
            return response.status, headers, b""
        size = headers.get("content-length", "").strip()
        if size.isdigit() and int(size) > limits.max_bytes:
            raise FetchFailed(_too_large(url, limits, f"Content-Length {int(size)}"))
        chunks, total = [], 0
        for chunk in response.iter_stream():
            total += len(chunk)
            if total > limits.max_bytes:
                raise FetchFailed(_too_large(url, limits, f"over {limits.max_bytes} bytes read"))
            chunks.append(chunk)
            deadline.left()  # a body that keeps coming is cut at the deadline
        return 200, headers, b"".join(chunks)


def _too_large(url: str, limits: Limits, seen: str) -> str:
    return f"{url[:200]}: {seen}, over sourcemap_fetch_max_bytes ({limits.max_bytes})"
