"""Per-project source-map fetch settings in SQLite (migration 0010). Reads survive any
stored value: a row that is not what this module wrote reads as off, without origins."""

from __future__ import annotations

import sqlite3
import time

import orjson

from backlight_server.store.base import FetchConfig


def get(conn: sqlite3.Connection, project_id: str) -> FetchConfig:
    row = conn.execute(
        "SELECT enabled, origins, updated_ms FROM sourcemap_fetch WHERE project_id = ?",
        (project_id,),
    ).fetchone()
    if row is None:
        return FetchConfig(project_id)
    return decode(project_id, row[0], row[1], row[2])


def decode(project_id: str, enabled: object, origins: object, updated: object) -> FetchConfig:
    try:
        listed = orjson.loads(origins) if isinstance(origins, (str, bytes)) else []
    except orjson.JSONDecodeError:
        listed = []
    kept = tuple(o for o in listed if isinstance(o, str)) if isinstance(listed, list) else ()
    when = float(updated) if isinstance(updated, (int, float)) else 0.0
    return FetchConfig(project_id, enabled == 1, kept, when)


def put(conn: sqlite3.Connection, config: FetchConfig) -> FetchConfig:
    now = time.time() * 1000
    conn.execute(
        "INSERT OR REPLACE INTO sourcemap_fetch (project_id, enabled, origins, updated_ms) "
        "VALUES (?, ?, ?, ?)",
        (config.project_id, int(config.enabled), orjson.dumps(list(config.origins)).decode(), now),
    )
    return FetchConfig(config.project_id, config.enabled, tuple(config.origins), now)
