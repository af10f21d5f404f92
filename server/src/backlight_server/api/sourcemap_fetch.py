"""A project's source-map fetch settings (docs/sourcemaps.md, "Fetching maps"):
``GET/PUT /api/v1/projects/{id}/sourcemap-fetch``, access token only. The answer also
lists this server's latest fetch outcomes for the project (why a frame stayed minified)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Request
from fastapi.responses import Response
from pydantic import BaseModel, Field, StringConstraints

from backlight_server.api.auth import require_token
from backlight_server.errors import ClientError
from backlight_server.pipeline import jsontext
from backlight_server.state import get_state
from backlight_server.store.base import FetchConfig
from backlight_server.symbolicate import fetch, netguard

router = APIRouter(prefix="/api/v1/projects/{project_id}", dependencies=[Depends(require_token)])
ProjectId = Annotated[str, Path(min_length=1, max_length=128)]
Origin = Annotated[str, StringConstraints(min_length=1, max_length=netguard.MAX_ORIGIN_CHARS)]
_ERROR = {"$ref": "#/components/schemas/Error"}
NO_PROJECT: dict[int | str, dict[str, Any]] = {
    404: {"description": "No such project", "content": {"application/json": {"schema": _ERROR}}}
}


class FetchSettingsIn(BaseModel):
    enabled: bool = Field(description="fetch maps for this project's frames")
    origins: list[Origin] = Field(
        max_length=netguard.MAX_ORIGINS,
        description="allowed origins, scheme://host[:port] (http or https), or "
        "scheme://*.domain[:port] for every host under domain; replaces the list",
    )


class FetchOutcome(BaseModel):
    url: str = Field(description="the script's URL")
    ok: bool
    detail: str = Field(description="the map's URL when ok, else why nothing was mapped")
    at_ms: float


class FetchSettings(BaseModel):
    project_id: str
    enabled: bool
    origins: list[str] = Field(description="normalised: lowercase, default port dropped")
    updated_ms: float = Field(description="0 when never set")
    recent: list[FetchOutcome] = Field(
        description="this server's latest fetches for the project, newest first (kept "
        "while remembered: sourcemap_fetch_ttl_s / sourcemap_fetch_failure_ttl_s)"
    )


def _project(request: Request, project_id: str) -> None:
    if not get_state(request).store.project_exists(project_id):
        raise ClientError(404, "not_found", f"no project {project_id!r}")


def _answer(request: Request, config: FetchConfig) -> Response:
    fetcher = fetch.fetcher_for(get_state(request).store)
    recent = fetcher.outcomes.recent(config.project_id) if fetcher else []
    body = {
        "project_id": config.project_id,
        "enabled": config.enabled,
        "origins": list(config.origins),
        "updated_ms": config.updated_ms,
        "recent": [
            {"url": o.url, "ok": o.ok, "detail": o.detail, "at_ms": o.at_ms} for o in recent
        ],
    }
    return Response(jsontext.dumps(body), media_type="application/json")


@router.get(
    "/sourcemap-fetch",
    summary="The project's source-map fetch settings, and this server's latest fetches",
    response_model=FetchSettings,
    responses=NO_PROJECT,
)
def get_settings(request: Request, project_id: ProjectId) -> Response:
    _project(request, project_id)
    return _answer(request, get_state(request).store.sourcemap_fetch(project_id))


@router.put(
    "/sourcemap-fetch",
    summary="Switch the source-map fetch path on or off and set its allowed origins",
    response_model=FetchSettings,
    responses=NO_PROJECT,
)
def put_settings(request: Request, project_id: ProjectId, body: FetchSettingsIn) -> Response:
    _project(request, project_id)
    try:
        origins = netguard.check_origins(body.origins)
    except ValueError as exc:
        raise ClientError(400, "invalid_origin", str(exc)) from None
    config = FetchConfig(project_id, body.enabled, tuple(origins))
    return _answer(request, get_state(request).store.set_sourcemap_fetch(config))
