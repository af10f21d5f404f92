"""Query API endpoints. Handlers are sync: FastAPI runs them on worker threads (the store's
reads block). Each route declares its ``response_model`` (``schemas.py``) for the OpenAPI
document and answers with the store's data serialised by ``jsontext.dumps``: a returned
``Response`` skips FastAPI's validation and re-encoding, which would cost more than the
query on large sessions and traces."""

from __future__ import annotations

import time
from typing import Annotated, Literal

from fastapi import APIRouter, Body, Depends, HTTPException, Path, Query, Request
from fastapi.responses import RedirectResponse, Response

from backlight_server.api import alerts, schemas
from backlight_server.api.auth import require_token
from backlight_server.api.reply import json_reply as _json
from backlight_server.pipeline import jsontext
from backlight_server.query import errorfacts
from backlight_server.state import get_state
from backlight_server.store.queries import ErrorGroupQuery, LogQuery, SessionQuery
from backlight_server.symbolicate.apply import (
    symbolicate_group,
    symbolicate_linked,
    symbolicate_session,
)

router = APIRouter(prefix="/api/v1", dependencies=[Depends(require_token)])
Limit = Annotated[int, Query(ge=1, le=500)]
Offset = Annotated[int, Query(ge=0, le=10_000_000)]
Id = Annotated[str, Query(max_length=128)]
EpochMs = Annotated[
    float | None, Query(ge=0, le=9e12, allow_inf_nan=False, description="epoch milliseconds")
]
GroupId = Annotated[int, Path(ge=0, le=2**62)]


@router.get(
    "/projects",
    summary="Projects on this server",
    response_model=schemas.Projects,
)
def projects(request: Request) -> Response:
    state = get_state(request)
    return _json({"projects": state.store.list_projects(), "default": state.default_project})


@router.get(
    "/sessions",
    summary="Sessions, newest first, paginated",
    response_model=schemas.SessionPage,
)
def sessions(
    request: Request,
    project_id: Id | None = None,
    start_ms: EpochMs = None,
    end_ms: EpochMs = None,
    user: Annotated[str | None, Query(max_length=512)] = None,
    has_errors: bool | None = None,
    url_contains: Annotated[str | None, Query(max_length=2048)] = None,
    limit: Limit = 50,
    offset: Offset = 0,
) -> Response:
    return _json(
        get_state(request).store.list_sessions(
            SessionQuery(
                project_id=project_id,
                start_ms=start_ms,
                end_ms=end_ms,
                user=user,
                has_errors=has_errors,
                url_contains=url_contains,
                limit=limit,
                offset=offset,
            )
        )
    )


@router.get(
    "/sessions/{secure_id}",
    summary="A session: metadata, network requests (the browser's, and those only its "
    "backend saw) with backend summaries, console, frontend and backend errors",
    response_model=schemas.SessionView,
)
def session(request: Request, secure_id: str) -> Response:
    store = get_state(request).store
    data = store.get_session(secure_id[:128])
    if data is None:
        raise HTTPException(404, f"no session {secure_id[:128]!r}")
    symbolicate_session(store, data)
    return _json(data)


@router.get(
    "/sessions/{secure_id}/replay",
    summary="rrweb events of a session, a page of batches at a time",
    response_model=schemas.ReplayPage,
)
def replay(
    request: Request,
    secure_id: str,
    after_seq: Annotated[int, Query(ge=-1, le=2**62)] = -1,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
) -> Response:
    page = get_state(request).store.get_replay(secure_id[:128], after_seq, limit)
    events = b",".join(page["events_json"])
    next_seq = jsontext.dumps(page["next_seq"])
    return Response(
        b'{"events":[' + events + b'],"next_seq":' + next_seq + b"}", media_type="application/json"
    )


@router.get(
    "/requests/{request_id}",
    summary="One request: browser record, backend spans (tree), logs and errors",
    response_model=schemas.RequestView,
)
def request_view(request: Request, request_id: str) -> Response:
    store = get_state(request).store
    data = store.get_request(request_id[:128])
    symbolicate_linked(store, data)
    return _json(data)


@router.get(
    "/error-groups",
    summary="Error groups, most recently seen first",
    response_model=schemas.ErrorGroupPage,
)
def error_groups(
    request: Request,
    project_id: Id | None = None,
    state: Literal["open", "resolved", "ignored"] | None = None,
    limit: Limit = 50,
    offset: Offset = 0,
) -> Response:
    return _json(
        get_state(request).store.list_error_groups(
            ErrorGroupQuery(project_id=project_id, state=state, limit=limit, offset=offset)
        )
    )


@router.get(
    "/error-groups/{group_id}",
    summary="An error group with its latest instances",
    response_model=schemas.ErrorGroupView,
    responses={307: {"description": "the group was merged into another: its URL"}},
)
def error_group(request: Request, group_id: GroupId, limit: Limit = 100) -> Response:
    store = get_state(request).store
    data = store.get_error_group(group_id, limit)
    if data is None:
        alias = store.group_aliases([group_id]).get(group_id)
        if alias is not None:  # merged by a source map (docs/sourcemaps.md, "Grouping")
            path = request.url.path.rsplit("/", 1)[0] + f"/{alias[0]}"
            query = request.url.query
            return RedirectResponse(path + (f"?{query}" if query else ""), status_code=307)
        raise HTTPException(404, f"no error group {group_id}")
    symbolicate_group(store, data)
    return _json(data)


@router.get(
    "/error-groups/{group_id}/facts",
    summary="An error group's users, breakdowns and last 24 hours",
    description="Over its latest `sample` instances: users affected (identified by "
    "`identify`), sessions, breakdowns by user agent, URL or route, service, environment "
    "and release (`[value, count]`, most first), each of the latest 100 instances with its "
    "user, URL and user agent; and the last 24 hours, hour by hour (every instance).",
    response_model=schemas.ErrorGroupFacts,
)
def error_group_facts(
    request: Request,
    group_id: GroupId,
    sample: Annotated[int, Query(ge=1, le=errorfacts.SAMPLE)] = errorfacts.SAMPLE,
) -> Response:
    store = get_state(request).store
    if store.get_error_group(group_id, 1) is None:
        raise HTTPException(404, f"no error group {group_id}")
    return _json(store.error_group_facts(group_id, time.time() * 1000, sample))


@router.patch(
    "/error-groups/{group_id}",
    summary="Change an error group's state",
    response_model=schemas.GroupState,
)
async def patch_error_group(
    request: Request,
    group_id: GroupId,
    state: Annotated[Literal["open", "resolved", "ignored"], Body(embed=True)],
) -> Response:
    if not await get_state(request).store.set_error_group_state(group_id, state):
        raise HTTPException(404, f"no error group {group_id}")
    return _json({"id": group_id, "state": state})


@router.get(
    "/logs",
    summary="Full-text log search with filters, newest first",
    response_model=schemas.LogPage,
)
def logs(
    request: Request,
    q: Annotated[str | None, Query(max_length=1024)] = None,
    project_id: Id | None = None,
    session_id: Id | None = None,
    request_id: Id | None = None,
    service: Annotated[str | None, Query(max_length=256)] = None,
    level: Literal["trace", "debug", "info", "warn", "error", "fatal"] | None = None,
    start_ms: EpochMs = None,
    end_ms: EpochMs = None,
    limit: Limit = 100,
    offset: Offset = 0,
) -> Response:
    return _json(
        get_state(request).store.search_logs(
            LogQuery(
                text=q,
                project_id=project_id,
                session_id=session_id,
                request_id=request_id,
                service=service,
                level=level,
                start_ms=start_ms,
                end_ms=end_ms,
                limit=limit,
                offset=offset,
            )
        )
    )


@router.get(
    "/traces/{trace_id}",
    summary="A trace as a span tree, with its logs and errors",
    response_model=schemas.TraceView,
)
def trace(request: Request, trace_id: str) -> Response:
    store = get_state(request).store
    data = store.get_trace(trace_id[:64].lower())
    symbolicate_linked(store, data)
    return _json(data)


@router.get(
    "/status",
    summary="What the server has observed (setup checklist, doctor)",
    response_model=schemas.Status,
)
def status(request: Request, project_id: Id | None = None) -> Response:
    state = get_state(request)
    return _json(
        {
            "project_id": project_id or state.default_project,
            **state.store.counts(project_id or state.default_project),
        }
    )


router.include_router(alerts.router)  # /api/v1/alert-rules, /api/v1/alert-deliveries
