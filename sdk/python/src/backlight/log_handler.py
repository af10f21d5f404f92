"""Stdlib ``logging`` → OpenTelemetry logs, linked to the current session and request."""

from __future__ import annotations

import logging
import traceback
from types import TracebackType
from typing import Any

from opentelemetry import trace

from backlight._context import current_link
from backlight._debug import INTERNAL, internal_error
from backlight._state import state
from backlight.names import REQUEST_ATTR, SESSION_ATTR
from backlight.records import LogItem

# Attributes every LogRecord has; anything else on a record came from ``extra=``.
_RESERVED = frozenset(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {
    "message",
    "asctime",
    INTERNAL,
}
_SEVERITY_TEXT = {"WARNING": "WARN", "CRITICAL": "FATAL"}


def severity_number(levelno: int) -> int:
    """The OpenTelemetry severity number of a stdlib level (DEBUG 5 … CRITICAL 21)."""
    if levelno <= logging.NOTSET:
        return 0
    if levelno < logging.DEBUG:
        return min(levelno, 4)  # TRACE 1-4
    band = min(levelno // 10, 5)  # DEBUG 1, INFO 2, WARNING 3, ERROR 4, CRITICAL 5
    return band * 4 + 1 + min(levelno % 10, 3)


def exception_fields(
    exc_info: tuple[type[BaseException] | None, BaseException | None, TracebackType | None],
) -> dict[str, str]:
    exc_type, exc, tb = exc_info
    if exc_type is None:
        return {}
    module = exc_type.__module__
    name = exc_type.__qualname__
    return {
        "exception.type": name if module in (None, "builtins") else f"{module}.{name}",
        "exception.message": str(exc) if exc is not None else "",
        "exception.stacktrace": "".join(traceback.format_exception(exc_type, exc, tb)),
    }


def linked_item(
    time_ns: int,
    levelno: int,
    levelname: str,
    body: Any,
    attributes: dict[str, Any],
    scope: str,
) -> LogItem:
    """A queued log record stamped with the current span and request link."""
    link = current_link()
    if link is not None:
        attributes[SESSION_ATTR] = link.secure_session_id
        attributes[REQUEST_ATTR] = link.request_id
    item = LogItem(
        time_ns,
        severity_number(levelno),
        _SEVERITY_TEXT.get(levelname, levelname),
        body,
        attributes,
        scope,
    )
    ctx = trace.get_current_span().get_span_context()
    if ctx.is_valid:
        item.trace_id = ctx.trace_id
        item.span_id = ctx.span_id
    return item


class BacklightHandler(logging.Handler):
    """Queues each record for export; ``logger.exception`` records carry ``exception.*``."""

    def emit(self, record: logging.LogRecord) -> None:
        client = state.client
        if client is None or getattr(record, INTERNAL, False):
            return
        try:
            attributes = {k: v for k, v in vars(record).items() if k not in _RESERVED}
            attributes["code.file.path"] = record.pathname
            attributes["code.function.name"] = record.funcName
            attributes["code.line.number"] = record.lineno
            if record.exc_info:
                attributes.update(exception_fields(record.exc_info))
            item = linked_item(
                int(record.created * 1e9),
                record.levelno,
                record.levelname,
                record.getMessage(),
                attributes,
                record.name,
            )
            client.put_log(item)
        except Exception:
            internal_error("log handler")
