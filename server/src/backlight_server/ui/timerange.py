"""The time range of the log and trace pages: ``start`` / ``end`` in epoch ms (a zoom,
from the histogram), else ``since=1h|24h|7d|30d`` up to now, else any time. Lenient: a
bad value means no bound."""

from __future__ import annotations

import math

from starlette.requests import Request

from backlight_server.ui import params

MAX_MS = 9e12  # the API's bound on epoch ms


def _ms(request: Request, name: str) -> float | None:
    value = params.number(request, name)
    if value is None or not math.isfinite(value) or not 0 <= value <= MAX_MS:
        return None
    return value


def time_range(request: Request) -> tuple[float | None, float | None]:
    start, end = _ms(request, "start"), _ms(request, "end")
    if start is not None or end is not None:
        if start is not None and end is not None and end <= start:
            return start, None
        return start, end
    return params.since_ms(request), None
