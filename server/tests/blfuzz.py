"""Hypothesis strategies for the fuzz suite: valid payloads of every ingest endpoint, and
mutations of them (a node replaced by a hostile value, a key removed, the bytes flipped)."""

from __future__ import annotations

import base64
import copy
import gzip
import json
import time
from typing import Any, cast

from hypothesis import strategies as st
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

__all__ = ["ExportLogsServiceRequest", "ExportTraceServiceRequest"]

HOSTILE_SCALARS: list[Any] = [
    None,
    True,
    False,
    0,
    -1,
    1,
    2**31,
    2**53 + 1,
    2**63,
    2**64,
    -(2**63) - 1,
    2**70,
    1e300,
    -1e300,
    1e-300,
    0.5,
    "",
    " ",
    "\x00",
    "a" * 70_000,
    "𝕏🙂",
    "\u202e",
    "NaN",
    "Infinity",
    "1e300",
    "../../etc/passwd",
    "<script>alert(1)</script>",
    "%00",
    "a/b",
    "x" * 129,
    "at " + " (" * 3000 + "x",
    '{"half": ',
    "[",
    "Ab3dEf7hIj0lMn4pQr8tUv2xYz6a/req",
]


def deep(levels: int, leaf: Any = 1) -> Any:
    value = leaf
    for i in range(levels):
        value = [value] if i % 2 else {"k": value}
    return value


def json_values() -> st.SearchStrategy[Any]:
    scalars = st.one_of(
        st.sampled_from(HOSTILE_SCALARS),
        st.integers(min_value=-(2**70), max_value=2**70),
        st.floats(allow_nan=False, allow_infinity=False),
        st.text(max_size=40),
    )
    nested = st.recursive(
        scalars,
        lambda inner: st.one_of(
            st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=10), inner, max_size=4)
        ),
        max_leaves=12,
    )
    return st.one_of(nested, st.integers(min_value=1, max_value=600).map(deep))


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix]
    if isinstance(value, dict):
        for key, child in value.items():
            out += _paths(child, (*prefix, key))
    elif isinstance(value, list):
        for i, child in enumerate(value[:20]):
            out += _paths(child, (*prefix, i))
    return out


@st.composite
def mutated(draw: st.DrawFn, valid: Any, rounds: int = 3) -> Any:
    """``valid`` with 1..rounds nodes replaced, removed or duplicated."""
    value = copy.deepcopy(valid)
    for _ in range(draw(st.integers(min_value=1, max_value=rounds))):
        paths = _paths(value)
        path = draw(st.sampled_from(paths))
        action = draw(st.sampled_from(["replace", "replace", "remove", "duplicate"]))
        if not path:
            if action == "replace":
                value = draw(json_values())
            continue
        parent = value
        for key in path[:-1]:
            parent = parent[key]
        key = path[-1]
        if action == "replace":
            parent[key] = draw(json_values())
        elif action == "remove" and isinstance(parent, dict):
            del parent[key]
        elif action == "duplicate" and isinstance(parent, list):
            parent.extend([copy.deepcopy(parent[key])] * draw(st.integers(1, 50)))
    return value


def encode(value: Any, gzipped: bool) -> tuple[bytes, dict[str, str]]:
    body = json.dumps(value).encode()
    headers = {"content-type": "application/json"}
    if gzipped:
        body, headers["content-encoding"] = gzip.compress(body), "gzip"
    return body, headers


@st.composite
def flipped(draw: st.DrawFn, data: bytes) -> bytes:
    """``data`` with a few bytes changed, cut or inserted."""
    buf = bytearray(data)
    for _ in range(draw(st.integers(min_value=1, max_value=4))):
        if not buf:
            break
        i = draw(st.integers(min_value=0, max_value=len(buf) - 1))
        action = draw(st.sampled_from(["set", "cut", "insert"]))
        if action == "set":
            buf[i] = draw(st.integers(min_value=0, max_value=255))
        elif action == "cut":
            del buf[i:]
        else:
            buf[i:i] = draw(st.binary(min_size=1, max_size=8))
    return bytes(buf)


# --- valid payloads ------------------------------------------------------------------------


def browser_batch(project: str, sid: str, seq: int) -> dict[str, Any]:
    now = time.time() * 1000
    return {
        "v": 1,
        "project_id": project,
        "session_secure_id": sid,
        "seq": seq,
        "events": [
            {
                "type": 4,
                "data": {"href": "http://shop.test/", "width": 800, "height": 600},
                "timestamp": now,
            },
            {
                "type": 2,
                "data": {
                    "node": {"type": 0, "childNodes": [], "id": 1},
                    "initialOffset": {"left": 0, "top": 0},
                },
                "timestamp": now + 1,
            },
        ],
        "network": [
            {
                "request_id": "0af7651916cd43dd8448eb211c80319c",
                "type": "fetch",
                "method": "POST",
                "url": "http://api.test/checkout",
                "status": 500,
                "start": now,
                "end": now + 30,
                "error": None,
                "request_headers": {"content-type": "application/json"},
                "response_headers": {"x-id": "1"},
                "request_body": '{"sku": 1}',
                "response_body": "{}",
                "request_size": 10,
                "response_size": 2,
                # the SDK's shape: a withheld phase null, a reused connection's 0
                "timing": {"dns": 0, "connect": 0, "tls": None, "ttfb": 12.5, "download": None},
            }
        ],
        "console": [{"ts": now, "level": "warn", "message": "careful", "args": ["a", {"b": 1}]}],
        "errors": [
            {
                "ts": now,
                "type": "TypeError",
                "message": "x is undefined",
                "source": "onerror",
                "url": "http://shop.test/",
                "stack": [
                    {"file": "http://shop.test/app.js", "function": "f", "line": 1, "column": 2}
                ],
                "raw_stack": "TypeError: x\n    at f (http://shop.test/app.js:1:2)",
                "payload": {"any": "json"},
                "debug_ids": {"http://shop.test/app.js": "85314830-023f-4cf1-a267-535f4e37bb17"},
            }
        ],
        "track": [{"ts": now, "event": "checkout", "properties": {"total": 3}}],
        "identify": {"ts": now, "identifier": "ada@example.com", "metadata": {"plan": "pro"}},
        "dropped": {"events": 0, "network": 1},
    }


TIMING_VALUES = st.one_of(  # JSON has no NaN nor Infinity (json.dumps would write them)
    st.none(),
    st.sampled_from(HOSTILE_SCALARS),
    st.floats(allow_nan=False, allow_infinity=False),
    st.floats(min_value=0, max_value=1e9),
    st.integers(min_value=-(2**64), max_value=2**64),
    st.just(0),
    st.just(1e9),
)
TIMING_NAMES = st.one_of(
    st.sampled_from(["dns", "connect", "tls", "ttfb", "download", "", "x" * 64, "x" * 65]),
    st.text(max_size=70),
)
TIMINGS = st.one_of(
    st.dictionaries(TIMING_NAMES, TIMING_VALUES, max_size=40),
    st.sampled_from(HOSTILE_SCALARS),
    st.lists(TIMING_VALUES, max_size=3),
)


def session_start(project: str, sid: str) -> dict[str, Any]:
    return {
        "v": 1,
        "project_id": project,
        "session_secure_id": sid,
        "started_at": time.time() * 1000,
        "url": "http://shop.test/",
        "user_agent": "fuzz",
        "sdk_version": "0",
        "environment": "fuzz",
        "service": "web",
        "app_version": "1.4.2",
    }


def attr(kvs: Any, key: str, value: Any) -> None:
    kv = kvs.add()
    kv.key = key
    if isinstance(value, bool):
        kv.value.bool_value = value
    elif isinstance(value, int):
        kv.value.int_value = value
    elif isinstance(value, float):
        kv.value.double_value = value
    elif isinstance(value, bytes):
        kv.value.bytes_value = value
    elif isinstance(value, list):
        for item in value:
            kv.value.array_value.values.add().string_value = str(item)
    elif isinstance(value, dict):  # {"depth": n}: kvlists nested n deep
        inner = kv.value
        for _ in range(value["depth"]):
            child = inner.kvlist_value.values.add()
            child.key = "d"
            inner = child.value
        inner.string_value = "bottom"
    else:
        kv.value.string_value = str(value)


ATTR_VALUES = st.one_of(
    st.sampled_from([v for v in HOSTILE_SCALARS if isinstance(v, str | bool | float)]),
    st.integers(min_value=1, max_value=150).map(lambda n: {"depth": n}),
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.floats(),
    st.binary(max_size=20),
    st.text(max_size=30),
    st.lists(st.text(max_size=5), max_size=3),
)
ATTR_KEYS = st.sampled_from(
    [
        "highlight.project_id",
        "highlight.session_id",
        "highlight.trace_id",
        "x-highlight-request",
        "baggage",
        "exception.type",
        "exception.message",
        "exception.stacktrace",
        "service.name",
        "http.request.header.authorization",
        "http.request.body",
        "user.password",
        "k",
    ]
)
TIMES = st.one_of(
    st.integers(min_value=0, max_value=2**64 - 1), st.just(0).map(lambda _: time.time_ns())
)


@st.composite
def traces(draw: st.DrawFn, project: str) -> ExportTraceServiceRequest:
    req = ExportTraceServiceRequest()
    rs = req.resource_spans.add()
    attr(
        rs.resource.attributes,
        "highlight.project_id",
        draw(st.sampled_from([project, project, "", "nosuch", "x" * 100])),
    )
    attr(rs.resource.attributes, "service.name", draw(st.text(max_size=20)))
    scope = rs.scope_spans.add()
    for _ in range(draw(st.integers(min_value=0, max_value=5))):
        span = scope.spans.add()
        span.trace_id = draw(st.binary(min_size=16, max_size=16) | st.binary(max_size=20))
        span.span_id = draw(st.binary(min_size=8, max_size=8) | st.binary(max_size=10))
        span.parent_span_id = draw(st.binary(max_size=8))
        span.name = draw(st.text(max_size=30))
        span.kind = cast(Any, draw(st.integers(min_value=0, max_value=5)))
        span.start_time_unix_nano = draw(TIMES)
        span.end_time_unix_nano = draw(TIMES)
        for _ in range(draw(st.integers(min_value=0, max_value=4))):
            attr(span.attributes, draw(ATTR_KEYS), draw(ATTR_VALUES))
        if draw(st.booleans()):
            ev = span.events.add()
            ev.name, ev.time_unix_nano = "exception", draw(TIMES)
            for key in ("exception.type", "exception.message", "exception.stacktrace"):
                attr(ev.attributes, key, draw(ATTR_VALUES))
    return req


@st.composite
def logs(draw: st.DrawFn, project: str) -> ExportLogsServiceRequest:
    req = ExportLogsServiceRequest()
    rl = req.resource_logs.add()
    attr(
        rl.resource.attributes,
        "highlight.project_id",
        draw(st.sampled_from([project, project, "", "nosuch"])),
    )
    scope = rl.scope_logs.add()
    for _ in range(draw(st.integers(min_value=0, max_value=5))):
        rec = scope.log_records.add()
        rec.time_unix_nano = draw(TIMES)
        rec.severity_number = cast(Any, draw(st.integers(min_value=0, max_value=30)))
        rec.severity_text = draw(st.text(max_size=10))
        rec.body.string_value = draw(st.text(max_size=50))
        rec.trace_id = draw(st.binary(max_size=16))
        rec.span_id = draw(st.binary(max_size=8))
        for _ in range(draw(st.integers(min_value=0, max_value=4))):
            attr(rec.attributes, draw(ATTR_KEYS), draw(ATTR_VALUES))
    return req


INIT = """mutation initializeSession($session_secure_id: String!,
  $organization_verbose_id: String!, $enable_strict_privacy: Boolean!,
  $enable_recording_network_contents: Boolean!, $clientVersion: String!,
  $firstloadVersion: String!, $clientConfig: String!, $environment: String!, $id: String!,
  $serviceName: String!, $client_id: String!) {
  initializeSession(session_secure_id: $session_secure_id,
    organization_verbose_id: $organization_verbose_id,
    enable_strict_privacy: $enable_strict_privacy,
    enable_recording_network_contents: $enable_recording_network_contents,
    clientVersion: $clientVersion, firstloadVersion: $firstloadVersion,
    clientConfig: $clientConfig, environment: $environment, serviceName: $serviceName,
    fingerprint: $id, client_id: $client_id) { secure_id project_id }
}"""
PUSH = """mutation PushPayload($session_secure_id: String!, $payload_id: ID!,
  $events: ReplayEventsInput!, $messages: String!, $resources: String!,
  $web_socket_events: String, $errors: [ErrorObjectInput]!, $is_beacon: Boolean,
  $has_session_unloaded: Boolean) {
  pushPayload(session_secure_id: $session_secure_id, payload_id: $payload_id, events: $events,
    messages: $messages, resources: $resources, web_socket_events: $web_socket_events,
    errors: $errors, is_beacon: $is_beacon, has_session_unloaded: $has_session_unloaded)
}"""
COMPRESSED = """mutation PushPayloadCompressed($session_secure_id: String!, $payload_id: ID!,
  $data: String!) { pushPayloadCompressed(session_secure_id: $session_secure_id,
  payload_id: $payload_id, data: $data) }"""
IDENTIFY = """mutation identifySession($session_secure_id: String!, $user_identifier: String!,
  $user_object: Any) { identifySession(session_secure_id: $session_secure_id,
  user_identifier: $user_identifier, user_object: $user_object) }"""


def init_vars(project: str, sid: str) -> dict[str, Any]:
    return {
        "session_secure_id": sid,
        "organization_verbose_id": project,
        "enable_strict_privacy": False,
        "enable_recording_network_contents": True,
        "clientVersion": "10.7.5",
        "firstloadVersion": "10.7.5",
        "clientConfig": "{}",
        "environment": "fuzz",
        "id": "fp",
        "serviceName": "web",
        "client_id": "c1",
    }


def push_vars(sid: str) -> dict[str, Any]:
    now = time.time() * 1000
    resource = {
        "name": "http://api.test/x",
        "initiatorType": "fetch",
        "startTimeAbs": now,
        # 10.x's marks (time origin + mark); a withheld mark is the time origin itself
        "domainLookupStartAbs": now + 1,
        "domainLookupEndAbs": now + 2,
        "connectStartAbs": now - 500,
        "connectEndAbs": now - 500,
        "secureConnectionStartAbs": now + 3,
        "requestStartAbs": now + 4,
        "responseStartAbs": now + 15,
        "responseEndAbs": now + 20,
        "requestResponsePairs": {
            "request": {
                "id": "abcdefghij",
                "verb": "POST",
                "url": "http://api.test/x",
                "headers": {"a": "b"},
                "body": '{"password": "p"}',
            },
            "response": {"status": 500, "headers": {}, "body": "{}", "size": 2},
        },
    }
    return {
        "session_secure_id": sid,
        "payload_id": "1",
        "events": {
            "events": [
                {
                    "type": 4,
                    "timestamp": now,
                    "_sid": 1,
                    "data": {"href": "http://shop.test/", "width": 1, "height": 1},
                }
            ]
        },
        "messages": json.dumps(
            {"messages": [{"type": "warn", "value": ["x"], "time": now, "attributes": "{}"}]}
        ),
        "resources": json.dumps({"resources": [resource]}),
        "web_socket_events": "{}",
        "errors": [
            {
                "event": "Error: x",
                "type": "window.onerror",
                "url": "http://shop.test/",
                "source": "app.js",
                "lineNumber": 1,
                "columnNumber": 1,
                "timestamp": now,
                "stackTrace": [],
            }
        ],
    }


def compressed_vars(sid: str, inner: Any) -> dict[str, Any]:
    data = base64.b64encode(gzip.compress(json.dumps(inner).encode())).decode()
    return {"session_secure_id": sid, "payload_id": "2", "data": data}


# --- alert rules (/api/v1/alert-rules): valid bodies of every trigger and channel ----------

LOOPBACK = "http://127.0.0.1:9"  # nothing listens; the fuzz server never sends anyway
ALERT_TRIGGERS: list[dict[str, Any]] = [
    {"kind": "new_group"},
    {"kind": "regression"},
    {"kind": "spike", "threshold": 10, "window_minutes": 5, "scope": "group", "group_id": 42},
    {"kind": "spike", "threshold": 100, "window_minutes": 60, "scope": "service"},
    {"kind": "log_match", "query": 'level:error "payment failed"', "threshold": 3},
    {"kind": "user_error", "user": "ada@example.com"},
    {"kind": "user_error", "property_name": "plan", "property_value": "pro"},
]
ALERT_CHANNELS: list[dict[str, Any]] = [
    {"kind": "webhook", "url": f"{LOOPBACK}/hook", "secret": "s3cret-s3cret-s3cret"},
    {"kind": "slack", "webhook_url": f"{LOOPBACK}/services/T0/B0/x"},
    {"kind": "discord", "webhook_url": f"{LOOPBACK}/api/webhooks/1/x"},
    {"kind": "teams", "webhook_url": f"{LOOPBACK}/workflows/x"},
    {"kind": "pagerduty", "routing_key": "0123456789abcdef", "events_url": f"{LOOPBACK}/v2"},
    {
        "kind": "email",
        "host": "127.0.0.1",
        "port": 9,
        "starttls": True,
        "username": "u",
        "password": "p",
        "sender": "alerts@example.com",
        "to": ["team@example.com"],
    },
]


def alert_rule(trigger: int, channels: list[int]) -> dict[str, Any]:
    """A valid rule body: every field set."""
    return {
        "name": "fuzzed rule",
        "trigger": copy.deepcopy(ALERT_TRIGGERS[trigger]),
        "filters": {"service": "api", "environment": "production", "source": "backend"},
        "channels": [copy.deepcopy(ALERT_CHANNELS[c]) for c in channels],
        "cooldown_seconds": 300,
        "digest_threshold": 5,
        "enabled": True,
        "muted_until_ms": time.time() * 1000 + 3_600_000,
    }


# --- source-map uploads (api/sourcemaps.py, sourcemaps/highlight.py) ---
DEBUG_ID = "2f3b1a40-8c1e-4e4b-9a55-0123456789ab"
UPLOAD_NAMES = st.one_of(
    st.sampled_from(
        ["https://app.test/static/app.js", "~/app.js.map", "~/a/b/c.mjs", "app:///x.js"]
    ),
    st.text(max_size=300),
    st.sampled_from([s for s in HOSTILE_SCALARS if isinstance(s, str)]),
)


def source_map(project: str) -> dict[str, Any]:
    return {
        "version": 3,
        "file": "app.js",
        "sources": ["src/a.ts"],
        "sourcesContent": ['export const a = "debugId";'],
        "names": ["a"],
        "mappings": "AAAA,SAASA",
        "debugId": DEBUG_ID,
        "x_project": project,
    }


@st.composite
def upload_body(draw: st.DrawFn, project: str) -> bytes:
    """A map (mutated or not), a script with its comments, or bytes flipped."""
    kind = draw(st.sampled_from(["map", "script", "bytes"]))
    if kind == "map":
        return json.dumps(draw(mutated(source_map(project))), default=str).encode()
    script = f"var a=1;\n//# debugId={DEBUG_ID}\n//# sourceMappingURL=app.js.map\n".encode()
    return draw(flipped(script)) if kind == "bytes" else script


def uploader_query(project: str, key: str) -> dict[str, Any]:
    return {
        "query": "query GetSourceMapUploadUrls($api_key: String!, $paths: [String!]!) "
        "{ get_source_map_upload_urls(api_key: $api_key, paths: $paths) }",
        "variables": {"api_key": key, "paths": [f"{project}/1.0/static/app.js"]},
    }
