"""An error group's facts (``Store.error_group_facts``): rows fetched here, shaped by
``query/errorfacts.py``. Three indexed reads: hour counts and the latest instances by
``errors_group`` (group, time), their sessions by primary key."""

from __future__ import annotations

import sqlite3

import orjson

from backlight_server.query import errorfacts
from backlight_server.store.base import Row

_ROUTE = "CASE WHEN json_valid(attributes) THEN json_extract(attributes, '$.\"http.route\"') END"
_VERSION = (  # text only (ClickHouse's JSONExtractString would give a number's digits)
    "CASE WHEN json_valid(attributes) AND json_type(attributes, '$.\"service.version\"') = "
    "'text' THEN json_extract(attributes, '$.\"service.version\"') END"
)


def error_group_facts(conn: sqlite3.Connection, group_id: int, now_ms: float, sample: int) -> Row:
    start = errorfacts.hour_start(now_ms)
    hours = errorfacts.hourly(
        start,
        conn.execute(
            "SELECT CAST((ts_ms - ?) / ? AS INTEGER), count(*) FROM errors "
            "WHERE group_id = ? AND ts_ms >= ? GROUP BY 1",
            (start, errorfacts.HOUR_MS, group_id, start),
        ).fetchall(),
    )
    keys: tuple[str, ...] = ("id", "ts_ms", "source", "session_id", "service", "environment")
    keys += ("url", "route", "version")
    rows = [
        dict(zip(keys, r, strict=True))
        for r in conn.execute(
            "SELECT id, ts_ms, source, session_id, service, environment, url, "
            f"{_ROUTE}, {_VERSION} FROM errors WHERE group_id = ? "
            "ORDER BY ts_ms DESC, id DESC LIMIT ?",
            (group_id, max(0, sample)),
        )
    ]
    sids = sorted({r["session_id"] for r in rows if isinstance(r["session_id"], str)})
    sessions: dict[str, Row] = {}
    if sids:
        for sid, agent, version, ident, env, service in conn.execute(
            "SELECT secure_id, user_agent, app_version, identifier, environment, service "
            "FROM sessions "
            "WHERE secure_id IN (SELECT value FROM json_each(?))",
            (orjson.dumps(sids).decode(),),
        ):
            sessions[str(sid)] = {
                "user_agent": agent,
                "app_version": version,
                "identifier": ident,
                "environment": env,
                "service": service,
            }
    return errorfacts.facts(start, hours, rows, sessions)
