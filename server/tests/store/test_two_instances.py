"""Two app instances on one ClickHouse engine serve the same data (stateless servers).

Both instances (full apps, as two ``backlight serve`` behind a load balancer would be) open
the same ``chdb://`` folder, so they share one engine, as servers share one ClickHouse.
They take interleaved ingest of the same sessions and errors, and one browser batch is
retried on the other instance. Nothing may be duplicated or lost, and sessions, groups and
counts must equal those of one instance taking the same traffic.
"""

from __future__ import annotations

import secrets
import time
from pathlib import Path
from typing import Any

import httpx
from blclickhouse import ClickhouseStandIn
from fastapi import FastAPI

from backlight_server.app import create_app
from backlight_server.settings import Settings
from bltest import AUTH, TOKEN, batch, session_id, session_start

NOW_MS = time.time() * 1000 - 60_000


def _attrs(values: dict[str, str]) -> list[dict[str, Any]]:
    return [{"key": k, "value": {"stringValue": v}} for k, v in values.items()]


def backend_error(project: str, sid: str, rid: str, at_ms: float) -> dict[str, Any]:
    """A server span of request ``rid`` that raised, as an OpenTelemetry SDK exports it."""
    ns = str(int(at_ms * 1_000_000))
    return {
        "resourceSpans": [
            {
                "resource": {
                    "attributes": _attrs({"service.name": "api", "highlight.project_id": project})
                },
                "scopeSpans": [
                    {
                        "spans": [
                            {
                                "traceId": rid,
                                "spanId": secrets.token_hex(8),
                                "name": "POST /checkout",
                                "kind": 2,
                                "startTimeUnixNano": ns,
                                "endTimeUnixNano": ns,
                                "status": {"code": 2},
                                "attributes": _attrs(
                                    {"highlight.session_id": sid, "highlight.trace_id": rid}
                                ),
                                "events": [
                                    {
                                        "name": "exception",
                                        "timeUnixNano": ns,
                                        "attributes": _attrs(
                                            {
                                                "exception.type": "ValueError",
                                                "exception.message": "out of stock",
                                                "exception.stacktrace": (
                                                    "Traceback (most recent call last):\n"
                                                    '  File "/app/shop.py", line 9, in reserve\n'
                                                    "ValueError: out of stock"
                                                ),
                                            }
                                        ),
                                    }
                                ],
                            }
                        ]
                    }
                ],
            }
        ]
    }


def traffic(project: str) -> list[tuple[int, str, dict[str, Any]]]:
    """(instance, path, body) for 6 sessions of 3 batches, each batch with a failing request
    and a frontend error; batch 1 of every session is sent to both instances (a retry)."""
    out: list[tuple[int, str, dict[str, Any]]] = []
    for n in range(6):
        sid = session_id()
        out.append((n % 2, "/ingest/v1/session", session_start(project, sid)))
        for seq in range(3):
            rid = secrets.token_hex(16)
            at = NOW_MS + n * 1000 + seq * 100
            body = batch(
                project,
                sid,
                seq,
                network=[
                    {
                        "request_id": rid,
                        "type": "fetch",
                        "method": "POST",
                        "url": "http://api.test/checkout",
                        "status": 500,
                        "start": at,
                        "end": at + 50,
                        "error": None,
                    }
                ],
                errors=[
                    {
                        "ts": at,
                        "type": "TypeError",
                        "message": "cart is undefined",
                        "source": "onerror",
                        "stack": [{"file": "http://app.test/app.js", "function": "pay", "line": 3}],
                    }
                ],
            )
            out.append(((n + seq) % 2, "/ingest/v1/batch", body))
            if seq == 1:
                out.append(((n + seq + 1) % 2, "/ingest/v1/batch", body))
            out.append(((n + seq + 1) % 2, "/v1/traces", backend_error(project, sid, rid, at + 10)))
    return out


def _app(folder: Path | str, data: Path) -> FastAPI:
    return create_app(
        Settings(
            data_dir=data,
            store=folder if isinstance(folder, str) else f"chdb://{folder}",
            auth_token=TOKEN,
            retention_days=0,
            otlp_grpc_port=0,
        )
    )


async def snapshot(client: httpx.AsyncClient) -> dict[str, Any]:
    sessions = (await client.get("/api/v1/sessions", headers=AUTH, params={"limit": 100})).json()
    groups = (await client.get("/api/v1/error-groups", headers=AUTH)).json()["groups"]
    per_session = []
    for s in sessions["sessions"]:
        full = (await client.get(f"/api/v1/sessions/{s['secure_id']}", headers=AUTH)).json()
        per_session.append(
            (
                s["event_count"],
                s["network_count"],
                s["fe_error_count"],
                s["be_error_count"],
                s["pages"],
                len(full["network"]),
                len(full["errors"]),
                len(full["backend_errors"]),
                sorted(n["backend"]["errors"] for n in full["network"]),
            )
        )
    return {
        "total": sessions["total"],
        "sessions": sorted(per_session),
        "groups": sorted(
            (g["type"], g["message"], g["source"], g["count"], g["sessions"], g["state"])
            for g in groups
        ),
    }


async def run(apps: list[FastAPI]) -> dict[str, Any]:
    clients = [
        httpx.AsyncClient(transport=httpx.ASGITransport(app=a), base_url="http://test")
        for a in apps
    ]
    try:
        project = apps[0].state.backlight.default_project
        assert all(a.state.backlight.default_project == project for a in apps)
        for instance, path, body in traffic(project):
            r = await clients[instance % len(clients)].post(path, json=body)
            assert r.status_code == 200, r.text
        snaps = [await snapshot(c) for c in clients]
        assert all(s == snaps[0] for s in snaps), "instances disagree"
        return snaps[0]
    finally:
        for c in clients:
            await c.aclose()


async def test_two_instances_on_one_engine_match_one_instance(tmp_path: Path) -> None:
    shared = tmp_path / "shared"
    first = _app(shared, tmp_path / "a")
    second = _app(shared, tmp_path / "b")  # the same engine folder: one ClickHouse
    try:
        two = await run([first, second])
    finally:
        first.state.backlight.store.close()
        second.state.backlight.store.close()
    alone = _app(tmp_path / "alone", tmp_path / "c")
    try:
        one = await run([alone])
    finally:
        alone.state.backlight.store.close()
    assert two == one
    _expected(two)


def _expected(two: dict[str, Any]) -> None:
    assert two["total"] == 6
    # 3 batches each, one retried: stored once; 3 requests, 3 frontend and 3 backend errors
    assert two["sessions"] == [(0, 3, 3, 3, 1, 3, 3, 3, [1, 1, 1])] * 6
    assert two["groups"] == [
        ("TypeError", "cart is undefined", "frontend", 18, 6, "open"),
        ("ValueError", "out of stock", "span", 18, 6, "open"),
    ]


async def test_two_servers_over_http_on_one_clickhouse(tmp_path: Path) -> None:
    """The same over ``clickhouse://``: two instances, each with its own HTTP client, on one
    ClickHouse (the stand-in server process of ``blclickhouse`` on the real engine)."""
    server = ClickhouseStandIn(tmp_path / "engine")
    server.start()
    url = f"clickhouse://default:@127.0.0.1:{server.port}/backlight"
    try:
        first = _app(url, tmp_path / "a")
        second = _app(url, tmp_path / "b")
        try:
            _expected(await run([first, second]))
        finally:
            first.state.backlight.store.close()
            second.state.backlight.store.close()
    finally:
        server.stop()
