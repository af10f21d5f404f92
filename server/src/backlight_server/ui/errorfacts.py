"""The error group page's facts as shown: ``Store.error_group_facts`` (query/errorfacts.py)
turned into breakdowns with shares (browser and OS read from the sessions' user agents by
``ui/useragent.py``), the 24-hour chart's bars, and each instance's user, URL and browser."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from backlight_server.ui.useragent import describe

Row = dict[str, Any]
SHOWN = 5  # values per breakdown; the rest add up to "other"
CHART_W, CHART_H, BAR_W = 240, 28, 10  # the hourly chart: 24 bars of BAR_W in CHART_W

# Where each error came from, in the user's words (the store says frontend, span or log).
SOURCES = {"frontend": "in the browser", "span": "from a trace", "log": "from a log"}


@dataclass(frozen=True)
class Share:
    label: str
    count: int
    percent: int
    known: bool  # False for "unknown" / "other"


@dataclass(frozen=True)
class Breakdown:
    key: str
    title: str
    shares: list[Share]


@dataclass(frozen=True)
class Bar:
    x: int
    y: float
    height: float
    count: int
    label: str  # "10:00–11:00 UTC: 3"


def source_words(source: object) -> str:
    return SOURCES.get(source, "from the backend") if isinstance(source, str) else "unknown"


def _dict(value: object) -> Row:
    return value if isinstance(value, dict) else {}


def _number(value: object, default: float) -> float:
    ok = isinstance(value, int | float) and not isinstance(value, bool)
    return float(value) if ok else default  # type: ignore[arg-type]


def _pairs(value: object) -> list[tuple[str | None, int]]:
    out: list[tuple[str | None, int]] = []
    for item in value if isinstance(value, list) else []:
        if isinstance(item, list | tuple) and len(item) == 2 and isinstance(item[1], int):
            out.append((item[0] if isinstance(item[0], str) else None, item[1]))
    return out


def _shares(counts: Counter[str | None], total: int, unknown: str) -> list[Share]:
    ranked = sorted(
        ((v, n) for v, n in counts.items() if v is not None), key=lambda vn: (-vn[1], vn[0])
    )
    base = max(total, 1)
    shown = [Share(v, n, round(100 * n / base), True) for v, n in ranked[:SHOWN]]
    other = sum(n for _v, n in ranked[SHOWN:])
    if other:
        shown.append(Share("other", other, round(100 * other / base), False))
    missing = counts.get(None, 0) + max(0, total - sum(counts.values()))
    if missing:
        shown.append(Share(unknown, missing, round(100 * missing / base), False))
    return shown


def breakdowns(facts: Row) -> list[Breakdown]:
    parts = _dict(facts.get("breakdowns"))
    total = int(_number(facts.get("sampled"), 0))
    browsers: Counter[str | None] = Counter()
    systems: Counter[str | None] = Counter()
    for agent, n in _pairs(parts.get("user_agent")):
        context = describe(agent)
        browsers[context.browser] += n
        systems[context.os] += n
    out = [
        Breakdown("browser", "Browser", _shares(browsers, total, "unknown")),
        Breakdown("os", "OS", _shares(systems, total, "unknown")),
    ]
    for key, title, unknown in (
        ("url", "URL or route", "unknown"),
        ("service", "Service", "none"),
        ("environment", "Environment", "none"),
        ("release", "Release", "none"),
    ):
        out.append(
            Breakdown(key, title, _shares(Counter(dict(_pairs(parts.get(key)))), total, unknown))
        )
    return out


def hourly_bars(facts: Row) -> tuple[list[Bar], int]:
    """The 24 hourly bars, oldest first, and the peak hour's count."""
    hourly = _dict(facts.get("hourly"))
    listed = hourly.get("counts")
    counts = [n if isinstance(n, int) else 0 for n in (listed if isinstance(listed, list) else [])]
    counts = counts[:24]
    start = _number(hourly.get("start_ms"), 0)
    step = _number(hourly.get("hour_ms"), 3_600_000)
    peak = max([*counts, 1])
    bars = []
    for i, n in enumerate(counts):
        height = round((CHART_H - 2) * n / peak, 1) + (1 if n else 0)
        at = datetime.fromtimestamp((start + i * step) / 1000, UTC)
        bars.append(
            Bar(
                i * BAR_W,
                CHART_H - height,
                height,
                n,
                f"{at:%H}:00–{(at.hour + 1) % 24:02d}:00 UTC: {n}",
            )
        )
    return bars, max(counts, default=0)


def instance_context(facts: Row) -> dict[int, Row]:
    """Per instance id: its user, URL or route, and browser and OS (from the user agent)."""
    out: dict[int, Row] = {}
    for item in facts.get("instances") or []:
        if not isinstance(item, dict) or not isinstance(item.get("id"), int):
            continue
        context = describe(item.get("user_agent"))
        out[item["id"]] = {
            "user": item.get("user") if isinstance(item.get("user"), str) else None,
            "url": item.get("url") if isinstance(item.get("url"), str) else None,
            "browser": context.browser,
            "os": context.os,
            "release": item.get("release") if isinstance(item.get("release"), str) else None,
        }
    return out
