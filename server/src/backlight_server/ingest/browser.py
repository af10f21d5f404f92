"""Routes of the browser protocol (docs/protocol.md): session start and event batches.

The handler only reads the body on the event loop; decompression, JSON parsing,
validation and conversion (whose cost grows with the body) run on a worker thread.
"""

from __future__ import annotations

import time

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from backlight_server.errors import ClientError
from backlight_server.ingest import fields
from backlight_server.ingest.body import decode_encoding, media_type, read_body
from backlight_server.ingest.browser_schema import browser_batch, parse_json, session_info
from backlight_server.ingest.responses import error_response, json_response
from backlight_server.pipeline.model import BrowserBatch, SessionInfo
from backlight_server.state import AppState, get_state
from backlight_server.symbolicate.grouping import group_batch

_JSON_TYPES = {"application/json", "text/plain", ""}


async def _body(request: Request, state: AppState) -> tuple[bytes, str | None]:
    if media_type(request) not in _JSON_TYPES:
        raise ClientError(
            415, "unsupported_media_type", "send application/json (or text/plain holding JSON)"
        )
    raw = await read_body(request, state.settings.max_body_bytes)
    return raw, request.headers.get("content-encoding")


def _check_project(state: AppState, project_id: str) -> None:
    if not state.store.project_exists(project_id):
        raise ClientError(
            404,
            "unknown_project",
            f"project {project_id!r} does not exist on this server "
            "(see `backlight project create`)",
        )


def session_url(request: Request, state: AppState, secure_id: str) -> str:
    base = state.settings.public_url or str(request.base_url)
    return base.rstrip("/") + f"/sessions/{secure_id}"


def _decode_session(state: AppState, raw: bytes, encoding: str | None) -> SessionInfo:
    body = decode_encoding(raw, encoding, state.settings.max_decompressed_bytes)
    info = session_info(parse_json(body), fields.time_window())
    _check_project(state, info.project_id)
    if info.started_ms == 0.0:
        info.started_ms = time.time() * 1000
    return info


def _decode_batch(state: AppState, raw: bytes, encoding: str | None) -> tuple[BrowserBatch, int]:
    body = decode_encoding(raw, encoding, state.settings.max_decompressed_bytes)
    data = parse_json(body)
    window = fields.time_window()
    info = session_info(data, window)
    _check_project(state, info.project_id)
    records = browser_batch(data, info, window)
    group_batch(state.store, records)  # frontend errors by their original frames
    if info.started_ms == 0.0:
        info.started_ms = time.time() * 1000
    return records, len(body)


async def start_session(request: Request) -> Response:
    state = get_state(request)
    try:
        raw, encoding = await _body(request, state)
        info = await run_in_threadpool(_decode_session, state, raw, encoding)
        await state.store.start_session(info)
    except ClientError as err:
        state.metrics.rejected.labels(err.code).inc()
        return error_response(err)
    state.metrics.ingested.labels("session").inc()
    return json_response(
        {
            "ok": True,
            "session_secure_id": info.secure_id,
            "session_url": session_url(request, state, info.secure_id),
        }
    )


async def batch(request: Request) -> Response:
    state = get_state(request)
    try:
        raw, encoding = await _body(request, state)
        records, size = await run_in_threadpool(_decode_batch, state, raw, encoding)
        stored = await state.store.write_browser(records, size)
    except ClientError as err:
        state.metrics.rejected.labels(err.code).inc()
        return error_response(err)
    if stored:
        m = state.metrics.ingested
        m.labels("replay_event").inc(records.n_events)
        m.labels("network").inc(len(records.network))
        m.labels("console").inc(len(records.console))
        m.labels("frontend_error").inc(len(records.errors))
    return json_response({"ok": True, "duplicate": not stored})


routes = [
    Route("/ingest/v1/session", start_session, methods=["POST"]),
    Route("/ingest/v1/batch", batch, methods=["POST"]),
]
