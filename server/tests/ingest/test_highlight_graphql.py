"""highlight.run's GraphQL calls at /public, shaped like the 10.x client sends them."""

from __future__ import annotations

import base64
import gzip
import time
from typing import Any

import httpx
import orjson

from bltest import AUTH, request_id, session_id

INIT = """mutation initializeSession($session_secure_id: String!, $session_key: String,
  $organization_verbose_id: String!, $enable_strict_privacy: Boolean!, $privacy_setting: String!,
  $enable_recording_network_contents: Boolean!, $clientVersion: String!,
  $firstloadVersion: String!, $clientConfig: String!, $environment: String!, $id: String!,
  $appVersion: String, $serviceName: String!, $client_id: String!,
  $network_recording_domains: [String!], $disable_session_recording: Boolean) {
  initializeSession(session_secure_id: $session_secure_id, session_key: $session_key,
    organization_verbose_id: $organization_verbose_id,
    enable_strict_privacy: $enable_strict_privacy,
    enable_recording_network_contents: $enable_recording_network_contents,
    clientVersion: $clientVersion, firstloadVersion: $firstloadVersion,
    clientConfig: $clientConfig, environment: $environment, appVersion: $appVersion,
    serviceName: $serviceName, fingerprint: $id, client_id: $client_id,
    network_recording_domains: $network_recording_domains,
    disable_session_recording: $disable_session_recording, privacy_setting: $privacy_setting) {
    secure_id project_id
    sampling { spans { name { ...MatchParts } samplingRatio } logs { samplingRatio } }
  }
}
fragment MatchParts on MatchConfig { regexValue matchValue }"""
COMPRESSED = """mutation PushPayloadCompressed($session_secure_id: String!, $payload_id: ID!,
  $data: String!) {
  pushPayloadCompressed(session_secure_id: $session_secure_id, payload_id: $payload_id,
                        data: $data)
}"""
IDENTIFY = """mutation identifySession($session_secure_id: String!, $user_identifier: String!,
  $user_object: Any) { identifySession(session_secure_id: $session_secure_id,
  user_identifier: $user_identifier, user_object: $user_object) }"""
PROPS = """mutation addSessionProperties($session_secure_id: String!, $properties_object: Any) {
  addSessionProperties(session_secure_id: $session_secure_id,
                       properties_object: $properties_object) }"""
FEEDBACK = """mutation addSessionFeedback($session_secure_id: String!, $user_name: String,
  $user_email: String, $verbatim: String!, $timestamp: Timestamp!) {
  addSessionFeedback(session_secure_id: $session_secure_id, user_name: $user_name,
    user_email: $user_email, verbatim: $verbatim, timestamp: $timestamp) }"""
METRICS = """mutation pushMetrics($metrics: [MetricInput]!) { pushMetrics(metrics: $metrics) }"""


async def gql(
    client: httpx.AsyncClient, query: str, variables: dict[str, Any], op: str | None = None
) -> dict[str, Any]:
    r = await client.post(
        "/public", json={"query": query, "variables": variables, "operationName": op}
    )
    assert r.status_code == 200, r.text
    data: dict[str, Any] = r.json()
    return data


def init_vars(project: str, sid: str) -> dict[str, Any]:
    return {
        "session_secure_id": sid,
        "organization_verbose_id": project,
        "enable_strict_privacy": False,
        "privacy_setting": "default",
        "enable_recording_network_contents": True,
        "clientVersion": "10.7.5",
        "firstloadVersion": "10.7.5",
        "clientConfig": "{}",
        "environment": "production",
        "id": "fp",
        "appVersion": "1.0",
        "serviceName": "shop-web",
        "client_id": "c1",
    }


def push_vars(sid: str, rid: str) -> dict[str, Any]:
    now = time.time() * 1000
    events = [
        {
            "type": 4,
            "timestamp": now,
            "_sid": 1,
            "data": {"href": "http://shop.test/cart", "width": 800, "height": 600},
        },
        {
            "type": 2,
            "timestamp": now + 1,
            "_sid": 2,
            "data": {
                "node": {"type": 0, "childNodes": [], "id": 1},
                "initialOffset": {"left": 0, "top": 0},
            },
        },
    ]
    resource = {
        "name": "http://api.test/checkout",
        "initiatorType": "fetch",
        "startTime": 100.0,
        "responseEnd": 180.0,
        "offsetStartTime": 60.0,
        "offsetResponseEnd": 140.0,
        "transferSize": 120,
        "requestResponsePair": {
            "request": {
                "sessionSecureID": sid,
                "id": rid,
                "url": "http://api.test/checkout",
                "verb": "POST",
                "headers": {"content-type": "application/json"},
                "body": '{"sku": 1}',
            },
            "response": {"status": 500, "headers": {}, "body": '{"error": "x"}', "size": 14},
            "urlBlocked": False,
        },
    }
    v10 = {
        "name": "http://api.test/stock",
        "initiatorType": "xmlhttprequest",
        "startTimeAbs": now + 5,
        "responseEndAbs": now + 25,
        "requestResponsePairs": {
            "request": {"id": "v10req", "verb": "GET", "url": "http://api.test/stock"},
            "response": {"status": 200, "body": "{}"},
        },
    }
    image = {
        "name": "http://shop.test/logo.png",
        "initiatorType": "img",
        "startTime": 1.0,
        "responseEnd": 2.0,
    }
    messages = [
        {"type": "warn", "value": ["low stock", "3"], "trace": [], "time": now, "attributes": "{}"}
    ]
    errors = [
        {
            "event": '"TypeError: cart is undefined"',
            "type": "window.onerror",
            "url": "http://shop.test/cart",
            "source": "app.js",
            "lineNumber": 3,
            "columnNumber": 9,
            "timestamp": "2026-11-24T10:00:00.000Z",
            "stackTrace": [
                {
                    "functionName": "checkout",
                    "fileName": "http://shop.test/app.js",
                    "lineNumber": 3,
                    "columnNumber": 9,
                }
            ],
        }
    ]
    return {
        "session_secure_id": sid,
        "payload_id": "1",
        "events": {"events": events},
        "messages": orjson.dumps({"messages": messages}).decode(),
        "resources": orjson.dumps({"resources": [resource, v10, image]}).decode(),
        "web_socket_events": '{"webSocketEvents": []}',
        "errors": errors,
        "is_beacon": False,
        "has_session_unloaded": False,
    }


def compressed(variables: dict[str, Any]) -> str:
    return base64.b64encode(gzip.compress(orjson.dumps(variables))).decode()


async def test_session_from_highlight_run(client: httpx.AsyncClient, project: str) -> None:
    sid, rid = session_id(), request_id()[:10]
    init = await gql(client, INIT, init_vars(project, sid), "initializeSession")
    answer = init["data"]["initializeSession"]
    assert answer["secure_id"] == sid
    assert answer["sampling"] is None
    assert int(answer["project_id"]) > 0  # the client parses it as a number
    again = await gql(client, INIT, init_vars(project, session_id()))
    assert again["data"]["initializeSession"]["project_id"] == answer["project_id"]
    payload = {
        "session_secure_id": sid,
        "payload_id": "1732450000123",
        "data": compressed(push_vars(sid, rid)),
    }
    for _ in range(2):  # a retry with the same payload_id stores nothing twice
        res = await gql(client, COMPRESSED, payload, "PushPayloadCompressed")
        assert "errors" not in res, res
    await gql(
        client,
        IDENTIFY,
        {
            "session_secure_id": sid,
            "user_identifier": "ada@shop.test",
            "user_object": {"plan": "pro"},
        },
    )
    await gql(client, PROPS, {"session_secure_id": sid, "properties_object": {"ab": "b"}})
    await gql(
        client,
        FEEDBACK,
        {"session_secure_id": sid, "verbatim": "love it", "timestamp": "2026-11-24T10:00:00Z"},
    )
    metrics = await gql(
        client,
        METRICS,
        {"metrics": [{"session_secure_id": sid, "name": "fps", "value": 60, "timestamp": 1}]},
    )
    assert metrics == {"data": {"pushMetrics": 0}}

    data = (await client.get(f"/api/v1/sessions/{sid}", headers=AUTH)).json()
    s = data["session"]
    assert s["url"] == "http://shop.test/cart"
    assert s["sdk_version"] == "highlight.run 10.7.5"
    assert s["identifier"] == "ada@shop.test"
    assert s["event_count"] == 2
    net = {n["request_id"]: n for n in data["network"]}
    assert {k: (n["status"], n["method"], n["type"]) for k, n in net.items()} == {
        rid: (500, "POST", "fetch"),
        "v10req": (200, "GET", "xhr"),
    }
    assert net["v10req"]["end_ms"] - net["v10req"]["start_ms"] == 20
    assert net[rid]["end_ms"] - net[rid]["start_ms"] == 80
    assert net[rid]["detail"]["request_body"] == '{"sku": 1}'
    assert [(c["level"], c["message"]) for c in data["console"]] == [("warn", "low stock 3")]
    assert [(e["type"], e["message"], e["stack"][0]["function"]) for e in data["errors"]] == [
        ("TypeError", "TypeError: cart is undefined", "checkout")
    ]
    assert {t["event"] for t in data["track"]} == {"session properties", "feedback"}
    replay = (await client.get(f"/api/v1/sessions/{sid}/replay", headers=AUTH)).json()
    assert [e["type"] for e in replay["events"]] == [4, 2]


async def test_bad_calls_get_graphql_errors(client: httpx.AsyncClient, project: str) -> None:
    sid = session_id()
    unknown = await gql(client, "mutation { deleteEverything }", {})
    assert unknown["errors"]
    assert "deleteEverything" in unknown["errors"][0]["message"]
    syntax = await gql(client, "mutation {", {})
    assert syntax["errors"]
    no_project = await gql(client, INIT, init_vars("ghost123", sid))
    assert "ghost123" in no_project["errors"][0]["message"]
    await gql(client, INIT, init_vars(project, sid))
    for data, code in (
        ("not base64!!", "invalid_payload"),
        (base64.b64encode(b"not gzip").decode(), "invalid_payload"),
        (base64.b64encode(gzip.compress(b"[1]")).decode(), "invalid_payload"),
        (
            base64.b64encode(gzip.compress(b" " * (40 * 1024 * 1024))).decode(),
            "decompressed_too_large",
        ),
    ):
        res = await gql(
            client, COMPRESSED, {"session_secure_id": sid, "payload_id": "5", "data": data}
        )
        assert res["errors"][0]["extensions"]["code"] == code, res
    ghost = await gql(
        client,
        COMPRESSED,
        {
            "session_secure_id": session_id(),
            "payload_id": "5",
            "data": compressed(push_vars(sid, "r1")),
        },
    )
    assert ghost["errors"][0]["extensions"]["code"] == "unknown_session"
    r = await client.post(
        "/public", content=b"x" * (6 * 1024 * 1024), headers={"content-type": "application/json"}
    )
    assert r.status_code == 413
    r = await client.post(
        "/public", content=b"{not json", headers={"content-type": "application/json"}
    )
    assert r.status_code == 200
    assert r.json()["errors"]
    sampling = await gql(
        client,
        "query GetSamplingConfig($o: String!) { sampling("
        "organization_verbose_id: $o) { spans { samplingRatio } } }",
        {"o": project},
    )
    assert sampling == {"data": {"sampling": None}}
    assert (await client.get("/healthz")).json()["ok"] is True
