"""Backend summaries: per request id, the spans, logs, errors and worst log level of its
backend side, merged from per-trace and per-request counts that a store fetched.

A request's traces are its id and the trace ids of spans and logs that carry it. Spans and
logs that carry a request id and a trace id are counted through that trace id (one of
the request's traces by construction); logs without a trace id through the request id;
errors by trace or request id, each error once. Records matched by time (``Timed``) count
too.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, NamedTuple

from backlight_server.query.derive import severity_level

Row = dict[str, Any]
NO_BACKEND: Row = {"spans": 0, "logs": 0, "errors": 0, "worst_level": None}


class Timed(NamedTuple):
    """What matched one request by time: log count, worst log severity, error ids."""

    logs: int
    worst: int
    error_ids: frozenset[int]


def trace_owners(request_ids: list[str], pairs: Iterable[tuple[str, str]]) -> dict[str, list[str]]:
    """Trace id -> the request ids it belongs to: each request id is a trace of its own,
    and each (request id, trace id) pair of a span or log adds that trace."""
    owners: dict[str, list[str]] = {r: [r] for r in request_ids}
    for rid, tid in pairs:
        requests = owners.setdefault(tid, [])
        if rid not in requests:
            requests.append(rid)
    return owners


def merge(
    request_ids: list[str],
    owners: Mapping[str, list[str]],
    *,
    spans_by_trace: Iterable[tuple[str, int]],
    logs_by_trace: Iterable[tuple[str, int, int]],
    logs_by_request: Iterable[tuple[str, int, int]],
    errors_by_trace: Iterable[tuple[int, str]],
    errors_by_request: Iterable[tuple[int, str]],
    timed: Mapping[str, Timed],
) -> dict[str, Row]:
    """Per request id: ``{"spans", "logs", "errors", "worst_level"}``.

    Counts are (trace or request id, count[, max severity]); errors are (error id, trace or
    request id) so that an error reached both ways counts once.
    """
    out = {r: {"spans": 0, "logs": 0, "errors": 0, "worst": 0} for r in request_ids}
    for tid, n in spans_by_trace:
        for rid in owners[tid]:
            out[rid]["spans"] += n
    for tid, n, sev in logs_by_trace:
        for rid in owners[tid]:
            out[rid]["logs"] += n
            out[rid]["worst"] = max(out[rid]["worst"], sev)
    for rid, n, sev in logs_by_request:
        out[rid]["logs"] += n
        out[rid]["worst"] = max(out[rid]["worst"], sev)
    errors: dict[str, set[int]] = {}
    for eid, tid in errors_by_trace:
        for rid in owners[tid]:
            errors.setdefault(rid, set()).add(eid)
    for eid, rid in errors_by_request:
        errors.setdefault(rid, set()).add(eid)
    for rid, match in timed.items():
        if rid in out:
            out[rid]["logs"] += match.logs
            out[rid]["worst"] = max(out[rid]["worst"], match.worst)
            errors.setdefault(rid, set()).update(match.error_ids)
    return {
        r: {
            "spans": o["spans"],
            "logs": o["logs"],
            "errors": len(errors.get(r, ())),
            "worst_level": severity_level(o["worst"]),
        }
        for r, o in out.items()
    }
