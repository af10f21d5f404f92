"""Error grouping, with exceptions recorded by the real OTel SDK and sent over OTLP/HTTP."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from backlight_server.testing import BacklightProcess
from bltest import OtelService, wait_for


def charge(order_id: int) -> None:
    raise ValueError(f"card declined for order {order_id} (ref 'tx-{order_id:06x}')")


def refund(order_id: int) -> None:
    raise ValueError(f"card declined for order {order_id} (ref 'tx-{order_id:06x}')")


def _record(svc: OtelService, fn: Callable[[int], None], order_id: int) -> None:
    with svc.tracer.start_as_current_span("job") as span:
        try:
            fn(order_id)
        except ValueError as exc:
            span.record_exception(exc)


def _groups(server: BacklightProcess, service_marker: str) -> list[dict[str, Any]]:
    groups = server.api("/api/v1/error-groups", limit=500)["groups"]
    return [g for g in groups if service_marker in str(g.get("stack"))]


def test_grouping_and_reopen(
    backlight_server: BacklightProcess, otel_service: Callable[..., OtelService]
) -> None:
    server = backlight_server
    svc = otel_service(server.url, "grouping", server.project)
    for i in range(100):
        _record(svc, charge, 1000 + i * 7919)  # ids differ: must still group together
    svc.flush()
    wait_for(lambda: sum(g["count"] for g in _groups(server, "charge")) >= 100)
    charged = _groups(server, "charge")
    assert len(charged) == 1 and charged[0]["count"] == 100
    gid = charged[0]["id"]
    detail = server.api(f"/api/v1/error-groups/{gid}", limit=5)
    inst = detail["instances"][0]
    assert {"session_secure_id", "request_id", "timestamp", "stack", "raw_stack"} <= set(inst)

    _record(svc, refund, 42)  # same type and message shape, another place
    svc.flush()
    wait_for(lambda: _groups(server, "refund"))
    assert _groups(server, "refund")[0]["id"] != gid

    import httpx

    r = httpx.patch(
        f"{server.url}/api/v1/error-groups/{gid}",
        json={"state": "resolved"},
        headers={"Authorization": f"Bearer {server.token}"},
    )
    assert r.status_code == 200 and r.json()["state"] == "resolved"
    assert server.api(f"/api/v1/error-groups/{gid}")["group"]["state"] == "resolved"
    _record(svc, charge, 5)
    svc.flush()
    reopened = wait_for(
        lambda: (lambda g: g if g["count"] == 101 else None)(
            server.api(f"/api/v1/error-groups/{gid}")["group"]
        )
    )
    assert reopened["state"] == "open"
    r = httpx.patch(
        f"{server.url}/api/v1/error-groups/{gid}",
        json={"state": "bogus"},
        headers={"Authorization": f"Bearer {server.token}"},
    )
    assert r.status_code == 400


def test_exception_logged_and_recorded_is_one_instance(
    backlight_server: BacklightProcess, otel_service: Callable[..., OtelService]
) -> None:
    """A server that records the exception on its span and also logs it with
    ``logger.exception`` (uvicorn does) must not count it twice."""
    server = backlight_server
    svc = otel_service(server.url, "dedupe", server.project)
    with svc.tracer.start_as_current_span("POST /pay") as span:
        try:
            raise TimeoutError("gateway 7f3a timed out")
        except TimeoutError as exc:
            span.record_exception(exc)
            svc.logger.exception("Exception in ASGI application")
        try:
            raise KeyError("another")
        except KeyError:
            svc.logger.exception("a different failure in the same request")
    svc.flush()
    trace_id = f"{span.get_span_context().trace_id:032x}"
    # flush() returns once the server answered, and an answer means committed: every
    # error of this trace is stored by now, a duplicate included
    errors = server.api(f"/api/v1/traces/{trace_id}")["errors"]
    assert sorted(e["type"] for e in errors) == ["KeyError", "TimeoutError"]
