"""Derived fields and level mapping, the same for every store.

Stored rows may hold anything (``store/shapes.py``); these never raise on odd values.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

Row = dict[str, Any]
LEVELS = ("trace", "debug", "info", "warn", "error", "fatal")


def number(value: object) -> float | None:
    """A finite number from a stored value, else None."""
    if type(value) is not float and type(value) is not int:
        return None
    result = float(value)
    return result if math.isfinite(result) else None


def int_ms(ns: int) -> float:
    """Integer nanoseconds as milliseconds: whole milliseconds, then the rest (see ``ms``);
    a negative number as its opposite, as SQL's division toward zero gives it."""
    if ns < 0:
        return -int_ms(-ns)
    return ns // 1_000_000 + (ns % 1_000_000) / 1e6


def ms(ns: object) -> float | None:
    """Nanoseconds as milliseconds; None for a stored value that is not a finite number.

    An int is split into whole milliseconds and the rest, so a time in whole milliseconds
    comes out exact: ``ns / 1e6`` first rounds ``ns`` (past 2**53 at today's times) and can
    miss by one unit in the last place, which a link's ``t=`` or an equality would show.
    The SQL of the stores that derives milliseconds uses the same split."""
    if type(ns) is int:
        try:
            return int_ms(ns)
        except OverflowError:  # past any float: not a time
            return None
    n = number(ns)
    return None if n is None else n / 1e6


def severity_level(severity: int | None) -> str | None:
    """An OpenTelemetry severity number (1-24) as a level name; None for 0 or none."""
    if not severity:
        return None
    return LEVELS[min(max(severity - 1, 0) // 4, 5)]


def span_times(spans: list[Row]) -> list[Row]:
    """Adds ``duration_ms`` and ``start_ms`` (from ``start_ns``/``end_ns``) to each span."""
    for s in spans:
        start: Any = s.get("start_ns")
        end: Any = s.get("end_ns")
        if number(start) is None or number(end) is None:
            start = end = 0  # not a number in storage: shown at 0, not a failed page
        s["duration_ms"] = (end - start) / 1e6  # integer nanoseconds subtracted exactly
        s["start_ms"] = ms(start)
    return spans


def log_times(logs: list[Row]) -> list[Row]:
    """Adds ``ts_ms`` (from ``ts_ns``) to each log."""
    for lg in logs:
        ts: Any = lg.get("ts_ns")
        lg["ts_ms"] = ms(ts)
    return logs


def time_key(key: str) -> Callable[[Row], tuple[int, float]]:
    """Sort key on a time column that tolerates any stored value (non-numbers go last)."""

    def by(row: Row) -> tuple[int, float]:
        t = number(row.get(key))
        return (0, t) if t is not None else (1, 0.0)

    return by
