"""Log search: text on any substring plus level, service, session, request and time
filters; the volume histogram by level (click or drag to zoom: ``start`` / ``end``), facets
for level and service with counts, each row's attributes, and live tail (``logs.ts``)."""

from __future__ import annotations

from dataclasses import dataclass

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from backlight_server.state import get_state
from backlight_server.store.queries import LogLevel, LogQuery
from backlight_server.ui import params
from backlight_server.ui.render import page, render
from backlight_server.ui.timerange import time_range

PAGE_SIZE = 100
BUCKETS = 60
LEVELS: tuple[LogLevel, ...] = ("trace", "debug", "info", "warn", "error", "fatal")
# stacked bottom-up in the histogram: the levels that matter most sit on the axis
STACK: tuple[LogLevel, ...] = ("fatal", "error", "warn", "info", "debug", "trace")
CHART_W, CHART_H = 1000, 120


@dataclass(frozen=True)
class Segment:
    level: str
    y: float
    height: float


@dataclass(frozen=True)
class Column:
    x: float
    width: float
    start_ms: float
    end_ms: float
    total: int
    segments: list[Segment]


def columns(stats: dict[str, object]) -> tuple[list[Column], int]:
    """The histogram's buckets as SVG columns (in a ``CHART_W`` × ``CHART_H`` box)."""
    buckets = stats.get("histogram")
    rows = buckets if isinstance(buckets, list) else []
    peak = max((int(b.get("total", 0)) for b in rows), default=0)
    out: list[Column] = []
    n = max(len(rows), 1)
    width = CHART_W / n
    step = float(stats.get("bucket_ms") or 0)  # type: ignore[arg-type]
    for i, b in enumerate(rows):
        counts = b.get("counts") or {}
        y, segments = float(CHART_H), []
        for level in STACK:
            count = int(counts.get(level, 0))
            if count and peak:
                h = max(count / peak * (CHART_H - 4), 1.0)
                y -= h
                segments.append(Segment(level, y, h))
        start = float(b.get("start_ms", 0))
        out.append(Column(i * width, width, start, start + step, int(b.get("total", 0)), segments))
    return out, peak


@page
def logs_page(request: Request) -> Response:
    wanted = request.query_params.get("level", "")
    start_ms, end_ms = time_range(request)
    query = LogQuery(
        text=params.text(request, "q", 1024),
        level=next((lv for lv in LEVELS if lv == wanted), None),
        service=params.text(request, "service", 256),
        session_id=params.text(request, "session", 128),
        request_id=params.text(request, "request", 128),
        start_ms=start_ms,
        end_ms=end_ms,
        limit=PAGE_SIZE,
        offset=params.integer(request, "offset"),
    )
    found = get_state(request).store.log_page(query, BUCKETS)
    data, stats = found["logs"], found["stats"]
    cols, peak = columns(stats)
    return render(
        request,
        "logs.html",
        nav="logs",
        data=data,
        stats=stats,
        columns=cols,
        peak=peak,
        chart_w=CHART_W,
        chart_h=CHART_H,
        levels=LEVELS,
        stack=STACK,
        ranges=params.RANGES,
        page_size=PAGE_SIZE,
        zoomed=bool(request.query_params.get("start") or request.query_params.get("end")),
        start_ms=start_ms,
        end_ms=end_ms,
    )


routes = [Route("/logs", logs_page, methods=["GET"])]
