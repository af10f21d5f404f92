"""A ``navigation`` network entry (the document's own request, docs/linkage.md "Navigation
timing") is taken like any other; an unknown type is still refused, naming the field."""

from __future__ import annotations

import httpx

from bltest import AUTH, batch, network_entry, request_id, session_id, session_start


async def test_navigation_entry_is_stored(client: httpx.AsyncClient, project: str) -> None:
    sid, rid = session_id(), request_id()
    assert (await client.post("/ingest/v1/session", json=session_start(project, sid))).is_success
    entry = {**network_entry(rid, "http://app.test/orders", 200), "type": "navigation"}
    entry["method"] = "GET"
    r = await client.post("/ingest/v1/batch", json=batch(project, sid, 0, network=[entry]))
    assert r.status_code == 200, r.text
    data = (await client.get(f"/api/v1/sessions/{sid}", headers=AUTH)).json()
    [row] = data["network"]
    assert (row["type"], row["method"], row["request_id"]) == ("navigation", "GET", rid)


async def test_unknown_network_type_is_refused(client: httpx.AsyncClient, project: str) -> None:
    sid = session_id()
    assert (await client.post("/ingest/v1/session", json=session_start(project, sid))).is_success
    entry = {**network_entry(request_id()), "type": "document"}
    r = await client.post("/ingest/v1/batch", json=batch(project, sid, 0, network=[entry]))
    assert r.status_code == 400
    assert r.json()["error"] == "invalid_field"
    assert "network[0].type" in r.json()["detail"]
    assert "navigation" in r.json()["detail"]
