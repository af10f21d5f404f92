"""The log record the SDK queues for export: plain data, built on the caller's thread."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(slots=True)
class LogItem:
    time_unix_nano: int
    severity_number: int
    severity_text: str
    body: Any
    attributes: dict[str, Any]
    scope: str
    trace_id: int = 0
    span_id: int = 0
