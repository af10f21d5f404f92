"""The internal model every ingest path produces and every store consumes.

Records are NamedTuples in storage column order: cheap to build on the hot path and
directly usable as SQL parameters.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, NamedTuple


class SpanRecord(NamedTuple):
    project_id: str
    trace_id: str
    span_id: str
    parent_span_id: str | None
    name: str
    kind: int
    start_ns: int
    end_ns: int
    status_code: int
    status_message: str | None
    service: str
    environment: str | None
    session_id: str | None
    request_id: str
    attributes: str | None  # JSON object
    events: str | None  # JSON array


class LogRecord(NamedTuple):
    project_id: str
    ts_ns: int
    trace_id: str | None
    span_id: str | None
    severity_number: int
    level: str
    body: str
    service: str
    environment: str | None
    session_id: str | None
    request_id: str | None
    attributes: str | None


@dataclass(slots=True)
class Frame:
    file: str
    function: str
    line: int | None = None
    column: int | None = None
    code: str | None = None
    in_app: bool = True

    def as_dict(self) -> dict[str, Any]:
        return {
            "file": self.file,
            "function": self.function,
            "line": self.line,
            "column": self.column,
            "code": self.code,
            "in_app": self.in_app,
        }


@dataclass(slots=True)
class ErrorRecord:
    project_id: str
    ts_ms: float
    source: str  # "frontend" | "span" | "log"
    type: str
    message: str
    frames: list[Frame]
    raw_stack: str | None
    session_id: str | None
    request_id: str | None
    trace_id: str | None
    span_id: str | None
    service: str | None
    environment: str | None
    url: str | None
    attributes: str | None
    fingerprint: str = ""


@dataclass(slots=True)
class TelemetryBatch:
    """What one OTLP request yields."""

    spans: list[SpanRecord] = field(default_factory=list)
    logs: list[LogRecord] = field(default_factory=list)
    errors: list[ErrorRecord] = field(default_factory=list)

    def size(self) -> int:
        return len(self.spans) + len(self.logs) + len(self.errors)


@dataclass(slots=True)
class SessionInfo:
    project_id: str
    secure_id: str
    started_ms: float
    url: str | None = None
    user_agent: str | None = None
    sdk_version: str | None = None
    environment: str | None = None
    service: str | None = None
    app_version: str | None = None


class NetworkRecord(NamedTuple):
    session_id: str
    request_id: str | None
    type: str
    method: str
    url: str
    status: int
    start_ms: float
    end_ms: float
    error: str | None
    detail: str | None  # JSON: headers, bodies, sizes, timing


class ConsoleRecord(NamedTuple):
    session_id: str
    ts_ms: float
    level: str
    message: str
    args: str | None


class TrackRecord(NamedTuple):
    session_id: str
    ts_ms: float
    event: str
    properties: str | None


@dataclass(slots=True)
class Identify:
    ts_ms: float
    identifier: str
    metadata: str | None


@dataclass(slots=True)
class BrowserBatch:
    """One browser batch (our protocol or highlight.run's), ready to store."""

    session: SessionInfo
    seq: int
    replay: bytes | None = None  # zlib-compressed JSON array of rrweb events
    replay_first_ms: float = 0.0
    replay_last_ms: float = 0.0
    n_events: int = 0
    network: list[NetworkRecord] = field(default_factory=list)
    console: list[ConsoleRecord] = field(default_factory=list)
    errors: list[ErrorRecord] = field(default_factory=list)
    track: list[TrackRecord] = field(default_factory=list)
    identify: Identify | None = None
    dropped_events: int = 0
    dropped_other: int = 0
    page_loads: int = 0
    last_url: str | None = None

    def size(self) -> int:
        return (
            self.n_events
            + len(self.network)
            + len(self.console)
            + len(self.errors)
            + len(self.track)
        )
