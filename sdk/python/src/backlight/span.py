"""A lean OpenTelemetry span for the request path.

It implements the OpenTelemetry ``Span`` API, so it lives in the OpenTelemetry context
and users' own spans (from any SDK tracer) nest under it, but it skips what makes the SDK
span costly per request: locks, bounded attribute maps, a sampler call, a second
read-only copy at the end. Ending it hands the span itself to the export buffer.
"""

from __future__ import annotations

import random
import traceback
from collections.abc import Callable, Mapping, Sequence
from time import time_ns
from types import TracebackType
from typing import Any, NamedTuple

from opentelemetry import trace
from opentelemetry.trace import Link, SpanContext, SpanKind, Status, StatusCode, TraceFlags
from opentelemetry.util import types

_SAMPLED = TraceFlags(TraceFlags.SAMPLED)
_getrandbits = random.getrandbits  # reseeded after fork by the random module itself
MAX_EVENTS = 128
"""Events a lean span keeps (the OpenTelemetry SDK's default limit); more are counted."""

Event = tuple[str, Mapping[str, Any], int]


class Events(list[Event]):
    """A lean span's events: at most ``MAX_EVENTS``, and how many more were dropped."""

    dropped = 0


class SpanRecord(NamedTuple):
    """An ended lean span, as queued for export.

    A tuple of plain values: the garbage collector stops tracking it (and the attribute
    dict of strings and numbers) while it waits in the queue, so a busy server's queue
    does not make every full collection longer.
    """

    name: str
    trace_id: int
    span_id: int
    parent_span_id: int
    kind: int
    start_time: int
    end_time: int
    attributes: dict[str, Any]
    events: list[Event] | None
    status_code: int
    status_description: str | None
    remote_parent: bool = False
    """The parent span is another process's (a ``traceparent``, a message's headers)."""
    trace_state: str = ""
    """The W3C ``tracestate`` of the span's context, inherited from its parent."""
    dropped_events: int = 0


_new_record = tuple.__new__


def new_trace_id() -> int:
    return _getrandbits(128) or 1


def new_span_id() -> int:
    return _getrandbits(64) or 1


class LeanSpan(trace.Span):
    """A recording span that exports itself through ``sink`` when it ends."""

    __slots__ = (
        "_context",
        "attributes",
        "end_time",
        "events",
        "kind",
        "name",
        "parent_span_id",
        "remote_parent",
        "sink",
        "span_id",
        "start_time",
        "status_code",
        "status_description",
        "trace_id",
    )

    def __init__(
        self,
        name: str,
        sink: Callable[[Any], None],  # the export buffer's ``put``
        parent: SpanContext | None = None,
        kind: SpanKind = SpanKind.INTERNAL,
        attributes: dict[str, Any] | None = None,
    ) -> None:
        self.name = name
        self.sink = sink
        self.kind = kind
        self.span_id = _getrandbits(64) or 1
        self._context: SpanContext | None = None
        if parent is not None and parent.is_valid:
            self.trace_id = parent.trace_id
            self.parent_span_id = parent.span_id
            self.remote_parent = parent.is_remote
            if parent.trace_state:  # inherited, as the SDK's default sampler does
                self._context = SpanContext(
                    self.trace_id, self.span_id, False, _SAMPLED, parent.trace_state
                )
        else:
            self.trace_id = _getrandbits(128) or 1
            self.parent_span_id = 0
            self.remote_parent = False
        self.attributes: dict[str, Any] = attributes if attributes is not None else {}
        self.events: Events | None = None
        self.status_code = StatusCode.UNSET
        self.status_description: str | None = None
        self.start_time = time_ns()
        self.end_time = 0

    def get_span_context(self) -> SpanContext:
        ctx = self._context
        if ctx is None:
            ctx = self._context = SpanContext(self.trace_id, self.span_id, False, _SAMPLED)
        return ctx

    def end(self, end_time: int | None = None) -> None:
        if self.end_time:
            return
        self.end_time = end_time or time_ns()
        self.sink(
            self._to_record(
                self.name, self.status_code, self.status_description, self.remote_parent
            )
        )

    def _to_record(
        self,
        name: str,
        status_code: StatusCode,
        status_description: str | None,
        remote_parent: bool,
    ) -> SpanRecord:
        """The ended span as queued for export, with its final name and status."""
        # tuple.__new__ directly: the NamedTuple's own __new__ is one more Python call;
        # ``_value_`` is what the enums' ``value`` property returns, without the property.
        context, events = self._context, self.events
        return _new_record(
            SpanRecord,
            (
                name,
                self.trace_id,
                self.span_id,
                self.parent_span_id,
                self.kind._value_,
                self.start_time,
                self.end_time,
                self.attributes,
                events,
                status_code._value_,
                status_description,
                remote_parent,
                context.trace_state.to_header() if context and context.trace_state else "",
                events.dropped if events is not None else 0,
            ),
        )

    def is_recording(self) -> bool:
        return not self.end_time

    def set_attribute(self, key: str, value: types.AnyValue) -> None:
        if not self.end_time:
            self.attributes[key] = value

    def set_attributes(self, attributes: Mapping[str, types.AnyValue]) -> None:
        if not self.end_time:
            self.attributes.update(attributes)

    def add_event(
        self, name: str, attributes: types.Attributes = None, timestamp: int | None = None
    ) -> None:
        if self.end_time:
            return
        events = self.events
        if events is None:
            events = self.events = Events()
        if len(events) < MAX_EVENTS:
            events.append((name, dict(attributes or {}), timestamp or time_ns()))
        else:
            events.dropped += 1

    def add_link(self, context: SpanContext, attributes: types.Attributes = None) -> None:
        return None  # links are not kept on request spans

    def update_name(self, name: str) -> None:
        if not self.end_time:
            self.name = name

    def set_status(self, status: Status | StatusCode, description: str | None = None) -> None:
        if self.end_time or self.status_code is StatusCode.OK:
            return
        if isinstance(status, Status):
            code, description = status.status_code, status.description
        else:
            code = status
        if code is not StatusCode.UNSET:
            self.status_code = code
            # as the SDK's Status: a description goes with an error only
            self.status_description = description if code is StatusCode.ERROR else None

    def record_exception(
        self,
        exception: BaseException,
        attributes: types.Attributes = None,
        timestamp: int | None = None,
        escaped: bool = False,
    ) -> None:
        event = exception_attributes(exception)
        event["exception.escaped"] = str(escaped)
        if attributes:
            event.update(attributes)
        self.add_event("exception", event, timestamp)

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc_val: BaseException | None,
        exc_tb: TracebackType | None,
    ) -> None:
        if exc_val is not None and not self.end_time:
            self.record_exception(exc_val, escaped=True)
            self.set_status(StatusCode.ERROR, f"{type(exc_val).__name__}: {exc_val}")
        self.end()

    @property
    def links(self) -> Sequence[Link]:
        return ()


def exception_attributes(exception: BaseException) -> dict[str, Any]:
    """The OpenTelemetry ``exception.*`` attributes of ``exception``."""
    cls = type(exception)
    module = cls.__module__
    name = cls.__qualname__ if module in (None, "builtins") else f"{module}.{cls.__qualname__}"
    return {
        "exception.type": name,
        "exception.message": str(exception),
        "exception.stacktrace": "".join(traceback.format_exception(exception)),
    }
