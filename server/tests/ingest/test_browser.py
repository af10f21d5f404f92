"""The browser protocol (docs/protocol.md) over raw HTTP, in-process."""

from __future__ import annotations

import gzip
from typing import Any

import httpx
import orjson

from bltest import (
    AUTH,
    NOW_MS,
    batch,
    network_entry,
    request_id,
    rrweb_events,
    session_id,
    session_start,
)


async def _session(client: httpx.AsyncClient, sid: str) -> dict[str, Any]:
    r = await client.get(f"/api/v1/sessions/{sid}", headers=AUTH)
    assert r.status_code == 200, r.text
    data: dict[str, Any] = r.json()
    return data


async def test_session_start_and_batch_roundtrip(client: httpx.AsyncClient, project: str) -> None:
    sid, rid = session_id(), request_id()
    r = await client.post("/ingest/v1/session", json=session_start(project, sid))
    assert r.status_code == 200
    assert r.json()["session_url"].endswith(f"/sessions/{sid}")
    body = batch(
        project,
        sid,
        0,
        events=rrweb_events(5),
        network=[network_entry(rid)],
        console=[{"ts": NOW_MS, "level": "warn", "message": "careful"}],
        errors=[
            {
                "ts": NOW_MS,
                "type": "TypeError",
                "message": "x is undefined",
                "source": "onerror",
                "stack": [
                    {
                        "file": "http://app.test/app.js",
                        "function": "onClick",
                        "line": 3,
                        "column": 7,
                    }
                ],
            }
        ],
        track=[{"ts": NOW_MS, "event": "checkout", "properties": {"total": 3}}],
        identify={"ts": NOW_MS, "identifier": "ada@example.com", "metadata": {"plan": "pro"}},
        dropped={"events": 4, "network": 1, "errors": 2, "track": 3},
    )
    r = await client.post(
        "/ingest/v1/batch",
        content=gzip.compress(orjson.dumps(body)),
        headers={"content-type": "application/json", "content-encoding": "gzip"},
    )
    assert r.status_code == 200, r.text
    assert r.json() == {"ok": True, "duplicate": False}

    data = await _session(client, sid)
    s = data["session"]
    assert s["identifier"] == "ada@example.com" and s["user_metadata"] == {"plan": "pro"}
    assert s["event_count"] == 5 and s["fe_error_count"] == 1
    assert data["network"][0]["request_id"] == rid
    assert data["network"][0]["detail"]["request_body"] == '{"sku": 1}'
    assert data["console"][0]["level"] == "warn"
    assert data["errors"][0]["type"] == "TypeError"
    assert data["errors"][0]["stack"][0]["function"] == "onClick"
    assert data["errors"][0]["attributes"]["source"] == "onerror"
    assert (s["dropped_events"], s["dropped_other"]) == (4, 6)
    assert data["track"][0]["event"] == "checkout"

    r = await client.get(f"/api/v1/sessions/{sid}/replay", headers=AUTH)
    assert [e["type"] for e in r.json()["events"]] == [4, 3, 3, 3, 3]


async def test_retried_batch_is_not_duplicated(client: httpx.AsyncClient, project: str) -> None:
    sid = session_id()
    body = batch(
        project,
        sid,
        7,
        events=rrweb_events(3),
        network=[network_entry(request_id())],
        console=[{"ts": NOW_MS, "level": "log", "message": "hi"}],
        errors=[{"ts": NOW_MS, "type": "Error", "message": "once"}],
    )
    first = await client.post("/ingest/v1/batch", json=body)
    again = await client.post("/ingest/v1/batch", json=body)
    third = await client.post(
        "/ingest/v1/batch", content=orjson.dumps(body), headers={"content-type": "text/plain"}
    )
    assert first.json() == {"ok": True, "duplicate": False}
    assert again.json() == third.json() == {"ok": True, "duplicate": True}
    data = await _session(client, sid)
    assert len(data["network"]) == len(data["console"]) == len(data["errors"]) == 1
    assert data["session"]["event_count"] == 3
    replay = (await client.get(f"/api/v1/sessions/{sid}/replay", headers=AUTH)).json()
    assert len(replay["events"]) == 3
    groups = (await client.get("/api/v1/error-groups", headers=AUTH)).json()["groups"]
    assert [g["count"] for g in groups if g["message"] == "once"] == [1]


async def test_replay_pages_in_sequence_order(client: httpx.AsyncClient, project: str) -> None:
    sid = session_id()
    for seq in (2, 0, 1):
        events = [{"type": 3, "data": {"seq": seq}, "timestamp": NOW_MS + seq}]
        assert (
            await client.post("/ingest/v1/batch", json=batch(project, sid, seq, events=events))
        ).status_code == 200
    page = (await client.get(f"/api/v1/sessions/{sid}/replay?limit=2", headers=AUTH)).json()
    assert [e["data"]["seq"] for e in page["events"]] == [0, 1]
    rest = (
        await client.get(
            f"/api/v1/sessions/{sid}/replay?after_seq={page['next_seq']}", headers=AUTH
        )
    ).json()
    assert [e["data"]["seq"] for e in rest["events"]] == [2] and rest["next_seq"] is None


async def test_preflight_is_answered_for_any_origin(client: httpx.AsyncClient) -> None:
    r = await client.options(
        "/ingest/v1/batch",
        headers={
            "origin": "https://shop.example.org",
            "access-control-request-method": "POST",
            "access-control-request-headers": "content-type,content-encoding",
        },
    )
    assert r.status_code == 204
    assert r.headers["access-control-allow-origin"] == "https://shop.example.org"
    assert "content-encoding" in r.headers["access-control-allow-headers"]
    r = await client.post(
        "/ingest/v1/batch", json={"v": 1}, headers={"origin": "https://shop.example.org"}
    )
    assert r.headers["access-control-allow-origin"] == "https://shop.example.org"


async def test_unknown_project_names_the_id(client: httpx.AsyncClient) -> None:
    r = await client.post("/ingest/v1/session", json=session_start("nope1234", session_id()))
    assert r.status_code == 404
    assert r.json()["error"] == "unknown_project" and "nope1234" in r.json()["detail"]


async def test_sessions_list_filters(client: httpx.AsyncClient, project: str) -> None:
    a, b = session_id(), session_id()
    await client.post("/ingest/v1/session", json=session_start(project, a, url="http://x/shop"))
    await client.post("/ingest/v1/session", json=session_start(project, b, url="http://x/blog"))
    await client.post(
        "/ingest/v1/batch",
        json=batch(
            project,
            a,
            0,
            identify={"ts": NOW_MS, "identifier": "grace@example.com"},
            errors=[{"ts": NOW_MS, "type": "Error", "message": "bad"}],
        ),
    )

    async def ids(**params: Any) -> set[str]:
        r = await client.get("/api/v1/sessions", params=params, headers=AUTH)
        return {s["secure_id"] for s in r.json()["sessions"]}

    assert await ids() == {a, b}
    assert await ids(user="grace") == {a}
    assert await ids(has_errors="true") == {a}
    assert await ids(has_errors="false") == {b}
    assert await ids(url_contains="blog") == {b}
    assert await ids(url_contains="%") == set()
    page = (await client.get("/api/v1/sessions?limit=1", headers=AUTH)).json()
    assert page["total"] == 2 and len(page["sessions"]) == 1
