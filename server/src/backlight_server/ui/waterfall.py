"""A span tree → a waterfall: rows with depth, offsets and widths in percent of the window,
a time axis, the logs placed on their spans, and each span's details for the side panel."""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from backlight_server.query.derive import ms
from backlight_server.query.logstats import LEVELS

MIN_WIDTH_PCT = 0.4
TICKS = 5  # at most this many axis divisions (plus 0)
_STEPS = [k * 10**e for e in range(-3, 10) for k in (1, 2, 5)]  # ms
_ids = itertools.count(1)


@dataclass(frozen=True)
class Marker:
    """A log on its span's bar."""

    left_pct: float
    level: str
    body: str
    ts_ms: float


@dataclass(frozen=True)
class Tick:
    left_pct: float
    label: str


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
    offset_ms: float = 0.0  # from the window's start
    logs: list[dict[str, Any]] = field(default_factory=list)
    markers: list[Marker] = field(default_factory=list)
    errors: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class Waterfall:
    """What ``_waterfall.html`` draws. ``uid`` keeps element ids unique when a page holds
    more than one; ``selected`` is the row whose details the panel shows first (the first
    failing span, else the first)."""

    rows: list[Bar]
    ticks: list[Tick]
    total_ms: float
    uid: str
    selected: int

    def __bool__(self) -> bool:
        return bool(self.rows)

    def __iter__(self) -> Iterator[Bar]:
        return iter(self.rows)

    def __len__(self) -> int:
        return len(self.rows)


def _flatten(
    spans: list[dict[str, Any]], depth: int, out: list[tuple[int, dict[str, Any]]]
) -> None:
    """Depth-first, without recursion (a stored trace may be thousands of spans deep)."""
    stack = [(depth, span) for span in reversed(spans)]
    while stack:
        level, span = stack.pop()
        out.append((level, span))
        stack.extend((level + 1, child) for child in reversed(span.get("children") or []))


def _num(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None


def fmt_tick(ms: float) -> str:
    if ms == 0:
        return "0"
    if ms < 1:
        return f"{ms * 1000:.0f} µs"
    if ms < 1000:
        return f"{ms:g} ms"
    if ms < 60_000:
        return f"{ms / 1000:g} s"
    return f"{ms / 60_000:g} min"


def axis(total_ms: float) -> list[Tick]:
    """Round steps from 0 over the window: at most ``TICKS`` divisions."""
    if total_ms <= 0:
        return [Tick(0.0, "0")]
    step = next((s for s in _STEPS if total_ms / s <= TICKS), _STEPS[-1])
    ticks, at = [], 0.0
    while at <= total_ms * 1.0001:
        ticks.append(Tick(at / total_ms * 100, fmt_tick(at)))
        at += step
    return ticks


def _by_span(rows: list[dict[str, Any]] | None) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {}
    for row in rows or []:
        sid = row.get("span_id")
        if isinstance(sid, str) and sid:
            out.setdefault(sid, []).append(row)
    return out


def bars(
    roots: list[dict[str, Any]],
    browser: dict[str, Any] | None = None,
    logs: list[dict[str, Any]] | None = None,
    errors: list[dict[str, Any]] | None = None,
) -> Waterfall:
    """Browser request first (when known), then every span depth-first, on one time axis;
    each span with the logs and errors recorded inside it (by span id)."""
    flat: list[tuple[int, dict[str, Any]]] = []
    _flatten(roots, 1 if browser else 0, flat)
    items: list[tuple[str, str, int, float, float, bool, dict[str, Any] | None]] = []
    if browser:
        label = f"{browser['method']} {browser['url']}"
        error = bool(browser.get("error")) or int(browser.get("status") or 0) >= 500
        items.append((label, "browser", 0, browser["start_ms"], browser["end_ms"], error, None))
    logs_of, errors_of = _by_span(logs), _by_span(errors)
    for depth, s in flat:
        errs = errors_of.get(s.get("span_id") or "", [])
        begin, finish = ms(s["start_ns"]), ms(s["end_ns"])
        if begin is None and finish is None:
            continue  # no time stored: no bar, rather than one that squashes the others
        items.append(
            (
                s["name"],
                s["service"],
                depth,
                begin if begin is not None else finish or 0.0,
                finish if finish is not None else begin or 0.0,
                s.get("status_code") == 2 or bool(errs),
                s,
            )
        )
    uid = f"wf{next(_ids)}"
    if not items:
        return Waterfall([], [], 0.0, uid, 0)
    lo = min(i[3] for i in items)
    window = max(max(i[4] for i in items) - lo, 1e-3)
    colors: dict[str, int] = {}
    out = []
    for label, service, depth, start, end, error, span in items:
        color = colors.setdefault(service, len(colors) % 8)
        left = min((start - lo) / window * 100, 100 - MIN_WIDTH_PCT)
        width = min(max((end - start) / window * 100, MIN_WIDTH_PCT), 100 - left)
        sid = span.get("span_id") if span else None
        own = logs_of.get(sid, []) if isinstance(sid, str) else []
        markers = []
        for lg in own:
            ts = _num(lg.get("ts_ms"))
            if ts is None:
                continue
            level = lg.get("level") if lg.get("level") in LEVELS else "info"
            at = min(max((ts - lo) / window * 100, 0.0), 100.0)
            markers.append(Marker(at, str(level), str(lg.get("body") or ""), ts))
        out.append(
            Bar(
                label,
                service,
                depth,
                start,
                end - start,
                left,
                width,
                error,
                color,
                span,
                start - lo,
                own,
                markers,
                errors_of.get(sid, []) if isinstance(sid, str) else [],
            )
        )
    selected = next((i for i, b in enumerate(out) if b.error and b.span), 0)
    return Waterfall(out, axis(window), window, uid, selected)
