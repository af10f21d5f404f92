"""Reads survive any stored value: JSON columns are decoded tolerantly and coerced to the
shapes pages and the API promise, whatever an older version (or a bug) stored.

Ingest validates every field now; these functions keep rows written before that readable.
A value that cannot be shown as what it should be is dropped, and the row says so in
``invalid`` (a list of field names), so the rest of the page still renders.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

from backlight_server.pipeline.jsontext import loads_tolerant

JSON_COLUMNS = frozenset(
    {"attributes", "events", "stack", "detail", "args", "properties", "user_metadata"}
)
_OBJECT_COLUMNS = frozenset({"attributes", "detail"})
_LIST_COLUMNS = frozenset({"events", "stack"})


def json_column(key: str, value: Any) -> Any:
    """A stored JSON column as the type its readers expect (object, list or any)."""
    decoded = loads_tolerant(value) if isinstance(value, str | bytes) else value
    if key in _OBJECT_COLUMNS and decoded is not None and not isinstance(decoded, dict):
        return {"_invalid": True, "value": decoded}
    if key in _LIST_COLUMNS and decoded is not None and not isinstance(decoded, list):
        return []
    if key == "stack" and decoded:
        return [frame for frame in decoded if isinstance(frame, dict)]
    return decoded


# Columns every reader does arithmetic on: a stored value that is not a number (SQLite
# keeps any type in any column) reads as 0, so pages and the API still render.
NUMBER_COLUMNS = frozenset(
    {
        "start_ms",
        "end_ms",
        "ts_ms",
        "started_ms",
        "last_ms",
        "first_ms",
        "duration_ms",
        "start_ns",
        "end_ns",
        "ts_ns",
        "status",
        "status_code",
        "severity_number",
        "kind",
        "count",
        "seq",
        "pages",
        "n_events",
    }
)


def number_column(value: Any) -> int | None:
    """A stored number column that holds something else: 0 (NULL stays None)."""
    return None if value is None else 0


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _header_map(value: Any) -> dict[str, str] | None:
    if not isinstance(value, dict):
        return None
    return {str(k): v if isinstance(v, str) else str(v) for k, v in value.items()}


def network_detail(detail: Any) -> dict[str, Any]:
    """The ``detail`` of a network row with every part in its documented type."""
    if not isinstance(detail, dict):
        return {"invalid": ["detail"]} if detail is not None else {}
    out: dict[str, Any] = {}
    invalid: list[str] = []
    for key, value in detail.items():
        if value is None:
            continue
        if key in ("request_headers", "response_headers"):
            fixed: Any = _header_map(value)
        elif key in ("request_body", "response_body"):
            fixed = value if isinstance(value, str) else None
        elif key in ("request_body_truncated", "response_body_truncated"):
            fixed = value if isinstance(value, bool) else None
        elif key in ("request_size", "response_size"):
            fixed = int(value) if _number(value) and value >= 0 else None
        elif key == "timing":
            fixed = (
                {str(k): v if _number(v) else None for k, v in value.items()}
                if isinstance(value, dict)
                else None
            )
        else:
            continue  # not part of the documented shape
        if fixed is None:
            invalid.append(key)
        else:
            out[key] = fixed
    if invalid:
        out["invalid"] = invalid
    return out


def epoch_ms(value: Any) -> float | None:
    """A time that can be shown (year 1 to 9999), else None."""
    if _number(value) and -62_135_596_800_000 <= value <= 253_402_300_799_000:
        return float(value)
    return None


def tidy(items: Iterable[tuple[str, Any]]) -> dict[str, Any]:
    """A stored row (column, value pairs) as readers get it: JSON columns decoded and
    coerced, network details in their documented shape, numbers that are numbers."""
    out: dict[str, Any] = {}
    for key, value in items:
        if key in JSON_COLUMNS:
            value = json_column(key, value)
            if key == "detail":
                value = network_detail(value)
        elif key in NUMBER_COLUMNS and not isinstance(value, int | float):
            value = number_column(value)
        out[key] = value
    return out
