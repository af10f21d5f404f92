"""A request's timing phases at the edge (issue 22, bug 4): unknown is null and stays null,
a real 0 stays 0, anything else is refused naming the field and the limit; highlight.run's
resource entries get their phases by the browser SDK's rule, withheld marks unknown."""

from __future__ import annotations

import base64
import gzip
import time
from typing import Any

import httpx
import orjson
import pytest

from backlight_server.ingest.fields import resource_phases
from bltest import AUTH, batch, network_entry, request_id, session_id, session_start

PHASES = ("dns", "connect", "tls", "ttfb", "download")
INIT = """mutation initializeSession($sid: String!, $project: String!) {
  initializeSession(session_secure_id: $sid, organization_verbose_id: $project,
    enable_strict_privacy: false, enable_recording_network_contents: true,
    clientVersion: "10.7.5", firstloadVersion: "10.7.5", clientConfig: "{}",
    environment: "production") { secure_id }
}"""
PUSH = """mutation PushPayloadCompressed($sid: String!, $payload_id: ID!, $data: String!) {
  pushPayloadCompressed(session_secure_id: $sid, payload_id: $payload_id, data: $data)
}"""
WITHHELD = dict.fromkeys(PHASES)


async def _post(
    client: httpx.AsyncClient, project: str, sid: str, entry: dict[str, Any], seq: int = 0
) -> Any:
    return await client.post("/ingest/v1/batch", json=batch(project, sid, seq, network=[entry]))


async def _gql(client: httpx.AsyncClient, query: str, variables: dict[str, Any]) -> None:
    r = await client.post("/public", json={"query": query, "variables": variables})
    assert r.status_code == 200 and "errors" not in r.json(), r.text


async def _detail(client: httpx.AsyncClient, sid: str, rid: str) -> dict[str, Any]:
    data = (await client.get(f"/api/v1/sessions/{sid}", headers=AUTH)).json()
    (entry,) = [n for n in data["network"] if n["request_id"] == rid]
    detail: dict[str, Any] = entry["detail"]
    return detail


async def test_unknown_stays_null_and_zero_stays_zero(
    client: httpx.AsyncClient, project: str
) -> None:
    sid = session_id()
    await client.post("/ingest/v1/session", json=session_start(project, sid))
    sent = {
        "withheld": WITHHELD,
        "reused": {"dns": 0, "connect": 0, "tls": 0, "ttfb": 12.5, "download": 1e9},
    }
    rids = {}
    for seq, (name, timing) in enumerate(sent.items()):
        rids[name] = request_id()
        entry = {**network_entry(rids[name]), "timing": timing}
        r = await _post(client, project, sid, entry, seq)
        assert r.status_code == 200, r.text
    assert (await _detail(client, sid, rids["withheld"]))["timing"] == WITHHELD
    assert (await _detail(client, sid, rids["reused"]))["timing"] == sent["reused"]
    view = (await client.get(f"/api/v1/requests/{rids['withheld']}", headers=AUTH)).json()
    assert view["browser"]["detail"]["timing"] == WITHHELD


@pytest.mark.parametrize(
    ("timing", "field", "limit"),
    [
        ({"dns": -1}, "network[0].timing.dns", "from 0 to 1e9"),
        ({"ttfb": 1e9 + 1}, "network[0].timing.ttfb", "from 0 to 1e9"),
        ({"ttfb": "12"}, "network[0].timing.ttfb", "from 0 to 1e9"),
        ({"tls": True}, "network[0].timing.tls", "from 0 to 1e9"),
        ({"download": [1]}, "network[0].timing.download", "from 0 to 1e9"),
        ({"": 1}, "network[0].timing", "longer than 64 characters"),
        ({"x" * 65: 1}, "network[0].timing", "longer than 64 characters"),
        ({f"p{i}": 1 for i in range(33)}, "network[0].timing", "the limit is 32"),
        ([1, 2], "network[0].timing", "must be an object"),
    ],
)
async def test_out_of_range_phases_are_refused_by_name(
    client: httpx.AsyncClient, project: str, timing: Any, field: str, limit: str
) -> None:
    r = await _post(
        client, project, session_id(), {**network_entry(request_id()), "timing": timing}
    )
    assert r.status_code == 400, r.text
    body = r.json()
    assert body["error"] == "invalid_field"
    assert body["detail"].startswith(field + ":") and limit in body["detail"], body


# highlight.run 10.x: <mark>Abs = performance.timeOrigin + mark; a withheld mark reads 0,
# so it arrives as the time origin itself, before startTimeAbs.
ORIGIN = 1_732_450_000_000.0
START = 500.0


def _abs(**marks: float) -> dict[str, float]:
    return {f"{k}Abs": ORIGIN + v for k, v in marks.items()}


MARKS = {  # a fresh https connection, every mark shared
    "startTime": START,
    "domainLookupStart": START + 1,
    "domainLookupEnd": START + 5,
    "connectStart": START + 5,
    "secureConnectionStart": START + 10,
    "connectEnd": START + 30,
    "requestStart": START + 30,
    "responseStart": START + 80,
    "responseEnd": START + 86.5,
}
SHARED = {"dns": 4.0, "connect": 25.0, "tls": 20.0, "ttfb": 50.0, "download": 6.5}
HIDDEN = {**{k: 0.0 for k in MARKS}, "startTime": START, "responseEnd": START + 86.5}
REUSED = {  # http on a kept-alive connection: the connection marks equal fetchStart
    **{k: START for k in MARKS},
    "secureConnectionStart": 0.0,
    "requestStart": START + 0.5,
    "responseStart": START + 40.5,
    "responseEnd": START + 41,
}


def test_highlight_resource_phases() -> None:
    assert resource_phases(_abs(**MARKS)) == SHARED
    assert resource_phases(MARKS) == SHARED  # an entry's own marks (older clients)
    assert resource_phases(_abs(**HIDDEN)) == WITHHELD  # no Timing-Allow-Origin
    assert resource_phases(HIDDEN) == WITHHELD
    real_zero = {"dns": 0.0, "connect": 0.0, "tls": 0.0, "ttfb": 40.0, "download": 0.5}
    assert resource_phases(_abs(**REUSED)) == real_zero
    # highlight.run 7.x-9.x sent no detailed marks: no phases, not "all unknown"
    assert resource_phases({"startTimeAbs": ORIGIN + START, "responseEndAbs": ORIGIN + 9}) is None
    # hostile values are unknown, never a refusal nor a negative duration
    odd = {**_abs(**MARKS), "responseStartAbs": "soon", "connectEndAbs": ORIGIN + 2}
    assert resource_phases(odd) == {"dns": 4.0, "connect": None, "tls": None, "ttfb": None,
                                    "download": None}  # fmt: skip
    assert resource_phases({**MARKS, "responseEnd": 1e300})["download"] is None  # type: ignore[index]


async def test_highlight_run_requests_get_phases(client: httpx.AsyncClient, project: str) -> None:
    sid = session_id()
    await _gql(client, INIT, {"sid": sid, "project": project})
    now = time.time() * 1000
    resources = []
    for rid, marks in (("tao", MARKS), ("notao", HIDDEN)):
        entry: dict[str, Any] = {f"{k}Abs": now - START + v for k, v in marks.items()}
        entry |= {
            "name": f"http://api.test/{rid}",
            "initiatorType": "fetch",
            "requestResponsePairs": {
                "request": {"id": rid, "verb": "GET", "url": f"http://api.test/{rid}"},
                "response": {"status": 200},
            },
        }
        resources.append(entry)
    variables = {
        "session_secure_id": sid,
        "payload_id": "1",
        "events": {"events": []},
        "messages": '{"messages": []}',
        "resources": orjson.dumps({"resources": resources}).decode(),
        "errors": [],
        "is_beacon": False,
        "has_session_unloaded": False,
    }
    data = base64.b64encode(gzip.compress(orjson.dumps(variables))).decode()
    await _gql(client, PUSH, {"sid": sid, "payload_id": "1", "data": data})
    assert (await _detail(client, sid, "tao"))["timing"] == SHARED
    assert (await _detail(client, sid, "notao"))["timing"] == WITHHELD
