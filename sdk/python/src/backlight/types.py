"""Small shared types: the request link and the ASGI protocol shapes."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Mapping, MutableMapping
from dataclasses import dataclass
from typing import Any, Protocol, TypeAlias


@dataclass(frozen=True, slots=True)
class RequestContext:
    """Which browser session and which of its requests a piece of backend work serves."""

    secure_session_id: str
    request_id: str

    @property
    def header_value(self) -> str:
        """The value of the ``x-highlight-request`` header for this pair."""
        return f"{self.secure_session_id}/{self.request_id}"


class LinkSource(Protocol):
    """Something that yields a request link when asked (a request span, lazily)."""

    def request_link(self) -> RequestContext | None: ...


HeaderValue: TypeAlias = str | bytes
HeadersLike: TypeAlias = (
    Mapping[str, HeaderValue] | Mapping[bytes, HeaderValue] | Iterable[tuple[Any, Any]] | Any
)
Attributes: TypeAlias = Mapping[str, Any]

Scope: TypeAlias = MutableMapping[str, Any]
Message: TypeAlias = MutableMapping[str, Any]
Receive: TypeAlias = Callable[[], Awaitable[Message]]
Send: TypeAlias = Callable[[Message], Awaitable[None]]
ASGIApp: TypeAlias = Callable[[Scope, Receive, Send], Awaitable[None]]
