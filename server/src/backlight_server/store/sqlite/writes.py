"""Write operations, run by the writer thread inside a transaction."""

from __future__ import annotations

import sqlite3
import time

import orjson

from backlight_server.pipeline.model import (
    BrowserBatch,
    ErrorRecord,
    LogRecord,
    SessionInfo,
    TelemetryBatch,
)
from backlight_server.store.ids import group_id
from backlight_server.store.sqlite import logcounts, traces

INSERT_SPAN = (
    "INSERT INTO spans (project_id, trace_id, span_id, parent_span_id, name, kind, "
    "start_ns, end_ns, status_code, status_message, service, environment, "
    "session_id, request_id, attributes, events) "
    "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)"
)
INSERT_LOG = (
    "INSERT INTO logs (project_id, ts_ns, trace_id, span_id, severity_number, level, "
    "body, service, environment, session_id, request_id, attributes) "
    "VALUES (?,?,?,?,?,?,?,?,?,?,?,?)"
)
# Full-text indexing of the log rows just inserted (rowid > the max id before the insert).
# One statement per batch instead of a row trigger: see migrations/0002_fts_bulk_index.sql.
MAX_LOG_ID = "SELECT coalesce(max(id), 0) FROM logs"
INDEX_NEW_LOGS = "INSERT INTO logs_fts (rowid, body) SELECT id, body FROM logs WHERE id > ?"
# The id derives from project and fingerprint (store/ids.py), as in every store. The
# conflict target is left out so that it covers the id too: should two fingerprints ever
# hash to one id (about 1 in 2**53 per pair), the second joins the first's group, as it
# would in a store keyed by id alone, instead of failing the writer's whole batch.
_UPSERT_GROUP = """
INSERT INTO error_groups (id, project_id, fingerprint, type, message, source, stack,
                          first_ms, last_ms, count, state)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 1, 'open')
ON CONFLICT DO UPDATE SET
    count = count + 1,
    type = CASE WHEN excluded.first_ms < first_ms THEN excluded.type ELSE type END,
    message = CASE WHEN excluded.first_ms < first_ms THEN excluded.message ELSE message END,
    source = CASE WHEN excluded.first_ms < first_ms THEN excluded.source ELSE source END,
    stack = CASE WHEN excluded.first_ms < first_ms THEN excluded.stack ELSE stack END,
    first_ms = min(first_ms, excluded.first_ms),
    last_ms = max(last_ms, excluded.last_ms),
    state = CASE WHEN state = 'resolved' THEN 'open' ELSE state END
"""
_INSERT_ERROR = """
INSERT INTO errors (group_id, project_id, ts_ms, source, type, message, stack, raw_stack,
                    session_id, request_id, trace_id, span_id, service, environment, url,
                    attributes)
VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)
"""
_UPSERT_SESSION = """
INSERT INTO sessions (secure_id, project_id, started_ms, last_ms, url, last_url, user_agent,
                      sdk_version, environment, service, app_version, pages)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (secure_id) DO UPDATE SET
    pages = pages + excluded.pages,
    last_ms = max(last_ms, excluded.last_ms),
    last_url = coalesce(excluded.last_url, last_url),
    url = coalesce(url, excluded.url),
    started_ms = min(started_ms, excluded.started_ms)
"""


_SAME_EXCEPTION = """
SELECT group_id FROM errors WHERE trace_id = ? AND type = ? AND message = ? AND source != ?
AND source != 'frontend' AND abs(ts_ms - ?) < 60000 LIMIT 1
"""


def insert_error(conn: sqlite3.Connection, err: ErrorRecord) -> int:
    """Store an instance and count it in its group. One exception recorded both as a span
    event and as a log record (``logger.exception`` while a server logs the failure) in the
    same trace is one instance: the second to arrive is dropped."""
    if err.trace_id is not None and err.source in ("span", "log"):
        same = conn.execute(
            _SAME_EXCEPTION, (err.trace_id, err.type, err.message, err.source, err.ts_ms)
        ).fetchone()
        if same is not None:
            return int(same[0])
    session_id = err.session_id
    if session_id is None and err.request_id is not None:
        row = conn.execute(
            "SELECT session_id FROM network WHERE request_id = ? LIMIT 1", (err.request_id,)
        ).fetchone()
        session_id = row[0] if row else None
    stack = orjson.dumps([f.as_dict() for f in err.frames]).decode() if err.frames else None
    gid = group_id(err.project_id, err.fingerprint)
    # What this instance does to its group, for alerts (read before the upsert changes it).
    before = conn.execute("SELECT state FROM error_groups WHERE id = ?", (gid,)).fetchone()
    change = "new" if before is None else ("reopened" if before[0] == "resolved" else None)
    conn.execute(
        _UPSERT_GROUP,
        (
            gid,
            err.project_id,
            err.fingerprint,
            err.type,
            err.message[:1024],
            err.source,
            stack,
            err.ts_ms,
            err.ts_ms,
        ),
    )
    cur = conn.execute(
        _INSERT_ERROR,
        (
            gid,
            err.project_id,
            err.ts_ms,
            err.source,
            err.type,
            err.message,
            stack,
            err.raw_stack,
            session_id,
            err.request_id,
            err.trace_id,
            err.span_id,
            err.service,
            err.environment,
            err.url,
            err.attributes,
        ),
    )
    if change is not None:
        conn.execute(
            "INSERT INTO error_changes (error_id, change) VALUES (?, ?)", (cur.lastrowid, change)
        )
    return gid


def insert_logs(conn: sqlite3.Connection, logs: list[LogRecord]) -> None:
    """Insert log rows, add their bodies to the full-text index and count them into the
    log page's counts (logcounts.py)."""
    before = conn.execute(MAX_LOG_ID).fetchone()[0]
    conn.executemany(INSERT_LOG, logs)
    conn.execute(INDEX_NEW_LOGS, (before,))
    logcounts.add_since(conn, before)


def write_telemetry(conn: sqlite3.Connection, batch: TelemetryBatch) -> None:
    if batch.spans:
        conn.executemany(INSERT_SPAN, batch.spans)
        traces.record_spans(conn, batch.spans)
    if batch.logs:
        insert_logs(conn, batch.logs)
    for err in batch.errors:
        insert_error(conn, err)


def upsert_session(
    conn: sqlite3.Connection, info: SessionInfo, pages: int, last_ms: float, last_url: str | None
) -> None:
    conn.execute(
        _UPSERT_SESSION,
        (
            info.secure_id,
            info.project_id,
            info.started_ms,
            max(last_ms, info.started_ms),
            info.url or last_url,
            last_url or info.url,
            info.user_agent,
            info.sdk_version,
            info.environment,
            info.service,
            info.app_version,
            pages,
        ),
    )


def start_session(conn: sqlite3.Connection, info: SessionInfo) -> None:
    upsert_session(conn, info, 1, info.started_ms, info.url)


def write_browser(conn: sqlite3.Connection, batch: BrowserBatch, now_ms: float) -> bool:
    """Store one batch; False (and nothing stored) if its sequence number was seen."""
    sid = batch.session.secure_id
    cur = conn.execute(
        "INSERT OR IGNORE INTO batches (session_id, seq, received_ms) VALUES (?, ?, ?)",
        (sid, batch.seq, now_ms),
    )
    if cur.rowcount == 0:
        return False
    last_ms = max(
        [batch.replay_last_ms]
        + [n.end_ms for n in batch.network]
        + [c.ts_ms for c in batch.console]
        + [e.ts_ms for e in batch.errors]
    )
    upsert_session(conn, batch.session, batch.page_loads, last_ms, batch.last_url)
    if batch.replay is not None:
        conn.execute(
            "INSERT INTO replay_chunks (session_id, seq, first_ms, last_ms, n_events, "
            "data) VALUES (?, ?, ?, ?, ?, ?)",
            (
                sid,
                batch.seq,
                batch.replay_first_ms,
                batch.replay_last_ms,
                batch.n_events,
                batch.replay,
            ),
        )
    if batch.network:
        conn.executemany(
            "INSERT INTO network (session_id, request_id, type, method, url, "
            "status, start_ms, end_ms, error, detail) "
            "VALUES (?,?,?,?,?,?,?,?,?,?)",
            batch.network,
        )
    if batch.console:
        conn.executemany(
            "INSERT INTO console (session_id, ts_ms, level, message, args) VALUES (?,?,?,?,?)",
            batch.console,
        )
    if batch.track:
        conn.executemany(
            "INSERT INTO track_events (session_id, ts_ms, event, properties) VALUES (?,?,?,?)",
            batch.track,
        )
    for err in batch.errors:
        insert_error(conn, err)
    if batch.network:
        # Backend errors that arrived before this batch carry the request id only.
        conn.executemany(
            "UPDATE errors SET session_id = ? WHERE request_id = ? AND session_id IS NULL",
            [(sid, n.request_id) for n in batch.network if n.request_id],
        )
    ident = batch.identify
    conn.execute(
        "UPDATE sessions SET event_count = event_count + ?, network_count = network_count + ?, "
        "fe_error_count = fe_error_count + ?, dropped_events = dropped_events + ?, "
        "dropped_other = dropped_other + ?, identifier = coalesce(?, identifier), "
        "user_metadata = coalesce(?, user_metadata) WHERE secure_id = ?",
        (
            batch.n_events,
            len(batch.network),
            len(batch.errors),
            batch.dropped_events,
            batch.dropped_other,
            ident.identifier if ident else None,
            ident.metadata if ident else None,
            sid,
        ),
    )
    return True


def set_group_state(conn: sqlite3.Connection, group_id: int, state: str) -> bool:
    cur = conn.execute("UPDATE error_groups SET state = ? WHERE id = ?", (state, group_id))
    if cur.rowcount > 0 and state == "resolved":  # for PagerDuty's resolve (alerts/)
        conn.execute(
            "INSERT INTO group_resolutions (project_id, group_id, at_ms) "
            "SELECT project_id, id, ? FROM error_groups WHERE id = ?",
            (time.time() * 1000, group_id),
        )
    return cur.rowcount > 0


def purge_before(conn: sqlite3.Connection, cutoff_ms: float) -> int:
    """Delete data older than ``cutoff_ms``, and data dated more than two days ahead of
    now: such times were accepted by versions before the ingest time window, and would
    otherwise never be purged."""
    future_ms = time.time() * 1000 + 2 * 86_400_000
    cutoff_ns, future_ns = int(cutoff_ms * 1e6), int(future_ms * 1e6)
    total = 0
    old = "SELECT secure_id FROM sessions WHERE last_ms < ?1 OR last_ms > ?2"
    for table in ("batches", "replay_chunks", "network", "console", "track_events"):
        total += conn.execute(
            f"DELETE FROM {table} WHERE session_id IN ({old})", (cutoff_ms, future_ms)
        ).rowcount
    total += conn.execute(
        "DELETE FROM sessions WHERE last_ms < ?1 OR last_ms > ?2", (cutoff_ms, future_ms)
    ).rowcount
    total += conn.execute(
        "DELETE FROM spans WHERE end_ns < ?1 OR end_ns > ?2", (cutoff_ns, future_ns)
    ).rowcount
    traces.purge(conn, cutoff_ns, future_ns)
    total += conn.execute(
        "DELETE FROM logs WHERE ts_ns < ?1 OR ts_ns > ?2", (cutoff_ns, future_ns)
    ).rowcount
    logcounts.purge(conn, cutoff_ns, future_ns)
    total += conn.execute(
        "DELETE FROM errors WHERE ts_ms < ?1 OR ts_ms > ?2", (cutoff_ms, future_ms)
    ).rowcount
    conn.execute("DELETE FROM error_changes WHERE error_id NOT IN (SELECT id FROM errors)")
    total += conn.execute(
        "DELETE FROM error_groups WHERE (last_ms < ?1 OR last_ms > ?2) AND "
        "NOT EXISTS (SELECT 1 FROM errors WHERE errors.group_id = "
        "error_groups.id)",
        (cutoff_ms, future_ms),
    ).rowcount
    return total + purge_alerts(conn, cutoff_ms)


def purge_alerts(conn: sqlite3.Connection, cutoff_ms: float) -> int:
    """Alert outbox rows sent or given up (``delivered``, ``failed``) that were made
    before ``cutoff_ms``, delivery-log entries and group resolutions from before it. Rows
    still pending stay: the deliverer finishes them (a row is tried for hours at most).
    The newest resolution stays too: its id keeps the next one's above the cursor
    ``#resolved`` (ids of a table emptied would start again at 1)."""
    total = conn.execute(
        "DELETE FROM alert_outbox WHERE state IN ('delivered', 'failed') AND created_ms < ?",
        (cutoff_ms,),
    ).rowcount
    total += conn.execute(
        "DELETE FROM group_resolutions WHERE at_ms < ? "
        "AND id < (SELECT max(id) FROM group_resolutions)",
        (cutoff_ms,),
    ).rowcount
    return (
        total + conn.execute("DELETE FROM alert_deliveries WHERE at_ms < ?", (cutoff_ms,)).rowcount
    )
