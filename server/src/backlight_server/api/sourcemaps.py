"""Source-map uploads (docs/sourcemaps.md): upload keys (``/api/v1/projects/{id}/upload-keys``,
token only) and the files of a release (``/api/v1/projects/{id}/artifacts``: listed and
uploaded with an upload key of that project or the token; deleted with the token only).

An upload key opens nothing else: every other route requires the access token, which a key
is not. A body is refused past ``sourcemap_max_file_bytes`` from its Content-Length, before
it is read, and while it is read; checking and storing it runs on a worker thread.
"""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, Field

from backlight_server.api.auth import require_token, token_ok
from backlight_server.api.reply import json_reply as _json
from backlight_server.errors import ClientError
from backlight_server.ingest.body import read_body
from backlight_server.sourcemaps import keys, names, service
from backlight_server.state import get_state

router = APIRouter(prefix="/api/v1/projects/{project_id}")
ProjectId = Annotated[str, Path(min_length=1, max_length=128)]
Release = Annotated[str, Query(min_length=1, max_length=names.RELEASE_MAX)]
Url = Annotated[str, Query(min_length=1, max_length=names.URL_MAX)]


def _err(description: str) -> dict[str, Any]:
    ref = {"$ref": "#/components/schemas/Error"}
    return {"description": description, "content": {"application/json": {"schema": ref}}}


NO_PROJECT: dict[int | str, dict[str, Any]] = {404: _err("No such project (or key)")}
UPLOAD_ERRORS: dict[int | str, dict[str, Any]] = {
    403: _err("The upload key belongs to another project"),
    404: _err("No such project"),
    413: _err("Over a cap: `detail` names the setting (file size, files per release, project)"),
}


class UploadKey(BaseModel):
    id: str
    project_id: str
    masked: str = Field(description="the key with its secret part hidden")
    created_ms: float


class NewUploadKey(UploadKey):
    key: str = Field(description="the key itself: shown this once, stored only as a hash")


class UploadKeys(BaseModel):
    keys: list[UploadKey]


class ArtifactView(BaseModel):
    release: str
    url: str = Field(description="the script's full URL (url prefix + path), or ~/path")
    kind: str = Field(description="map, script or other")
    sha256: str
    size: int
    debug_id: str | None = Field(description="from //# debugId= or the map's debugId field")
    ref: str | None = Field(description="a script's sourceMappingURL, a map's file field")
    uploaded_ms: float


class Artifacts(BaseModel):
    release: str | None
    files: list[ArtifactView]
    limits: dict[str, int] = Field(description="max_file_bytes, max_release_files, …")


class Uploaded(BaseModel):
    status: str = Field(description="stored, replaced, or unchanged (same bytes: not written)")
    release: str
    url: str
    kind: str
    sha256: str
    size: int
    debug_id: str | None
    ref: str | None


class Deleted(BaseModel):
    deleted: int


def _project(request: Request, project_id: str) -> None:
    if not get_state(request).store.project_exists(project_id):
        raise ClientError(404, "not_found", f"no project {project_id!r}")


def _key_from(request: Request) -> str:
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    return value.strip() if scheme.lower() == "bearer" else ""


def uploader(request: Request, project_id: ProjectId) -> None:
    """The access token, or an upload key of this project."""
    if token_ok(request):
        _project(request, project_id)
        return
    found = service.authenticate(get_state(request).store, _key_from(request))
    if found is None:
        raise ClientError(
            401,
            "unauthorized",
            "an upload key of this project (Authorization: Bearer blup_…) or the access "
            "token is required",
            {"WWW-Authenticate": "Bearer"},
        )
    if found["project_id"] != project_id:
        raise ClientError(
            403, "wrong_project", f"this upload key is not for project {project_id!r}"
        )


@router.post(
    "/upload-keys",
    summary="Make an upload key for this project (shown once; it can only upload source maps)",
    status_code=201,
    response_model=NewUploadKey,
    responses=NO_PROJECT,
    dependencies=[Depends(require_token)],
)
def create_key(request: Request, project_id: ProjectId) -> Response:
    _project(request, project_id)
    made = keys.new_key()
    store = get_state(request).store
    store.create_upload_key(project_id, made.id, made.key_hash, made.masked)
    row = next(k for k in store.upload_keys(project_id) if k["id"] == made.id)
    return _json({**_public(row), "key": made.key}, 201)


def _public(row: dict[str, Any]) -> dict[str, Any]:
    return {k: row[k] for k in ("id", "project_id", "masked", "created_ms")}


@router.get(
    "/upload-keys",
    summary="This project's upload keys, masked",
    response_model=UploadKeys,
    responses=NO_PROJECT,
    dependencies=[Depends(require_token)],
)
def list_keys(request: Request, project_id: ProjectId) -> Response:
    _project(request, project_id)
    return _json({"keys": [_public(k) for k in get_state(request).store.upload_keys(project_id)]})


@router.delete(
    "/upload-keys/{key_id}",
    summary="Delete an upload key",
    response_model=Deleted,
    responses=NO_PROJECT,
    dependencies=[Depends(require_token)],
)
def delete_key(
    request: Request, project_id: ProjectId, key_id: Annotated[str, Path(max_length=64)]
) -> Response:
    if not get_state(request).store.delete_upload_key(project_id, key_id):
        raise ClientError(404, "not_found", f"no upload key {key_id!r} in project {project_id!r}")
    return _json({"deleted": 1})


@router.get(
    "/artifacts",
    summary="A release's uploaded files (without their bytes), and the upload caps",
    response_model=Artifacts,
    responses=UPLOAD_ERRORS,
    dependencies=[Depends(uploader)],
)
def list_artifacts(request: Request, project_id: ProjectId, release: Release) -> Response:
    state = get_state(request)
    limits = service.Limits.of(state.settings)
    files = state.store.list_artifacts(project_id, release, limits.max_release_files)
    return _json(
        {
            "release": release,
            "files": [service.artifact_row(a) for a in files],
            "limits": limits.as_row(),
        }
    )


async def read_capped(request: Request, limit: int) -> bytes:
    """An uploaded file's bytes; over the cap, the refusal names the setting."""
    return await read_body(request, limit, service.too_large)


@router.put(
    "/artifacts",
    summary="Upload one file of a release: a source map or a script (the raw bytes)",
    response_model=Uploaded,
    responses=UPLOAD_ERRORS,
    dependencies=[Depends(uploader)],
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/octet-stream": {"schema": {"type": "string"}}},
        }
    },
)
async def put_artifact(
    request: Request, project_id: ProjectId, release: Release, url: Url
) -> Response:
    state = get_state(request)
    names.check_release(release)
    names.check_url(url)
    limits = service.Limits.of(state.settings)
    data = await read_capped(request, limits.max_file_bytes)
    done = await asyncio.to_thread(
        service.store_file, state.store, limits, project_id, release, url, data
    )
    return _json(done)


@router.delete(
    "/artifacts",
    summary="Delete a release's files",
    response_model=Deleted,
    responses=NO_PROJECT,
    dependencies=[Depends(require_token)],
)
def delete_artifacts(request: Request, project_id: ProjectId, release: Release) -> Response:
    _project(request, project_id)
    return _json({"deleted": get_state(request).store.delete_artifacts(project_id, release)})
