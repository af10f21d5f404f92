"""Storage-neutral shaping of the trace list's rows (``Store.list_traces``). Reads survive
any stored value: a column that holds no number reads as 0, text as text."""

from __future__ import annotations

import math
from typing import Any

from backlight_server.query.derive import ms

Row = dict[str, Any]


def _int(value: object) -> int:
    if isinstance(value, bool):
        return 0
    if isinstance(value, int):
        return value
    if isinstance(value, float) and math.isfinite(value):
        return int(value)
    try:
        return int(str(value))
    except ValueError:
        return 0


def _text(value: object) -> str:
    return value if isinstance(value, str) else "" if value is None else str(value)


def trace_row(
    trace_id: object,
    project_id: object,
    start_ns: object,
    end_ns: object,
    spans: object,
    errors: object,
    name: object,
    service: object,
    services: object,
) -> Row:
    start, end = _int(start_ns), _int(end_ns)
    listed = services if isinstance(services, list | tuple) else []
    return {
        "trace_id": _text(trace_id),
        "project_id": _text(project_id),
        "name": _text(name),
        "service": _text(service),
        "start_ms": ms(start) or 0.0,
        "duration_ms": max(end - start, 0) / 1_000_000,
        "span_count": _int(spans),
        "error_count": _int(errors),
        "services": sorted({_text(s) for s in listed}),
    }


def page(rows: list[Row], limit: int, offset: int) -> Row:
    return {
        "traces": rows[:limit],
        "limit": limit,
        "offset": offset,
        "has_more": len(rows) > limit,
    }
