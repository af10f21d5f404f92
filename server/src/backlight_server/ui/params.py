"""Reading UI query parameters: lenient (a bad value means "no filter"), bounded."""

from __future__ import annotations

import time

from starlette.requests import Request

RANGES = {"1h": 3_600_000, "24h": 86_400_000, "7d": 7 * 86_400_000, "30d": 30 * 86_400_000}
MAX_OFFSET = 10_000_000


def text(request: Request, name: str, limit: int = 512) -> str | None:
    value = request.query_params.get(name, "").strip()
    return value[:limit] or None


def integer(
    request: Request, name: str, default: int = 0, lo: int = 0, hi: int = MAX_OFFSET
) -> int:
    try:
        value = int(request.query_params.get(name, default))
    except ValueError:
        return default
    return min(max(value, lo), hi)


def number(request: Request, name: str) -> float | None:
    try:
        return float(request.query_params[name])
    except (KeyError, ValueError):
        return None


def since_ms(request: Request) -> float | None:
    """``since=1h|24h|7d|30d`` → the start of that window in epoch ms."""
    span = RANGES.get(request.query_params.get("since", ""))
    return time.time() * 1000 - span if span else None


def choice(request: Request, name: str, allowed: tuple[str, ...]) -> str | None:
    value = request.query_params.get(name, "")
    return value if value in allowed else None
