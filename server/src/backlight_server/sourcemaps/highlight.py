"""highlight's ``@highlight-run/sourcemap-uploader``, served: its backend URL set to
``https://<backlight>/private`` is all a user changes (docs/sourcemaps.md).

The uploader POSTs two GraphQL queries to that URL: ``api_key_to_org_id(api_key)`` (we
answer the project id of the upload key it was given) and
``get_source_map_upload_urls(api_key, paths)``, where each path is
``<org>/<version>/<basePath><file>``; we answer, for each, a URL on this server signed for
that one file, an hour long, with the key (HMAC-SHA256 under the key's stored hash: a
deleted key's URLs stop working, and servers sharing a store accept each other's). It then
PUTs each file to its URL. The file is stored as release ``<version>`` under the name
``~/<basePath><file>`` (any origin), with the caps and checks of every upload.

Only those two operations are served, matched by the field the query names: the body is
JSON (``orjson``, linear, on a worker thread) under ``BODY_MAX`` bytes, not parsed as
GraphQL.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import time
from typing import Any
from urllib.parse import urlencode

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from backlight_server.api.sourcemaps import read_capped
from backlight_server.errors import ClientError
from backlight_server.ingest.body import read_body
from backlight_server.sourcemaps import names, service
from backlight_server.state import get_state
from backlight_server.store.base import Row, Store

PATH = "/private"
UPLOAD_PATH = "/private/sourcemap-upload"
BODY_MAX = 8 * 1024 * 1024
URL_TTL_S = 3600


def _refusal(err: ClientError) -> Response:
    body = {
        "error": err.code,
        "detail": err.detail,
        "data": None,
        "errors": [{"message": err.detail, "extensions": {"code": err.code}}],
    }
    return Response(orjson.dumps(body), err.status, err.headers, media_type="application/json")


def _sign(key: Row, project: str, path: str, exp: int) -> str:
    msg = f"{project}\n{key['id']}\n{exp}\n{path}".encode()
    return hmac.new(str(key["key_hash"]).encode(), msg, hashlib.sha256).hexdigest()


def _variables(body: bytes) -> tuple[str, dict[str, Any]]:
    try:
        doc = orjson.loads(body)
    except orjson.JSONDecodeError:
        raise ClientError(400, "invalid_json", "the body is not JSON") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("query"), str):
        raise ClientError(400, "invalid_query", "query must be a GraphQL query string")
    variables = doc.get("variables") or {}
    if not isinstance(variables, dict):
        raise ClientError(400, "invalid_variables", "variables must be an object")
    return str(doc["query"]), variables


def _key(store: Store, api_key: Any) -> Row:
    found = service.authenticate(store, api_key) if isinstance(api_key, str) else None
    if found is None:
        raise ClientError(
            401, "unauthorized", "variables.api_key is not an upload key of this server"
        )
    return found


def _split(path: Any, project: str, index: int) -> tuple[str, str]:
    """``<org>/<version>/<rest>`` → (release, ``~/<rest>``)."""
    field = f"variables.paths[{index}]"
    parts = path.split("/", 2) if isinstance(path, str) else []
    if len(parts) != 3 or parts[0] != project:
        raise ClientError(400, "invalid_path", f"{field} must be {project}/<version>/<file>")
    return names.check_release(parts[1], field), names.check_url("~/" + parts[2], field)


def _operation(store: Store, limits: service.Limits, body: bytes, base: str) -> Row:
    query, variables = _variables(body)
    key = _key(store, variables.get("api_key"))
    project = str(key["project_id"])
    if "get_source_map_upload_urls" in query:
        paths = variables.get("paths")
        if not isinstance(paths, list) or len(paths) > limits.max_release_files:
            raise ClientError(
                400,
                "invalid_paths",
                f"variables.paths must be a list of at most {limits.max_release_files} "
                "paths (sourcemap_max_release_files)",
            )
        exp = int(time.time()) + URL_TTL_S
        urls = []
        for i, path in enumerate(paths):
            _split(path, project, i)
            sig = _sign(key, project, path, exp)
            query_string = urlencode({"key": key["id"], "exp": exp, "path": path, "sig": sig})
            urls.append(f"{base}{UPLOAD_PATH}?{query_string}")
        return {"get_source_map_upload_urls": urls}
    if "api_key_to_org_id" in query:
        return {"api_key_to_org_id": project}
    raise ClientError(
        400,
        "unsupported_operation",
        "this endpoint serves highlight's sourcemap uploader only "
        "(api_key_to_org_id, get_source_map_upload_urls)",
    )


async def private_graph(request: Request) -> Response:
    state = get_state(request)
    base = state.settings.public_url.rstrip("/") or str(request.base_url).rstrip("/")
    try:
        body = await read_body(request, BODY_MAX)
        limits = service.Limits.of(state.settings)
        data = await asyncio.to_thread(_operation, state.store, limits, body, base)
    except ClientError as err:
        return _refusal(err)
    return Response(orjson.dumps({"data": data}), media_type="application/json")


def _verified(store: Store, request: Request) -> tuple[str, str, str]:
    """(project, release, url) of a signed upload URL, or a refusal."""
    q = request.query_params
    path, key_id, exp, sig = q.get("path", ""), q.get("key", ""), q.get("exp", ""), q.get("sig")
    project = path.split("/", 1)[0]
    key = (
        next((k for k in store.upload_keys(project) if k["id"] == key_id), None)
        if project
        else None
    )
    if key is None or not exp.isdigit() or sig is None:
        raise ClientError(403, "invalid_signature", "this upload URL is not signed by a key")
    if not hmac.compare_digest(_sign(key, project, path, int(exp)), sig):
        raise ClientError(403, "invalid_signature", "this upload URL's signature does not match")
    if int(exp) < time.time():
        raise ClientError(403, "expired", f"this upload URL expired ({URL_TTL_S} s after issue)")
    release, url = _split(path, project, 0)
    return project, release, url


async def upload(request: Request) -> Response:
    state = get_state(request)
    limits = service.Limits.of(state.settings)
    try:
        project, release, url = await asyncio.to_thread(_verified, state.store, request)
        data = await read_capped(request, limits.max_file_bytes)
        done = await asyncio.to_thread(
            service.store_file, state.store, limits, project, release, url, data
        )
    except ClientError as err:
        return _refusal(err)
    return Response(orjson.dumps(done), media_type="application/json")


routes = [
    Route(PATH, private_graph, methods=["POST"]),
    Route(UPLOAD_PATH, upload, methods=["PUT"]),
]
