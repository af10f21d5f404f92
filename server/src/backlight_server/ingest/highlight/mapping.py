"""highlight.run payloads → the same internal model as our browser protocol."""

from __future__ import annotations

import base64
import binascii
import zlib
from datetime import datetime
from typing import Any

import orjson

from backlight_server.errors import ClientError
from backlight_server.ingest import fields as f
from backlight_server.ingest.body import gunzip
from backlight_server.ingest.browser_schema import (
    MAX_BODY,
    MAX_EVENT_TYPE,
    MAX_EVENTS,
    MAX_ITEMS,
    MAX_SHORT,
    MAX_TEXT,
    MAX_URL,
    frontend_error,
    json_text,
)
from backlight_server.pipeline import jsontext
from backlight_server.pipeline.linkage import clean_id
from backlight_server.pipeline.model import (
    BrowserBatch,
    ConsoleRecord,
    NetworkRecord,
    SessionInfo,
)
from backlight_server.pipeline.redact import redact_body, redact_headers

_LEVELS = {"log", "info", "warn", "error", "debug", "trace"}
_KINDS = {"fetch": "fetch", "xmlhttprequest": "xhr"}


def decode_compressed(data: str, max_bytes: int) -> dict[str, Any]:
    """``PushPayloadCompressed.data``: base64 of gzipped JSON of the pushPayload variables."""
    try:
        raw = base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError):
        raise ClientError(400, "invalid_payload", "data is not valid base64") from None
    try:
        text = gunzip(raw, max_bytes)
    except ClientError as err:
        if err.code == "invalid_gzip":  # some clients send zlib/deflate framing
            try:
                text = zlib.decompressobj().decompress(raw, max_bytes)
            except zlib.error:
                raise ClientError(
                    400, "invalid_payload", "data is not gzip-compressed JSON"
                ) from None
        else:
            raise
    try:
        payload = orjson.loads(text)
    except orjson.JSONDecodeError:
        raise ClientError(400, "invalid_payload", "decompressed data is not JSON") from None
    if not isinstance(payload, dict):
        raise ClientError(400, "invalid_payload", "decompressed data must be a JSON object")
    return payload


def timestamp_ms(value: object, default: float) -> float:
    """highlight's Timestamp scalar: an ISO-8601 string or epoch milliseconds."""
    if f.finite(value) and 0 < value < 1e14:  # type: ignore[operator]
        return float(value)  # type: ignore[arg-type]
    if isinstance(value, str) and len(value) <= 64:
        try:
            parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
            return parsed.timestamp() * 1000
        except (ValueError, OverflowError, OSError):
            return default
    return default


def _json_field(variables: dict[str, Any], key: str, inner: str) -> list[Any]:
    raw = variables.get(key)
    if not raw:
        return []
    if not isinstance(raw, str):
        raise ClientError(400, "invalid_payload", f"{key} must be a JSON string")
    try:
        value = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise ClientError(400, "invalid_payload", f"{key} is not valid JSON") from None
    items = value.get(inner) if isinstance(value, dict) else None
    return items if isinstance(items, list) else []


def _text(value: object, cap: int) -> str | None:
    """A string field; other JSON values as their (complete) JSON text."""
    if value is None:
        return None
    if isinstance(value, str):
        return f.cut(value, cap)
    return json_text(value, cap)


def _body(value: object) -> str | None:
    """A recorded body, cut to MAX_BODY then redacted (a cut value is redacted to its end)."""
    text = _text(value, MAX_BODY)
    return None if text is None else redact_body(text)


def _num(value: object) -> float | None:
    return float(value) if f.finite(value) else None  # type: ignore[arg-type]


def _size(value: object) -> int | None:
    ok = isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= 2**53
    return value if ok else None  # type: ignore[return-value]


def _times(res: dict[str, Any], start_ms: float) -> tuple[float, float] | None:
    """Absolute start and end (epoch ms) of a resource entry.

    10.x sends ``startTimeAbs``/``responseEndAbs`` (absolute). Older clients send
    ``startTime`` (relative to the page's time origin) with ``offsetStartTime`` =
    ``startTime - 2 * (recordingStart - timeOrigin)``: the mean of the two is relative to
    the recording start, which the session's start time approximates.
    """
    t0, t1 = _num(res.get("startTimeAbs")), _num(res.get("responseEndAbs"))
    if t0 is not None and t1 is not None:
        return t0, t1
    rel = [
        _num(res.get(k))
        for k in ("startTime", "offsetStartTime", "responseEnd", "offsetResponseEnd")
    ]
    if rel[0] is None or rel[2] is None:
        return None
    b0, o0 = rel[0], rel[1] if rel[1] is not None else rel[0]
    b1, o1 = rel[2], rel[3] if rel[3] is not None else rel[2]
    return start_ms + (b0 + o0) / 2, start_ms + (b1 + o1) / 2


def _network(
    sid: str, res: dict[str, Any], start_ms: float, at: str, window: tuple[float, float]
) -> NetworkRecord | None:
    kind = _KINDS.get(str(res.get("initiatorType")))
    times = _times(res, start_ms)
    if kind is None or times is None:
        return None
    t0 = f.check_epoch_ms(times[0], at + "startTime", window)
    t1 = f.check_epoch_ms(times[1], at + "responseEnd", window)
    pair = res.get("requestResponsePairs") or res.get("requestResponsePair") or {}
    request = (pair.get("request") or {}) if isinstance(pair, dict) else {}
    response = (pair.get("response") or {}) if isinstance(pair, dict) else {}
    if not isinstance(request, dict) or not isinstance(response, dict):
        request, response = {}, {}
    request_id = clean_id(request.get("id"))
    detail = {
        k: v
        for k, v in {
            "request_headers": redact_headers(f.headers(request, "headers", at + "request."))
            or None,
            "response_headers": redact_headers(f.headers(response, "headers", at + "response."))
            or None,
            "request_body": _body(request.get("body")),
            "response_body": _body(response.get("body")),
            "response_size": _size(response.get("size")) or _size(res.get("transferSize")),
            "timing": f.resource_phases(res),
        }.items()
        if v is not None
    }
    status = response.get("status")
    return NetworkRecord(
        sid,
        request_id,
        kind,
        str(request.get("verb") or "GET")[:16].upper(),
        f.cut(str(res.get("name") or request.get("url") or ""), MAX_URL),
        status if isinstance(status, int) and 0 <= status < 1000 else 0,
        t0,
        max(t0, t1),
        None,
        orjson.dumps(detail).decode() if detail else None,
    )


def _unquote(value: object) -> str:
    """10.x JSON-encodes error events (``"\"Uncaught Error: x\""``); undo that."""
    text = str(value or "")
    if len(text) >= 2 and text[0] == text[-1] == '"':
        try:
            decoded = orjson.loads(text)
        except orjson.JSONDecodeError:
            return text
        if isinstance(decoded, str):
            return decoded
    return text


def _console(
    sid: str, msg: dict[str, Any], at: str, window: tuple[float, float], now_ms: float
) -> ConsoleRecord:
    level = str(msg.get("type") or "log")[:16].lower()
    value = msg.get("value")
    parts = value[:MAX_ITEMS] if isinstance(value, list) else [value]
    text = f.cut(" ".join(_unquote(p) for p in parts if p is not None), MAX_TEXT)
    ts_ms = f.epoch_ms(msg, "time", window, at, default=now_ms)
    return ConsoleRecord(
        sid, ts_ms, level if level in _LEVELS else "log", text, json_text(msg.get("attributes"))
    )


def _error(
    project: str, sid: str, err: dict[str, Any], at: str, window: tuple[float, float], now_ms: float
) -> Any:
    event = _unquote(err.get("event"))
    head, sep, _ = event[:MAX_SHORT].partition(":")
    etype = head.strip() if sep and head.strip().isidentifier() else "Error"
    return frontend_error(
        project,
        sid,
        {
            "ts": timestamp_ms(err.get("timestamp"), now_ms),
            "type": etype[:MAX_SHORT],
            "message": event,
            "url": _text(err.get("url"), MAX_URL),
            "source": _text(err.get("type") or err.get("source"), MAX_SHORT),
            "stack": err.get("stackTrace") or [],
            "payload": err.get("payload"),
        },
        window,
        at,
    )


def payload_batch(
    info: SessionInfo, seq: int, variables: dict[str, Any], now_ms: float
) -> BrowserBatch:
    """The variables of ``pushPayload`` as one batch, deduplicated by ``seq``."""
    sid, project = info.secure_id, info.project_id
    events_in = variables.get("events") or {}
    events = events_in.get("events") if isinstance(events_in, dict) else None
    if not isinstance(events, list):
        raise ClientError(400, "invalid_payload", "events.events must be a list")
    if len(events) > MAX_EVENTS:
        raise ClientError(413, "too_many_items", f"{len(events)} events; limit {MAX_EVENTS}")
    window = f.time_window(now_ms)
    clean = [
        {"type": e["type"], "data": e.get("data"), "timestamp": e["timestamp"]}
        for e in events
        if isinstance(e, dict)
        and isinstance(e.get("type"), int)
        and not isinstance(e.get("type"), bool)
        and 0 <= e["type"] <= MAX_EVENT_TYPE
        and f.finite(e.get("timestamp"))
    ]
    for i, e in enumerate(clean):
        f.check_epoch_ms(e["timestamp"], f"events.events[{i}].timestamp", window)
    batch = BrowserBatch(session=info, seq=seq, page_loads=0)
    if clean:
        clean.sort(key=lambda e: e["timestamp"])
        batch.replay = zlib.compress(jsontext.dumps(clean), 6)
        batch.replay_first_ms = float(clean[0]["timestamp"])
        batch.replay_last_ms = float(clean[-1]["timestamp"])
        batch.n_events = len(clean)
        for e in clean:
            href = e["data"].get("href") if e["type"] == 4 and isinstance(e["data"], dict) else None
            if isinstance(href, str) and href:
                batch.last_url = f.cut(href, MAX_URL)
    resources = _json_field(variables, "resources", "resources")[:MAX_ITEMS]
    batch.network = [
        n
        for n in (
            _network(sid, r, info.started_ms, f"resources[{i}].", window)
            for i, r in enumerate(resources)
            if isinstance(r, dict)
        )
        if n is not None
    ]
    messages = _json_field(variables, "messages", "messages")[:MAX_ITEMS]
    batch.console = [
        _console(sid, m, f"messages[{i}].", window, now_ms)
        for i, m in enumerate(messages)
        if isinstance(m, dict)
    ]
    errors = variables.get("errors") or []
    if not isinstance(errors, list):
        raise ClientError(400, "invalid_payload", "errors must be a list")
    batch.errors = [
        _error(project, sid, e, f"errors[{i}].", window, now_ms)
        for i, e in enumerate(errors[:MAX_ITEMS])
        if isinstance(e, dict)
    ]
    return batch
