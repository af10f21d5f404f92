"""Request R links end to end, through a real ``backlight serve`` and the real OTel SDK.

A browser session records network request R. Two services export spans, logs and an
exception carrying ``highlight.session_id``/``highlight.trace_id = R`` (with trace ids of
their own); a third service uses plain OpenTelemetry whose trace id is R. Everything must
appear under ``GET /api/v1/requests/R`` and in R's summary in the session.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import httpx
from opentelemetry import trace
from opentelemetry.trace import NonRecordingSpan, SpanContext, TraceFlags

from backlight_server.testing import BacklightProcess
from bltest import (
    OtelService,
    batch,
    network_entry,
    request_id,
    rrweb_events,
    session_id,
    session_start,
    wait_for,
)


def _linked_service(svc: OtelService, sid: str, rid: str, fail: bool) -> None:
    link = {"highlight.session_id": sid, "highlight.trace_id": rid}
    with svc.tracer.start_as_current_span("POST /checkout", attributes=link) as span:
        with svc.tracer.start_as_current_span("db.query", attributes=link):
            svc.logger.info("reserving stock", extra=link)
        if fail:
            try:
                raise ValueError(f"out of stock for order {rid[:6]}")
            except ValueError as exc:
                span.record_exception(exc)
                span.set_status(trace.Status(trace.StatusCode.ERROR))
        else:
            try:
                raise KeyError("payment-provider")
            except KeyError:
                svc.logger.exception("payment failed", extra=link)


def _plain_service(svc: OtelService, rid: str) -> None:
    parent = NonRecordingSpan(
        SpanContext(int(rid, 16), 0x1234567890ABCDEF, is_remote=True, trace_flags=TraceFlags(1))
    )
    ctx = trace.set_span_in_context(parent)
    with svc.tracer.start_as_current_span("GET /price", context=ctx):
        svc.logger.warning("price cache miss")


def test_request_links_across_services(
    backlight_server: BacklightProcess, otel_service: Callable[..., OtelService]
) -> None:
    server, project = backlight_server, backlight_server.project
    sid, rid, other = session_id(), request_id(), request_id()
    r = httpx.post(server.url + "/ingest/v1/session", json=session_start(project, sid))
    assert r.status_code == 200, r.text
    r = httpx.post(
        server.url + "/ingest/v1/batch",
        json=batch(
            project,
            sid,
            0,
            events=rrweb_events(),
            network=[network_entry(rid), network_entry(other, status=200)],
        ),
    )
    assert r.status_code == 200, r.text

    api = otel_service(server.url, "api", project)
    inventory = otel_service(server.url, "inventory", project)
    plain = otel_service(server.url, "pricing", None, headers={"x-highlight-project": project})
    _linked_service(api, sid, rid, fail=False)
    _linked_service(inventory, sid, rid, fail=True)
    _plain_service(plain, rid)
    for svc in (api, inventory, plain):
        svc.flush()

    view: dict[str, Any] = wait_for(
        lambda: (lambda v: v if len(v["errors"]) >= 2 else None)(
            server.api(f"/api/v1/requests/{rid}")
        )
    )
    assert view["session_secure_id"] == sid
    assert view["browser"]["url"] == "http://api.test/checkout"
    assert set(view["services"]) == {"api", "inventory", "pricing"}
    assert view["span_count"] == 5
    assert {lg["body"] for lg in view["logs"]} >= {
        "reserving stock",
        "payment failed",
        "price cache miss",
    }
    kinds = {(e["service"], e["source"], e["type"]) for e in view["errors"]}
    assert kinds == {("inventory", "span", "ValueError"), ("api", "log", "KeyError")}
    for err in view["errors"]:
        assert err["session_id"] == sid and err["request_id"] == rid
        assert any(f["in_app"] for f in err["stack"]), err["stack"]

    session = server.api(f"/api/v1/sessions/{sid}")
    summary = {n["request_id"]: n["backend"] for n in session["network"]}
    assert summary[rid] == {"spans": 5, "logs": 4, "errors": 2, "worst_level": "error"}
    assert summary[other] == {"spans": 0, "logs": 0, "errors": 0, "worst_level": None}
    backend_errors = session["backend_errors"]
    assert {e["service"] for e in backend_errors} == {"api", "inventory"}


def test_plain_otel_links_by_trace_id_when_spans_arrive_first(
    backlight_server: BacklightProcess, otel_service: Callable[..., OtelService]
) -> None:
    """The backend may export before the browser's batch arrives; the join is at query time."""
    server, project = backlight_server, backlight_server.project
    sid, rid = session_id(), request_id()
    plain = otel_service(server.url, "late", project)
    parent = NonRecordingSpan(
        SpanContext(int(rid, 16), 0xABCDEF, is_remote=True, trace_flags=TraceFlags(1))
    )
    with plain.tracer.start_as_current_span(
        "GET /late", context=trace.set_span_in_context(parent)
    ) as span:
        try:
            raise RuntimeError("late failure")
        except RuntimeError as exc:
            span.record_exception(exc)
    plain.flush()
    wait_for(lambda: server.api(f"/api/v1/requests/{rid}")["errors"])
    r = httpx.post(
        server.url + "/ingest/v1/batch", json=batch(project, sid, 0, network=[network_entry(rid)])
    )
    assert r.status_code == 200
    session = server.api(f"/api/v1/sessions/{sid}")
    assert session["network"][0]["backend"]["errors"] == 1
    assert [e["type"] for e in session["backend_errors"]] == ["RuntimeError"]
    listed = server.api("/api/v1/sessions", has_errors="true", limit=500)
    assert sid in {s["secure_id"] for s in listed["sessions"]}


def test_logs_are_searchable_and_link_to_session(
    backlight_server: BacklightProcess, otel_service: Callable[..., OtelService]
) -> None:
    server, project = backlight_server, backlight_server.project
    sid, rid = session_id(), request_id()
    httpx.post(
        server.url + "/ingest/v1/batch", json=batch(project, sid, 0, network=[network_entry(rid)])
    )
    svc = otel_service(server.url, "search", project)
    word = "zebracorn" + rid[:6]
    svc.logger.error(
        "the %s exploded", word, extra={"highlight.session_id": sid, "highlight.trace_id": rid}
    )
    svc.logger.setLevel(logging.DEBUG)
    svc.flush()
    found = wait_for(lambda: server.api("/api/v1/logs", q=word)["logs"])
    assert len(found) == 1
    assert found[0]["session_secure_id"] == sid and found[0]["request_id"] == rid
    assert found[0]["level"] == "error"
    assert server.api("/api/v1/logs", q=word, level="info")["logs"] == []
    assert server.api("/api/v1/logs", q=word, session_id=sid)["logs"]
