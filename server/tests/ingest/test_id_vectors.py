"""The browser protocol and highlight's GraphQL accept exactly the session and request ids
of docs/linkage-vectors.json, and a session with any valid id can be read back."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest

from bltest import AUTH, batch, network_entry, session_id, session_start

VECTORS: dict[str, Any] = json.loads(
    (Path(__file__).resolve().parents[3] / "docs" / "linkage-vectors.json").read_text("utf-8")
)
VALID = [c["id"] for c in VECTORS["ids"]["valid"]]
INVALID = [c["id"] for c in VECTORS["ids"]["invalid"]]
ALL = [pytest.param(i, True, id=f"valid-{n}") for n, i in enumerate(VALID)] + [
    pytest.param(i, False, id=f"invalid-{n}") for n, i in enumerate(INVALID)
]

INIT = """mutation initializeSession($session_secure_id: String!, $organization_verbose_id: String!,
  $enable_strict_privacy: Boolean!, $enable_recording_network_contents: Boolean!,
  $clientVersion: String!, $firstloadVersion: String!, $clientConfig: String!,
  $environment: String!, $id: String!, $serviceName: String!, $client_id: String!) {
  initializeSession(session_secure_id: $session_secure_id,
    organization_verbose_id: $organization_verbose_id,
    enable_strict_privacy: $enable_strict_privacy,
    enable_recording_network_contents: $enable_recording_network_contents,
    clientVersion: $clientVersion, firstloadVersion: $firstloadVersion,
    clientConfig: $clientConfig, environment: $environment, serviceName: $serviceName,
    fingerprint: $id, client_id: $client_id) { secure_id }
}"""


@pytest.mark.parametrize(("sid", "valid"), ALL)
async def test_session_ids(client: httpx.AsyncClient, project: str, sid: str, valid: bool) -> None:
    r = await client.post("/ingest/v1/session", json=session_start(project, sid))
    if not valid:
        assert r.status_code == 400, r.text
        assert r.json()["error"] == "invalid_field"
        assert "session_secure_id" in r.json()["detail"]
        return
    assert r.status_code == 200, r.text
    r = await client.get(f"/api/v1/sessions/{quote(sid, safe='')}", headers=AUTH)
    assert r.status_code == 200, r.text
    assert r.json()["session"]["secure_id"] == sid


@pytest.mark.parametrize(("rid", "valid"), ALL)
async def test_request_ids(client: httpx.AsyncClient, project: str, rid: str, valid: bool) -> None:
    sid = session_id()
    r = await client.post(
        "/ingest/v1/batch", json=batch(project, sid, 0, network=[network_entry(rid)])
    )
    if not valid:
        assert r.status_code == 400, r.text
        assert r.json()["error"] == "invalid_field"
        assert "network[0].request_id" in r.json()["detail"]
        return
    assert r.status_code == 200, r.text
    r = await client.get(f"/api/v1/requests/{quote(rid, safe='')}", headers=AUTH)
    assert r.status_code == 200, r.text
    assert r.json()["session_secure_id"] == sid
    assert r.json()["browser"]["request_id"] == rid


@pytest.mark.parametrize(("sid", "valid"), ALL)
async def test_highlight_session_ids(
    client: httpx.AsyncClient, project: str, sid: str, valid: bool
) -> None:
    variables = {
        "session_secure_id": sid,
        "organization_verbose_id": project,
        "enable_strict_privacy": False,
        "enable_recording_network_contents": True,
        "clientVersion": "10.7.5",
        "firstloadVersion": "10.7.5",
        "clientConfig": "{}",
        "environment": "test",
        "id": "1",
        "serviceName": "web",
        "client_id": "c",
    }
    r = await client.post("/public", json={"query": INIT, "variables": variables})
    assert r.status_code == 200, r.text
    data = r.json()
    if valid:
        assert data["data"]["initializeSession"]["secure_id"] == sid, data
    else:
        assert data["errors"][0]["extensions"]["code"] == "invalid_field", data
