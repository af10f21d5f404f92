"""The trace list in SQLite: one row per trace in ``traces`` (migrations 12 and 16), kept by
the writer as spans arrive, keyed by (start descending, trace id): the list reads it in
that order, newest first, checking each row's filters on the row itself until a page is
full."""

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
# a trace's span names are kept on its row up to these bounds (else NULL: the span-name
# filter then looks at the trace's spans)
MAX_NAMES = 32
MAX_NAMES_CHARS = 1024
SEP = "\x1f"
_UPSERT = (
    "INSERT OR REPLACE INTO traces (trace_id, project_id, start_ns, end_ns, span_count, "
    "error_count, name, service, services, names) VALUES (?,?,?,?,?,?,?,?,?,?)"
)


def _services(text: object) -> list[str]:
    try:
        value = orjson.loads(text) if isinstance(text, str | bytes) else None
    except orjson.JSONDecodeError:
        return []
    return [s for s in value if isinstance(s, str)] if isinstance(value, list) else []


def _names(names: set[str] | None) -> str | None:
    """The ``names`` column: the names joined, or NULL past the bounds."""
    if names is None or len(names) > MAX_NAMES:
        return None
    text = SEP.join(sorted(names))
    return text if len(text) <= MAX_NAMES_CHARS else None


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
                {s.name},
            ]
            continue
        if s.start_ns < row[1]:
            row[1], row[5], row[6] = s.start_ns, s.name, s.service
        row[2] = max(row[2], s.end_ns)
        row[3] += 1
        row[4] += int(s.status_code == 2)
        row[7].add(s.service)
        if row[8] is not None:
            row[8].add(s.name)
            if len(row[8]) > MAX_NAMES:
                row[8] = None
    ids = list(folded)
    for i in range(0, len(ids), CHUNK):
        part = ids[i : i + CHUNK]
        for tid, start, end, n, errors, name, service, services, names in conn.execute(
            "SELECT trace_id, start_ns, end_ns, span_count, error_count, name, service, "
            f"services, names FROM traces WHERE trace_id IN ({','.join('?' * len(part))})",
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
            if row[8] is not None and isinstance(names, str):
                row[8].update(names.split(SEP))
            else:  # kept as NULL: past the bounds (or not readable)
                row[8] = None
    conn.executemany(
        _UPSERT,
        [
            (tid, *row[:7], orjson.dumps(sorted(row[7])).decode(), _names(row[8]))
            for tid, row in folded.items()
        ],
    )


def purge(conn: sqlite3.Connection, cutoff_ns: int, future_ns: int) -> int:
    return conn.execute(
        "DELETE FROM traces WHERE end_ns < ?1 OR end_ns > ?2", (cutoff_ns, future_ns)
    ).rowcount


def _like(text: str) -> str:
    return "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def _plain(text: str) -> bool:
    """Whether ``text`` is written as itself inside a JSON string (no escapes) and holds
    none of the array's own punctuation."""
    return all(ch.isprintable() and ch not in '"\\,[]' for ch in text)


def _has_service(service: str) -> tuple[str, list[str]]:
    """The test that ``services`` (a compact JSON array of strings, as orjson and SQLite's
    ``json_group_array`` write it) holds ``service``. A plain name is found as text:
    ``"name"`` between ``[`` or ``,`` and ``,`` or ``]``; its quotes are not escaped (no
    backslash before them), so they delimit one element, and that element is the name. Any
    other name goes through ``json_each``."""
    if not _plain(service):
        return "EXISTS (SELECT 1 FROM json_each(t.services) WHERE value = ?)", [service]
    quoted = orjson.dumps(service).decode()
    forms = [f"{a}{quoted}{b}" for a in "[," for b in ",]"]
    # the quoted name alone first: most rows fail there, at one test
    test = "instr(t.services, ?) > 0 AND (" + " OR ".join(["instr(t.services, ?) > 0"] * 4) + ")"
    return test, [quoted, *forms]


def list_traces(conn: sqlite3.Connection, query: TraceQuery) -> Row:
    """Newest first by start, reading ``traces`` in its key's order; the cheap filters
    first, then the service, then the span name (on the row's names; through the trace's
    spans when the row keeps none)."""
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
        test, values = _has_service(query.service)
        where.append(test)
        args += values
    if query.name:
        pattern = _like(query.name)
        in_spans = (
            "EXISTS (SELECT 1 FROM spans s WHERE s.trace_id = t.trace_id "
            "AND s.name LIKE ? ESCAPE '\\')"
        )
        if SEP in query.name:
            where.append(in_spans)
            args.append(pattern)
        else:
            where.append(f"(t.names LIKE ? ESCAPE '\\' OR (t.names IS NULL AND {in_spans}))")
            args += [pattern, pattern]
    rows = conn.execute(
        "SELECT t.trace_id, t.project_id, t.start_ns, t.end_ns, t.span_count, t.error_count, "
        f"t.name, t.service, t.services FROM traces t WHERE {' AND '.join(where)} "
        "ORDER BY t.start_ns DESC, t.trace_id LIMIT ? OFFSET ?",
        [*args, query.limit + 1, query.offset],
    ).fetchall()
    out = [trace_row(r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7], _services(r[8])) for r in rows]
    return page(out, query.limit, query.offset)
