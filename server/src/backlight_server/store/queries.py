"""Typed queries: what a list or search read asks of any store (no engine's syntax in them).

Frozen, so a query can be logged, cached or compared; every field is optional except the
page. Times are epoch milliseconds; text filters are plain text (each store turns them into
its own syntax: ``LIKE`` patterns, FTS5 trigram phrases, ClickHouse ``LIKE`` with an
ngram index).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

GroupState = Literal["open", "resolved", "ignored"]
LogLevel = Literal["trace", "debug", "info", "warn", "error", "fatal"]


@dataclass(frozen=True, slots=True)
class SessionQuery:
    """Sessions, newest first. ``user`` and ``url_contains`` match as substrings."""

    project_id: str | None = None
    start_ms: float | None = None  # sessions started at or after
    end_ms: float | None = None  # ... and before
    user: str | None = None
    has_errors: bool | None = None  # frontend or backend errors
    url_contains: str | None = None  # first or last URL
    limit: int = 50
    offset: int = 0


@dataclass(frozen=True, slots=True)
class ErrorGroupQuery:
    """Error groups, most recently seen first."""

    project_id: str | None = None
    state: GroupState | None = None
    limit: int = 50
    offset: int = 0


@dataclass(frozen=True, slots=True)
class LogQuery:
    """Logs, newest first. ``text``: every word (split at white space) must occur in the
    body as a substring, in any case (a trailing ``*`` is allowed and means the same).

    ``session_id`` also finds logs of the session's requests' traces; ``request_id`` finds
    the request's traces and the logs matched to it by time.
    """

    text: str | None = None
    project_id: str | None = None
    session_id: str | None = None
    request_id: str | None = None
    service: str | None = None
    level: LogLevel | None = None
    start_ms: float | None = None
    end_ms: float | None = None
    limit: int = 100
    offset: int = 0


TraceStatus = Literal["error", "ok"]


@dataclass(frozen=True, slots=True)
class TraceQuery:
    """Traces, newest first (by the start of their earliest span).

    ``service``: one of its spans is of that service; ``name``: one of its spans' names
    contains the text (any case); ``min_ms`` / ``max_ms``: bounds on its duration (earliest
    start to latest end); ``status``: ``error`` when a span has the error status, ``ok``
    when none has; ``start_ms`` / ``end_ms``: when it started.
    """

    project_id: str | None = None
    service: str | None = None
    name: str | None = None
    min_ms: float | None = None
    max_ms: float | None = None
    status: TraceStatus | None = None
    start_ms: float | None = None
    end_ms: float | None = None
    limit: int = 50
    offset: int = 0
