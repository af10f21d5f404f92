"""``GET /api/v1/error-groups/{id}/facts``: the error group page's facts as JSON, through
the real app in-process, fed through the public browser ingest."""

from __future__ import annotations

import time

import httpx

from backlight_server.api import schemas
from bltest import AUTH, session_id


async def test_facts_of_a_group(client: httpx.AsyncClient, project: str) -> None:
    now = time.time() * 1000
    sid = session_id()
    start = {
        "v": 1,
        "project_id": project,
        "session_secure_id": sid,
        "started_at": now - 5000,
        "url": "http://shop.test/cart",
        "user_agent": "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0",
        "app_version": "4.0.1",
    }
    assert (await client.post("/ingest/v1/session", json=start)).status_code == 200
    batch = {
        "v": 1,
        "project_id": project,
        "session_secure_id": sid,
        "seq": 0,
        "identify": {"ts": now - 4000, "identifier": "ada@example.com", "metadata": {}},
        "errors": [
            {"ts": now - 1000, "type": "TypeError", "message": "x", "url": "http://shop.test/a?b"}
        ],
    }
    assert (await client.post("/ingest/v1/batch", json=batch)).status_code == 200
    groups = (await client.get("/api/v1/error-groups", headers=AUTH)).json()["groups"]
    gid = groups[0]["id"]
    r = await client.get(f"/api/v1/error-groups/{gid}/facts", headers=AUTH)
    assert r.status_code == 200, r.text
    facts = r.json()
    schemas.ErrorGroupFacts.model_validate(facts)
    assert (facts["users"], facts["sessions"], facts["sampled"]) == (1, 1, 1)
    assert sum(facts["hourly"]["counts"]) == 1
    assert facts["breakdowns"]["url"] == [["/a", 1]]
    assert facts["breakdowns"]["release"] == [["4.0.1", 1]]
    assert facts["instances"][0]["user"] == "ada@example.com"
    # refusals name the field and the limit; an unknown group is a 404
    r = await client.get(f"/api/v1/error-groups/{gid}/facts?sample=0", headers=AUTH)
    assert r.status_code == 400 and "sample" in r.text, r.text
    r = await client.get("/api/v1/error-groups/12345/facts", headers=AUTH)
    assert r.status_code == 404 and r.json()["error"] == "not_found"
    assert (await client.get(f"/api/v1/error-groups/{gid}/facts")).status_code == 401
