"""Bridges from the OpenTelemetry SDK providers (users' own spans and OTel logs) to us."""

from __future__ import annotations

from opentelemetry.context import Context
from opentelemetry.sdk._logs import LogRecordProcessor, ReadWriteLogRecord
from opentelemetry.sdk.trace import ReadableSpan, Span, SpanProcessor

from backlight._context import current_link
from backlight._debug import internal_error
from backlight._state import state
from backlight.names import REQUEST_ATTR, SESSION_ATTR
from backlight.records import LogItem


class BacklightSpanProcessor(SpanProcessor):
    """Stamps the request link on users' spans and queues them with ours."""

    def on_start(self, span: Span, parent_context: Context | None = None) -> None:
        try:
            link = current_link(parent_context)
            if link is not None:
                span.set_attribute(SESSION_ATTR, link.secure_session_id)
                span.set_attribute(REQUEST_ATTR, link.request_id)
        except Exception:
            internal_error("span processor on_start")

    def on_end(self, span: ReadableSpan) -> None:
        client = state.client
        if client is not None:
            client.put_span(span)

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        client = state.client
        return client.flush(timeout_millis / 1000) if client is not None else True


class BacklightLogProcessor(LogRecordProcessor):
    """Queues records emitted through the OpenTelemetry Logs API."""

    def on_emit(self, log_record: ReadWriteLogRecord) -> None:
        client = state.client
        if client is None:
            return
        try:
            record = log_record.log_record
            attributes = dict(record.attributes or {})
            link = current_link()
            if link is not None:
                attributes.setdefault(SESSION_ATTR, link.secure_session_id)
                attributes.setdefault(REQUEST_ATTR, link.request_id)
            scope = log_record.instrumentation_scope
            client.put_log(
                LogItem(
                    time_unix_nano=record.timestamp or record.observed_timestamp or 0,
                    severity_number=record.severity_number.value if record.severity_number else 0,
                    severity_text=record.severity_text or "",
                    body=record.body,
                    attributes=attributes,
                    scope=scope.name if scope else "",
                    trace_id=record.trace_id or 0,
                    span_id=record.span_id or 0,
                )
            )
        except Exception:
            internal_error("log processor on_emit")

    def shutdown(self) -> None:
        return None

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        client = state.client
        return client.flush(timeout_millis / 1000) if client is not None else True
