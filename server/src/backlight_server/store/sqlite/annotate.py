"""Writes and reads about a session outside its event batches: the user, properties,
feedback (used by the highlight.run compatibility layer)."""

from __future__ import annotations

import sqlite3

from backlight_server.pipeline.model import Identify, SessionInfo, TrackRecord


def annotate(
    conn: sqlite3.Connection, secure_id: str, identify: Identify | None, track: list[TrackRecord]
) -> bool:
    if conn.execute("SELECT 1 FROM sessions WHERE secure_id = ?", (secure_id,)).fetchone() is None:
        return False
    if identify is not None:
        conn.execute(
            "UPDATE sessions SET identifier = ?, user_metadata = coalesce(?, "
            "user_metadata) WHERE secure_id = ?",
            (identify.identifier, identify.metadata, secure_id),
        )
    if track:
        conn.executemany(
            "INSERT INTO track_events (session_id, ts_ms, event, properties) VALUES (?,?,?,?)",
            track,
        )
    return True


def session_info(conn: sqlite3.Connection, secure_id: str) -> SessionInfo | None:
    row = conn.execute(
        "SELECT project_id, started_ms FROM sessions WHERE secure_id = ?", (secure_id,)
    ).fetchone()
    if row is None:
        return None
    return SessionInfo(project_id=row[0], secure_id=secure_id, started_ms=float(row[1]))
