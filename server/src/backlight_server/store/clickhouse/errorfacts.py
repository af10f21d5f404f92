"""An error group's facts (``Store.error_group_facts``): rows fetched here, shaped by
``query/errorfacts.py``. The errors table is ordered by (project, group, time), so the
hour counts and the latest instances read the group's granules only; sessions are folded
by id (``reads._FOLD``'s rules: ``any`` for set-once fields, the latest identifier)."""

from __future__ import annotations

from backlight_server.query import errorfacts
from backlight_server.store.base import Row
from backlight_server.store.clickhouse.transport import Transport


def error_group_facts(tx: Transport, group_id: int, now_ms: float, sample: int) -> Row:
    start = errorfacts.hour_start(now_ms)
    hours = errorfacts.hourly(
        start,
        [
            (int(h), int(n))
            for h, n in tx.query(
                "SELECT toInt64(floor((ts_ms - {start:Float64}) / {hour:Float64})) AS h, "
                "count() FROM errors WHERE group_id = {g:UInt64} AND ts_ms >= {start:Float64} "
                "GROUP BY h",
                {"start": start, "hour": errorfacts.HOUR_MS, "g": group_id},
            )
        ],
    )
    rows = tx.records(
        "SELECT id, ts_ms, source, session_id, service, environment, url, "
        "nullIf(JSONExtractString(ifNull(attributes, ''), 'http.route'), '') AS route, "
        "if(JSONType(ifNull(attributes, ''), 'service.version') = 'String', "
        "nullIf(JSONExtractString(ifNull(attributes, ''), 'service.version'), ''), NULL) "
        "AS version "
        "FROM errors WHERE group_id = {g:UInt64} ORDER BY ts_ms DESC, id DESC LIMIT {n:UInt64}",
        {"g": group_id, "n": max(0, sample)},
    )
    sids = sorted({r["session_id"] for r in rows if isinstance(r["session_id"], str)})
    sessions: dict[str, Row] = {}
    if sids:
        for r in tx.records(
            "SELECT secure_id, any(user_agent) AS user_agent, any(app_version) AS app_version, "
            "nullIf(max(identifier).2, '') AS identifier, any(environment) AS environment, "
            "any(service) AS service "
            "FROM sessions WHERE secure_id IN {ids:Array(String)} GROUP BY secure_id",
            {"ids": sids},
        ):
            sessions[str(r["secure_id"])] = r
    return errorfacts.facts(start, hours, rows, sessions)
