"""A request's traces, and the request view put together from fetched rows."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from backlight_server.query.derive import time_key
from backlight_server.query.trees import span_tree

Row = dict[str, Any]
_HEX32 = re.compile(r"[0-9a-f]{32}\Z")


def request_trace_ids(request_id: str, linked: Iterable[object]) -> list[str]:
    """The traces of a request: its own id when it has the form of a W3C trace id (the
    browser SDK sends one, and plain OpenTelemetry backends continue it), and ``linked``:
    the trace ids of spans, logs and errors that carry the request id."""
    ids = {request_id} if _HEX32.match(request_id) else set()
    ids.update(t for t in linked if isinstance(t, str))
    return sorted(ids)


def with_timed(
    logs: list[Row], errors: list[Row], more_logs: list[Row], more_errors: list[Row]
) -> tuple[list[Row], list[Row]]:
    """Exact matches (``match: "exact"``) and those matched by time (``"time"``), each
    list in time order."""
    for item in (*logs, *errors):
        item["match"] = "exact"
    for item in (*more_logs, *more_errors):
        item["match"] = "time"
    return (
        sorted([*logs, *more_logs], key=time_key("ts_ns")),
        sorted([*errors, *more_errors], key=time_key("ts_ms")),
    )


def request_view(
    request_id: str,
    browser: list[Row],
    traces: list[str],
    spans: list[Row],
    logs: list[Row],
    errors: list[Row],
) -> Row:
    """``GET /api/v1/requests/{id}``: the browser's record, span trees, logs and errors."""
    session_id = next((b["session_id"] for b in browser), None) or next(
        (x["session_id"] for x in [*spans, *logs, *errors] if x.get("session_id")), None
    )
    services = sorted({s["service"] for s in spans} | {lg["service"] for lg in logs})
    return {
        "request_id": request_id,
        "session_secure_id": session_id,
        "browser": browser[0] if browser else None,
        "trace_ids": traces,
        "services": services,
        "spans": span_tree(spans),
        "span_count": len(spans),
        "logs": logs,
        "errors": errors,
    }


def trace_view(trace_id: str, spans: list[Row], logs: list[Row], errors: list[Row]) -> Row:
    """``GET /api/v1/traces/{id}``: the trace's span trees, logs and errors."""
    return {
        "trace_id": trace_id,
        "spans": span_tree(spans),
        "span_count": len(spans),
        "logs": logs,
        "errors": errors,
    }
