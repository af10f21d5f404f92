"""Validation of the browser protocol (docs/protocol.md) into pipeline records.

Every field is checked for type and range here (``ingest.fields``); a refusal is a 4xx
naming the field. JSON values stored as text (console args, payloads, properties) are
depth-clipped and size-capped with a marked wrapper, never cut (``pipeline.jsontext``).
"""

from __future__ import annotations

import zlib
from typing import Any

import orjson

from backlight_server.errors import ClientError
from backlight_server.ingest import fields as f
from backlight_server.pipeline import jsontext, stack
from backlight_server.pipeline.fingerprint import fingerprint
from backlight_server.pipeline.linkage import ID_RULE, clean_id
from backlight_server.pipeline.model import (
    BrowserBatch,
    ConsoleRecord,
    ErrorRecord,
    Identify,
    NetworkRecord,
    SessionInfo,
    TrackRecord,
)
from backlight_server.pipeline.redact import redact_body, redact_headers

PROTOCOL_VERSION = 1
MAX_EVENTS = 20_000
MAX_ITEMS = 5_000
MAX_URL = 8192
MAX_SHORT = 512
MAX_TEXT = 65536
MAX_BODY = 256 * 1024
MAX_EVENT_TYPE = 1000
LEVELS = frozenset({"log", "info", "warn", "error", "debug", "trace"})
_NETWORK_TYPES = ("fetch", "xhr", "beacon", "navigation", "other")
_NETWORK_ERRORS = ("network", "cors", "abort", "timeout")


def parse_json(body: bytes) -> dict[str, Any]:
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise ClientError(400, "invalid_json", f"body is not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise ClientError(400, "invalid_json", "body must be a JSON object")
    version = data.get("v")
    if version != PROTOCOL_VERSION or isinstance(version, bool):
        raise ClientError(
            400,
            "unsupported_version",
            f"field v must be {PROTOCOL_VERSION}, got {str(version)[:20]!r}",
        )
    return data


def json_text(value: Any, cap: int = MAX_TEXT) -> str | None:
    return jsontext.capped(value, cap)


def session_info(data: dict[str, Any], window: tuple[float, float]) -> SessionInfo:
    project = f.string(data, "project_id", 64, required=True)
    secure_id = clean_id(data.get("session_secure_id"))
    if secure_id is None:
        raise f.bad("session_secure_id", f"must be {ID_RULE}")
    assert project is not None
    return SessionInfo(
        project_id=project,
        secure_id=secure_id,
        started_ms=f.epoch_ms(data, "started_at", window, default=0.0),
        url=f.string(data, "url", MAX_URL),
        user_agent=f.string(data, "user_agent", MAX_SHORT),
        sdk_version=f.string(data, "sdk_version", MAX_SHORT),
        environment=f.string(data, "environment", MAX_SHORT),
        service=f.string(data, "service", MAX_SHORT),
        app_version=f.string(data, "app_version", MAX_SHORT),
    )


def _body(item: dict[str, Any], key: str, at: str) -> str | None:
    """A recorded body, capped, then redacted again (older or other clients may not have)."""
    text = f.string(item, key, MAX_BODY, at)
    return None if text is None else redact_body(text)


def _network(sid: str, item: dict[str, Any], at: str, window: tuple[float, float]) -> NetworkRecord:
    rid = item.get("request_id")
    if rid is not None and clean_id(rid) is None:
        raise f.bad(at + "request_id", f"must be null or {ID_RULE}")
    kind = item.get("type", "fetch")
    if kind not in _NETWORK_TYPES:
        raise f.bad(at + "type", f"must be one of {', '.join(_NETWORK_TYPES)}")
    error = item.get("error")
    if error is not None and error not in _NETWORK_ERRORS:
        raise f.bad(at + "error", f"must be null or one of {', '.join(_NETWORK_ERRORS)}")
    detail: dict[str, Any] = {
        "request_headers": redact_headers(f.headers(item, "request_headers", at)),
        "response_headers": redact_headers(f.headers(item, "response_headers", at)),
        "request_body": _body(item, "request_body", at),
        "response_body": _body(item, "response_body", at),
        "request_body_truncated": f.boolean(item, "request_body_truncated", at),
        "response_body_truncated": f.boolean(item, "response_body_truncated", at),
        "request_size": f.optional_int(item, "request_size", 0, 2**53, at),
        "response_size": f.optional_int(item, "response_size", 0, 2**53, at),
        "timing": f.timing(item, "timing", at),
    }
    for side in ("request", "response"):
        body = item.get(f"{side}_body")
        if isinstance(body, str) and len(body) > MAX_BODY:
            detail[f"{side}_body_truncated"] = True
    detail = {k: v for k, v in detail.items() if v is not None}
    start = f.epoch_ms(item, "start", window, at)
    end = f.epoch_ms(item, "end", window, at, default=start)
    return NetworkRecord(
        sid,
        rid,
        kind,
        (f.string(item, "method", 16, at) or "GET").upper(),
        f.string(item, "url", MAX_URL, at, required=True) or "",
        f.integer(item, "status", 0, 999, at, default=0),
        start,
        max(start, end),
        error,
        orjson.dumps(detail).decode() if detail else None,
    )


def frontend_error(
    project: str,
    sid: str,
    item: dict[str, Any],
    window: tuple[float, float],
    at: str = "errors.",
    request_id: str | None = None,
) -> ErrorRecord:
    etype = f.string(item, "type", MAX_SHORT, at) or "Error"
    message = f.string(item, "message", MAX_TEXT, at) or ""
    frames = stack.frames_from_json(item.get("stack"))
    raw = f.string(item, "raw_stack", MAX_TEXT, at)
    if not frames and raw:
        frames = stack.parse(raw)
    source = item.get("source")
    return ErrorRecord(
        project_id=project,
        ts_ms=f.epoch_ms(item, "ts", window, at),
        source="frontend",
        type=etype,
        message=message,
        frames=frames,
        raw_stack=raw,
        session_id=sid,
        request_id=request_id,
        trace_id=None,
        span_id=None,
        service=None,
        environment=None,
        url=f.string(item, "url", MAX_URL, at),
        attributes=json_text(
            {
                "source": f.cut(source, MAX_SHORT) if isinstance(source, str) else None,
                "payload": item.get("payload"),
                **_debug_ids(item, at),
            }
        ),
        fingerprint=fingerprint(etype, message, frames),
    )


def _debug_ids(item: dict[str, Any], at: str) -> dict[str, Any]:
    """``{"debug_ids": {script URL: id}}`` when the error carries any (symbolicate/)."""
    ids = f.debug_ids(item, "debug_ids", at)
    return {"debug_ids": ids} if ids else {}


def _events(batch: BrowserBatch, events: list[Any], window: tuple[float, float]) -> None:
    for i, ev in enumerate(events):
        ev = f.obj(ev, f"events[{i}]")
        kind = ev.get("type")
        if isinstance(kind, bool) or not isinstance(kind, int) or not 0 <= kind <= MAX_EVENT_TYPE:
            raise ClientError(
                400,
                "invalid_event",
                f"events[{i}].type: must be an integer from 0 to {MAX_EVENT_TYPE}",
            )
        ts = ev.get("timestamp")
        if not f.finite(ts):
            raise ClientError(
                400, "invalid_event", f"events[{i}].timestamp: must be a finite number"
            )
        try:
            f.check_epoch_ms(ts, f"events[{i}].timestamp", window)
        except ClientError as err:
            raise ClientError(400, "invalid_event", err.detail) from None
    events.sort(key=lambda e: e["timestamp"])  # stable: equal times keep their order
    batch.replay = zlib.compress(jsontext.dumps(events), 6)
    batch.replay_first_ms = float(events[0]["timestamp"])
    batch.replay_last_ms = float(events[-1]["timestamp"])
    batch.n_events = len(events)


def _console(sid: str, item: dict[str, Any], at: str, window: tuple[float, float]) -> ConsoleRecord:
    level = item.get("level", "log")
    if not isinstance(level, str) or level not in LEVELS:
        raise f.bad(at + "level", f"must be one of {', '.join(sorted(LEVELS))}")
    args = item.get("args")
    return ConsoleRecord(
        sid,
        f.epoch_ms(item, "ts", window, at),
        level,
        f.string(item, "message", MAX_TEXT, at) or "",
        json_text(args) if args else None,
    )


def browser_batch(
    data: dict[str, Any], info: SessionInfo, window: tuple[float, float]
) -> BrowserBatch:
    sid, project = info.secure_id, info.project_id
    batch = BrowserBatch(session=info, seq=f.integer(data, "seq", 0, 2**40), page_loads=0)
    events = f.items(data, "events", MAX_EVENTS)
    if events:
        _events(batch, events, window)
        if info.started_ms == 0.0:
            info.started_ms = batch.replay_first_ms
    batch.network = [
        _network(sid, f.obj(x, f"network[{i}]"), f"network[{i}].", window)
        for i, x in enumerate(f.items(data, "network", MAX_ITEMS))
    ]
    batch.console = [
        _console(sid, f.obj(x, f"console[{i}]"), f"console[{i}].", window)
        for i, x in enumerate(f.items(data, "console", MAX_ITEMS))
    ]
    batch.errors = [
        frontend_error(project, sid, f.obj(x, f"errors[{i}]"), window, f"errors[{i}].")
        for i, x in enumerate(f.items(data, "errors", MAX_ITEMS))
    ]
    for i, x in enumerate(f.items(data, "track", MAX_ITEMS)):
        item, at = f.obj(x, f"track[{i}]"), f"track[{i}]."
        batch.track.append(
            TrackRecord(
                sid,
                f.epoch_ms(item, "ts", window, at),
                f.string(item, "event", MAX_SHORT, at, True) or "",
                json_text(item.get("properties")),
            )
        )
    ident = data.get("identify")
    if ident is not None:
        ident = f.obj(ident, "identify")
        batch.identify = Identify(
            f.epoch_ms(ident, "ts", window, "identify.", default=0.0),
            f.string(ident, "identifier", MAX_SHORT, "identify.", True) or "",
            json_text(ident.get("metadata")),
        )
    dropped = f.obj(data.get("dropped") or {}, "dropped")
    batch.dropped_events = f.integer(dropped, "events", 0, 2**31, "dropped.", 0)
    batch.dropped_other = sum(
        f.integer(dropped, kind, 0, 2**31, "dropped.", 0)
        for kind in ("network", "console", "errors", "track")
    )
    if info.started_ms == 0.0:
        times = [n.start_ms for n in batch.network] + [c.ts_ms for c in batch.console]
        info.started_ms = min(times) if times else 0.0
    return batch
