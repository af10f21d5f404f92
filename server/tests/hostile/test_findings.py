"""Issue 16's findings, each reproduced against a real ``backlight serve``: hostile input
gets a JSON 4xx naming the field (with the ingest CORS headers), the server stays
responsive, and every page and API route still answers after it — including rows that an
older version stored before the edge checks existed."""

from __future__ import annotations

import base64
import gzip
import json
import sqlite3
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import orjson
import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from backlight_server.testing import BacklightProcess
from bltest import AUTH, batch, network_entry, request_id, rrweb_events, session_id, session_start

ORIGIN = {"origin": "https://shop.example"}
HOSTILE_V8 = "at " + " (" * 32766 + "x"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BacklightProcess]:
    with BacklightProcess(tmp_path_factory.mktemp("hostile")) as proc:
        yield proc


def post(server: BacklightProcess, path: str, body: Any, **headers: str) -> httpx.Response:
    content = body if isinstance(body, bytes) else orjson.dumps(body)
    return httpx.post(
        server.url + path,
        content=content,
        timeout=60,
        headers={"content-type": "application/json", **ORIGIN, **headers},
    )


def refused(r: httpx.Response, status: int, code: str, field: str = "") -> None:
    assert r.status_code == status, r.text[:500]
    assert r.headers["content-type"] == "application/json"
    assert r.headers["access-control-allow-origin"] == ORIGIN["origin"]
    assert r.json()["error"] == code, r.text[:500]
    assert field in r.json()["detail"], r.text[:500]


def pages_answer(server: BacklightProcess, sid: str, rid: str | None = None) -> None:
    """Every page and API route that shows this data answers 200 (or a deliberate 404)."""
    paths = [
        "/sessions",
        f"/sessions/{sid}",
        "/api/v1/sessions",
        f"/api/v1/sessions/{sid}",
        f"/api/v1/sessions/{sid}/replay",
        "/errors",
        "/api/v1/error-groups",
        "/logs",
        "/setup",
        "/api/v1/status",
    ]
    if rid:
        paths += [f"/requests/{rid}", f"/api/v1/requests/{rid}", f"/requests/{rid}?fragment=1"]
    for path in paths:
        r = httpx.get(server.url + path, headers=AUTH, timeout=30)
        assert r.status_code == 200, (path, r.status_code, r.text[:300])


def start_session(server: BacklightProcess) -> str:
    sid = session_id()
    assert post(server, "/ingest/v1/session", session_start(server.project, sid)).status_code == 200
    return sid


def healthz_while(
    server: BacklightProcess, requests: list[tuple[str, bytes, dict[str, str]]]
) -> list[float]:
    """Send ``requests`` on threads; meanwhile poll /healthz (each poll must answer within
    5 s: the old parsers held the event loop for ~19 s). Returns the poll latencies."""
    done = threading.Event()
    answers: list[httpx.Response] = []

    def send() -> None:
        with httpx.Client(base_url=server.url, timeout=120) as client:
            for path, body, headers in requests:
                answers.append(client.post(path, content=body, headers=headers))
        done.set()

    threading.Thread(target=send, daemon=True).start()
    latencies: list[float] = []
    with httpx.Client(base_url=server.url, timeout=5) as client:
        while not done.is_set() or not latencies:
            started = time.perf_counter()
            assert client.get("/healthz").status_code == 200
            latencies.append(time.perf_counter() - started)
            time.sleep(0.02)
    assert done.wait(120)
    assert all(a.status_code < 500 for a in answers), [a.text[:200] for a in answers]
    return latencies


def test_1_hostile_stack_does_not_freeze_the_server(server: BacklightProcess) -> None:
    sid = start_session(server)
    body = gzip.compress(
        orjson.dumps(
            batch(
                server.project,
                sid,
                0,
                errors=[
                    {
                        "ts": time.time() * 1000,
                        "type": "Error",
                        "message": "x",
                        "raw_stack": HOSTILE_V8,
                    }
                ],
            )
        )
    )
    assert len(body) < 400  # the 244-byte request
    spans = ExportTraceServiceRequest()
    rs = spans.resource_spans.add()
    kv = rs.resource.attributes.add()
    kv.key, kv.value.string_value = "highlight.project_id", server.project
    scope = rs.scope_spans.add()
    now = time.time_ns()
    for i in range(40):
        span = scope.spans.add()
        span.trace_id, span.span_id, span.name = bytes([i + 1]) * 16, bytes([i + 1]) * 8, "s"
        span.start_time_unix_nano, span.end_time_unix_nano = now, now + 1000
        ev = span.events.add()
        ev.name, ev.time_unix_nano = "exception", now
        for key, value in (
            ("exception.type", "Error"),
            ("exception.stacktrace", "    at " + "a (" * 2700),
        ):
            attr = ev.attributes.add()
            attr.key, attr.value.string_value = key, value
    latencies = healthz_while(
        server,
        [
            (
                "/ingest/v1/batch",
                body,
                {"content-type": "application/json", "content-encoding": "gzip"},
            ),
            ("/v1/traces", spans.SerializeToString(), {"content-type": "application/x-protobuf"}),
        ],
    )
    assert max(latencies) < 5
    group = server.api(f"/api/v1/sessions/{sid}")["errors"]
    assert len(group) == 1


@pytest.mark.sqlite_only
def test_2_absurd_timestamps_are_refused_and_old_rows_still_render(
    server: BacklightProcess,
) -> None:
    sid = session_id()
    r = post(
        server,
        "/ingest/v1/batch",
        batch(server.project, sid, 0, events=[{"type": 3, "data": {}, "timestamp": 1e300}]),
    )
    refused(r, 400, "invalid_event", "events[0].timestamp")
    for field, value in (("ts", 1e300), ("ts", -5), ("ts", "soon")):
        r = post(
            server,
            "/ingest/v1/batch",
            batch(server.project, sid, 0, console=[{field: value, "level": "log", "message": "x"}]),
        )
        refused(r, 400, "invalid_field", "console[0].ts")
    # a row an older version stored before the window existed
    legacy = session_id()
    db = sqlite3.connect(server.data_dir / "backlight.db", timeout=30)
    db.execute(
        "INSERT INTO sessions (secure_id, project_id, started_ms, last_ms) "
        "VALUES (?, ?, 1e300, 1e300)",
        (legacy, server.project),
    )
    db.commit()
    db.close()
    pages_answer(server, legacy)


@pytest.mark.sqlite_only
def test_3_large_graphql_json_is_stored_valid(server: BacklightProcess) -> None:
    sid = start_session(server)
    big = {"plan": "x" * 70_000}
    for query, variables in (
        (
            "mutation identifySession($session_secure_id: String!, $user_identifier: String!, "
            "$user_object: Any) { identifySession(session_secure_id: $session_secure_id, "
            "user_identifier: $user_identifier, user_object: $user_object) }",
            {"session_secure_id": sid, "user_identifier": "ada", "user_object": big},
        ),
        (
            "mutation addSessionProperties($session_secure_id: String!, $properties_object: Any) "
            "{ addSessionProperties(session_secure_id: $session_secure_id, "
            "properties_object: $properties_object) }",
            {"session_secure_id": sid, "properties_object": big},
        ),
    ):
        r = post(server, "/public", {"query": query, "variables": variables})
        assert r.json().get("errors") is None, r.text
    pages_answer(server, sid)
    meta = server.api(f"/api/v1/sessions/{sid}")["session"]["user_metadata"]
    assert meta["_truncated"] is True
    # rows an older version cut in the middle of the JSON
    db = sqlite3.connect(server.data_dir / "backlight.db", timeout=30)
    db.execute("UPDATE sessions SET user_metadata = ? WHERE secure_id = ?", ('{"plan": "xxx', sid))
    db.execute(
        "INSERT INTO console (session_id, ts_ms, level, message, args) "
        "VALUES (?, ?, 'log', 'm', '[\"cut')",
        (sid, time.time() * 1000),
    )
    db.commit()
    db.close()
    pages_answer(server, sid)
    session = server.api(f"/api/v1/sessions/{sid}")
    assert session["session"]["user_metadata"]["_invalid"] is True


def test_4_deep_snapshots_are_stored_and_bad_levels_refused(server: BacklightProcess) -> None:
    sid = start_session(server)
    node: dict[str, Any] = {"type": 3, "textContent": "deepest", "id": 999}
    for i in range(130):  # a DOM ~130 elements deep: JSON ~260 levels
        node = {"type": 2, "tagName": "div", "attributes": {}, "childNodes": [node], "id": i}
    events = [
        *rrweb_events(2),
        {
            "type": 2,
            "data": {"node": node, "initialOffset": {"left": 0, "top": 0}},
            "timestamp": time.time() * 1000 + 5,
        },
    ]
    body = json.dumps(
        batch(
            server.project,
            sid,
            0,
            events=events,
            console=[{"ts": time.time() * 1000, "level": "log", "message": "kept"}],
        )
    ).encode()
    r = post(server, "/ingest/v1/batch", body)
    assert r.status_code == 200, r.text
    replay = httpx.get(f"{server.url}/api/v1/sessions/{sid}/replay", headers=AUTH).content
    assert b'"deepest"' in replay
    levels: tuple[Any, ...] = ({}, [], 5, None)
    for level in levels:
        r = post(
            server,
            "/ingest/v1/batch",
            batch(
                server.project,
                sid,
                1,
                console=[{"ts": time.time() * 1000, "level": level, "message": "x"}],
            ),
        )
        if level is None:
            assert r.status_code == 400
        else:
            refused(r, 400, "invalid_field", "console[0].level")
    pages_answer(server, sid)


@pytest.mark.sqlite_only
def test_5_network_detail_types_are_checked_and_old_rows_render(server: BacklightProcess) -> None:
    sid = start_session(server)
    for key, value, field in (
        ("timing", "fast", "network[0].timing"),
        ("timing", {"dns": "1"}, "network[0].timing.dns"),
        ("request_headers", ["a"], "network[0].request_headers"),
        ("response_headers", "x: y", "network[0].response_headers"),
        ("request_headers", {"a": 1}, "network[0].request_headers.a"),
        ("request_size", -1, "network[0].request_size"),
    ):
        entry = {**network_entry(request_id()), key: value}
        r = post(server, "/ingest/v1/batch", batch(server.project, sid, 0, network=[entry]))
        refused(r, 400, "invalid_field", field)
    rid = request_id()
    entry = {**network_entry(rid), "timing": {"dns": None, "ttfb": 12.5}}
    assert (
        post(server, "/ingest/v1/batch", batch(server.project, sid, 0, network=[entry])).status_code
        == 200
    )
    legacy = request_id()
    db = sqlite3.connect(server.data_dir / "backlight.db", timeout=30)
    db.execute(
        "INSERT INTO network (session_id, request_id, type, method, url, status, "
        "start_ms, end_ms, detail) VALUES (?, ?, 'fetch', 'GET', '/x', 200, ?, ?, ?)",
        (
            sid,
            legacy,
            time.time() * 1000,
            time.time() * 1000,
            orjson.dumps(
                {
                    "timing": "slow",
                    "request_headers": ["a", "b"],
                    "response_headers": "x",
                    "request_size": "big",
                }
            ).decode(),
        ),
    )
    odd = request_id()  # numbers that are not numbers (SQLite keeps any type in any column)
    db.execute(
        "INSERT INTO network (session_id, request_id, type, method, url, status, "
        "start_ms, end_ms) VALUES (?, ?, 'fetch', 'GET', '/y', 'ok', 'soon', X'00')",
        (sid, odd),
    )
    db.commit()
    db.close()
    pages_answer(server, sid, legacy)
    pages_answer(server, sid, rid)
    pages_answer(server, sid, odd)
    view = server.api(f"/api/v1/requests/{legacy}")
    assert set(view["browser"]["detail"]["invalid"]) == {
        "timing",
        "request_headers",
        "response_headers",
        "request_size",
    }


def test_6_replay_pages_are_capped_in_bytes(server: BacklightProcess) -> None:
    sid = start_session(server)
    for seq in range(3):  # ~5 MB of JSON each, a few KB gzipped
        events = [
            {"type": 3, "data": {"text": "y" * 5_000_000}, "timestamp": time.time() * 1000 + seq}
        ]
        body = gzip.compress(orjson.dumps(batch(server.project, sid, seq, events=events)))
        assert len(body) < 100_000
        r = post(server, "/ingest/v1/batch", body, **{"content-encoding": "gzip"})
        assert r.status_code == 200, r.text
    first = httpx.get(
        f"{server.url}/api/v1/sessions/{sid}/replay?limit=200", headers=AUTH, timeout=30
    ).json()
    assert len(first["events"]) == 2  # 10 MB > the 8 MiB page: the rest is on the next page
    assert first["next_seq"] == 1
    rest = httpx.get(
        f"{server.url}/api/v1/sessions/{sid}/replay?after_seq=1", headers=AUTH, timeout=30
    ).json()
    assert len(rest["events"]) == 1
    assert rest["next_seq"] is None


def test_7_graphql_size_caps(server: BacklightProcess) -> None:
    many = "mutation { " + " ".join("pushMetrics(metrics: [])" for _ in range(1000)) + " }"
    aliased = (
        "mutation { " + " ".join(f"a{i}: pushMetrics(metrics: [])" for i in range(2000)) + " }"
    )
    deep = "query { " + "a { " * 200 + "}" * 201
    for query in (many, aliased, deep):
        body = gzip.compress(orjson.dumps({"query": query}))
        latencies = healthz_while(
            server,
            [("/public", body, {"content-type": "application/json", "content-encoding": "gzip"})],
        )
        assert max(latencies) < 5
        r = post(server, "/public", body, **{"content-encoding": "gzip"})
        assert r.status_code == 200
        error = r.json()["errors"][0]
        assert error.get("extensions", {}).get("code") == "query_too_complex" or (
            "tokens" in error["message"] or "nested too deeply" in error["message"]
        ), error


def test_8_query_api_ranges_and_nul(server: BacklightProcess) -> None:
    for path in (
        "/api/v1/sessions?start_ms=nan",
        "/api/v1/sessions?end_ms=1e300",
        "/api/v1/logs?start_ms=-inf",
        "/api/v1/error-groups/99999999999999999999999",
        "/api/v1/sessions?limit=0",
    ):
        r = httpx.get(server.url + path, headers=AUTH)
        assert r.status_code == 400, (path, r.text)
        assert r.json()["error"] == "invalid_parameter"
    for path in (
        "/api/v1/logs?q=%00",
        "/logs?q=%00",
        "/api/v1/logs?q=%22%00*",
        "/sessions?user=%00",
    ):
        r = httpx.get(server.url + path, headers=AUTH)
        assert r.status_code == 200, (path, r.text[:300])
    doc = httpx.get(server.url + "/api/openapi.json", headers=AUTH).json()
    for ops in doc["paths"].values():
        for op in ops.values():
            assert "422" not in op["responses"]
    assert "400" in doc["paths"]["/api/v1/sessions"]["get"]["responses"]
    assert "404" in doc["paths"]["/api/v1/sessions/{secure_id}"]["get"]["responses"]


def test_span_parent_cycles_and_deep_chains_render(server: BacklightProcess) -> None:
    req = ExportTraceServiceRequest()
    rs = req.resource_spans.add()
    kv = rs.resource.attributes.add()
    kv.key, kv.value.string_value = "highlight.project_id", server.project
    scope = rs.scope_spans.add()
    trace = bytes.fromhex(request_id())
    now = time.time_ns()
    for i in range(3000):  # a chain 3,000 spans deep, closed into a cycle at the top
        span = scope.spans.add()
        span.trace_id, span.name = trace, f"s{i}"
        span.span_id = (i + 1).to_bytes(8, "big")
        span.parent_span_id = (i if i else 3000).to_bytes(8, "big")
        span.start_time_unix_nano, span.end_time_unix_nano = now + i, now + 10_000
    r = httpx.post(
        server.url + "/v1/traces",
        content=req.SerializeToString(),
        headers={"content-type": "application/x-protobuf"},
        timeout=60,
    )
    assert r.status_code == 200
    for path in (
        f"/traces/{trace.hex()}",
        f"/api/v1/traces/{trace.hex()}",
        f"/requests/{trace.hex()}",
        f"/api/v1/requests/{trace.hex()}",
    ):
        r = httpx.get(server.url + path, headers=AUTH, timeout=60)
        assert r.status_code == 200, (path, r.text[:300])
    assert server.api(f"/api/v1/traces/{trace.hex()}")["span_count"] == 3000


def test_graphql_payload_seq_and_compressed_data_are_checked(server: BacklightProcess) -> None:
    sid = start_session(server)
    push = (
        "mutation PushPayloadCompressed($session_secure_id: String!, $payload_id: ID!, "
        "$data: String!) { pushPayloadCompressed(session_secure_id: $session_secure_id, "
        "payload_id: $payload_id, data: $data) }"
    )
    data = base64.b64encode(
        gzip.compress(
            orjson.dumps(
                {"events": {"events": [{"type": 3, "data": {}, "timestamp": 1e300, "_sid": 1}]}}
            )
        )
    ).decode()
    for payload_id, code in (
        ("99999999999999999999999", "invalid_payload"),
        ("1", "invalid_field"),
    ):
        r = post(
            server,
            "/public",
            {
                "query": push,
                "variables": {"session_secure_id": sid, "payload_id": payload_id, "data": data},
            },
        )
        assert r.status_code == 200
        assert r.json()["errors"][0]["extensions"]["code"] == code, r.text
    pages_answer(server, sid)


def test_11_bodies_are_redacted_by_substring_on_the_server(server: BacklightProcess) -> None:
    sid, rid = start_session(server), request_id()
    entry = {
        **network_entry(rid),
        "request_headers": {"X-Session-Token": "abc", "content-type": "application/json"},
        "request_body": '{"new_password": "hunter2", "password_confirmation": "hunter2",'
        ' "id_token": "eyJ.x.y", "name": "ada"}',
        "response_body": '{"session_token": "s3cr3t", "ok": true}',
    }
    assert (
        post(server, "/ingest/v1/batch", batch(server.project, sid, 0, network=[entry])).status_code
        == 200
    )
    detail = server.api(f"/api/v1/requests/{rid}")["browser"]["detail"]
    stored = orjson.dumps(detail).decode()
    for secret in ("hunter2", "eyJ.x.y", "s3cr3t", "abc"):
        assert secret not in stored, stored
    assert orjson.loads(detail["request_body"])["name"] == "ada"
    assert detail["request_headers"]["content-type"] == "application/json"
