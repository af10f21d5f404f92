"""The guards of the fetch path (docs/sourcemaps.md, "Fetching maps"): which origins a
project allows, and which addresses a server may connect to.

An **origin** is ``scheme://host[:port]``, http or https only, lowercased, the default
port dropped; one wildcard form, ``scheme://*.example.com[:port]``, allows every host
*under* ``example.com`` (one label or more; not ``example.com`` itself) with that scheme
and port. Nothing else is a pattern.

An **address** is refused when it is not one the public internet routes to: loopback,
private (RFC 1918, ``fc00::/7``), link-local (``169.254.0.0/16``, ``fe80::/10``: cloud
metadata), shared (``100.64.0.0/10``), unspecified, multicast, broadcast, reserved and
documentation ranges. IPv4 addresses carried in IPv6 ones (IPv4-mapped ``::ffff:a.b.c.d``,
NAT64 ``64:ff9b::/96``, 6to4 ``2002::/16``, Teredo) are judged as the IPv4 address.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable
from urllib.parse import urlsplit

__all__ = [
    "MAX_ORIGINS",
    "MAX_ORIGIN_CHARS",
    "Address",
    "address_refusal",
    "allowed",
    "check_origins",
    "origin_of",
    "parse_origin",
]

MAX_ORIGINS = 50  # origins on one project's allowlist
MAX_ORIGIN_CHARS = 256
Address = ipaddress.IPv4Address | ipaddress.IPv6Address

_DEFAULT_PORTS = {"http": 80, "https": 443}
_LABEL = r"(?!-)[a-z0-9-]{1,63}(?<!-)"
_HOST = re.compile(rf"{_LABEL}(?:\.{_LABEL})*")
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_ALWAYS_REFUSED = ("unspecified", "multicast", "broadcast")


def _host_ok(host: str) -> bool:
    if host.startswith("[") and host.endswith("]"):
        try:
            ipaddress.IPv6Address(host[1:-1])
        except ValueError:
            return False
        return True
    return len(host) <= 253 and _HOST.fullmatch(host) is not None


def origin_of(url: str) -> str | None:
    """A URL's origin in the allowlist's form, or ``None`` (not http(s), user info, a bad
    host or port)."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower()
    if scheme not in _DEFAULT_PORTS or not host or "@" in parts.netloc:
        return None
    if ":" in host:  # urlsplit drops the brackets of an IPv6 host
        host = f"[{host}]"
    if not _host_ok(host):
        return None
    if port is None or port == _DEFAULT_PORTS[scheme]:
        return f"{scheme}://{host}"
    return f"{scheme}://{host}:{port}"


def parse_origin(text: str) -> str:
    """One allowlist entry, normalised; ``ValueError`` says what is wrong with it."""
    if not isinstance(text, str) or not text or len(text) > MAX_ORIGIN_CHARS:
        raise ValueError(f"an origin is 1-{MAX_ORIGIN_CHARS} characters")
    wildcard = "://*." in text
    plain = text.replace("://*.", "://", 1) if wildcard else text
    origin = origin_of(plain)
    if origin is None:
        raise ValueError(
            f"{text[:80]!r} is not an origin: http(s)://host[:port], or "
            "http(s)://*.domain[:port] for every host under domain"
        )
    parts = urlsplit(plain)
    if parts.path not in ("", "/") or parts.query or parts.fragment or "?" in plain:
        raise ValueError(f"{text[:80]!r} has a path, query or fragment: an origin has none")
    if wildcard:
        if _split(origin)[1].startswith("[") or _split(origin)[1].rsplit(".", 1)[-1].isdigit():
            raise ValueError(f"{text[:80]!r}: a wildcard needs a domain name, not an address")
        origin = origin.replace("://", "://*.", 1)
    return origin


def _split(origin: str) -> tuple[str, str, str]:
    """(scheme, host, port or "") of a normalised origin."""
    scheme, rest = origin.split("://", 1)
    if rest.endswith("]") or ":" not in rest:
        return scheme, rest, ""
    host, _, port = rest.rpartition(":")
    return scheme, host, port


def check_origins(texts: Iterable[str]) -> list[str]:
    """A whole allowlist: each entry normalised, duplicates dropped, at most
    ``MAX_ORIGINS``; ``ValueError`` names the entry and the limit."""
    out: list[str] = []
    for i, text in enumerate(texts):
        if i >= MAX_ORIGINS:
            raise ValueError(f"at most {MAX_ORIGINS} origins")
        try:
            origin = parse_origin(text)
        except ValueError as exc:
            raise ValueError(f"origins[{i}]: {exc}") from None
        if origin not in out:
            out.append(origin)
    return out


def allowed(url: str, allowlist: Iterable[str]) -> bool:
    """Whether ``url``'s origin is on the allowlist (exact, or under a wildcard's domain
    with the same scheme and port)."""
    origin = origin_of(url)
    if origin is None:
        return False
    scheme, host, port = _split(origin)
    for entry in allowlist:
        if entry == origin:
            return True
        if "://*." not in entry:
            continue
        w_scheme, w_host, w_port = _split(entry)
        if w_scheme == scheme and w_port == port and host.endswith(w_host[1:]):
            return True
    return False


def _embedded_v4(ip: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip in _NAT64:
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    if ip.sixtofour is not None:
        return ip.sixtofour
    if ip.teredo is not None:
        return ip.teredo[1]
    return None


def address_refusal(ip: Address, allow_private: bool = False) -> str | None:
    """Why the server must not connect to ``ip`` (``None``: it may). ``allow_private``
    lifts every rule except unspecified, multicast and broadcast addresses."""
    if isinstance(ip, ipaddress.IPv6Address):
        inner = _embedded_v4(ip)
        if inner is not None:
            reason = address_refusal(inner, allow_private)
            return f"{reason} (in {ip})" if reason else None
    reason = _kind(ip)
    if reason is None or (allow_private and reason not in _ALWAYS_REFUSED):
        return None
    return f"{reason} address {ip}"


def _kind(ip: Address) -> str | None:
    if ip.is_unspecified:
        return "unspecified"
    if ip.is_multicast:
        return "multicast"
    if isinstance(ip, ipaddress.IPv4Address) and ip == ipaddress.IPv4Address("255.255.255.255"):
        return "broadcast"
    if ip.is_loopback:
        return "loopback"
    if ip.is_link_local:
        return "link-local"
    if ip.is_reserved:
        return "reserved"
    if ip.is_private:
        return "private"
    if not ip.is_global:  # 100.64.0.0/10 and the rest IANA lists as not global
        return "non-global"
    return None
