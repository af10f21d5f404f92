"""End to end: the SDK exports to a real ``backlight serve`` process, which links it all."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sdk_capture import SESSION

import backlight
from backlight.integrations.asgi import BacklightMiddleware

testing = pytest.importorskip("backlight_server.testing")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    with testing.BacklightProcess(Path(tmp_path_factory.mktemp("serve"))) as process:
        yield process


def test_fastapi_errors_and_logs_link_in_backlight_serve(server: Any) -> None:
    from fastapi import FastAPI

    request_id = "5bf92f3577b34da6a3ce929d0e0e4737"
    backlight.init(server.project, backend_url=server.url, service_name="shop-api")
    try:
        app = FastAPI(telemetry={"tracing": False, "logs": False})
        app.add_middleware(BacklightMiddleware)

        @app.post("/checkout")
        async def checkout() -> None:
            logging.getLogger("shop").warning("reserving stock")
            raise ValueError("out of stock")

        async def call() -> int:
            transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
            async with httpx.AsyncClient(transport=transport, base_url="http://shop") as client:
                headers = {
                    "x-highlight-request": f"{SESSION}/{request_id}",
                    "traceparent": f"00-{request_id}-00f067aa0ba902b7-01",
                }
                return (await client.post("/checkout", headers=headers)).status_code

        assert asyncio.run(call()) == 500
        try:
            raise KeyError("payment-provider")
        except KeyError as exc:
            backlight.consume_error(exc, SESSION, request_id)
        assert backlight.flush(10.0)
    finally:
        backlight.shutdown()

    def linked() -> Any:
        v = server.api(f"/api/v1/requests/{request_id}")
        return v if len(v.get("errors", [])) >= 2 and v.get("logs") else None

    view = testing.wait_for(linked, "two errors and a log on the request")
    assert view["services"] == ["shop-api"] or set(view["services"]) == {"shop-api"}
    assert "reserving stock" in {log["body"] for log in view["logs"]}
    types = {e["type"] for e in view["errors"]}
    assert {"ValueError", "KeyError"} <= types
    for error in view["errors"]:
        assert error["session_id"] == SESSION
        assert error["request_id"] == request_id
