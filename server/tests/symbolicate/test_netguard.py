"""The fetch path's guards: which addresses a server may connect to, and the origin
allowlist's syntax and matching (symbolicate/netguard.py)."""

from __future__ import annotations

import ipaddress

import pytest

from backlight_server.symbolicate import netguard
from backlight_server.symbolicate.netpin import Refused, resolve

# (address, why it is refused or None, refused even with sourcemap_fetch_allow_private)
ADDRESSES: list[tuple[str, str | None, bool]] = [
    ("127.0.0.1", "loopback", False),
    ("127.255.0.9", "loopback", False),
    ("::1", "loopback", False),
    ("::ffff:127.0.0.1", "loopback", False),  # IPv4-mapped IPv6
    ("::ffff:10.1.2.3", "private", False),
    ("::ffff:169.254.169.254", "link-local", False),
    ("169.254.169.254", "link-local", False),  # cloud metadata
    ("fe80::1", "link-local", False),
    ("10.0.0.1", "private", False),
    ("172.16.5.4", "private", False),
    ("192.168.1.1", "private", False),
    ("fc00::1", "private", False),
    ("fd12:3456::1", "private", False),
    ("100.64.0.1", "non-global", False),  # shared address space (carrier-grade NAT)
    ("192.0.2.10", "private", False),  # documentation
    ("2001:db8::1", "private", False),  # documentation
    ("198.18.0.1", "private", False),  # benchmarking
    ("240.0.0.1", "reserved", False),
    ("0.0.0.0", "unspecified", True),
    ("::", "unspecified", True),
    ("224.0.0.1", "multicast", True),
    ("ff02::1", "multicast", True),
    ("255.255.255.255", "broadcast", True),
    ("64:ff9b::7f00:1", "loopback", False),  # NAT64 of 127.0.0.1
    ("2002:7f00:1::", "loopback", False),  # 6to4 of 127.0.0.1
    ("2002:a00:1::", "private", False),  # 6to4 of 10.0.0.1
    ("8.8.8.8", None, False),
    ("93.184.215.14", None, False),
    ("2606:4700:4700::1111", None, False),
    ("::ffff:8.8.8.8", None, False),
    ("64:ff9b::808:808", None, False),  # NAT64 of 8.8.8.8
]


@pytest.mark.parametrize(("text", "kind", "always"), ADDRESSES)
def test_address_refusal(text: str, kind: str | None, always: bool) -> None:
    ip = ipaddress.ip_address(text)
    reason = netguard.address_refusal(ip)
    if kind is None:
        assert reason is None
        assert netguard.address_refusal(ip, allow_private=True) is None
        return
    assert reason is not None and reason.startswith(kind), reason
    relaxed = netguard.address_refusal(ip, allow_private=True)
    assert (relaxed is not None) == always, relaxed


def test_a_name_is_resolved_and_every_address_checked() -> None:
    with pytest.raises(Refused, match="localhost resolves to a loopback address"):
        resolve("localhost", 80, allow_private=False)
    assert resolve("localhost", 80, allow_private=True) in ("127.0.0.1", "::1")
    assert resolve("127.0.0.1", 80, allow_private=True) == "127.0.0.1"
    with pytest.raises(Refused, match="unspecified"):
        resolve("0.0.0.0", 80, allow_private=True)


@pytest.mark.parametrize(
    ("text", "origin"),
    [
        ("https://cdn.example.com", "https://cdn.example.com"),
        ("HTTPS://CDN.Example.COM:443/", "https://cdn.example.com"),
        ("http://cdn.example.com:80", "http://cdn.example.com"),
        ("http://127.0.0.1:8090", "http://127.0.0.1:8090"),
        ("http://[::1]:8090", "http://[::1]:8090"),
        ("https://*.example.com", "https://*.example.com"),
        ("https://*.Static.example.com:8443", "https://*.static.example.com:8443"),
    ],
)
def test_origins_normalised(text: str, origin: str) -> None:
    assert netguard.parse_origin(text) == origin


@pytest.mark.parametrize(
    "text",
    [
        "",
        "cdn.example.com",
        "ftp://cdn.example.com",
        "file:///etc/passwd",
        "javascript:alert(1)",
        "https://cdn.example.com/static",
        "https://cdn.example.com?x=1",
        "https://cdn.example.com#x",
        "https://user:pw@cdn.example.com",
        "https://cdn.example.com:99999",
        "https://*example.com",
        "https://*.*.example.com",
        "https://cdn.*.example.com",
        "https://*.[::1]",
        "https://*.0.0.1",
        "https://exa mple.com",
        "https://-bad.example.com",
        "https://" + "a" * 300 + ".com",
    ],
)
def test_bad_origins_refused(text: str) -> None:
    with pytest.raises(ValueError, match=r"origin|characters|wildcard"):
        netguard.parse_origin(text)


def test_allowlist_limits_name_the_entry_and_the_cap() -> None:
    assert netguard.check_origins(["https://a.com", "HTTPS://A.COM:443"]) == ["https://a.com"]
    with pytest.raises(ValueError, match=r"origins\[1\]: 'ftp://b.com' is not an origin"):
        netguard.check_origins(["https://a.com", "ftp://b.com"])
    with pytest.raises(ValueError, match="at most 50 origins"):
        netguard.check_origins([f"https://h{i}.example.com" for i in range(51)])


@pytest.mark.parametrize(
    ("url", "ok"),
    [
        ("https://cdn.example.com/js/app.js", True),
        ("https://cdn.example.com:443/js/app.js?v=1", True),
        ("http://cdn.example.com/js/app.js", False),  # another scheme
        ("https://cdn.example.com:8443/js/app.js", False),  # another port
        ("https://cdn.example.com.evil.net/app.js", False),
        ("https://a.static.example.net/app.js", True),  # under the wildcard
        ("https://x.y.static.example.net/app.js", True),
        ("https://static.example.net/app.js", False),  # the wildcard's domain itself
        ("https://evilstatic.example.net/app.js", False),
        ("https://a.static.example.net:8443/app.js", False),
        ("https://user@cdn.example.com/app.js", False),
        ("data:application/json;base64,e30=", False),
    ],
)
def test_allowed(url: str, ok: bool) -> None:
    allowlist = ["https://cdn.example.com", "https://*.static.example.net"]
    assert netguard.allowed(url, allowlist) is ok
