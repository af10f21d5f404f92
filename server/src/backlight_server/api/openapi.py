"""The OpenAPI document, made true: the status codes it lists are the ones the API answers.

FastAPI documents a 422 for every route with parameters; Backlight answers 400 with its
``{"error", "detail"}`` body instead (app.py), and 401 without the token. This rewrites
the generated document once, at first request.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from backlight_server.api import alerts

_ERROR = {"$ref": "#/components/schemas/Error"}
_ERROR_SCHEMA = {
    "title": "Error",
    "type": "object",
    "required": ["error", "detail"],
    "properties": {
        "error": {"type": "string", "description": "a stable code"},
        "detail": {"type": "string", "description": "what was wrong, in words"},
    },
}
NOT_FOUND = {
    ("/api/v1/sessions/{secure_id}", "get"),
    ("/api/v1/error-groups/{group_id}", "get"),
    ("/api/v1/error-groups/{group_id}", "patch"),
    ("/api/v1/error-groups/{group_id}/facts", "get"),
    *(("/api/v1/alert-rules/{rule_id}", m) for m in ("get", "put", "delete")),
    ("/api/v1/alert-rules/{rule_id}/test", "post"),
    ("/api/v1/alert-rules", "post"),  # no such project
}


def _error(description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": _ERROR}}}


def document(app: FastAPI) -> dict[str, Any]:
    schema = get_openapi(title=app.title, version=app.version, routes=app.routes)
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    for name in ("HTTPValidationError", "ValidationError"):
        components.pop(name, None)
    components["Error"] = _ERROR_SCHEMA
    alerts.require_tags(components)
    for path, operations in schema.get("paths", {}).items():
        for method, op in operations.items():
            responses = op.setdefault("responses", {})
            responses.pop("422", None)
            if op.get("parameters") or op.get("requestBody"):
                responses["400"] = _error("A parameter or the body is invalid; `detail` names it")
            if path.startswith("/api/v1/"):
                responses["401"] = _error("No valid access token")
            if (path, method) in NOT_FOUND:
                responses["404"] = _error("No such item")
            if path.startswith("/api/v1/") and method == "get":
                responses["503"] = _error(
                    "A query ran past `query_timeout_ms`; retry with "
                    "narrower filters (`Retry-After` says when)"
                )
    return schema


def install(app: FastAPI) -> None:
    cache: dict[str, dict[str, Any]] = {}

    def openapi() -> dict[str, Any]:
        if "doc" not in cache:
            cache["doc"] = document(app)
        return cache["doc"]

    app.openapi = openapi  # type: ignore[method-assign]
