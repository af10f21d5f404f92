"""A span tree → rows for a waterfall: depth, offsets and widths in percent of the window."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

MIN_WIDTH_PCT = 0.4


@dataclass(frozen=True)
class Bar:
    label: str
    service: str
    depth: int
    start_ms: float
    duration_ms: float
    left_pct: float
    width_pct: float
    error: bool
    color: int
    span: dict[str, Any] | None


def _flatten(
    spans: list[dict[str, Any]], depth: int, out: list[tuple[int, dict[str, Any]]]
) -> None:
    """Depth-first, without recursion (a stored trace may be thousands of spans deep)."""
    stack = [(depth, span) for span in reversed(spans)]
    while stack:
        level, span = stack.pop()
        out.append((level, span))
        stack.extend((level + 1, child) for child in reversed(span.get("children") or []))


def bars(roots: list[dict[str, Any]], browser: dict[str, Any] | None = None) -> list[Bar]:
    """Browser request first (when known), then every span depth-first, on one time axis."""
    flat: list[tuple[int, dict[str, Any]]] = []
    _flatten(roots, 1 if browser else 0, flat)
    items: list[tuple[str, str, int, float, float, bool, dict[str, Any] | None]] = []
    if browser:
        label = f"{browser['method']} {browser['url']}"
        error = bool(browser.get("error")) or int(browser.get("status") or 0) >= 500
        items.append((label, "browser", 0, browser["start_ms"], browser["end_ms"], error, None))
    for depth, s in flat:
        items.append(
            (
                s["name"],
                s["service"],
                depth,
                s["start_ns"] / 1e6,
                s["end_ns"] / 1e6,
                s.get("status_code") == 2,
                s,
            )
        )
    if not items:
        return []
    lo = min(i[3] for i in items)
    window = max(max(i[4] for i in items) - lo, 1e-3)
    colors: dict[str, int] = {}
    out = []
    for label, service, depth, start, end, error, span in items:
        color = colors.setdefault(service, len(colors) % 8)
        left = (start - lo) / window * 100
        width = max((end - start) / window * 100, MIN_WIDTH_PCT)
        out.append(
            Bar(
                label,
                service,
                depth,
                start,
                end - start,
                min(left, 100 - MIN_WIDTH_PCT),
                min(width, 100 - min(left, 100 - MIN_WIDTH_PCT)),
                error,
                color,
                span,
            )
        )
    return out
