"""An OTLP/HTTP capture receiver on loopback, for the SDK tests.

The receiver is a real HTTP server in a thread. It gunzips and decodes
``ExportTraceServiceRequest`` / ``ExportLogsServiceRequest`` with the message types of
``opentelemetry-proto`` and records what arrived.
"""

from __future__ import annotations

import gzip
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue

import backlight

PROJECT = "test-project"
SESSION = "Ab3dEf7hIj0lMn4pQr8tUv2xYz6a"
REQUEST = "4bf92f3577b34da6a3ce929d0e0e4736"


def value_of(v: AnyValue) -> Any:
    kind = v.WhichOneof("value")
    if kind == "array_value":
        return [value_of(x) for x in v.array_value.values]
    if kind == "kvlist_value":
        return {kv.key: value_of(kv.value) for kv in v.kvlist_value.values}
    return getattr(v, kind) if kind else None


def attrs(kvs: Any) -> dict[str, Any]:
    return {kv.key: value_of(kv.value) for kv in kvs}


@dataclass
class SpanView:
    name: str
    trace_id: str
    span_id: str
    parent_span_id: str
    kind: int
    attributes: dict[str, Any]
    events: list[tuple[str, dict[str, Any]]]
    status_code: int
    resource: dict[str, Any]
    scope: str

    @property
    def link(self) -> tuple[Any, Any]:
        return self.attributes.get("highlight.session_id"), self.attributes.get(
            "highlight.trace_id"
        )

    def exception(self) -> dict[str, Any] | None:
        for name, event in self.events:
            if name == "exception":
                return event
        return None


@dataclass
class LogView:
    body: Any
    severity_number: int
    severity_text: str
    attributes: dict[str, Any]
    trace_id: str
    span_id: str
    resource: dict[str, Any]
    scope: str

    @property
    def link(self) -> tuple[Any, Any]:
        return self.attributes.get("highlight.session_id"), self.attributes.get(
            "highlight.trace_id"
        )


@dataclass
class Arrival:
    path: str
    headers: dict[str, str]
    raw: bytes


@dataclass
class Receiver:
    """Records every OTLP request; ``status`` makes it answer with an error instead."""

    url: str = ""
    arrivals: list[Arrival] = field(default_factory=list)
    spans: list[SpanView] = field(default_factory=list)
    logs: list[LogView] = field(default_factory=list)
    status: int = 200
    fail_next: int = 0  # answer this many requests with 503 before ``status``
    lock: threading.RLock = field(default_factory=threading.RLock)

    def record(self, path: str, headers: dict[str, str], body: bytes) -> int:
        """Record one request; returns the status to answer with."""
        raw = gzip.decompress(body) if headers.get("content-encoding") == "gzip" else body
        with self.lock:
            self.arrivals.append(Arrival(path, headers, raw))
            if self.fail_next > 0:
                self.fail_next -= 1
                return 503
            if self.status != 200:
                return self.status
            if path == "/v1/traces":
                self.spans.extend(_span_views(ExportTraceServiceRequest.FromString(raw)))
            elif path == "/v1/logs":
                self.logs.extend(_log_views(ExportLogsServiceRequest.FromString(raw)))
            return 200

    def wait_for(
        self, predicate: Callable[[Receiver], bool], timeout: float = 15.0, flush: bool = True
    ) -> None:
        """Poll (flushing this process's SDK, unless told not to) until ``predicate`` holds."""
        deadline = time.monotonic() + timeout
        while True:
            if flush:
                backlight.flush(2.0)
            with self.lock:
                if predicate(self):
                    return
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"timed out; got {len(self.spans)} spans, {len(self.logs)} logs: "
                    f"{[s.name for s in self.spans][:20]} {[log.body for log in self.logs][:20]}"
                )
            time.sleep(0.05)

    def spans_named(self, name: str) -> list[SpanView]:
        with self.lock:
            return [s for s in self.spans if s.name == name]

    def logs_from(self, scope: str) -> list[LogView]:
        with self.lock:
            return [log for log in self.logs if log.scope == scope]

    def errors(self) -> list[SpanView]:
        with self.lock:
            return [s for s in self.spans if s.exception() is not None]


def _span_views(request: ExportTraceServiceRequest) -> Iterator[SpanView]:
    for rs in request.resource_spans:
        resource = attrs(rs.resource.attributes)
        for ss in rs.scope_spans:
            for s in ss.spans:
                yield SpanView(
                    name=s.name,
                    trace_id=s.trace_id.hex(),
                    span_id=s.span_id.hex(),
                    parent_span_id=s.parent_span_id.hex(),
                    kind=s.kind,
                    attributes=attrs(s.attributes),
                    events=[(e.name, attrs(e.attributes)) for e in s.events],
                    status_code=s.status.code,
                    resource=resource,
                    scope=ss.scope.name,
                )


def _log_views(request: ExportLogsServiceRequest) -> Iterator[LogView]:
    for rl in request.resource_logs:
        resource = attrs(rl.resource.attributes)
        for sl in rl.scope_logs:
            for r in sl.log_records:
                yield LogView(
                    body=value_of(r.body),
                    severity_number=r.severity_number,
                    severity_text=r.severity_text,
                    attributes=attrs(r.attributes),
                    trace_id=r.trace_id.hex(),
                    span_id=r.span_id.hex(),
                    resource=resource,
                    scope=sl.scope.name,
                )


def start_receiver() -> tuple[Receiver, ThreadingHTTPServer]:
    receiver = Receiver()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("content-length", "0")))
            headers = {k.lower(): v for k, v in self.headers.items()}
            status = receiver.record(self.path, headers, body)
            self.send_response(status)
            if status == 503:
                self.send_header("retry-after", "0")
            self.send_header("content-type", "application/x-protobuf")
            self.send_header("content-length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            return None

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    receiver.url = f"http://127.0.0.1:{server.server_address[1]}"
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return receiver, server


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_http(url: str, timeout: float = 30.0) -> None:
    """Poll until an HTTP server answers at ``url`` (any status)."""
    import urllib.error
    import urllib.request

    deadline = time.monotonic() + timeout
    while True:
        try:
            urllib.request.urlopen(url, timeout=2).close()
            return
        except urllib.error.HTTPError:
            return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def fastapi_telemetry() -> bool:
    """Whether the installed FastAPI has native OpenTelemetry (``FastAPI(telemetry=...)``;
    its releases that do need OpenTelemetry 1.44 or newer, so the matrix venv on the oldest
    OpenTelemetry the SDK supports has an older FastAPI)."""
    import inspect

    from fastapi import FastAPI

    return "telemetry" in inspect.signature(FastAPI).parameters
