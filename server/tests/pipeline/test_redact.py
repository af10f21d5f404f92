"""pipeline/redact.py against the shared vectors (tests/vectors/redaction.json), which the
browser SDK's tests read too, plus properties only the server needs: valid JSON stays
valid, a cut body leaks nothing, nothing raises, and the cost is linear in the input."""

from __future__ import annotations

import base64
import gc
import gzip
import json
import random
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from opentelemetry.exporter.otlp.proto.common._log_encoder import encode_logs
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import InMemoryLogRecordExporter, SimpleLogRecordProcessor
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from backlight_server.pipeline import redact
from backlight_server.pipeline.redact import (
    COUNT,
    HIDE,
    KEEP,
    REDACTED,
    name_rule,
    redact_attributes,
    redact_body,
    redact_headers,
)
from bltest import AUTH, session_id

VECTORS: dict[str, Any] = json.loads(
    (Path(__file__).parents[3] / "tests" / "vectors" / "redaction.json").read_text("utf-8")
)
BODIES = VECTORS["bodies"]


def test_the_rule_is_the_one_in_the_vectors() -> None:
    rule = VECTORS["rule"]
    assert rule["redacted"] == REDACTED
    assert rule["ignored_in_names"] == redact.IGNORED_IN_NAMES
    assert sorted(rule["exact"]) == sorted(redact.EXACT)
    assert sorted(rule["contains"]) == sorted(redact.CONTAINS)
    assert rule["count_words"] == list(redact.COUNT_WORDS)


@pytest.mark.parametrize(("group", "verdict"), [("hide", HIDE), ("count", COUNT), ("keep", KEEP)])
def test_names(group: str, verdict: int) -> None:
    wrong = [n for n in VECTORS["names"][group] if name_rule(n) != verdict]
    assert wrong == []


@pytest.mark.parametrize("case", VECTORS["headers"], ids=lambda c: c["name"])
def test_header_vectors(case: dict[str, Any]) -> None:
    assert redact_headers(case["in"], case.get("extra", ())) == case["out"]
    as_map = {name: value for name, value in case["in"]}
    assert redact_headers(as_map, case.get("extra", ())) == case["out"]


@pytest.mark.parametrize("case", BODIES, ids=lambda c: c["name"])
def test_body_vectors(case: dict[str, Any]) -> None:
    out = redact_body(case["in"], case.get("extra", ()))
    assert out == case["out"]
    try:
        json.loads(case["in"])
    except ValueError:
        return
    json.loads(out)  # valid JSON in, valid JSON out


def test_attribute_vectors() -> None:
    attrs = VECTORS["attributes"]
    assert redact_attributes(dict(attrs["in"])) == attrs["out"]


def test_attributes_unchanged_are_returned_as_is() -> None:
    attrs: dict[str, object] = {
        "http.route": "/a",
        "gen_ai.usage.input_tokens": 3,
        "highlight.session_id": "s",
        "app.tags": ["a", "b"],
    }
    assert redact_attributes(attrs) is attrs


def test_a_cut_otlp_body_attribute_keeps_its_mark() -> None:
    cut = '{"a": 1, "password": "hunter2 and more' + "…[truncated]"
    out = redact_attributes({"http.request.body": cut})
    assert out == {"http.request.body": '{"a": 1, "password": "[REDACTED]"…[truncated]'}


def test_structured_body_attributes_keep_their_type() -> None:
    out = redact_attributes(
        {
            "http.request.body": {"user": "u", "password": "p"},
            "http.response.body": [{"token": "t"}, 1],
        }
    )
    assert out == {
        "http.request.body": {"user": "u", "password": REDACTED},
        "http.response.body": [{"token": REDACTED}, 1],
    }


def test_header_values_of_other_types() -> None:
    out = redact_headers(
        {
            "Content-Length": 12,
            "X-Flag": True,
            "X-Multi": ["a", 2],
            "X-Obj": {"a": 1},
            "X-Null": None,
            "Cookie": {"a": 1},
            "X-Tokens-Left": 5.0,
            3: "x",
        }
    )
    assert out == {
        "content-length": "12",
        "x-flag": "true",
        "x-multi": "a, 2",
        "cookie": REDACTED,
        "x-tokens-left": "5.0",
    }
    assert redact_headers("authorization: x") is None
    assert redact_headers(None) is None
    assert redact_headers([["a", "1"], "junk", ["b"], ["Token", "t"]]) == {
        "a": "1",
        "token": REDACTED,
    }


# --- properties -----------------------------------------------------------------------------

_NAMES = [
    "id",
    "name",
    "email",
    "items",
    "password",
    "new_password",
    "session_token",
    "max_tokens",
    "tokens",
    "apiKey",
    "X-Api-Key",
    "note",
    "cvv",
    "auth",
    "author",
]


def _value(rng: random.Random, depth: int) -> object:
    pick = rng.randrange(10 if depth < 4 else 5)
    if pick == 9:  # JSON encoded in a string, as some APIs nest it
        flat = {rng.choice(_NAMES): _value(rng, 4) for _ in range(rng.randrange(1, 4))}
        return json.dumps(flat, ensure_ascii=rng.random() < 0.5)
    if pick == 0:
        return rng.choice(["x", "password", 'a"b\\c', "", "é\u2028", "{", "]", ":"])
    if pick == 1:
        return rng.choice([0, -3, 12345678901234567, 1.5e-7])
    if pick == 2:
        return rng.choice([True, False, None])
    if pick in (3, 4):
        return f"SECRET{rng.randrange(10**9)}"
    if pick in (5, 6):
        return {rng.choice(_NAMES): _value(rng, depth + 1) for _ in range(rng.randrange(4))}
    return [_value(rng, depth + 1) for _ in range(rng.randrange(4))]


def _embedded(value: str) -> object:
    """The JSON a string holds, if it holds an object or array."""
    if not value.startswith(("{", "[")):
        return None
    try:
        return json.loads(value)
    except ValueError:
        return None


def _expected(value: object) -> object:
    """The rule applied to parsed JSON (the test's own statement of it)."""
    if isinstance(value, str) and isinstance(inner := _embedded(value), dict | list):
        return json.dumps(_expected(inner))
    if isinstance(value, list):
        return [_expected(v) for v in value]
    if isinstance(value, dict):
        out = {}
        for k, v in value.items():
            verdict = name_rule(k)
            number = isinstance(v, int | float) and not isinstance(v, bool)
            keep = verdict == KEEP or (verdict == COUNT and number)
            out[k] = _expected(v) if keep else REDACTED
        return out
    return value


def _parsed(value: object) -> object:
    """``value`` with the JSON held in strings parsed, to compare content, not escapes."""
    if isinstance(value, str) and isinstance(inner := _embedded(value), dict | list):
        return ("holds", _parsed(inner))
    if isinstance(value, list):
        return [_parsed(v) for v in value]
    if isinstance(value, dict):
        return {k: _parsed(v) for k, v in value.items()}
    return value


def _dumps(rng: random.Random, value: object) -> str:
    return json.dumps(
        value,
        ensure_ascii=rng.random() < 0.5,
        indent=rng.choice([None, 0, 2, "\t"]),
        separators=rng.choice([None, (",", ":"), (" ,  ", " : ")]),
    )


def test_valid_json_stays_valid_and_is_redacted_by_the_rule() -> None:
    rng = random.Random(16)
    for _ in range(2000):
        value = {rng.choice(_NAMES): _value(rng, 0) for _ in range(rng.randrange(1, 5))}
        text = _dumps(rng, value)
        out = redact_body(text)
        assert _parsed(json.loads(out)) == _parsed(_expected(json.loads(text))), text


def _secrets_of(value: object, hidden: bool = False) -> set[str]:
    """Every SECRET marker that sits under a sensitive key, at any depth."""
    if isinstance(value, str):
        if not hidden and isinstance(inner := _embedded(value), dict | list):
            return _secrets_of(inner)
        return {value} if hidden and value.startswith("SECRET") else set()
    if isinstance(value, list):
        return set().union(*(_secrets_of(v, hidden) for v in value))
    if isinstance(value, dict):
        return set().union(
            *(_secrets_of(v, hidden or name_rule(k) != KEEP) for k, v in value.items())
        )
    return set()


def test_a_cut_body_leaks_no_secret_under_a_sensitive_key() -> None:
    rng = random.Random(61)
    checked = 0
    for _ in range(300):
        value = {rng.choice(_NAMES): _value(rng, 0) for _ in range(rng.randrange(1, 5))}
        text = _dumps(rng, value)
        hidden = _secrets_of(value)
        if not hidden:
            continue
        for cut in range(len(text) + 1):
            out = redact_body(text[:cut])
            assert not [s for s in hidden if s in out], (text[:cut], out)
            checked += 1
    assert checked > 10_000


def test_nothing_raises() -> None:
    rng = random.Random(7)
    alphabet = '{}[]":,\\ =&?%7u0pasword_tken\ud800\x00é\n'
    for _ in range(3000):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randrange(40)))
        assert isinstance(redact_body(text), str)
        assert isinstance(redact_body(text, ["x", "PIN"]), str)
    for weird in (["a", "b"], [("a",)], {"a": object()}, 5, b"x", {"a": float("nan")}):
        redact_headers(weird)
    odd = object()
    out = redact_attributes({"http.request.body": {"a": odd}, "x.token": 1, "y.secret": odd})
    assert out == {"http.request.body": {"a": odd}, "x.token": REDACTED, "y.secret": REDACTED}


def test_memos_stay_bounded() -> None:
    for i in range(3 * 4096):
        name_rule(f"field_{i}")
        redact.attribute_kind(f"app.field_{i}")
    name_rule("k" * 10_000)
    assert len(redact._names) <= 4096
    assert len(redact._attrs) <= 4096
    assert "k" * 10_000 not in redact._names


# --- cost -----------------------------------------------------------------------------------

HOSTILE: dict[str, Callable[[int], str]] = {
    "quotes": lambda n: '"' * n,
    "keys": lambda n: '"x":' * (n // 4),
    "sensitive pairs": lambda n: "{" + '"token":1,' * (n // 10),
    "open objects": lambda n: '{"a":' * (n // 5),
    "brackets under a secret": lambda n: '{"secret":' + "[" * n,
    "strings under a secret": lambda n: '{"secret":[' + '"a",' * (n // 4),
    "backslashes": lambda n: '"' + "\\" * n,
    "escaped quotes": lambda n: '{"a":"' + '\\"' * (n // 2),
    "spaces after a string": lambda n: '"a"' + " " * n + "x",
    "spaced strings": lambda n: ('"token"' + " " * 57) * (n // 64),
    "a long key": lambda n: '{"' + "a" * n + '":1}',
    "escaped keys": lambda n: "{" + '"\\u0070assword":1,' * (n // 18),
    "form ampersands": lambda n: "x=1" + "&" * n,
    "form questions": lambda n: "x=" + "?=" * (n // 2),
    "form escapes": lambda n: "%41" * (n // 3) + "=x",
    "leading spaces": lambda n: " " * n + "token=1",
}


def _cpu_seconds(text: str) -> float:
    """The least CPU time of a few runs (CPU, not wall time: other processes do not count),
    with the garbage collector off, so that only this function's own work is measured."""
    best = float("inf")
    gc.collect()
    gc.disable()
    try:
        for _ in range(3):
            t0 = time.process_time()
            redact_body(text)
            best = min(best, time.process_time() - t0)
    finally:
        gc.enable()
    return best


@pytest.mark.parametrize("make", HOSTILE.values(), ids=HOSTILE.keys())
def test_cost_is_linear(make: Callable[[int], str]) -> None:
    """32x the input costs about 32x the time; quadratic work would be 1024x. The bound is
    their geometric mean, so caches that make large inputs cost more per byte cannot fail
    it, and quadratic work still fails it by a factor of five."""
    # " token" at the end: the fast path (no rule word anywhere) must not skip the scan
    small, large = make(32 * 1024) + " token", make(1024 * 1024) + " token"
    ratio = _cpu_seconds(large) / max(_cpu_seconds(small), 1e-4)
    assert ratio < 181, f"{ratio:.1f}x the time for 32x the input"


# --- call sites: what arrives through OTLP and highlight.run is stored redacted --------------


def _sdk_attributes() -> tuple[dict[str, Any], dict[str, Any]]:
    """The attribute vectors an OpenTelemetry SDK can send (no maps), in and out."""
    vec = VECTORS["attributes"]
    keys = [
        k for k, v in vec["in"].items() if not isinstance(v, dict) and k != "highlight.session_id"
    ]
    return {k: vec["in"][k] for k in keys}, {k: vec["out"][k] for k in keys}


async def test_otlp_span_event_and_log_attributes_are_stored_redacted(
    client: httpx.AsyncClient, project: str
) -> None:
    attrs_in, attrs_out = _sdk_attributes()
    link = {"highlight.session_id": session_id(), "highlight.trace_id": "redact16otlp"}
    resource = Resource.create({"service.name": "redact-svc", "highlight.project_id": project})
    spans = InMemorySpanExporter()
    tracer_provider = TracerProvider(resource=resource)
    tracer_provider.add_span_processor(SimpleSpanProcessor(spans))
    with tracer_provider.get_tracer("t").start_as_current_span(
        "POST /password", attributes={**attrs_in, **link}
    ) as span:
        span.add_event("retry", {"client_secret": "s3", "attempt": 2})
    tracer_provider.shutdown()
    r = await client.post(
        "/v1/traces",
        content=encode_spans(spans.get_finished_spans()).SerializeToString(),
        headers={"content-type": "application/x-protobuf"},
    )
    assert r.status_code == 200, r.text

    logs = InMemoryLogRecordExporter()
    logger_provider = LoggerProvider(resource=resource)
    logger_provider.add_log_record_processor(SimpleLogRecordProcessor(logs))
    logger_provider.get_logger("t").emit(
        body="password changed", severity_text="INFO", attributes={**attrs_in, **link}
    )
    logger_provider.shutdown()
    body = gzip.compress(encode_logs(logs.get_finished_logs()).SerializeToString())
    r = await client.post(
        "/v1/logs",
        content=body,
        headers={"content-type": "application/x-protobuf", "content-encoding": "gzip"},
    )
    assert r.status_code == 200, r.text

    view = (await client.get("/api/v1/requests/redact16otlp", headers=AUTH)).json()
    [stored_span], [stored_log] = view["spans"], view["logs"]
    for stored in (stored_span["attributes"], stored_log["attributes"]):
        assert {k: stored[k] for k in attrs_out} == attrs_out
    assert stored_span["events"][0]["attributes"] == {"client_secret": REDACTED, "attempt": 2}
    assert stored_log["body"] == "password changed"  # log bodies are free text: kept


async def test_otlp_json_maps_are_redacted_by_their_keys(
    client: httpx.AsyncClient, project: str
) -> None:
    def kv(key: str, value: dict[str, Any]) -> dict[str, Any]:
        return {"key": key, "value": value}

    def s(text: str) -> dict[str, str]:
        return {"stringValue": text}

    now = time.time_ns()
    span = {
        "traceId": "5b8efff798038103d269b633813fc60c",
        "spanId": "eee19b7ec3c1b174",
        "name": "login",
        "startTimeUnixNano": str(now),
        "endTimeUnixNano": str(now + 1000),
        "attributes": [
            kv("highlight.trace_id", s("redact16json")),
            kv(
                "app.config",
                {"kvlistValue": {"values": [kv("db_password", s("pw")), kv("host", s("h"))]}},
            ),
            kv(
                "http.request.headers",
                {"kvlistValue": {"values": [kv("Authorization", s("x")), kv("accept", s("*/*"))]}},
            ),
            kv("http.request.body", s('{"user":"u","new_password":"n"}')),
        ],
    }
    payload = {
        "resourceSpans": [
            {
                "resource": {
                    "attributes": [
                        kv("service.name", s("json-svc")),
                        kv("highlight.project_id", s(project)),
                    ]
                },
                "scopeSpans": [{"spans": [span]}],
            }
        ]
    }
    r = await client.post(
        "/v1/traces", content=orjson.dumps(payload), headers={"content-type": "application/json"}
    )
    assert r.status_code == 200, r.text
    view = (await client.get("/api/v1/requests/redact16json", headers=AUTH)).json()
    stored = view["spans"][0]["attributes"]
    assert stored["app.config"] == {"db_password": REDACTED, "host": "h"}
    assert stored["http.request.headers"] == {"authorization": REDACTED, "accept": "*/*"}
    assert stored["http.request.body"] == '{"user":"u","new_password":"' + REDACTED + '"}'


INIT = """mutation initializeSession($session_secure_id: String!,
  $organization_verbose_id: String!, $enable_strict_privacy: Boolean!,
  $enable_recording_network_contents: Boolean!, $clientVersion: String!,
  $firstloadVersion: String!, $clientConfig: String!, $environment: String!, $id: String!) {
  initializeSession(session_secure_id: $session_secure_id,
    organization_verbose_id: $organization_verbose_id,
    enable_strict_privacy: $enable_strict_privacy,
    enable_recording_network_contents: $enable_recording_network_contents,
    clientVersion: $clientVersion, firstloadVersion: $firstloadVersion,
    clientConfig: $clientConfig, environment: $environment, fingerprint: $id) { secure_id }
}"""
PUSH = """mutation PushPayloadCompressed($session_secure_id: String!, $payload_id: ID!,
  $data: String!) {
  pushPayloadCompressed(session_secure_id: $session_secure_id, payload_id: $payload_id,
                        data: $data)
}"""


async def test_highlight_network_headers_and_bodies_are_stored_redacted(
    client: httpx.AsyncClient, project: str
) -> None:
    sid = session_id()
    r = await client.post(
        "/public",
        json={
            "query": INIT,
            "variables": {
                "session_secure_id": sid,
                "organization_verbose_id": project,
                "enable_strict_privacy": False,
                "enable_recording_network_contents": True,
                "clientVersion": "10.7.5",
                "firstloadVersion": "10.7.5",
                "clientConfig": "{}",
                "environment": "production",
                "id": "fp",
            },
        },
    )
    assert r.status_code == 200 and "errors" not in r.json(), r.text
    now = time.time() * 1000

    def resource(rid: str, request: dict[str, Any], response: dict[str, Any]) -> dict[str, Any]:
        return {
            "name": f"http://api.test/{rid}",
            "initiatorType": "fetch",
            "startTimeAbs": now,
            "responseEndAbs": now + 20,
            "requestResponsePairs": {
                "request": {"id": rid, "verb": "POST", **request},
                "response": {"status": 200, **response},
            },
        }

    resources = [
        resource(
            "pwchange",
            {
                "headers": {
                    "Authorization": "Bearer abc",
                    "Content-Type": "application/json",
                    "X-CSRF-Token": "c",
                },
                "body": '{"new_password":"n3w","password_confirmation":"n3w",'
                '"id_token":"t","sku":1}',
            },
            {
                "headers": {"Set-Cookie": "sid=1", "X-Request-Id": "r1"},
                "body": '{"session_token":"abc","ok":true}',
            },
        ),
        resource(
            "objbody",
            {"body": {"user": {"password": "p", "name": "n"}}},
            {"body": "access_token=abc&expires_in=3600"},
        ),
        resource(
            "cut",
            {"body": '{"a":"' + "x" * 300_000 + '"}'},
            {"body": '{"refresh_token":"' + "y" * 300_000 + '"}'},
        ),
    ]
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
    r = await client.post(
        "/public",
        json={
            "query": PUSH,
            "variables": {"session_secure_id": sid, "payload_id": "1", "data": data},
        },
    )
    assert r.status_code == 200 and "errors" not in r.json(), r.text

    network = (await client.get(f"/api/v1/sessions/{sid}", headers=AUTH)).json()["network"]
    detail = {n["request_id"]: n["detail"] for n in network}
    pw = detail["pwchange"]
    assert pw["request_headers"] == {
        "authorization": REDACTED,
        "content-type": "application/json",
        "x-csrf-token": REDACTED,
    }
    assert pw["response_headers"] == {"set-cookie": REDACTED, "x-request-id": "r1"}
    assert json.loads(pw["request_body"]) == {
        "new_password": REDACTED,
        "password_confirmation": REDACTED,
        "id_token": REDACTED,
        "sku": 1,
    }
    assert json.loads(pw["response_body"]) == {"session_token": REDACTED, "ok": True}
    obj = detail["objbody"]
    assert json.loads(obj["request_body"]) == {"user": {"password": REDACTED, "name": "n"}}
    assert obj["response_body"] == f"access_token={REDACTED}&expires_in=3600"
    assert "y" * 10 not in detail["cut"]["response_body"]
    assert detail["cut"]["response_body"] == '{"refresh_token":"' + REDACTED + '"'
