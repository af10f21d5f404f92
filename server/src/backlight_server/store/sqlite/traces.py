"""The trace list in SQLite: one row per trace in ``traces`` (migration 12), kept by the
writer as spans arrive, read newest first by start."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from typing import Any

import orjson

from backlight_server.pipeline.model import SpanRecord
from backlight_server.query.traces import page, trace_row
from backlight_server.store.queries import TraceQuery

Row = dict[str, Any]
CHUNK = 500
_UPSERT = (
    "INSERT OR REPLACE INTO traces (trace_id, project_id, start_ns, end_ns, span_count, "
    "error_count, name, service, services) VALUES (?,?,?,?,?,?,?,?,?)"
)


def _services(text: object) -> list[str]:
    try:
        value = orjson.loads(text) if isinstance(text, str | bytes) else None
    except orjson.JSONDecodeError:
        return []
    return [s for s in value if isinstance(s, str)] if isinstance(value, list) else []


def record_spans(conn: sqlite3.Connection, spans: Sequence[SpanRecord]) -> None:
    """Fold a batch's spans into their traces' rows (the writer thread: one writer, so
    read, merge and replace is safe)."""
    folded: dict[str, list[Any]] = {}
    for s in spans:
        row = folded.get(s.trace_id)
        if row is None:
            folded[s.trace_id] = [
                s.project_id,
                s.start_ns,
                s.end_ns,
                1,
                int(s.status_code == 2),
                s.name,
                s.service,
                {s.service},
            ]
            continue
        if s.start_ns < row[1]:
            row[1], row[5], row[6] = s.start_ns, s.name, s.service
        row[2] = max(row[2], s.end_ns)
        row[3] += 1
        row[4] += int(s.status_code == 2)
        row[7].add(s.service)
    ids = list(folded)
    for i in range(0, len(ids), CHUNK):
        part = ids[i : i + CHUNK]
        for tid, start, end, n, errors, name, service, services in conn.execute(
            "SELECT trace_id, start_ns, end_ns, span_count, error_count, name, service, "
            f"services FROM traces WHERE trace_id IN ({','.join('?' * len(part))})",
            part,
        ):
            row = folded[tid]
            if isinstance(start, int) and start <= row[1]:
                row[1], row[5], row[6] = start, name, service
            if isinstance(end, int):
                row[2] = max(row[2], end)
            row[3] += n if isinstance(n, int) else 0
            row[4] += errors if isinstance(errors, int) else 0
            row[7].update(_services(services))
    conn.executemany(
        _UPSERT,
        [(tid, *row[:7], orjson.dumps(sorted(row[7])).decode()) for tid, row in folded.items()],
    )


def purge(conn: sqlite3.Connection, cutoff_ns: int, future_ns: int) -> int:
    return conn.execute(
        "DELETE FROM traces WHERE end_ns < ?1 OR end_ns > ?2", (cutoff_ns, future_ns)
    ).rowcount


def _like(text: str) -> str:
    return "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def list_traces(conn: sqlite3.Connection, query: TraceQuery) -> Row:
    """Newest first by start; the filters on the row's own columns are checked as the
    index is walked, the span name through the spans of each candidate (by trace id)."""
    where: list[str] = ["1"]
    args: list[Any] = []
    if query.project_id:
        where.append("t.project_id = ?")
        args.append(query.project_id)
    if query.start_ms is not None:
        where.append("t.start_ns >= ?")
        args.append(int(query.start_ms * 1e6))
    if query.end_ms is not None:
        where.append("t.start_ns < ?")
        args.append(int(query.end_ms * 1e6))
    if query.min_ms is not None:
        where.append("t.end_ns - t.start_ns >= ?")
        args.append(int(query.min_ms * 1e6))
    if query.max_ms is not None:
        where.append("t.end_ns - t.start_ns <= ?")
        args.append(int(query.max_ms * 1e6))
    if query.status == "error":
        where.append("t.error_count > 0")
    elif query.status == "ok":
        where.append("t.error_count = 0")
    if query.service:
        where.append("EXISTS (SELECT 1 FROM json_each(t.services) WHERE value = ?)")
        args.append(query.service)
    if query.name:
        where.append(
            "EXISTS (SELECT 1 FROM spans s WHERE s.trace_id = t.trace_id "
            "AND s.name LIKE ? ESCAPE '\\')"
        )
        args.append(_like(query.name))
    rows = conn.execute(
        "SELECT t.trace_id, t.project_id, t.start_ns, t.end_ns, t.span_count, t.error_count, "
        f"t.name, t.service, t.services FROM traces t WHERE {' AND '.join(where)} "
        "ORDER BY t.start_ns DESC, t.trace_id LIMIT ? OFFSET ?",
        [*args, query.limit + 1, query.offset],
    ).fetchall()
    out = [trace_row(r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7], _services(r[8])) for r in rows]
    return page(out, query.limit, query.offset)
