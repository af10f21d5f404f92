"""The query API's response shapes, for the OpenAPI document (``response_model``).

The routes still answer with ``jsontext.dumps`` of what the store returns (fast, and
byte-for-byte what clients got before); these models describe that JSON, and the
schemathesis contract test (``server/tests/api/test_openapi_contract.py``) plus
``server/tests/api/test_response_models.py`` check real answers against them. Extra keys
are allowed: a client must ignore keys it does not know. JSON columns (attributes,
detail, events, stack, args, properties, user metadata) are whatever was stored, made
tolerant by ``store/shapes.py``.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

Level = Literal["trace", "debug", "info", "warn", "error", "fatal"]


class _Open(BaseModel):
    model_config = ConfigDict(extra="allow")


class Project(_Open):
    id: str
    name: str
    created_ms: float


class Projects(_Open):
    projects: list[Project]
    default: str = Field(description="the project ingest uses when none is named")


class Session(_Open):
    secure_id: str
    project_id: str
    started_ms: float
    last_ms: float
    duration_ms: float | None
    url: str | None
    last_url: str | None
    user_agent: str | None
    sdk_version: str | None
    environment: str | None
    service: str | None
    app_version: str | None
    identifier: str | None
    user_metadata: Any = None
    pages: int
    event_count: int
    network_count: int
    fe_error_count: int
    be_error_count: int
    dropped_events: int
    dropped_other: int


class SessionPage(_Open):
    total: int
    limit: int
    offset: int
    sessions: list[Session]


class BackendSummary(_Open):
    spans: int
    logs: int
    errors: int
    worst_level: Level | None


class _Request(_Open):
    request_id: str | None
    type: str
    method: str
    url: str
    status: int | None
    start_ms: float | None
    end_ms: float | None
    error: str | None
    detail: Any = Field(None, description="headers and bodies, when recorded")
    backend: BackendSummary | None = None


class NetworkRequest(_Request):
    id: int


class SessionRequest(_Request):
    id: int | None = Field(
        description="the browser's row id; null for a request seen by the server only"
    )
    source: Literal["browser", "server"] = Field(
        description="browser: recorded by the browser SDK; server: a request of the "
        "session that its backend records name and the browser did not record (a form "
        "POST that redirected, a page load whose Server-Timing was not read): its method, "
        "URL, status and times are its root span's"
    )
    service: str | None = Field(None, description="a server row's root span's service")
    name: str | None = Field(None, description="a server row's root span's name")


class ServerSeen(_Open):
    shown: int = Field(description="requests seen by the server listed in network")
    more: int = Field(description="more of them, not listed (the earliest are listed)")
    complete: bool = Field(
        description="false: the search for them stopped at its cap, there may be more"
    )


class ConsoleMessage(_Open):
    ts_ms: float | None
    level: str
    message: str
    args: Any = None


class RawFrame(_Open):
    file: str | None = None
    function: str | None = None
    line: int | None = None
    column: int | None = None


class SourceContext(_Open):
    start: int = Field(description="the line number of lines[0]")
    lines: list[str]


class StackFrame(_Open):
    file: str | None = Field(None, description="the original source file when symbolicated")
    function: str | None = None
    line: int | None = None
    column: int | None = None
    code: str | None = Field(None, description="the frame's source line, when known")
    in_app: bool | None = Field(
        None, description="false: library code (node_modules, site-packages …)"
    )
    path: str | None = Field(
        None,
        description="the file as the UI shows it (relative to the project, a library's "
        "from its root); only in the UI's own data",
    )
    context: SourceContext | None = Field(
        None, description="source lines around the frame, from the map's sourcesContent"
    )
    raw: RawFrame | None = Field(
        None,
        description="the frame as the browser reported it (minified), present when this "
        "frame was mapped to its original source",
    )


class ErrorInstance(_Open):
    id: int
    ts_ms: float | None
    source: str
    type: str
    message: str
    stack: list[StackFrame] | None = Field(
        None, description="parsed frames, innermost first; frontend frames symbolicated"
    )
    raw_stack: str | None = None
    session_id: str | None = None
    request_id: str | None = None
    trace_id: str | None = None
    span_id: str | None = None
    service: str | None = None
    environment: str | None = None
    url: str | None = None
    attributes: Any = None


class SessionError(ErrorInstance):
    group_id: int


class TrackEvent(_Open):
    ts_ms: float | None
    event: str
    properties: Any = None


class SessionView(_Open):
    session: Session
    network: list[SessionRequest] = Field(
        description="the browser's requests and those seen by the server only, by start time"
    )
    server_seen: ServerSeen
    console: list[ConsoleMessage]
    errors: list[SessionError] = Field(description="frontend errors")
    backend_errors: list[SessionError]
    track: list[TrackEvent]


class ReplayPage(_Open):
    events: list[Any] = Field(description="rrweb events, in order")
    next_seq: int | None = Field(description="pass as after_seq for the next page; null: done")


class Span(_Open):
    trace_id: str
    span_id: str
    parent_span_id: str | None
    name: str
    kind: int | None
    start_ns: int | None
    end_ns: int | None
    start_ms: float
    duration_ms: float
    status_code: int | None
    status_message: str | None
    service: str
    environment: str | None
    session_id: str | None
    request_id: str
    attributes: Any = None
    events: Any = None
    children: list[Span] = Field(description="child spans, by start time")


class LinkedLog(_Open):
    id: int
    ts_ns: int | None
    ts_ms: float | None
    trace_id: str | None
    span_id: str | None
    level: str
    body: str
    service: str
    environment: str | None
    session_id: str | None
    request_id: str | None
    attributes: Any = None


class RequestLog(LinkedLog):
    severity_number: int | None
    match: Literal["exact", "time"] | None = None


class RequestError(SessionError):
    match: Literal["exact", "time"] | None = None


class RequestView(_Open):
    request_id: str
    session_secure_id: str | None
    browser: NetworkRequest | None = Field(description="the browser's record of the request")
    trace_ids: list[str]
    services: list[str]
    spans: list[Span] = Field(description="span trees (roots)")
    span_count: int
    logs: list[RequestLog]
    errors: list[RequestError]


class TraceView(_Open):
    trace_id: str
    spans: list[Span]
    span_count: int
    logs: list[RequestLog]
    errors: list[RequestError]


class ErrorGroup(_Open):
    id: int
    project_id: str
    fingerprint: str
    type: str
    message: str
    source: str
    stack: list[StackFrame] | None = None
    first_ms: float | None
    last_ms: float | None
    count: int | None
    state: str = Field(description="open, resolved or ignored")
    sessions: int = Field(description="distinct sessions with this error")
    users: int | None = Field(
        None, description="distinct identified users of those sessions (the group list)"
    )
    sparkline: list[int] = Field(description="errors per day, the last 14 days")


class ErrorGroupPage(_Open):
    total: int
    limit: int
    offset: int
    groups: list[ErrorGroup]


class GroupInstance(ErrorInstance):
    session_secure_id: str | None
    timestamp: float | None


class ErrorGroupView(_Open):
    group: ErrorGroup
    instances: list[GroupInstance] = Field(description="latest first")


class GroupState(_Open):
    id: int
    state: Literal["open", "resolved", "ignored"]


class FoundLog(LinkedLog):
    session_secure_id: str | None


class LogPage(_Open):
    logs: list[FoundLog]
    limit: int
    offset: int
    has_more: bool


class LinkedRequest(_Open):
    request_id: str
    start_ms: float | None


class Status(_Open):
    project_id: str
    sessions: int
    first_session_ms: float | None
    spans: int = Field(description="counted up to 100 000")
    first_span_ms: float | None
    logs: int = Field(description="counted up to 100 000")
    first_linked_request: LinkedRequest | None
    requests_with_id: int
    requests_without_id: int
    requests_with_id_failed: int


class HourlyCounts(_Open):
    start_ms: float = Field(description="the start of the first hour (epoch ms)")
    hour_ms: float
    counts: list[int] = Field(description="24 counts, oldest hour first; the last holds now")


class InstanceContext(_Open):
    id: int
    user: str | None = Field(None, description="the session's identify identifier")
    url: str | None = Field(None, description="the span's http.route, else the page's path")
    user_agent: str | None = None
    release: str | None = Field(None, description="the session's app version")


class ErrorGroupFacts(_Open):
    hourly: HourlyCounts
    sampled: int = Field(description="instances looked at (the latest)")
    users: int = Field(description="distinct identified users of their sessions")
    sessions: int = Field(description="distinct sessions of those instances")
    breakdowns: dict[str, list[list[str | int | None]]] = Field(
        description="user_agent, url, service, environment, release: [value, count] pairs"
    )
    instances: list[InstanceContext]
