"""Backend errors and logs that carry only a session id are matched to a request by time.

highlight's Node SDK sends ``highlight.session_id`` but no request id, and records an error
in a fresh trace. Such a record is attached to the session's one network request in flight
when it was recorded, marked ``"match": "time"`` (see ``query/timematch.py``); the
records here are OTLP/JSON shaped as that SDK sends them, at chosen times.
"""

from __future__ import annotations

import secrets
import sqlite3
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from backlight_server.query.timematch import SKEW_MS
from bltest import AUTH, TOKEN, batch, session_id, session_start

BASE_MS = float(int(time.time() * 1000) - 120_000)


def _attrs(values: dict[str, str]) -> list[dict[str, Any]]:
    return [{"key": k, "value": {"stringValue": v}} for k, v in values.items()]


def _resource(project: str) -> dict[str, Any]:
    return {"attributes": _attrs({"service.name": "hl-node", "highlight.project_id": project})}


def _ns(offset_ms: float) -> str:
    return str(int((BASE_MS + offset_ms) * 1_000_000))


def hl_error(
    project: str, attrs: dict[str, str], at_ms: float, message: str, trace_id: str | None = None
) -> dict[str, Any]:
    """An error as ``H.consumeError`` records it: a ``highlight.error`` span of its own trace
    with an ``exception`` event, carrying ``highlight.session_id``."""
    return {
        "resourceSpans": [
            {
                "resource": _resource(project),
                "scopeSpans": [
                    {
                        "spans": [
                            {
                                "traceId": trace_id or secrets.token_hex(16),
                                "spanId": secrets.token_hex(8),
                                "name": "highlight.error",
                                "kind": 1,
                                "startTimeUnixNano": _ns(at_ms),
                                "endTimeUnixNano": _ns(at_ms + 1),
                                "attributes": _attrs(attrs),
                                "events": [
                                    {
                                        "name": "exception",
                                        "timeUnixNano": _ns(at_ms),
                                        "attributes": _attrs(
                                            {
                                                "exception.type": "Error",
                                                "exception.message": message,
                                                "exception.stacktrace": (
                                                    f"Error: {message}\n"
                                                    "    at handler (/app/server.js:10:5)"
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


def hl_log(
    project: str, attrs: dict[str, str], at_ms: float, body: str, trace_id: str | None = None
) -> dict[str, Any]:
    """A log as ``H.log`` sends it: severity text only, ``highlight.session_id``, no trace."""
    record: dict[str, Any] = {
        "timeUnixNano": _ns(at_ms),
        "severityText": "warn",
        "body": {"stringValue": body},
        "attributes": _attrs(attrs),
    }
    if trace_id:
        record.update(traceId=trace_id, spanId=secrets.token_hex(8))
    return {
        "resourceLogs": [{"resource": _resource(project), "scopeLogs": [{"logRecords": [record]}]}]
    }


def span(project: str, trace_id: str, attrs: dict[str, str], at_ms: float) -> dict[str, Any]:
    return {
        "resourceSpans": [
            {
                "resource": _resource(project),
                "scopeSpans": [
                    {
                        "spans": [
                            {
                                "traceId": trace_id,
                                "spanId": secrets.token_hex(8),
                                "name": "GET /price",
                                "kind": 2,
                                "startTimeUnixNano": _ns(at_ms),
                                "endTimeUnixNano": _ns(at_ms + 5),
                                "attributes": _attrs(attrs),
                            }
                        ]
                    }
                ],
            }
        ]
    }


def net(rid: str | None, start: float, end: float) -> dict[str, Any]:
    return {
        "request_id": rid,
        "type": "fetch",
        "method": "GET",
        "url": f"http://api.test/{(rid or 'none')[:6]}",
        "status": 200,
        "start": BASE_MS + start,
        "end": BASE_MS + end,
        "error": None,
    }


async def post(client: httpx.AsyncClient, path: str, body: dict[str, Any]) -> None:
    r = await client.post(path, json=body)
    assert r.status_code == 200, r.text
    assert "partialSuccess" not in r.json(), r.text


async def view(client: httpx.AsyncClient, rid: str) -> tuple[dict[str, str], dict[str, str]]:
    """Message/body → match of the request's errors and logs."""
    data = (await client.get(f"/api/v1/requests/{rid}", headers=AUTH)).json()
    return (
        {e["message"]: e["match"] for e in data["errors"]},
        {lg["body"]: lg["match"] for lg in data["logs"]},
    )


async def test_only_session_records_match_the_one_request_in_flight(
    client: httpx.AsyncClient, project: str
) -> None:
    sid, other = session_id(), session_id()
    a, b, c, f, g, linked, alone = (secrets.token_hex(16) for _ in range(7))
    for s in (sid, other):
        assert (
            await client.post("/ingest/v1/session", json=session_start(project, s))
        ).status_code == 200
    network = [
        net(a, 0, 100),  # alone
        net(b, 1000, 1300),
        net(c, 1200, 1500),  # overlapping
        net(None, 1800, 1900),  # untraced (no request id): never a match
        net(f, 10_000, 10_100),
        net(g, 20_000, 20_100),
        net(linked, 30_000, 30_100),
    ]
    frontend = {
        "ts": BASE_MS + 50,
        "type": "TypeError",
        "message": "frontend at 50",
        "source": "onerror",
        "url": "http://app.test/",
        "stack": [],
    }
    r = await client.post(
        "/ingest/v1/batch", json=batch(project, sid, 0, network=network, errors=[frontend])
    )
    assert r.status_code == 200, r.text
    assert (
        await client.post(
            "/ingest/v1/batch", json=batch(project, other, 0, network=[net(alone, 0, 100)])
        )
    ).status_code == 200

    only = {"highlight.session_id": sid}
    await post(client, "/v1/traces", hl_error(project, only, 50, "error at 50"))
    await post(client, "/v1/logs", hl_log(project, only, 60, "log at 60"))
    await post(client, "/v1/traces", hl_error(project, only, 1250, "error at 1250"))
    await post(client, "/v1/logs", hl_log(project, only, 1100, "log at 1100"))
    await post(client, "/v1/logs", hl_log(project, only, 1850, "log at 1850"))
    await post(client, "/v1/logs", hl_log(project, only, 10_100 + SKEW_MS - 10, "log just after f"))
    await post(client, "/v1/logs", hl_log(project, only, 13_000, "log between f and g"))
    # carries a request id of its own (an unrecorded one): not matched by time
    await post(
        client,
        "/v1/logs",
        hl_log(
            project, {**only, "highlight.trace_id": secrets.token_hex(16)}, 70, "explicit at 70"
        ),
    )
    # a trace that a recorded request has (through a span carrying its request id): exact
    traced = secrets.token_hex(16)
    await post(
        client,
        "/v1/traces",
        span(project, traced, {"highlight.session_id": sid, "highlight.trace_id": linked}, 30_000),
    )
    await post(client, "/v1/logs", hl_log(project, only, 80, "linked trace at 80", traced))
    # the trace id is a recorded request's id (plain OpenTelemetry): exact
    await post(client, "/v1/logs", hl_log(project, only, 90, "trace c at 90", c))
    # another session's record at the same time
    await post(
        client,
        "/v1/logs",
        hl_log(project, {"highlight.session_id": other}, 50, "other session at 50"),
    )

    assert await view(client, a) == ({"error at 50": "time"}, {"log at 60": "time"})
    assert await view(client, b) == ({}, {"log at 1100": "time"})  # c is not in flight yet
    assert await view(client, c) == ({}, {"trace c at 90": "exact"})
    assert await view(client, f) == ({}, {"log just after f": "time"})  # within SKEW_MS
    assert await view(client, g) == ({}, {})
    assert await view(client, linked) == ({}, {"linked trace at 80": "exact"})
    assert await view(client, alone) == ({}, {"other session at 50": "time"})

    session = (await client.get(f"/api/v1/sessions/{sid}", headers=AUTH)).json()
    backend = {n["request_id"]: n["backend"] for n in session["network"]}
    assert (backend[a]["errors"], backend[a]["logs"]) == (1, 1)
    assert (backend[b]["errors"], backend[b]["logs"]) == (0, 1)
    assert (backend[c]["errors"], backend[c]["logs"]) == (0, 1)
    assert (backend[f]["errors"], backend[f]["logs"]) == (0, 1)
    assert (backend[g]["errors"], backend[g]["logs"]) == (0, 0)
    assert backend[None] == {"spans": 0, "logs": 0, "errors": 0, "worst_level": None}
    # the UI's summaries of the rows in view agree
    await client.post("/login", data={"token": TOKEN})
    ui = (await client.get(f"/ui-data/backend-summaries?ids={a},{b},{g}")).json()
    assert (ui[a]["errors"], ui[a]["logs"], ui[b]["logs"], ui[g]["logs"]) == (1, 1, 1, 0)

    logs = (await client.get("/api/v1/logs", params={"request_id": a}, headers=AUTH)).json()
    assert [lg["body"] for lg in logs["logs"]] == ["log at 60"]

    page = await client.get(f"/requests/{a}?fragment=1")
    assert page.status_code == 200
    assert page.text.count("matched by time") == 2
    exact = await client.get(f"/requests/{c}?fragment=1")
    assert "trace c at 90" in exact.text and "matched by time" not in exact.text


@pytest.mark.sqlite_only
async def test_time_matching_survives_any_stored_value(
    client: httpx.AsyncClient, project: str, app: FastAPI, tmp_path: Path
) -> None:
    sid, a, b = session_id(), secrets.token_hex(16), secrets.token_hex(16)
    await client.post("/ingest/v1/session", json=session_start(project, sid))
    assert (
        await client.post(
            "/ingest/v1/batch",
            json=batch(project, sid, 0, network=[net(a, 0, 100), net(b, 200, 300)]),
        )
    ).status_code == 200
    only = {"highlight.session_id": sid}
    await post(client, "/v1/logs", hl_log(project, only, 50, "log at 50"))
    await post(client, "/v1/traces", hl_error(project, only, 250, "error at 250"))
    await post(client, "/v1/logs", hl_log(project, only, 260, "log at 260"))
    assert await view(client, a) == ({}, {"log at 50": "time"})
    db = sqlite3.connect(tmp_path / "data" / "backlight.db")
    db.execute("UPDATE network SET start_ms = 'soon', end_ms = x'00' WHERE request_id = ?", (a,))
    db.execute("UPDATE logs SET ts_ns = 'late' WHERE body = 'log at 260'")
    db.execute(
        "UPDATE errors SET trace_id = x'07', request_id = x'07' WHERE message = 'error at 250'"
    )
    db.execute(
        "INSERT INTO network (session_id, request_id, type, method, url, status, "
        "start_ms, end_ms) VALUES (?, x'2a', 'fetch', 'GET', '/x', 200, ?, ?)",
        (sid, BASE_MS + 240, BASE_MS + 250),
    )  # an id that is not text: never a match
    db.commit()
    db.close()
    assert await view(client, a) == ({}, {})  # its times are not numbers
    # the error's trace id is not text (taken as none); the log at 260's time is not a
    # number; the log at 50 now has b as the only request within SKEW_MS
    assert await view(client, b) == ({"error at 250": "time"}, {"log at 50": "time"})
    assert (await client.get(f"/api/v1/sessions/{sid}", headers=AUTH)).status_code == 200
    await client.post("/login", data={"token": TOKEN})
    for path in (f"/requests/{b}", f"/sessions/{sid}", f"/ui-data/backend-summaries?ids={a},{b}"):
        assert (await client.get(path)).status_code == 200, path
