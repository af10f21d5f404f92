"""Batches → rows of the ClickHouse tables. Run on the store's writer thread.

Rows are sequences in the column order of ``COLUMNS``: the records of ingest as they are
where their fields are the columns (spans, logs), no copy. Network rows and logs get their
ids from the engine (a column default). Nothing is updated in place: a session
gets one more row per batch (folded when read), an error instance carries its group id
(derived from its fingerprint), and a group's state is a new row in ``group_states``.
"""

from __future__ import annotations

import time
import zlib
from collections.abc import Sequence
from typing import Any

import orjson

from backlight_server.pipeline.model import (
    BrowserBatch,
    ErrorRecord,
    Identify,
    SessionInfo,
    TelemetryBatch,
    TrackRecord,
)
from backlight_server.store.clickhouse.transport import NO_LIMIT, Transport
from backlight_server.store.ids import group_id, row_id

Rows = dict[str, list[Sequence[Any]]]

SESSION_COLUMNS = (
    "project_id",
    "secure_id",
    "started_ms",
    "last_ms",
    "url",
    "last_url",
    "user_agent",
    "sdk_version",
    "environment",
    "service",
    "app_version",
    "identifier",
    "user_metadata",
    "pages",
    "event_count",
    "network_count",
    "fe_error_count",
    "dropped_events",
    "dropped_other",
)
COLUMNS: dict[str, tuple[str, ...]] = {
    "sessions": SESSION_COLUMNS,
    "batches": ("session_id", "seq", "received_ms"),
    "replay_chunks": ("session_id", "seq", "first_ms", "last_ms", "n_events", "data"),
    "network": (
        "project_id",
        "session_id",
        "request_id",
        "type",
        "method",
        "url",
        "status",
        "start_ms",
        "end_ms",
        "error",
        "detail",
    ),
    "console": ("session_id", "ts_ms", "level", "message", "args"),
    "track_events": ("session_id", "ts_ms", "event", "properties"),
    "spans": (
        "project_id",
        "trace_id",
        "span_id",
        "parent_span_id",
        "name",
        "kind",
        "start_ns",
        "end_ns",
        "status_code",
        "status_message",
        "service",
        "environment",
        "session_id",
        "request_id",
        "attributes",
        "events",
    ),
    "logs": (
        "project_id",
        "ts_ns",
        "trace_id",
        "span_id",
        "severity_number",
        "level",
        "body",
        "service",
        "environment",
        "session_id",
        "request_id",
        "attributes",
    ),
    "errors": (
        "id",
        "group_id",
        "project_id",
        "fingerprint",
        "ts_ms",
        "received_ms",
        "source",
        "type",
        "message",
        "stack",
        "raw_stack",
        "session_id",
        "request_id",
        "trace_id",
        "span_id",
        "service",
        "environment",
        "url",
        "attributes",
    ),
    "group_states": ("project_id", "group_id", "state", "updated_ms"),
    "projects": ("id", "name", "created_ms"),
    "leases": ("name", "holder", "until_ms", "taken_ms"),
}
# Tables whose ids the engine makes (a column default), with the id column first: for
# copies that keep the ids they had (``backlight migrate``).
WITH_ID = {table: ("id", *COLUMNS[table]) for table in ("network", "logs")}
NO_TUPLE: list[Any] = [0.0, ""]


def encode(rows: Sequence[Sequence[Any]]) -> bytes:
    """JSONCompactEachRow text: one array a row, separated by commas (which the format
    allows), from one ``orjson.dumps`` of the whole list."""
    return orjson.dumps(rows, default=tuple)[1:-1]


def session_row(
    info: SessionInfo,
    *,
    pages: int = 0,
    last_ms: float | None = None,
    last_url: str | None = None,
    counts: tuple[int, int, int, int, int] = (0, 0, 0, 0, 0),
    identify: Identify | None = None,
    now_ms: float = 0.0,
) -> list[Any]:
    last = max(last_ms if last_ms is not None else info.started_ms, info.started_ms)
    url = info.url or last_url
    final_url = last_url or info.url
    ident = [now_ms, identify.identifier] if identify else NO_TUPLE
    meta = [now_ms, identify.metadata] if identify and identify.metadata else NO_TUPLE
    return [
        info.project_id,
        info.secure_id,
        info.started_ms,
        last,
        url,
        [last, final_url] if final_url else NO_TUPLE,
        info.user_agent,
        info.sdk_version,
        info.environment,
        info.service,
        info.app_version,
        ident,
        meta,
        pages,
        *counts,
    ]


def start_session(info: SessionInfo) -> Rows:
    return {"sessions": [session_row(info, pages=1, last_url=info.url)]}


def _replay_text(data: bytes) -> str | None:
    """The batch's rrweb events as the JSON array text (stored with ZSTD)."""
    try:
        text = zlib.decompress(data)
        return text.decode()
    except (zlib.error, UnicodeDecodeError):
        return None


def browser(tx: Transport, batch: BrowserBatch, now_ms: float, pending: Seen) -> Rows:
    info, sid = batch.session, batch.session.secure_id
    last_ms = max(
        [batch.replay_last_ms]
        + [n.end_ms for n in batch.network]
        + [c.ts_ms for c in batch.console]
        + [e.ts_ms for e in batch.errors]
    )
    counts = (
        batch.n_events,
        len(batch.network),
        len(batch.errors),
        batch.dropped_events,
        batch.dropped_other,
    )
    rows: Rows = {
        "batches": [[sid, batch.seq, now_ms]],
        "sessions": [
            session_row(
                info,
                pages=batch.page_loads,
                last_ms=last_ms,
                last_url=batch.last_url,
                counts=counts,
                identify=batch.identify,
                now_ms=now_ms,
            )
        ],
    }
    if batch.replay is not None:
        text = _replay_text(batch.replay)
        if text is not None:
            rows["replay_chunks"] = [
                [sid, batch.seq, batch.replay_first_ms, batch.replay_last_ms, batch.n_events, text]
            ]
    if batch.network:
        rows["network"] = [[info.project_id, *n] for n in batch.network]
    if batch.console:
        rows["console"] = list(batch.console)
    if batch.track:
        rows["track_events"] = list(batch.track)
    if batch.errors:
        rows["errors"] = errors(tx, batch.errors, now_ms, pending)
    return rows


def annotate(info: SessionInfo, identify: Identify | None, track: list[TrackRecord]) -> Rows:
    rows: Rows = {}
    if identify is not None:
        now = time.time() * 1000
        rows["sessions"] = [session_row(info, identify=identify, now_ms=now)]
    if track:
        rows["track_events"] = list(track)
    return rows


_SAME = (
    "SELECT trace_id, type, message, source, ts_ms, group_id FROM errors "
    "WHERE trace_id IN {traces:Array(String)} AND source IN ('span', 'log')"
)
_SESSIONS = (
    "SELECT request_id, any(session_id) FROM network "
    "WHERE request_id IN {ids:Array(String)} GROUP BY request_id"
)


Seen = list[tuple[str, str, str, str, float]]


def errors(
    tx: Transport, records: list[ErrorRecord], now_ms: float, pending: Seen | None = None
) -> list[Sequence[Any]]:
    """Instance rows. One exception recorded both as a span event and as a log record in
    the same trace is one instance: the second to arrive is dropped (as in every store).
    ``pending``: instances of the same write group not yet inserted (appended to)."""
    traces = sorted({e.trace_id for e in records if e.trace_id and e.source in ("span", "log")})
    seen: Seen = pending if pending is not None else []
    if traces:
        seen += [
            (r[0], r[1], r[2], r[3], float(r[4]))
            for r in tx.query(_SAME, {"traces": traces}, NO_LIMIT)
        ]
    ids = sorted({e.request_id for e in records if e.session_id is None and e.request_id})
    sessions = {r[0]: r[1] for r in tx.query(_SESSIONS, {"ids": ids}, NO_LIMIT)} if ids else {}
    out: list[Sequence[Any]] = []
    for e in records:
        if e.trace_id is not None and e.source in ("span", "log"):
            if any(
                t == e.trace_id
                and ty == e.type
                and m == e.message
                and s != e.source
                and abs(ts - e.ts_ms) < 60000
                for t, ty, m, s, ts in seen
            ):
                continue
            seen.append((e.trace_id, e.type, e.message, e.source, e.ts_ms))
        stack = orjson.dumps([f.as_dict() for f in e.frames]).decode() if e.frames else None
        session_id = e.session_id
        if session_id is None and e.request_id is not None:
            session_id = sessions.get(e.request_id)
        out.append(
            [
                row_id(),
                group_id(e.project_id, e.fingerprint),
                e.project_id,
                e.fingerprint,
                e.ts_ms,
                now_ms,
                e.source,
                e.type,
                e.message,
                stack,
                e.raw_stack,
                session_id,
                e.request_id,
                e.trace_id,
                e.span_id,
                e.service,
                e.environment,
                e.url,
                e.attributes,
            ]
        )
    return out


def telemetry(tx: Transport, batch: TelemetryBatch, now_ms: float, pending: Seen) -> Rows:
    rows: Rows = {}
    if batch.spans:
        rows["spans"] = list(batch.spans)
    if batch.logs:
        rows["logs"] = list(batch.logs)
    if batch.errors:
        rows["errors"] = errors(tx, batch.errors, now_ms, pending)
    return rows
