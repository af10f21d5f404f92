"""The error types that reach HTTP clients: a 4xx (or a 503) with a code and a detail."""

from __future__ import annotations


class ClientError(Exception):
    """Bad input. Rendered as ``{"error": code, "detail": detail}`` with ``status``."""

    def __init__(
        self, status: int, code: str, detail: str, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.code = code
        self.detail = detail
        self.headers = headers or {}


class Overloaded(ClientError):
    """The write queue is full; the client should retry after ``retry_after`` seconds."""

    def __init__(self, retry_after: int = 1) -> None:
        super().__init__(
            503,
            "overloaded",
            "the write queue is full; retry later",
            {"Retry-After": str(retry_after)},
        )


class StorageUnavailable(ClientError):
    """The store cannot write (disk full, read-only, I/O error): 503, retry later.

    ``reason`` is what clients see (no paths); ``where`` names the file or folder for the
    operator (start-up messages and logs only).
    """

    def __init__(self, reason: str, retry_after: int = 10, where: str = "") -> None:
        super().__init__(
            503,
            "storage_unavailable",
            f"the server cannot write to its database: {reason}; retry later",
            {"Retry-After": str(retry_after)},
        )
        self.reason = reason
        self.where = where


class QueryTimeout(ClientError):
    """A read ran past the store's time limit (``query_timeout_ms``): 503, retry later."""

    def __init__(self, limit_ms: int) -> None:
        super().__init__(
            503,
            "query_timeout",
            f"the query took longer than query_timeout_ms ({limit_ms} ms); "
            "narrow the filters or the time range",
            {"Retry-After": "5"},
        )
