"""Alert rules and the delivery log: ``/api/v1/alert-rules``, ``/api/v1/alert-deliveries``.

Bodies are checked by the pydantic models of ``alerts/rules.py`` (a refusal is a 400 that
names the field and its limit). Channel secrets are never answered in full: every rule in a
response has its channels ``masked()``; a PUT that sends a masked secret back keeps the
stored one (so a client may GET, edit and PUT a rule).
"""

from __future__ import annotations

import asyncio
import secrets
import time
from typing import Annotated, Any

import httpx
import orjson
from fastapi import APIRouter, HTTPException, Path, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from backlight_server.alerts.channels.config import SECRET_FIELDS
from backlight_server.alerts.deliver import TIMEOUT_S, send_logged
from backlight_server.alerts.events import base_url
from backlight_server.alerts.file import file_prefix, is_file_rule
from backlight_server.alerts.message import Alert, Event, Links
from backlight_server.alerts.rules import Filters, Rule, RuleIn, Trigger, readable_rule
from backlight_server.api.reply import json_reply as _json
from backlight_server.errors import ClientError
from backlight_server.state import get_state
from backlight_server.store.base import Row

# Included by api/routes.py into its /api/v1 router, which requires the token.
router = APIRouter()
RuleId = Annotated[str, Path(min_length=1, max_length=64)]


class _Open(BaseModel):
    model_config = ConfigDict(extra="allow")


class MaskedChannel(_Open):
    kind: str = Field(description="webhook, slack, discord, teams, pagerduty or email")


class RuleView(_Open):
    id: str
    project_id: str
    name: str
    trigger: Trigger
    filters: Filters
    channels: list[MaskedChannel] = Field(description="settings with every secret masked")
    cooldown_seconds: int
    digest_threshold: int
    enabled: bool
    muted_until_ms: float | None
    updated_ms: float


class RuleList(_Open):
    rules: list[RuleView]
    unreadable: list[str] = Field(
        default_factory=list,
        description="ids of stored rules this server cannot read (a newer version's, or "
        "damaged): they never fire here; replace (PUT) or delete them",
    )


class Deleted(_Open):
    id: str
    deleted: bool


class TestResult(_Open):
    channel: int
    kind: str
    ok: bool
    status: int | None
    error: str


class TestResults(_Open):
    results: list[TestResult]


class Delivery(_Open):
    id: int
    at_ms: float
    rule_id: str
    channel: int
    kind: str
    key: str
    events: int
    ok: bool
    status: int | None
    error: str
    attempt: int


class DeliveryPage(_Open):
    total: int
    limit: int
    offset: int
    deliveries: list[Delivery]


_URL = r"^https?://\S+$"
_URL_AS_CHECKED = r"^https?://[^\s\u0085]+$"  # the server's \s also matches U+0085


def require_tags(schemas: dict[str, Any]) -> None:
    r"""The OpenAPI document says what the server checks: the ``kind`` of every trigger and
    channel is required (the tag that picks the variant; pydantic documents it as
    defaulted), and a URL may not hold U+0085, which Python's ``\s`` matches and
    ECMAScript's (JSON Schema's) does not."""
    for schema in schemas.values():
        props = schema.get("properties", {}) if isinstance(schema, dict) else {}
        if "const" in props.get("kind", {}) and "kind" not in schema.get("required", []):
            schema["required"] = [*schema.get("required", []), "kind"]
        for prop in props.values():
            if prop.get("pattern") == _URL:
                prop["pattern"] = _URL_AS_CHECKED


def _readable(row: Row) -> Rule | None:
    return readable_rule(row.get("body"))


def _stored_row(request: Request, rule_id: str) -> Row:
    row = get_state(request).store.get_alert_rule(rule_id)
    if row is None:
        raise HTTPException(404, f"no alert rule {rule_id!r}")
    return row


def _stored(request: Request, rule_id: str) -> Rule:
    rule = _readable(_stored_row(request, rule_id))
    if rule is None:
        raise ClientError(
            409,
            "unreadable",
            f"alert rule {rule_id!r} is stored in a form this server cannot read: "
            "replace it (PUT) or delete it",
        )
    return rule


READ_ONLY: dict[int | str, dict[str, Any]] = {
    409: {
        "description": "The rule is declared in an alerts file (`--alerts-file`): change it there",
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
    }
}


def _writable(request: Request, rule_id: str) -> None:
    """Rules of an alerts file are changed in that file: 409 names it."""
    if not is_file_rule(rule_id):
        return
    path = get_state(request).settings.alerts_file
    where = (
        f"{path} (--alerts-file)"
        if path and rule_id.startswith(file_prefix(path))
        else "an alerts file (--alerts-file) of a server sharing this store"
    )
    raise ClientError(
        409,
        "read_only",
        f"alert rule {rule_id!r} is declared in {where}: change it there and restart",
    )


def _save(
    request: Request, rule_id: str, body: RuleIn, old: Rule | None, old_project: object = None
) -> Rule:
    state = get_state(request)
    before = old.project_id if old else old_project if isinstance(old_project, str) else None
    project = body.project_id or before or state.default_project
    if not state.store.project_exists(project):
        raise HTTPException(404, f"project_id: no project {project!r}")
    rule = Rule.model_validate(
        {
            **body.model_dump(),
            "id": rule_id,
            "project_id": project,
            "updated_ms": time.time() * 1000,
        }
    )
    state.store.save_alert_rule(rule.id, rule.project_id, rule.model_dump_json())
    return rule


@router.get("/alert-rules", summary="Alert rules (secrets masked)", response_model=RuleList)
def list_rules(
    request: Request, project_id: Annotated[str | None, Query(max_length=128)] = None
) -> Response:
    rules, unreadable = [], []
    for row in get_state(request).store.alert_rules(project_id):
        rule = _readable(row)
        if rule is None:
            unreadable.append(str(row.get("id")))
        else:
            rules.append(rule.shown())
    return _json({"rules": rules, "unreadable": unreadable})


@router.post(
    "/alert-rules", summary="Create an alert rule", response_model=RuleView, status_code=201
)
def create_rule(request: Request, body: RuleIn) -> Response:
    return _json(_save(request, secrets.token_hex(8), body, None).shown(), 201)


@router.get("/alert-rules/{rule_id}", summary="An alert rule", response_model=RuleView)
def get_rule(request: Request, rule_id: RuleId) -> Response:
    return _json(_stored(request, rule_id).shown())


_RULE_IN = {"$ref": "#/components/schemas/RuleIn"}
MAX_BODY = 256 * 1024


def _unmasked(data: Any, old: Rule | None) -> Any:
    """A channel secret sent back as GET showed it (masked) is the stored one."""
    channels = data.get("channels") if isinstance(data, dict) else None
    if not isinstance(channels, list) or old is None:
        return data
    for i, channel in enumerate(channels):
        if not isinstance(channel, dict) or i >= len(old.channels):
            continue
        before = old.channels[i]
        if channel.get("kind") != before.kind:
            continue
        for name in SECRET_FIELDS.get(before.kind, ()):
            if str(channel.get(name, "")).startswith("••••"):
                channel[name] = getattr(before, name)
    return data


@router.put(
    "/alert-rules/{rule_id}",
    summary="Replace an alert rule (a secret sent back masked keeps its stored value)",
    response_model=RuleView,
    responses=READ_ONLY,
    openapi_extra={
        "requestBody": {"required": True, "content": {"application/json": {"schema": _RULE_IN}}}
    },
)
async def put_rule(request: Request, rule_id: RuleId) -> Response:
    raw = await request.body()
    if len(raw) > MAX_BODY:
        raise ClientError(400, "invalid_parameter", f"body: larger than {MAX_BODY} bytes")
    row = await asyncio.to_thread(_stored_row, request, rule_id)
    old = _readable(row)
    _writable(request, rule_id)
    try:
        body = RuleIn.model_validate(_unmasked(orjson.loads(raw or b"null"), old))
    except orjson.JSONDecodeError as exc:
        raise ClientError(400, "invalid_parameter", "body: not valid JSON") from exc
    except ValidationError as exc:
        errors = [{**e, "loc": ("body", *e["loc"])} for e in exc.errors()]
        raise RequestValidationError(errors) from exc
    rule = await asyncio.to_thread(_save, request, rule_id, body, old, row.get("project_id"))
    return _json(rule.shown())


@router.delete(
    "/alert-rules/{rule_id}",
    summary="Delete an alert rule",
    response_model=Deleted,
    responses=READ_ONLY,
)
def delete_rule(request: Request, rule_id: RuleId) -> Response:
    if is_file_rule(rule_id):
        _stored_row(request, rule_id)  # 404 if there is none
        _writable(request, rule_id)
    if not get_state(request).store.delete_alert_rule(rule_id):
        raise HTTPException(404, f"no alert rule {rule_id!r}")
    return _json({"id": rule_id, "deleted": True})


@router.post(
    "/alert-rules/{rule_id}/test",
    summary="Send a test message to every channel of a rule now",
    response_model=TestResults,
)
async def test_rule(request: Request, rule_id: RuleId) -> Response:
    rule = await asyncio.to_thread(_stored, request, rule_id)
    settings = get_state(request).settings
    base = base_url(settings.public_url, settings.host, settings.port)
    now = time.time() * 1000
    event = Event(
        kind=rule.trigger.kind,
        key=f"test/{int(now)}",
        project_id=rule.project_id,
        title=f"Test message from Backlight for rule {rule.name!r}",
        count=1,
        first_seen_ms=now,
        last_seen_ms=now,
        at_ms=now,
        links=Links(group=f"{base}/errors"),
    )
    alert = Alert(rule.id, rule.name, (event,))
    results = []
    async with httpx.AsyncClient(timeout=TIMEOUT_S) as client:
        for index, channel in enumerate(rule.channels):
            store = get_state(request).store
            out = await send_logged(store, rule, index, alert, event.key, 1, client)
            results.append(
                {
                    "channel": index,
                    "kind": channel.kind,
                    "ok": out.ok,
                    "status": out.status,
                    "error": out.error,
                }
            )
    return _json({"results": results})


@router.get(
    "/alert-deliveries",
    summary="The alert delivery log, newest first (every attempt)",
    response_model=DeliveryPage,
)
def deliveries(
    request: Request,
    rule_id: Annotated[str | None, Query(max_length=64)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
) -> Response:
    return _json(get_state(request).store.alert_deliveries(rule_id, limit, offset))
