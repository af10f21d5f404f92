"""Typed readers of untrusted JSON fields. Each refusal names the field and the rule.

Used by the browser protocol and highlight.run's payloads: every value that reaches the
store has been checked here for type and range, so reads can trust its shape.
"""

from __future__ import annotations

import math
import re
import time
from typing import Any

from backlight_server.errors import ClientError

MAX_PAST_MS = 365 * 86_400_000
MAX_FUTURE_MS = 86_400_000
MAX_HEADERS = 200
MAX_HEADER_NAME = 256
MAX_HEADER_VALUE = 8192
MAX_TIMING_KEYS = 32
MAX_PHASE_NAME = 64
MAX_PHASE_MS = 1e9
MAX_DEBUG_IDS = 64
MAX_SCRIPT_URL = 2048
_DEBUG_ID = re.compile(r"[0-9a-fA-F-]{32,36}")
CUT = "…[truncated]"


def bad(field: str, why: str) -> ClientError:
    return ClientError(400, "invalid_field", f"{field}: {why}")


def cut(text: str, cap: int) -> str:
    """``text`` within ``cap`` characters, marked when it was cut."""
    return text if len(text) <= cap else text[:cap] + CUT


def string(
    data: dict[str, Any], key: str, cap: int, where: str = "", required: bool = False
) -> str | None:
    value = data.get(key)
    if value is None:
        if required:
            raise bad(where + key, "is required")
        return None
    if not isinstance(value, str):
        raise bad(where + key, "must be a string")
    return cut(value, cap)


def finite(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def time_window(now_ms: float | None = None) -> tuple[float, float]:
    now = time.time() * 1000 if now_ms is None else now_ms
    return now - MAX_PAST_MS, now + MAX_FUTURE_MS


def check_epoch_ms(value: object, field: str, window: tuple[float, float]) -> float:
    if not finite(value):
        raise bad(field, "must be a finite number (epoch milliseconds)")
    assert isinstance(value, int | float)
    lo, hi = window
    if not lo <= value <= hi:
        raise bad(
            field,
            f"{value!r} is outside the accepted window (epoch milliseconds from "
            f"{lo:.0f} to {hi:.0f}: at most 365 days old, 1 day ahead)",
        )
    return float(value)


def epoch_ms(
    data: dict[str, Any],
    key: str,
    window: tuple[float, float],
    where: str = "",
    default: float | None = None,
) -> float:
    value = data.get(key)
    if value is None and default is not None:
        return default
    return check_epoch_ms(value, where + key, window)


def integer(
    data: dict[str, Any], key: str, lo: int, hi: int, where: str = "", default: int | None = None
) -> int:
    value = data.get(key, default)
    if value is None and default is None:
        raise bad(where + key, "is required")
    if isinstance(value, bool) or not isinstance(value, int):
        raise bad(where + key, "must be an integer")
    if not lo <= value <= hi:
        raise bad(where + key, f"must be between {lo} and {hi}")
    return value


def optional_int(data: dict[str, Any], key: str, lo: int, hi: int, where: str = "") -> int | None:
    return None if data.get(key) is None else integer(data, key, lo, hi, where)


def boolean(data: dict[str, Any], key: str, where: str = "") -> bool | None:
    value = data.get(key)
    if value is None or isinstance(value, bool):
        return value
    raise bad(where + key, "must be true, false or null")


def items(data: dict[str, Any], key: str, cap: int) -> list[Any]:
    value = data.get(key)
    if value is None:
        return []
    if not isinstance(value, list):
        raise bad(key, "must be a list")
    if len(value) > cap:
        raise ClientError(413, "too_many_items", f"{key}: {len(value)} items; the limit is {cap}")
    return value


def obj(item: Any, field: str) -> dict[str, Any]:
    if not isinstance(item, dict):
        raise bad(field, "must be an object")
    return item


def headers(data: dict[str, Any], key: str, where: str = "") -> dict[str, str] | None:
    """A header map: at most ``MAX_HEADERS`` string → string pairs; long values are cut."""
    value = data.get(key)
    if value is None:
        return None
    field = where + key
    if not isinstance(value, dict):
        raise bad(field, "must be an object of header name to string value")
    if len(value) > MAX_HEADERS:
        raise bad(field, f"{len(value)} headers; the limit is {MAX_HEADERS}")
    out: dict[str, str] = {}
    for name, text in value.items():
        if len(name) > MAX_HEADER_NAME:
            raise bad(field, f"a header name is longer than {MAX_HEADER_NAME} characters")
        if not isinstance(text, str):
            raise bad(f"{field}.{name[:64]}", "must be a string")
        out[name] = cut(text, MAX_HEADER_VALUE)
    return out


def timing(data: dict[str, Any], key: str, where: str = "") -> dict[str, float | None] | None:
    """Phase durations in ms: finite numbers from 0 to 1e9, or null for "unknown"."""
    value = data.get(key)
    if value is None:
        return None
    field = where + key
    if not isinstance(value, dict):
        raise bad(field, "must be an object of phase name to milliseconds")
    if len(value) > MAX_TIMING_KEYS:
        raise bad(field, f"{len(value)} phases; the limit is {MAX_TIMING_KEYS}")
    out: dict[str, float | None] = {}
    for name, ms in value.items():
        if not 0 < len(name) <= MAX_PHASE_NAME:
            raise bad(field, f"a phase name is empty or longer than {MAX_PHASE_NAME} characters")
        if ms is not None and (not finite(ms) or not 0 <= ms <= MAX_PHASE_MS):
            raise bad(f"{field}.{name}", "must be null or a number of ms from 0 to 1e9")
        out[name] = None if ms is None else float(ms)
    return out


# phase: (first mark, last mark) of a PerformanceResourceTiming
_PHASE_MARKS = {
    "dns": ("domainLookupStart", "domainLookupEnd"),
    "connect": ("connectStart", "connectEnd"),
    "ttfb": ("requestStart", "responseStart"),
    "download": ("responseStart", "responseEnd"),
}


def _number(value: object) -> float | None:
    return float(value) if finite(value) else None  # type: ignore[arg-type]


def resource_phases(res: dict[str, Any]) -> dict[str, float | None] | None:
    """The phases of a resource entry as highlight.run sends it, by the rule of the browser
    SDK (sdk/browser/src/timing.ts): a mark the browser withheld (a cross-origin response
    without ``Timing-Allow-Origin``) makes its phase null, never 0.

    10.x sends ``<mark>Abs`` = time origin + mark, so a withheld mark (0) arrives as the time
    origin, before ``startTimeAbs``; older clients send the entry's own marks, 0 when withheld.
    A mark is known when it is a finite number after 0 and not before the entry's start.
    None when the entry carries none of the marks (its phases were never sent).
    """
    absolute = "startTimeAbs" in res
    suffix = "Abs" if absolute else ""
    floor = max(0.0, _number(res.get("startTime" + suffix)) or 0.0)
    detailed = ("domainLookupStart", "connectStart", "requestStart", "responseStart")
    if not any(name + suffix in res for name in detailed):
        return None

    def mark(name: str) -> float | None:
        value = _number(res.get(name + suffix))
        return value if value is not None and value > 0 and value >= floor else None

    def span(first: str, last: str) -> float | None:
        a, b = mark(first), mark(last)
        if a is None or b is None or not 0 <= b - a <= MAX_PHASE_MS:
            return None
        return round(b - a, 1)

    out = {phase: span(*pair) for phase, pair in _PHASE_MARKS.items()}
    connect, tls_start = out["connect"], mark("secureConnectionStart")
    # secureConnectionStart reads 0 when no TLS handshake happened (http, a reused connection)
    out["tls"] = (
        None
        if connect is None
        else 0.0
        if tls_start is None
        else span("secureConnectionStart", "connectEnd")
    )
    return {k: out[k] for k in ("dns", "connect", "tls", "ttfb", "download")}


def debug_ids(data: dict[str, Any], key: str, where: str = "") -> dict[str, str] | None:
    """Script URL → debug id (a UUID: 32 to 36 hex digits and dashes), at most
    ``MAX_DEBUG_IDS`` entries; ids lowercased. Empty: None."""
    value = data.get(key)
    if value is None:
        return None
    field = where + key
    if not isinstance(value, dict):
        raise bad(field, "must be an object of script URL to debug id")
    if len(value) > MAX_DEBUG_IDS:
        raise bad(field, f"{len(value)} entries; the limit is {MAX_DEBUG_IDS}")
    out: dict[str, str] = {}
    for url, debug_id in value.items():
        if not url or len(url) > MAX_SCRIPT_URL:
            raise bad(field, f"a script URL is empty or longer than {MAX_SCRIPT_URL} characters")
        if not isinstance(debug_id, str) or not (
            len(debug_id) <= 36 and _DEBUG_ID.fullmatch(debug_id)
        ):
            raise bad(f"{field}.{url[:64]}", "must be a debug id: 32 to 36 hex digits and dashes")
        out[url] = debug_id.lower()
    return out or None
