"""The one error type that reaches HTTP clients: a 4xx with a code and a detail."""

from __future__ import annotations


class ClientError(Exception):
    """Bad input. Rendered as ``{"error": code, "detail": detail}`` with ``status``."""

    def __init__(self, status: int, code: str, detail: str,
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(detail)
        self.status = status
        self.code = code
        self.detail = detail
        self.headers = headers or {}


class Overloaded(ClientError):
    """The write queue is full; the client should retry after ``retry_after`` seconds."""

    def __init__(self, retry_after: int = 1) -> None:
        super().__init__(503, "overloaded", "the write queue is full; retry later",
                         {"Retry-After": str(retry_after)})
