"""Property-based fuzzing of every ingest endpoint against a real ``backlight serve``.

Mutated valid payloads go to the browser protocol, OTLP/HTTP (protobuf and JSON),
OTLP/gRPC and highlight.run's GraphQL; then every API route and UI page that shows the
stored data is read back. Zero 5xx anywhere, /healthz stays ok, and the data stored before
the fuzz reads back unchanged.

Bounded for the suite: ``BACKLIGHT_FUZZ_EXAMPLES`` examples per endpoint (default 40) with
derandomised, repeatable examples. Longer local runs with fresh random examples:
``BACKLIGHT_FUZZ_EXAMPLES=2000 BACKLIGHT_FUZZ_RANDOM=1 pytest server/tests/fuzz``.
"""

from __future__ import annotations

import itertools
import os
import time
from collections.abc import Iterator
from typing import Any, cast
from urllib.parse import quote

import grpc
import httpx
import pytest
from google.protobuf.json_format import MessageToDict
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from opentelemetry.proto.collector.logs.v1 import logs_service_pb2_grpc
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2_grpc

import blfuzz
from backlight_server.alerts.channels.config import SECRET_FIELDS
from backlight_server.testing import BacklightProcess, free_port
from bltest import AUTH, batch, network_entry, request_id, rrweb_events, session_id, session_start

EXAMPLES = int(os.environ.get("BACKLIGHT_FUZZ_EXAMPLES", "40"))
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    database=None,
    derandomize=not os.environ.get("BACKLIGHT_FUZZ_RANDOM"),
    suppress_health_check=list(HealthCheck),
)
PB = "application/x-protobuf"


class Fuzzed:
    def __init__(self, server: BacklightProcess, grpc_port: int) -> None:
        self.server = server
        self.grpc_port = grpc_port
        self.client = httpx.Client(base_url=server.url, timeout=60)
        self.sids = [session_id() for _ in range(3)]
        self.answers: dict[int, int] = {}

    def post(self, path: str, body: bytes, headers: dict[str, str]) -> httpx.Response:
        r = self.client.post(path, content=body, headers=headers)
        self.answers[r.status_code] = self.answers.get(r.status_code, 0) + 1
        assert r.status_code < 500, (path, r.status_code, r.text[:500])
        if r.headers.get("content-type", "").startswith("application/json"):
            r.json()
        return r


@pytest.fixture(scope="module")
def fuzz(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Fuzzed]:
    port = free_port()
    # the alert thread evaluates once at start, then not for an hour: the fuzzed alert
    # rules never send anything (their channels are loopback, but a fuzzed email host is
    # any name)
    args = ["--otlp-grpc-port", str(port), "--alert-interval-s", "3600"]
    with BacklightProcess(tmp_path_factory.mktemp("fuzz"), args=args) as server:
        state = Fuzzed(server, port)
        for sid in state.sids:  # sessions for GraphQL calls to name
            state.post(
                "/ingest/v1/session",
                *blfuzz.encode(blfuzz.session_start(server.project, sid), False),
            )
        yield state
        state.client.close()


@pytest.fixture(scope="module")
def seeded(fuzz: Fuzzed) -> dict[str, Any]:
    """Data stored before the fuzz, through the public endpoints; read back at the end."""
    server = fuzz.server
    sid, rid = session_id(), request_id()
    httpx.post(server.url + "/ingest/v1/session", json=session_start(server.project, sid))
    r = httpx.post(
        server.url + "/ingest/v1/batch",
        json=batch(
            server.project,
            sid,
            0,
            events=rrweb_events(5),
            network=[network_entry(rid)],
            console=[{"ts": time.time() * 1000, "level": "error", "message": "before the fuzz"}],
        ),
    )
    assert r.status_code == 200
    traces = blfuzz.ExportTraceServiceRequest()
    rs = traces.resource_spans.add()
    blfuzz.attr(rs.resource.attributes, "highlight.project_id", server.project)
    blfuzz.attr(rs.resource.attributes, "service.name", "seed-api")
    span = rs.scope_spans.add().spans.add()
    span.trace_id, span.span_id, span.name = bytes.fromhex(rid), b"\x12" * 8, "POST /checkout"
    span.start_time_unix_nano, span.end_time_unix_nano = time.time_ns(), time.time_ns() + 10**6
    logs = blfuzz.ExportLogsServiceRequest()
    rl = logs.resource_logs.add()
    blfuzz.attr(rl.resource.attributes, "highlight.project_id", server.project)
    rec = rl.scope_logs.add().log_records.add()
    rec.time_unix_nano, rec.trace_id = time.time_ns(), bytes.fromhex(rid)
    rec.severity_number = cast(Any, 17)
    rec.body.string_value = "seeded log line"
    for kind, message in (("traces", traces), ("logs", logs)):
        r = httpx.post(
            f"{server.url}/v1/{kind}",
            content=message.SerializeToString(),
            headers={"content-type": PB},
        )
        assert r.status_code == 200, r.text
    assert server.api(f"/api/v1/requests/{rid}")["span_count"] == 1
    return {"sid": sid, "rid": rid, "before": snapshot(server, sid, rid)}


def snapshot(server: BacklightProcess, sid: str, rid: str) -> list[Any]:
    return [
        server.api(f"/api/v1/sessions/{sid}"),
        server.api(f"/api/v1/requests/{rid}"),
        server.api(f"/api/v1/sessions/{sid}/replay"),
    ]


@FUZZ
@given(data=st.data())
def test_browser_protocol(fuzz: Fuzzed, seeded: dict[str, Any], data: st.DataObject) -> None:
    project = fuzz.server.project
    kind = data.draw(st.sampled_from(["batch", "batch", "session"]))
    sid = data.draw(st.sampled_from(fuzz.sids))
    valid = (
        blfuzz.browser_batch(project, sid, data.draw(st.integers(0, 10**6)))
        if kind == "batch"
        else blfuzz.session_start(project, sid)
    )
    body = data.draw(blfuzz.mutated(valid))
    fuzz.post(f"/ingest/v1/{kind}", *blfuzz.encode(body, data.draw(st.booleans())))


TIMING_SEQ = itertools.count(10**8)


def _valid_timing(value: Any) -> bool:
    """docs/protocol.md: null, or at most 32 phases named by 1 to 64 characters, each null
    or a number of ms from 0 to 1e9."""
    if value is None:
        return True
    if not isinstance(value, dict) or len(value) > 32:
        return False
    return all(
        0 < len(k) <= 64
        and (
            v is None or (isinstance(v, int | float) and not isinstance(v, bool) and 0 <= v <= 1e9)
        )
        for k, v in value.items()
    )


@FUZZ
@given(data=st.data())
def test_network_timing(fuzz: Fuzzed, seeded: dict[str, Any], data: st.DataObject) -> None:
    """A request's timing is stored as sent (null stays null, 0 stays 0) or refused naming
    ``network[0].timing``; never anything in between."""
    timing = data.draw(blfuzz.TIMINGS)
    sid, rid = data.draw(st.sampled_from(fuzz.sids)), request_id()
    entry = {**network_entry(rid), "timing": timing}
    body = batch(fuzz.server.project, sid, next(TIMING_SEQ), network=[entry])  # never a retry
    r = fuzz.post("/ingest/v1/batch", *blfuzz.encode(body, False))
    if not _valid_timing(timing):
        assert r.status_code == 400, (timing, r.text[:300])
        assert r.json()["detail"].startswith("network[0].timing"), r.text[:300]
        return
    assert r.status_code == 200, (timing, r.text[:300])
    stored = fuzz.server.api(f"/api/v1/requests/{rid}")["browser"]["detail"].get("timing")
    assert stored == timing, (timing, stored)


@FUZZ
@given(data=st.data())
def test_otlp_protobuf(fuzz: Fuzzed, seeded: dict[str, Any], data: st.DataObject) -> None:
    kind = data.draw(st.sampled_from(["traces", "logs"]))
    strategy = blfuzz.traces if kind == "traces" else blfuzz.logs
    body = data.draw(strategy(fuzz.server.project)).SerializeToString()
    if data.draw(st.booleans()):
        body = data.draw(blfuzz.flipped(body))
    r = fuzz.post(f"/v1/{kind}", body, {"content-type": PB})
    assert r.headers["content-type"] == PB


@FUZZ
@given(data=st.data())
def test_otlp_json(fuzz: Fuzzed, seeded: dict[str, Any], data: st.DataObject) -> None:
    kind = data.draw(st.sampled_from(["traces", "logs"]))
    strategy = blfuzz.traces if kind == "traces" else blfuzz.logs
    valid = MessageToDict(data.draw(strategy(fuzz.server.project)))
    for key in ("traceId", "spanId", "parentSpanId"):  # OTLP/JSON writes ids as hex
        for rs in valid.get("resourceSpans", []):
            for ss in rs.get("scopeSpans", []):
                for span in ss.get("spans", []):
                    if key in span:
                        import base64

                        span[key] = base64.b64decode(span[key]).hex()
    fuzz.post(
        f"/v1/{kind}", *blfuzz.encode(data.draw(blfuzz.mutated(valid)), data.draw(st.booleans()))
    )


@FUZZ
@given(data=st.data())
def test_otlp_grpc(fuzz: Fuzzed, seeded: dict[str, Any], data: st.DataObject) -> None:
    kind = data.draw(st.sampled_from(["traces", "logs"]))
    with grpc.insecure_channel(f"127.0.0.1:{fuzz.grpc_port}") as channel:
        if kind == "traces":
            stub: Any = trace_service_pb2_grpc.TraceServiceStub(channel)
            message: Any = data.draw(blfuzz.traces(fuzz.server.project))
        else:
            stub = logs_service_pb2_grpc.LogsServiceStub(channel)
            message = data.draw(blfuzz.logs(fuzz.server.project))
        code = grpc.StatusCode.OK
        try:
            stub.Export(message, timeout=30)
        except grpc.RpcError as err:
            code, details = err.code(), err.details()
        assert code not in (grpc.StatusCode.INTERNAL, grpc.StatusCode.UNKNOWN), (code, details)


@FUZZ
@given(data=st.data())
def test_highlight_graphql(fuzz: Fuzzed, seeded: dict[str, Any], data: st.DataObject) -> None:
    project = fuzz.server.project
    sid = data.draw(st.sampled_from(fuzz.sids))
    op = data.draw(st.sampled_from(["init", "push", "compressed", "identify"]))
    query, variables = {
        "init": (blfuzz.INIT, blfuzz.init_vars(project, session_id())),
        "push": (blfuzz.PUSH, blfuzz.push_vars(sid)),
        "compressed": (
            blfuzz.COMPRESSED,
            blfuzz.compressed_vars(sid, data.draw(blfuzz.mutated(blfuzz.push_vars(sid)))),
        ),
        "identify": (
            blfuzz.IDENTIFY,
            {"session_secure_id": sid, "user_identifier": "ada", "user_object": {"plan": "pro"}},
        ),
    }[op]
    payload: Any = {"query": query, "variables": data.draw(blfuzz.mutated(variables))}
    if data.draw(st.integers(0, 4)) == 0:
        payload["query"] = data.draw(blfuzz.flipped(query.encode())).decode("utf-8", "replace")
    fuzz.post("/public", *blfuzz.encode(payload, data.draw(st.booleans())))


@pytest.fixture(scope="module")
def alert_rule_id(fuzz: Fuzzed) -> str:
    """A stored rule for the PUTs to replace."""
    r = fuzz.client.post("/api/v1/alert-rules", json=blfuzz.alert_rule(0, [0]), headers=AUTH)
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


@FUZZ
@given(data=st.data())
def test_alert_rule_bodies(fuzz: Fuzzed, alert_rule_id: str, data: st.DataObject) -> None:
    """Hostile rule bodies (POST and PUT): never a 5xx; a refusal names the field."""
    trigger = data.draw(st.integers(0, len(blfuzz.ALERT_TRIGGERS) - 1))
    channels = data.draw(
        st.lists(st.integers(0, len(blfuzz.ALERT_CHANNELS) - 1), min_size=1, max_size=3)
    )
    body = data.draw(blfuzz.mutated(blfuzz.alert_rule(trigger, channels)))
    put = data.draw(st.booleans())
    r = fuzz.client.request(
        "PUT" if put else "POST",
        f"/api/v1/alert-rules/{alert_rule_id}" if put else "/api/v1/alert-rules",
        content=blfuzz.encode(body, False)[0],
        headers={**AUTH, "content-type": "application/json"},
    )
    fuzz.answers[r.status_code] = fuzz.answers.get(r.status_code, 0) + 1
    assert r.status_code < 500, (r.status_code, r.text[:500])
    answer = r.json()
    if r.status_code >= 400:
        assert set(answer) == {"error", "detail"}, answer
        assert r.status_code in (400, 404), answer
        field = answer["detail"].split(":")[0]
        assert field.startswith("body") or field == "project_id", answer
    else:
        for channel in answer["channels"]:  # secrets never shown back in full
            for name in SECRET_FIELDS[channel["kind"]]:
                assert channel[name] == "" or channel[name].startswith("••••"), channel


def _get(fuzz: Fuzzed, path: str) -> httpx.Response:
    r = fuzz.client.get(path, headers=AUTH)
    assert r.status_code < 500, (path, r.status_code, r.text[:500])
    return r


@pytest.fixture(scope="module")
def upload_key(fuzz: Fuzzed) -> str:
    r = fuzz.client.post(f"/api/v1/projects/{fuzz.server.project}/upload-keys", headers=AUTH)
    assert r.status_code == 201, r.text
    return str(r.json()["key"])


@FUZZ
@given(data=st.data())
def test_sourcemap_uploads(fuzz: Fuzzed, upload_key: str, data: st.DataObject) -> None:
    """The upload API, highlight's uploader protocol and its signed upload URLs."""
    project = fuzz.server.project
    kind = data.draw(st.sampled_from(["put", "private", "signed"]))
    if kind == "put":
        params = {"release": data.draw(blfuzz.UPLOAD_NAMES), "url": data.draw(blfuzz.UPLOAD_NAMES)}
        r = fuzz.client.put(
            f"/api/v1/projects/{project}/artifacts",
            params=params,
            content=data.draw(blfuzz.upload_body(project)),
            headers={"Authorization": f"Bearer {upload_key}"},
        )
    elif kind == "private":
        body = data.draw(blfuzz.mutated(blfuzz.uploader_query(project, upload_key)))
        r = fuzz.client.post("/private", content=blfuzz.encode(body, False)[0])
    else:
        params = {name: data.draw(blfuzz.UPLOAD_NAMES) for name in ("path", "key", "exp", "sig")}
        r = fuzz.client.put("/private/sourcemap-upload", params=params, content=b"x")
    fuzz.answers[r.status_code] = fuzz.answers.get(r.status_code, 0) + 1
    assert r.status_code < 500, (kind, r.status_code, r.text[:500])
    r.json()


def test_zz_everything_reads_back(fuzz: Fuzzed, seeded: dict[str, Any]) -> None:
    """After the fuzz (tests run in file order): every page and API route answers."""
    assert sum(fuzz.answers.values()) >= EXAMPLES, fuzz.answers
    sessions: list[dict[str, Any]] = []
    offset = 0
    while True:
        page = _get(fuzz, f"/api/v1/sessions?limit=500&offset={offset}").json()
        sessions += page["sessions"]
        offset += 500
        if offset >= page["total"]:
            break
    requests: set[str] = set()
    traces: set[str] = set()
    for s in sessions:
        sid = quote(s["secure_id"], safe="")
        detail = _get(fuzz, f"/api/v1/sessions/{sid}").json()
        _get(fuzz, f"/api/v1/sessions/{sid}/replay")
        _get(fuzz, f"/sessions/{sid}")
        requests.update(n["request_id"] for n in detail["network"] if n["request_id"])
    for rid in sorted(requests)[:300]:
        view = _get(fuzz, f"/api/v1/requests/{quote(rid, safe='')}").json()
        _get(fuzz, f"/requests/{quote(rid, safe='')}?fragment=1")
        traces.update(view["trace_ids"])
    logs = _get(fuzz, "/api/v1/logs?limit=500").json()["logs"]
    traces.update(lg["trace_id"] for lg in logs if lg["trace_id"])
    for tid in sorted(traces)[:300]:
        _get(fuzz, f"/api/v1/traces/{tid}")
        _get(fuzz, f"/traces/{tid}")
    groups = _get(fuzz, "/api/v1/error-groups?limit=500").json()["groups"]
    for g in groups:
        _get(fuzz, f"/api/v1/error-groups/{g['id']}")
        _get(fuzz, f"/errors/{g['id']}")
    for path in (
        "/sessions",
        "/sessions?errors=yes",
        "/errors",
        "/errors?state=open",
        "/logs",
        "/logs?q=x",
        "/logs?q=%22",
        "/traces",
        "/setup",
        "/api/v1/status",
        "/api/v1/projects",
        "/api/v1/logs?q=password",
        "/api/v1/alert-rules",
        "/api/v1/alert-deliveries",
        "/metrics",
    ):
        _get(fuzz, path)
    assert fuzz.client.get("/healthz").json()["ok"] is True
    assert fuzz.server.proc is not None and fuzz.server.proc.poll() is None
    after = snapshot(fuzz.server, seeded["sid"], seeded["rid"])
    assert after == seeded["before"]
    assert seeded["before"][1]["span_count"] >= 1
