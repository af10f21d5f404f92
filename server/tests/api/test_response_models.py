"""Every query API route documents its response (``response_model``), and what a real
server answers validates against that model, on data with every kind of record: a session
with replay, network, console, track and frontend errors, and two services' spans, logs
and exceptions linked to its request."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from pydantic import BaseModel

from backlight_server.api import schemas
from backlight_server.testing import BacklightProcess
from bltest import (
    AUTH,
    OtelService,
    batch,
    network_entry,
    request_id,
    rrweb_events,
    session_id,
    session_start,
    wait_for,
)


class Seeded:
    def __init__(self, server: BacklightProcess, sid: str, rid: str) -> None:
        self.server, self.sid, self.rid = server, sid, rid


def _service(svc: OtelService, sid: str, rid: str) -> None:
    link = {"highlight.session_id": sid, "highlight.trace_id": rid}
    with svc.tracer.start_as_current_span("POST /checkout", attributes=link) as span:
        with svc.tracer.start_as_current_span("db.query", attributes=link):
            svc.logger.info("reserving stock", extra=link)
        try:
            raise ValueError("out of stock")
        except ValueError as exc:
            span.record_exception(exc)
            svc.logger.exception("checkout failed", extra=link)


@pytest.fixture
def seeded(backlight_server: BacklightProcess, otel_service: Callable[..., OtelService]) -> Seeded:
    server, sid, rid, now = backlight_server, session_id(), request_id(), time.time() * 1000
    r = httpx.post(server.url + "/ingest/v1/session", json=session_start(server.project, sid))
    assert r.status_code == 200, r.text
    r = httpx.post(
        server.url + "/ingest/v1/batch",
        json=batch(
            server.project,
            sid,
            0,
            events=rrweb_events(),
            network=[network_entry(rid), network_entry(None, status=200)],
            console=[{"ts": now, "level": "warn", "message": "careful"}],
            track=[{"ts": now, "event": "checkout", "properties": {"items": 2}}],
            errors=[{"ts": now, "type": "TypeError", "message": "x is undefined"}],
        ),
    )
    assert r.status_code == 200, r.text
    for name in ("api", "inventory"):
        svc = otel_service(server.url, name, server.project)
        _service(svc, sid, rid)
        svc.flush()
    wait_for(lambda: len(server.api(f"/api/v1/requests/{rid}")["errors"]) >= 2 or None)
    return Seeded(server, sid, rid)


def _get(seeded: Seeded, path: str) -> Any:
    r = httpx.get(seeded.server.url + path, headers=AUTH, timeout=30)
    assert r.status_code == 200, (path, r.text[:300])
    return r.json()


def _check(model: type[BaseModel], data: Any) -> None:
    model.model_validate(data, strict=False)


def test_every_api_route_documents_its_response(seeded: Seeded) -> None:
    doc = _get(seeded, "/api/openapi.json")
    for path, operations in doc["paths"].items():
        if not path.startswith("/api/v1/"):
            continue
        for method, op in operations.items():
            ok = op["responses"].get("200") or op["responses"]["201"]  # 201: a rule created
            schema = ok["content"]["application/json"]["schema"]
            assert schema.get("$ref", "").startswith("#/components/schemas/"), (path, method)
    assert "children" in doc["components"]["schemas"]["Span"]["properties"]


def test_real_answers_match_their_models(seeded: Seeded) -> None:
    sid, rid = seeded.sid, seeded.rid
    _check(schemas.Projects, _get(seeded, "/api/v1/projects"))
    page = _get(seeded, "/api/v1/sessions")
    assert page["sessions"]
    _check(schemas.SessionPage, page)
    view = _get(seeded, f"/api/v1/sessions/{sid}")
    assert view["console"] and view["track"] and view["errors"] and view["backend_errors"]
    _check(schemas.SessionView, view)
    _check(schemas.ReplayPage, _get(seeded, f"/api/v1/sessions/{sid}/replay"))
    req = _get(seeded, f"/api/v1/requests/{rid}")
    assert req["spans"][0]["children"] and req["logs"] and req["errors"]
    _check(schemas.RequestView, req)
    _check(schemas.TraceView, _get(seeded, f"/api/v1/traces/{req['trace_ids'][0]}"))
    groups = _get(seeded, "/api/v1/error-groups")
    assert groups["groups"]
    _check(schemas.ErrorGroupPage, groups)
    gid = groups["groups"][0]["id"]
    _check(schemas.ErrorGroupView, _get(seeded, f"/api/v1/error-groups/{gid}"))
    r = httpx.patch(
        f"{seeded.server.url}/api/v1/error-groups/{gid}", headers=AUTH, json={"state": "ignored"}
    )
    _check(schemas.GroupState, r.json())
    logs = _get(seeded, f"/api/v1/logs?request_id={rid}")
    assert logs["logs"]
    _check(schemas.LogPage, logs)
    _check(schemas.LogPage, _get(seeded, "/api/v1/logs?q=stock"))
    _check(schemas.Status, _get(seeded, "/api/v1/status"))
