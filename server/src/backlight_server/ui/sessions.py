"""Sessions list and the session page (player, timeline, network/console/errors tabs)."""

from __future__ import annotations

from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from backlight_server.api.auth import token_ok
from backlight_server.query.serverseen import NO_SERVER
from backlight_server.state import get_state
from backlight_server.store.queries import SessionQuery
from backlight_server.symbolicate.apply import symbolicate_session
from backlight_server.ui import params
from backlight_server.ui.render import not_found, page, plain, render
from backlight_server.ui.stacks import with_paths
from backlight_server.ui.useragent import describe

PAGE_SIZE = 50
# Sessions with more network requests than this get their rows' backend summaries from
# /ui-data/backend-summaries as the rows scroll into view, not all at once in the page.
INLINE_SUMMARIES = 1000
MAX_SUMMARY_IDS = 200
_NETWORK_KEYS = (
    "id",
    "request_id",
    "method",
    "url",
    "status",
    "start_ms",
    "end_ms",
    "error",
    "backend",
    "source",  # "browser", or "server": seen by the server only (query/serverseen.py)
    "service",
    "name",
)
_ERROR_KEYS = (
    "id",
    "group_id",
    "ts_ms",
    "source",
    "type",
    "message",
    "request_id",
    "service",
    "stack",
)
# Track events embedded in the page (the timeline's lane and the Context tab); a session
# with more shows its first ones and says how many it has.
MAX_TRACK = 2000
MAX_SHOWN_CHARS = 300
MAX_METADATA = 50


@page
def sessions_list(request: Request) -> Response:
    has = params.choice(request, "errors", ("yes", "no"))
    offset = params.integer(request, "offset")
    query = SessionQuery(
        start_ms=params.since_ms(request),
        user=params.text(request, "user"),
        has_errors={"yes": True, "no": False}.get(has or ""),
        url_contains=params.text(request, "url", 2048),
        limit=PAGE_SIZE,
        offset=offset,
    )
    filtered = any(
        v is not None for v in (query.start_ms, query.user, query.has_errors, query.url_contains)
    )
    data = get_state(request).store.list_sessions(query)
    return render(
        request,
        "sessions.html",
        nav="sessions",
        data=data,
        filtered=filtered,
        page_size=PAGE_SIZE,
        ranges=params.RANGES,
    )


def _pick(row: dict[str, Any], keys: tuple[str, ...]) -> dict[str, Any]:
    return {k: row.get(k) for k in keys}


def _shown(row: dict[str, Any], keys: tuple[str, ...], texts: tuple[str, ...]) -> dict[str, Any]:
    """``_pick`` with the ``texts`` fields as shown: terminal colour codes out."""
    out = _pick(row, keys)
    for key in texts:
        if out[key] is not None:
            out[key] = plain(out[key])
    return out


def _short(value: Any) -> str:
    """Any stored value as one line of at most ``MAX_SHOWN_CHARS`` characters."""
    text = value if isinstance(value, str) else orjson.dumps(value, default=str).decode()
    text = plain(text)
    return text if len(text) <= MAX_SHOWN_CHARS else text[: MAX_SHOWN_CHARS - 1] + "…"


def _metadata(value: Any) -> list[tuple[str, str]]:
    """``identify`` metadata as (key, value) pairs; a stored value that is no object is
    shown as one pair."""
    if value is None or value == {}:
        return []
    if not isinstance(value, dict):
        return [("value", _short(value))]
    return [(_short(k), _short(v)) for k, v in list(value.items())[:MAX_METADATA]]


def _track(rows: Any) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for row in rows if isinstance(rows, list) else []:
        if not isinstance(row, dict) or not isinstance(row.get("ts_ms"), int | float):
            continue
        props = row.get("properties")
        out.append(
            {
                "ts_ms": float(row["ts_ms"]),
                "event": _short(row.get("event") or ""),
                "properties": None if props in (None, {}) else _short(props),
            }
        )
        if len(out) >= MAX_TRACK:
            break
    return out


@page
def session_page(request: Request) -> Response:
    sid = request.path_params["secure_id"][:128]
    store = get_state(request).store
    data = store.get_session_overview(sid, INLINE_SUMMARIES)
    if data is None:
        return not_found(request, f"session {sid}")
    symbolicate_session(store, data)
    errors = sorted(
        (
            _shown(e, _ERROR_KEYS, ("type", "message"))
            for e in [*data["errors"], *data["backend_errors"]]
        ),
        key=lambda e: float(e["ts_ms"]),
    )
    with_paths(errors)  # frames as shown (stack.ts draws ``path``)
    session = data["session"]
    track = _track(data.get("track"))
    client: dict[str, Any] = {
        "session": _pick(session, ("secure_id", "started_ms", "last_ms")),
        "network": [_pick(n, _NETWORK_KEYS) for n in data["network"]],
        "console": [
            _shown(c, ("ts_ms", "level", "message"), ("message",)) for c in data["console"]
        ],
        "errors": errors,
        "start_at": params.number(request, "t"),
        "open_request": params.text(request, "request", 128),
        "track": [{"ts_ms": t["ts_ms"], "event": t["event"]} for t in track],
    }
    return render(
        request,
        "session.html",
        nav="sessions",
        s=session,
        data=data,
        client=client,
        ua=describe(session.get("user_agent")),
        metadata=_metadata(session.get("user_metadata")),
        track=track,
        track_total=len(data.get("track") or []),
        server_seen=data.get("server_seen") or NO_SERVER,
    )


def backend_summaries(request: Request) -> Response:
    """JSON ``{request_id: {spans, logs, errors, worst_level}}`` for ``?ids=a,b,…``."""
    if not token_ok(request):
        return Response(b'{"error": "unauthorized"}', 401, media_type="application/json")
    ids = [i[:128] for i in request.query_params.get("ids", "").split(",") if i]
    data = get_state(request).store.backend_summaries(ids[:MAX_SUMMARY_IDS])
    return Response(orjson.dumps(data), media_type="application/json")


routes = [
    Route("/sessions", sessions_list, methods=["GET"]),
    Route("/sessions/{secure_id}", session_page, methods=["GET"]),
    Route("/ui-data/backend-summaries", backend_summaries, methods=["GET"]),
]
