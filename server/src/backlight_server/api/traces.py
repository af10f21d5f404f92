"""The trace list (``GET /api/v1/traces``) and the log page's counts
(``GET /api/v1/logs/stats``): the same store reads as the UI's ``/traces`` and ``/logs``.
Each route declares its response model; the answer is the store's data serialised by
orjson (as in ``routes.py``)."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field

from backlight_server.api.auth import require_token
from backlight_server.api.reply import json_reply as _json
from backlight_server.state import get_state
from backlight_server.store.queries import LogQuery, TraceQuery

router = APIRouter(prefix="/api/v1", dependencies=[Depends(require_token)])
Id = Annotated[str, Query(max_length=128)]
EpochMs = Annotated[
    float | None, Query(ge=0, le=9e12, allow_inf_nan=False, description="epoch milliseconds")
]
Millis = Annotated[
    float | None, Query(ge=0, le=1e10, allow_inf_nan=False, description="milliseconds")
]
Level = Literal["trace", "debug", "info", "warn", "error", "fatal"]
MAX_BUCKETS = 240


class _Open(BaseModel):
    model_config = ConfigDict(extra="allow")


class TraceSummary(_Open):
    trace_id: str
    project_id: str
    name: str = Field(description="the earliest span's name")
    service: str = Field(description="the earliest span's service")
    services: list[str] = Field(description="every service with a span in the trace")
    start_ms: float = Field(description="the earliest span's start, epoch ms")
    duration_ms: float = Field(description="earliest start to latest end")
    span_count: int
    error_count: int = Field(description="spans with the error status")


class TracePage(_Open):
    traces: list[TraceSummary]
    limit: int
    offset: int
    has_more: bool


class Bucket(_Open):
    start_ms: float
    total: int
    counts: dict[str, int] = Field(description="logs per level in this bucket")


class LevelCount(_Open):
    level: str
    count: int


class ServiceCount(_Open):
    service: str
    count: int


class LogStats(_Open):
    start_ms: float = Field(description="the first bucket's start")
    end_ms: float
    bucket_ms: float = Field(description="the width of every bucket")
    histogram: list[Bucket]
    total: int
    levels: list[LevelCount] = Field(description="counted without the query's level filter")
    services: list[ServiceCount] = Field(
        description="the 20 largest, counted without the query's service filter"
    )


@router.get(
    "/traces",
    summary="Traces, newest first: by service, span name, duration, status and time",
    response_model=TracePage,
)
def traces(
    request: Request,
    project_id: Id | None = None,
    service: Annotated[str | None, Query(max_length=256)] = None,
    name: Annotated[
        str | None, Query(max_length=512, description="any span's name contains")
    ] = None,
    min_ms: Millis = None,
    max_ms: Millis = None,
    status: Literal["error", "ok"] | None = None,
    start_ms: EpochMs = None,
    end_ms: EpochMs = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
) -> Response:
    return _json(
        get_state(request).store.list_traces(
            TraceQuery(
                project_id=project_id,
                service=service,
                name=name,
                min_ms=min_ms,
                max_ms=max_ms,
                status=status,
                start_ms=start_ms,
                end_ms=end_ms,
                limit=limit,
                offset=offset,
            )
        )
    )


@router.get(
    "/logs/stats",
    summary="Counts of the logs a search matches: per time bucket and level, level, service",
    response_model=LogStats,
)
def log_stats(
    request: Request,
    q: Annotated[str | None, Query(max_length=1024)] = None,
    project_id: Id | None = None,
    session_id: Id | None = None,
    request_id: Id | None = None,
    service: Annotated[str | None, Query(max_length=256)] = None,
    level: Level | None = None,
    start_ms: EpochMs = None,
    end_ms: EpochMs = None,
    buckets: Annotated[int, Query(ge=1, le=MAX_BUCKETS)] = 60,
) -> Response:
    return _json(
        get_state(request).store.log_stats(
            LogQuery(
                text=q,
                project_id=project_id,
                session_id=session_id,
                request_id=request_id,
                service=service,
                level=level,
                start_ms=start_ms,
                end_ms=end_ms,
            ),
            buckets,
        )
    )
