"""Connections of the fetch path: the host resolved once, every address it resolves to
checked, and the connection made to the checked address; every socket operation bounded
by one deadline for the whole fetch.

This is an ``httpcore.NetworkBackend`` (httpcore is httpx's transport layer): httpcore asks
it for a TCP connection to ``(host, port)`` and then, for https, starts TLS over it with
``server_hostname=host``. So the request still carries the URL's ``Host`` header and TLS
still sends the host name (SNI) and verifies the certificate against it; only the address
the socket connects to is ours, the one just checked. There is no second lookup between
the check and the connect for a DNS answer to change (DNS rebinding).

The deadline: each read, write and TLS handshake waits at most the time left, so a server
that trickles a byte at a time (headers or body) is cut when the deadline passes. The name
lookup itself (``getaddrinfo``) has no timeout of its own: the system resolver's applies.
"""

from __future__ import annotations

import ipaddress
import socket
import ssl
import time
import typing
from collections.abc import Callable, Iterable

import httpcore

from backlight_server.symbolicate.netguard import address_refusal

__all__ = ["Deadline", "PinnedBackend", "Refused"]

Clock = Callable[[], float]
SocketOption = (
    tuple[int, int, int] | tuple[int, int, bytes | bytearray] | tuple[int, int, None, int]
)


class Refused(Exception):
    """A connection the rules forbid; the message says which rule."""


class Deadline:
    """The end of one fetch, on a monotonic clock."""

    def __init__(self, seconds: float, clock: Clock = time.monotonic) -> None:
        self.clock = clock
        self.at = clock() + seconds

    def left(self, cap: float | None = None) -> float:
        """Seconds left (at most ``cap``); raises ``httpcore.ReadTimeout`` when none."""
        left = self.at - self.clock()
        if left <= 0:
            raise httpcore.ReadTimeout("the fetch's total time limit passed")
        return left if cap is None else min(left, cap)


def resolve(host: str, port: int, allow_private: bool) -> str:
    """The address to connect to: the first of what ``host`` resolves to, once every one
    of them passed ``address_refusal`` (a name that also resolves to a private address is
    refused whole)."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError) as exc:
        raise httpcore.ConnectError(f"cannot resolve {host[:100]}: {exc}") from exc
    addresses = list(dict.fromkeys(str(info[4][0]) for info in infos))
    if not addresses:
        raise httpcore.ConnectError(f"{host[:100]} resolves to no address")
    for text in addresses:
        reason = address_refusal(ipaddress.ip_address(text.split("%", 1)[0]), allow_private)
        if reason is not None:
            raise Refused(f"{host[:100]} resolves to a {reason}")
    return addresses[0]


class _Stream(httpcore.NetworkStream):
    def __init__(self, inner: httpcore.NetworkStream, deadline: Deadline) -> None:
        self._inner, self._deadline = inner, deadline

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._inner.read(max_bytes, self._deadline.left(timeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._inner.write(buffer, self._deadline.left(timeout))

    def close(self) -> None:
        self._inner.close()

    def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httpcore.NetworkStream:
        left = self._deadline.left(timeout)
        return _Stream(self._inner.start_tls(ssl_context, server_hostname, left), self._deadline)

    def get_extra_info(self, info: str) -> typing.Any:
        return self._inner.get_extra_info(info)


class PinnedBackend(httpcore.NetworkBackend):
    """One fetch's connections (``connected``: the addresses used, for logs and tests)."""

    def __init__(self, deadline: Deadline, connect_timeout: float, allow_private: bool) -> None:
        self.deadline, self.connect_timeout = deadline, connect_timeout
        self.allow_private = allow_private
        self.connected: list[str] = []
        self._inner = httpcore.SyncBackend()

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[SocketOption] | None = None,
    ) -> httpcore.NetworkStream:
        address = resolve(host, port, self.allow_private)
        self.connected.append(address)
        stream = self._inner.connect_tcp(
            address, port, self.deadline.left(self.connect_timeout), None, socket_options
        )
        return _Stream(stream, self.deadline)

    def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: Iterable[SocketOption] | None = None,
    ) -> httpcore.NetworkStream:
        raise Refused("no unix sockets")

    def sleep(self, seconds: float) -> None:
        time.sleep(min(seconds, self.deadline.left()))
