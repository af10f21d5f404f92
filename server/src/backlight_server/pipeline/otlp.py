"""OTLP protobuf messages → linked span, log and error records.

This is the ingest hot path: it walks the decoded messages once and builds tuples.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import orjson

from backlight_server.errors import ClientError
from backlight_server.pipeline import ansi, linkage, stack
from backlight_server.pipeline.fingerprint import fingerprint
from backlight_server.pipeline.model import ErrorRecord, LogRecord, SpanRecord, TelemetryBatch
from backlight_server.pipeline.redact import KEPT, has_map, redact_attributes
from backlight_server.query.derive import int_ms

MAX_STRING = 8192
MAX_BODY = 65536
MAX_NAME = 1024
_ZERO_TRACE = "0" * 32
MAX_NS = 2**63 - 1  # SQLite integers are signed 64-bit; later times are refused
MAX_PAST_NS = 365 * 86_400 * 10**9  # accepted times: at most 365 days old,
MAX_FUTURE_NS = 86_400 * 10**9  # and at most one day ahead of the server's clock
_LEVELS = ("trace", "debug", "info", "warn", "error", "fatal")
_all_kept = KEPT.issuperset
VERSION_ATTR = "service.version"


@dataclass(slots=True)
class Conversion:
    batch: TelemetryBatch = field(default_factory=TelemetryBatch)
    rejected: int = 0
    unknown_projects: set[str] = field(default_factory=set)
    missing_project: int = 0
    invalid: int = 0

    def refusal(self) -> ClientError | None:
        """The error to answer when nothing was accepted and something was rejected."""
        if self.batch.size() or not self.rejected:
            return None
        if self.unknown_projects:
            return ClientError(404, "unknown_project", self.error_message())
        if self.missing_project:
            return ClientError(400, "missing_project", self.error_message())
        return ClientError(400, "invalid_data", self.error_message())

    def error_message(self) -> str:
        parts = []
        if self.unknown_projects:
            names = ", ".join(sorted(self.unknown_projects)[:5])
            parts.append(f"unknown project id(s): {names}")
        if self.missing_project:
            parts.append(
                f"{self.missing_project} item(s) carry no project id (set the "
                "highlight.project_id resource attribute or the x-highlight-project "
                "header)"
            )
        if self.invalid:
            parts.append(
                f"{self.invalid} item(s) have an invalid trace or span id or a "
                "timestamp outside the accepted window (at most 365 days old, "
                "1 day ahead)"
            )
        return "; ".join(parts)


def _any(v: Any) -> object:
    kind = v.WhichOneof("value")
    if kind == "string_value":
        s: str = v.string_value
        return s if len(s) <= MAX_STRING else s[:MAX_STRING] + "…[truncated]"
    if kind == "int_value":
        return int(v.int_value)
    if kind == "bool_value":
        return bool(v.bool_value)
    if kind == "double_value":
        return float(v.double_value)
    if kind == "array_value":
        return [_any(x) for x in v.array_value.values[:256]]
    if kind == "kvlist_value":
        return {kv.key: _any(kv.value) for kv in v.kvlist_value.values[:256]}
    if kind == "bytes_value":
        return bytes(v.bytes_value[:MAX_STRING]).hex()
    return None


def attributes(kvs: Iterable[Any]) -> dict[str, object]:
    # ``redact_attributes({kv.key: _any(kv.value) for kv in kvs})``, with the common kinds
    # inlined: this runs for every attribute of every record. When every key is already
    # known to need no redaction (``_all_kept``: a set lookup per key, in C) and no value
    # holds a map, the rule is skipped.
    out: dict[str, object] = {}
    check = False
    for kv in kvs:
        v = kv.value
        kind = v.WhichOneof("value")
        if kind == "string_value":
            s: str = v.string_value
            out[kv.key] = s if len(s) <= MAX_STRING else s[:MAX_STRING] + "…[truncated]"
        elif kind == "int_value":
            out[kv.key] = v.int_value
        else:
            value = out[kv.key] = _any(v)
            if has_map(value):
                check = True
    return redact_attributes(out) if check or not _all_kept(out) else out


def _dumps(obj: object) -> str | None:
    return orjson.dumps(obj).decode() if obj else None


def _text(value: object, cap: int) -> str:
    s = value if isinstance(value, str) else orjson.dumps(value, default=str).decode()
    return s if len(s) <= cap else s[:cap] + "…[truncated]"


def level_of(number: int, text: str) -> str:
    if 1 <= number <= 24:
        return _LEVELS[(number - 1) // 4]
    t = text.lower()
    if t.startswith("warn"):
        return "warn"
    if t in ("critical", "fatal", "panic"):
        return "fatal"
    return t if t in _LEVELS else "info"


MAX_VERSION = 256  # characters of service.version kept


def service_version(value: object) -> str | None:
    """The resource's ``service.version`` as stored: text (a number as its text), at most
    ``MAX_VERSION`` characters; anything else (a bool, a list, a map, empty) is left out."""
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        return None
    text = str(value).strip()
    return text[:MAX_VERSION] or None


class _Resource:
    __slots__ = ("attrs", "environment", "known_project", "project", "service", "version")

    def __init__(self, res: Any, header_project: str | None, known: Callable[[str], bool]) -> None:
        self.attrs = attributes(res.attributes)
        self.service = str(self.attrs.get("service.name") or "unknown_service")[:256]
        # kept on every record's attributes (unless the record has its own): the span panel
        # and log rows show it; an error group's "release" breakdown counts it
        self.version = service_version(self.attrs.get(VERSION_ATTR))
        env = self.attrs.get("deployment.environment") or self.attrs.get(
            "deployment.environment.name"
        )
        self.environment = str(env)[:256] if env else None
        proj = self.attrs.get(linkage.PROJECT_ATTR)
        self.project = str(proj) if proj not in (None, "") else header_project
        # The resource's project, checked once, for records that do not name their own.
        self.known_project = self.project if self.project and known(self.project) else None


def _project(
    attrs: dict[str, object], res: _Resource, out: Conversion, known: Callable[[str], bool]
) -> str | None:
    proj = attrs.get(linkage.PROJECT_ATTR)
    if proj in (None, "") and res.known_project is not None:
        return res.known_project
    project = str(proj) if proj not in (None, "") else res.project
    if not project:
        out.missing_project += 1
        return None
    if not known(project):
        out.unknown_projects.add(project[:64])
        return None
    return project


def _exception_error(
    attrs: dict[str, object],
    project: str,
    ts_ms: float,
    source: str,
    res: _Resource,
    link: linkage.Link,
    trace_id: str | None,
    span_id: str | None,
    extra: dict[str, object],
) -> ErrorRecord:
    etype = str(attrs.get("exception.type") or "Error")[:512]
    message = _text(attrs.get("exception.message") or "", MAX_STRING)
    raw = attrs.get("exception.stacktrace")
    raw_stack = _text(raw, MAX_BODY) if raw else None
    frames = stack.parse(raw_stack)
    return ErrorRecord(
        project_id=project,
        ts_ms=ts_ms,
        source=source,
        type=etype,
        message=message,
        frames=frames,
        raw_stack=raw_stack,
        session_id=link.session_id,
        request_id=link.request_id,
        trace_id=trace_id,
        span_id=span_id,
        service=res.service,
        environment=res.environment,
        url=None,
        attributes=_dumps(extra),
        fingerprint=fingerprint(etype, message, frames),
    )


def _window_ns() -> tuple[int, int]:
    now = time.time_ns()
    return now - MAX_PAST_NS, min(now + MAX_FUTURE_NS, MAX_NS)


def convert_traces(
    request: Any, header_project: str | None, known: Callable[[str], bool]
) -> Conversion:
    out = Conversion()
    spans = out.batch.spans
    lo, hi = _window_ns()
    for rs in request.resource_spans:
        res = _Resource(rs.resource, header_project, known)
        for ss in rs.scope_spans:
            for span in ss.spans:
                attrs = attributes(span.attributes)
                if res.version is not None:
                    attrs.setdefault(VERSION_ATTR, res.version)
                project = _project(attrs, res, out, known)
                trace_id = span.trace_id.hex()
                span_id = span.span_id.hex()
                if (
                    project is None
                    or len(trace_id) != 32
                    or trace_id == _ZERO_TRACE
                    or len(span_id) != 16
                    or not lo <= span.start_time_unix_nano <= hi
                    or not (lo <= span.end_time_unix_nano <= hi)
                ):
                    if project is not None:
                        out.invalid += 1
                    out.rejected += 1
                    continue
                link = linkage.resolve(attrs, res.attrs)
                request_id = link.request_id or trace_id
                events_json = None
                if span.events:
                    events = []
                    for ev in span.events:
                        ev_attrs = attributes(ev.attributes)
                        events.append(
                            {"name": ev.name, "time_ns": ev.time_unix_nano, "attributes": ev_attrs}
                        )
                        if ev.name == "exception":
                            ev_ns = ev.time_unix_nano
                            ts_ms = int_ms(ev_ns if lo <= ev_ns <= hi else span.end_time_unix_nano)
                            out.batch.errors.append(
                                _exception_error(
                                    ev_attrs,
                                    project,
                                    ts_ms,
                                    "span",
                                    res,
                                    linkage.Link(link.session_id, request_id),
                                    trace_id,
                                    span_id,
                                    {"span.name": span.name[:MAX_NAME], **attrs},
                                )
                            )
                    events_json = _dumps(events)
                parent = span.parent_span_id.hex() or None
                status = span.status
                spans.append(
                    SpanRecord(
                        project,
                        trace_id,
                        span_id,
                        parent,
                        span.name[:MAX_NAME],
                        span.kind,
                        span.start_time_unix_nano,
                        span.end_time_unix_nano,
                        status.code,
                        status.message[:MAX_STRING] or None,
                        res.service,
                        res.environment,
                        link.session_id,
                        request_id,
                        _dumps(attrs),
                        events_json,
                    )
                )
    return out


def convert_logs(
    request: Any, header_project: str | None, known: Callable[[str], bool]
) -> Conversion:
    out = Conversion()
    logs = out.batch.logs
    now_ns = time.time_ns()
    lo, hi = _window_ns()
    for rl in request.resource_logs:
        res = _Resource(rl.resource, header_project, known)
        for sl in rl.scope_logs:
            for rec in sl.log_records:
                attrs = attributes(rec.attributes)
                if res.version is not None:
                    attrs.setdefault(VERSION_ATTR, res.version)
                project = _project(attrs, res, out, known)
                if project is None:
                    out.rejected += 1
                    continue
                ts_ns = rec.time_unix_nano or rec.observed_time_unix_nano or now_ns
                if not lo <= ts_ns <= hi:
                    out.invalid += 1
                    out.rejected += 1
                    continue
                trace_id = rec.trace_id.hex() or None
                if trace_id == _ZERO_TRACE:
                    trace_id = None
                span_id = rec.span_id.hex() or None
                link = linkage.resolve(attrs, res.attrs)
                request_id = link.request_id or trace_id
                # Stored without terminal colours, so full-text search sees the words.
                body = ansi.strip(_text(_any(rec.body), MAX_BODY)) if rec.HasField("body") else ""
                level = level_of(rec.severity_number, rec.severity_text)
                logs.append(
                    LogRecord(
                        project,
                        ts_ns,
                        trace_id,
                        span_id,
                        rec.severity_number,
                        level,
                        body,
                        res.service,
                        res.environment,
                        link.session_id,
                        request_id,
                        _dumps(attrs),
                    )
                )
                if "exception.type" in attrs or "exception.message" in attrs:
                    out.batch.errors.append(
                        _exception_error(
                            attrs,
                            project,
                            int_ms(ts_ns),
                            "log",
                            res,
                            linkage.Link(link.session_id, request_id),
                            trace_id,
                            span_id,
                            {
                                "log.body": body[:1024],
                                "log.level": level,
                                **(
                                    {VERSION_ATTR: attrs[VERSION_ATTR]}
                                    if VERSION_ATTR in attrs
                                    else {}
                                ),
                            },
                        )
                    )
    return out
