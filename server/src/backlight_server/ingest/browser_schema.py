"""Validation of the browser protocol (docs/protocol.md) into pipeline records."""

from __future__ import annotations

import re
import zlib
from typing import Any

import orjson

from backlight_server.errors import ClientError
from backlight_server.pipeline import stack
from backlight_server.pipeline.fingerprint import fingerprint
from backlight_server.pipeline.model import (
    BrowserBatch,
    ConsoleRecord,
    ErrorRecord,
    Identify,
    NetworkRecord,
    SessionInfo,
    TrackRecord,
)

PROTOCOL_VERSION = 1
MAX_EVENTS = 20_000
MAX_ITEMS = 5_000
MAX_URL = 8192
MAX_SHORT = 512
MAX_TEXT = 65536
_SESSION_ID = re.compile(r"[A-Za-z0-9]{8,64}\Z")
_REQUEST_ID = re.compile(r"[A-Za-z0-9_\-.:]{1,128}\Z")
_LEVELS = {"log", "info", "warn", "error", "debug", "trace"}


def _bad(field: str, why: str) -> ClientError:
    return ClientError(400, "invalid_field", f"{field}: {why}")


def parse_json(body: bytes) -> dict[str, Any]:
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise ClientError(400, "invalid_json", f"body is not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise ClientError(400, "invalid_json", "body must be a JSON object")
    version = data.get("v")
    if version != PROTOCOL_VERSION or isinstance(version, bool):
        raise ClientError(400, "unsupported_version",
                          f"field v must be {PROTOCOL_VERSION}, got {str(version)[:20]!r}")
    return data


def _str(data: dict[str, Any], key: str, cap: int, required: bool = False) -> str | None:
    value = data.get(key)
    if value is None:
        if required:
            raise _bad(key, "is required")
        return None
    if not isinstance(value, str):
        raise _bad(key, "must be a string")
    return value[:cap]


def _num(data: dict[str, Any], key: str, required: bool = True,
         default: float = 0.0) -> float:
    value = data.get(key)
    if value is None and not required:
        return default
    if isinstance(value, bool) or not isinstance(value, int | float) or value != value:
        raise _bad(key, "must be a number")
    if not 0 <= value < 1e14:
        raise _bad(key, "is out of range (epoch milliseconds expected)")
    return float(value)


def _int(data: dict[str, Any], key: str, lo: int, hi: int, default: int | None = None) -> int:
    value = data.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int):
        raise _bad(key, "must be an integer")
    if not lo <= value <= hi:
        raise _bad(key, f"must be between {lo} and {hi}")
    return value


def _list(data: dict[str, Any], key: str, cap: int) -> list[Any]:
    value = data.get(key)
    if value is None:
        return []
    if not isinstance(value, list):
        raise _bad(key, "must be a list")
    if len(value) > cap:
        raise ClientError(413, "too_many_items", f"{key}: {len(value)} items; the limit is {cap}")
    return value


def _obj(item: Any, key: str) -> dict[str, Any]:
    if not isinstance(item, dict):
        raise _bad(key, "items must be objects")
    return item


def _json_text(value: Any, cap: int = MAX_TEXT) -> str | None:
    if value is None:
        return None
    text = orjson.dumps(value, default=str).decode()
    return text if len(text) <= cap else orjson.dumps({"truncated": text[:cap]}).decode()


def session_info(data: dict[str, Any]) -> SessionInfo:
    project = _str(data, "project_id", 64, required=True)
    secure_id = _str(data, "session_secure_id", 64, required=True)
    assert project is not None and secure_id is not None
    if not _SESSION_ID.match(secure_id):
        raise _bad("session_secure_id", "must be 8-64 characters of [A-Za-z0-9]")
    return SessionInfo(
        project_id=project, secure_id=secure_id,
        started_ms=_num(data, "started_at", required=False, default=0.0),
        url=_str(data, "url", MAX_URL), user_agent=_str(data, "user_agent", MAX_SHORT),
        sdk_version=_str(data, "sdk_version", MAX_SHORT),
        environment=_str(data, "environment", MAX_SHORT),
        service=_str(data, "service", MAX_SHORT), app_version=_str(data, "app_version", MAX_SHORT),
    )


def _network(sid: str, item: dict[str, Any]) -> NetworkRecord:
    rid = item.get("request_id")
    if rid is not None and (not isinstance(rid, str) or not _REQUEST_ID.match(rid)):
        raise _bad("network.request_id", "must be null or 1-128 characters of [A-Za-z0-9_-.:]")
    kind = item.get("type", "fetch")
    if kind not in ("fetch", "xhr", "beacon", "other"):
        raise _bad("network.type", "must be fetch or xhr")
    error = item.get("error")
    if error is not None and error not in ("network", "cors", "abort", "timeout"):
        raise _bad("network.error", "must be null, network, cors, abort or timeout")
    detail = {k: item[k] for k in (
        "request_headers", "response_headers", "request_body", "response_body",
        "request_body_truncated", "response_body_truncated", "request_size", "response_size",
        "timing") if item.get(k) is not None}
    for k in ("request_body", "response_body"):
        if k in detail and not isinstance(detail[k], str):
            raise _bad(f"network.{k}", "must be a string or null")
    start = _num(item, "start")
    return NetworkRecord(
        sid, rid, kind, (_str(item, "method", 16) or "GET").upper(),
        _str(item, "url", MAX_URL, required=True) or "", _int(item, "status", 0, 999, 0),
        start, max(start, _num(item, "end", required=False, default=start)), error,
        _json_text(detail, 4 * MAX_TEXT) if detail else None)


def frontend_error(project: str, sid: str, item: dict[str, Any],
                   request_id: str | None = None) -> ErrorRecord:
    etype = _str(item, "type", MAX_SHORT) or "Error"
    message = _str(item, "message", MAX_TEXT) or ""
    frames = stack.frames_from_json(item.get("stack"))
    raw = _str(item, "raw_stack", MAX_TEXT)
    if not frames and raw:
        frames = stack.parse(raw)
    return ErrorRecord(
        project_id=project, ts_ms=_num(item, "ts"), source="frontend", type=etype,
        message=message, frames=frames, raw_stack=raw, session_id=sid, request_id=request_id,
        trace_id=None, span_id=None, service=None, environment=None,
        url=_str(item, "url", MAX_URL),
        attributes=_json_text({"source": item.get("source"), "payload": item.get("payload")}),
        fingerprint=fingerprint(etype, message, frames))


def browser_batch(data: dict[str, Any], info: SessionInfo) -> BrowserBatch:
    sid, project = info.secure_id, info.project_id
    seq = _int(data, "seq", 0, 2**40)
    batch = BrowserBatch(session=info, seq=seq, page_loads=0)
    events = _list(data, "events", MAX_EVENTS)
    if events:
        first = last = None
        for ev in events:
            ev = _obj(ev, "events")
            ts = ev.get("timestamp")
            if isinstance(ev.get("type"), bool) or not isinstance(ev.get("type"), int) or (
                    isinstance(ts, bool) or not isinstance(ts, int | float)):
                raise ClientError(400, "invalid_event",
                                  "events: each needs an integer type and a numeric timestamp")
            first = ts if first is None else min(first, ts)
            last = ts if last is None else max(last, ts)
        batch.replay = zlib.compress(orjson.dumps(events), 6)
        batch.replay_first_ms, batch.replay_last_ms = float(first or 0), float(last or 0)
        batch.n_events = len(events)
        if info.started_ms == 0.0:
            info.started_ms = batch.replay_first_ms
    batch.network = [_network(sid, _obj(x, "network"))
                     for x in _list(data, "network", MAX_ITEMS)]
    for x in _list(data, "console", MAX_ITEMS):
        item = _obj(x, "console")
        level = item.get("level", "log")
        if level not in _LEVELS:
            raise _bad("console.level", f"must be one of {sorted(_LEVELS)}")
        args = item.get("args")
        batch.console.append(ConsoleRecord(sid, _num(item, "ts"), level,
                                           _str(item, "message", MAX_TEXT) or "",
                                           _json_text(args) if args else None))
    batch.errors = [frontend_error(project, sid, _obj(x, "errors"))
                    for x in _list(data, "errors", MAX_ITEMS)]
    for x in _list(data, "track", MAX_ITEMS):
        item = _obj(x, "track")
        batch.track.append(TrackRecord(sid, _num(item, "ts"),
                                       _str(item, "event", MAX_SHORT, required=True) or "",
                                       _json_text(item.get("properties"))))
    ident = data.get("identify")
    if ident is not None:
        ident = _obj(ident, "identify")
        batch.identify = Identify(_num(ident, "ts", required=False),
                                  _str(ident, "identifier", MAX_SHORT, required=True) or "",
                                  _json_text(ident.get("metadata")))
    dropped = data.get("dropped") or {}
    if not isinstance(dropped, dict):
        raise _bad("dropped", "must be an object")
    batch.dropped_events = _int(dropped, "events", 0, 2**31, 0)
    batch.dropped_other = sum(_int(dropped, kind, 0, 2**31, 0)
                              for kind in ("network", "console", "errors", "track"))
    if info.started_ms == 0.0:
        times = [n.start_ms for n in batch.network] + [c.ts_ms for c in batch.console]
        info.started_ms = min(times) if times else 0.0
    return batch
