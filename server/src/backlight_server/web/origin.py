"""Where a request comes from: the scheme behind a TLS proxy, and whether a state-changing
request was sent by this server's own pages (the defence against cross-site requests that
ride on the login cookie)."""

from __future__ import annotations

from urllib.parse import urlsplit

from starlette.datastructures import Headers
from starlette.types import Scope

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
_OWN_SITE = ("same-origin", "none")  # "none": typed in the address bar, a bookmark
_DEFAULT_PORTS = {"http": "80", "https": "443"}
_SHOWN = 120  # characters of a refused header quoted back


def forwarded_scheme(scope: Scope) -> Scope:
    """``scope`` with the scheme a trusted proxy reported in ``X-Forwarded-Proto`` (the
    last value: the one the nearest proxy wrote). Call only when the proxy is trusted."""
    proto = ""
    for name, value in scope["headers"]:
        if name == b"x-forwarded-proto":
            proto = value.decode("latin-1").rsplit(",", 1)[-1].strip().lower()
    if proto in ("http", "https") and proto != scope.get("scheme"):
        return {**scope, "scheme": proto}
    return scope


def normal_origin(scheme: str, netloc: str) -> str:
    """``https://Example.com:443`` → ``https://example.com`` (as browsers write ``Origin``)."""
    scheme, netloc = scheme.lower(), netloc.lower()
    host, sep, port = netloc.rpartition(":")
    if sep and "]" not in port and port == _DEFAULT_PORTS.get(scheme):
        netloc = host
    return f"{scheme}://{netloc}"


def own_origins(scheme: str, host_header: str, public_url: str) -> set[str]:
    origins = {normal_origin(scheme, host_header)} if host_header else set()
    if public_url:
        try:
            parts = urlsplit(public_url)
        except ValueError:  # not a URL: only the Host origin counts
            return origins
        if parts.scheme and parts.netloc:
            origins.add(normal_origin(parts.scheme, parts.netloc))
    return origins


def _shown(value: str) -> str:
    return value if len(value) <= _SHOWN else value[:_SHOWN] + "…"


def cross_site_reason(headers: Headers, origins: set[str]) -> str | None:
    """Why this request was not sent by our own pages; None when it was, or when nothing
    says otherwise (a client that is not a browser sends neither header).

    ``Sec-Fetch-Site`` decides when present (every current browser sends it, and it holds
    behind a proxy that rewrites ``Host``); else ``Origin`` must be this server's origin.
    ``same-site`` is refused: another port of the same host is the same site.
    """
    site = headers.get("sec-fetch-site")
    if site is not None:
        if site.strip().lower() in _OWN_SITE:
            return None
        return f"Sec-Fetch-Site is {_shown(site)!r}, not 'same-origin'"
    origin = headers.get("origin")
    if origin is None:
        return None
    if origin.strip().lower() in origins:
        return None
    return (
        f"Origin {_shown(origin)!r} is not this server's origin "
        f"({', '.join(sorted(origins)) or 'unknown: no Host header'})"
    )
