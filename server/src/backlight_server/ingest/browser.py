"""Routes of the browser protocol (docs/protocol.md): session start and event batches."""

from __future__ import annotations

import time

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from backlight_server.errors import ClientError
from backlight_server.ingest.body import decode_encoding, media_type, read_body
from backlight_server.ingest.browser_schema import browser_batch, parse_json, session_info
from backlight_server.ingest.responses import error_response, json_response
from backlight_server.state import AppState, get_state

_JSON_TYPES = {"application/json", "text/plain", ""}


async def _payload(request: Request, state: AppState) -> tuple[dict[str, object], int]:
    if media_type(request) not in _JSON_TYPES:
        raise ClientError(415, "unsupported_media_type",
                          "send application/json (or text/plain holding JSON)")
    s = state.settings
    raw = await read_body(request, s.max_body_bytes)
    body = decode_encoding(raw, request.headers.get("content-encoding"),
                           s.max_decompressed_bytes)
    return parse_json(body), len(body)


def _check_project(state: AppState, project_id: str) -> None:
    if not state.store.project_exists(project_id):
        raise ClientError(404, "unknown_project",
                          f"project {project_id!r} does not exist on this server "
                          "(see `backlight project create`)")


def session_url(request: Request, state: AppState, secure_id: str) -> str:
    base = state.settings.public_url or str(request.base_url)
    return base.rstrip("/") + f"/sessions/{secure_id}"


async def start_session(request: Request) -> Response:
    state = get_state(request)
    try:
        data, _ = await _payload(request, state)
        info = session_info(data)
        _check_project(state, info.project_id)
        if info.started_ms == 0.0:
            info.started_ms = time.time() * 1000
        await state.store.start_session(info)
    except ClientError as err:
        state.metrics.rejected.labels(err.code).inc()
        return error_response(err)
    state.metrics.ingested.labels("session").inc()
    return json_response({"ok": True, "session_secure_id": info.secure_id,
                          "session_url": session_url(request, state, info.secure_id)})


async def batch(request: Request) -> Response:
    state = get_state(request)
    try:
        data, size = await _payload(request, state)
        info = session_info(data)
        _check_project(state, info.project_id)
        records = browser_batch(data, info)
        if info.started_ms == 0.0:
            info.started_ms = time.time() * 1000
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
