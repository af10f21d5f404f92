"""A loguru sink that exports records as linked OpenTelemetry logs.

    from loguru import logger
    from backlight.integrations.loguru import sink
    logger.add(sink, level="INFO")

Like the stdlib handler, records carry the current session and request, and
``logger.exception(...)`` records carry ``exception.*`` (a linked error).
"""

from __future__ import annotations

from typing import Any

from backlight._debug import internal_error
from backlight._state import state
from backlight.log_handler import exception_fields, linked_item


def sink(message: Any) -> None:
    """Pass to ``logger.add``; loguru calls it with each formatted message."""
    client = state.client
    if client is None:
        return
    try:
        record = message.record
        attributes: dict[str, Any] = {
            str(k): v for k, v in record["extra"].items() if isinstance(k, str)
        }
        attributes["code.file.path"] = record["file"].path
        attributes["code.function.name"] = record["function"]
        attributes["code.line.number"] = record["line"]
        exception = record["exception"]
        if exception is not None:
            attributes.update(
                exception_fields((exception.type, exception.value, exception.traceback))
            )
        level = record["level"]
        item = linked_item(
            int(record["time"].timestamp() * 1e9),
            _stdlib_level(level.no),
            level.name,
            record["message"],
            attributes,
            record["name"] or "loguru",
        )
        client.put_log(item)
    except Exception:
        internal_error("loguru sink")


def _stdlib_level(no: int) -> int:
    """loguru's numbers match stdlib's except TRACE (5) and SUCCESS (25)."""
    return no
