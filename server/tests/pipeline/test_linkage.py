"""pipeline/linkage.py and the server's names against docs/linkage-vectors.json, and the
OTLP conversion's linkage of spans and logs (steps 1 to 3 of docs/linkage.md)."""

from __future__ import annotations

import ast
import json
import time
from pathlib import Path
from typing import Any

import pytest
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue

from backlight_server import names
from backlight_server.pipeline import linkage
from backlight_server.pipeline.linkage import NO_LINK, Link, clean_id, from_baggage, parse_header
from backlight_server.pipeline.otlp import convert_logs, convert_traces
from bltest import parse_source

VECTORS: dict[str, Any] = json.loads(
    (Path(__file__).resolve().parents[3] / "docs" / "linkage-vectors.json").read_text("utf-8")
)


def cases(section: list[dict[str, Any]]) -> list[Any]:
    return [pytest.param(c, id=f"{i}-{c['why'][:40]}") for i, c in enumerate(section)]


def expected(case: dict[str, Any]) -> Link:
    link = case["link"]
    return NO_LINK if link is None else Link(link[0], link[1])


def test_names_and_limits_are_the_contract() -> None:
    ours = {
        "header": names.HEADER,
        "traceparent_header": names.TRACEPARENT_HEADER,
        "baggage_header": names.BAGGAGE_HEADER,
        "baggage_key": names.BAGGAGE_KEY,
        "project_header": names.PROJECT_HEADER,
        "project_attribute": names.PROJECT_ATTR,
        "session_attribute": names.SESSION_ATTR,
        "request_attribute": names.REQUEST_ATTR,
    }
    assert ours == VECTORS["names"]
    limits = {"id": linkage.MAX_ID, "header": linkage.MAX_HEADER, "baggage": linkage.MAX_BAGGAGE}
    assert limits == {k: VECTORS["limits"][k] for k in limits}


# Spelled out elsewhere for now (files under other work), tied to names.py by this test.
ELSEWHERE = {
    ("ingest/otlp_http.py", "x-highlight-project"),
    ("ingest/otlp_grpc.py", "x-highlight-project"),
}


def test_names_are_spelled_in_names_py_only() -> None:
    package = Path(names.__file__).parent
    spelled = {getattr(names, n) for n in dir(names) if n.isupper()}
    found = set()
    for path in package.rglob("*.py"):
        if path.name == "names.py":
            continue
        for node in ast.walk(parse_source(path.read_text("utf-8"))):
            if isinstance(node, ast.Constant) and isinstance(node.value, str | bytes):
                text = node.value.decode() if isinstance(node.value, bytes) else node.value
                if text in spelled:
                    found.add((path.relative_to(package).as_posix(), node.value))
    assert found == ELSEWHERE


@pytest.mark.parametrize("case", cases(VECTORS["ids"]["valid"]))
def test_valid_ids(case: dict[str, Any]) -> None:
    assert clean_id(case["id"]) == case["id"]


@pytest.mark.parametrize("case", cases(VECTORS["ids"]["invalid"]))
def test_invalid_ids(case: dict[str, Any]) -> None:
    assert clean_id(case["id"]) is None


@pytest.mark.parametrize("case", cases(VECTORS["headers"]))
def test_header_vectors(case: dict[str, Any]) -> None:
    assert parse_header(case["value"]) == expected(case)


@pytest.mark.parametrize("case", cases(VECTORS["baggage"]))
def test_baggage_vectors(case: dict[str, Any]) -> None:
    assert from_baggage(case["value"]) == expected(case)


@pytest.mark.parametrize("value", [None, 42, b"Ab3dEf7hIj0lMn4pQr8tUv2xYz6a/r", ["a/b"]])
def test_values_that_are_not_strings_mean_no_link(value: object) -> None:
    assert parse_header(value) == NO_LINK
    assert from_baggage(value) == NO_LINK
    assert clean_id(value) is None


def _any(value: object) -> AnyValue:
    if isinstance(value, bool):
        return AnyValue(bool_value=value)
    if isinstance(value, int):
        return AnyValue(int_value=value)
    if isinstance(value, list):
        out = AnyValue()
        out.array_value.values.extend(_any(v) for v in value)
        return out
    assert isinstance(value, str)
    return AnyValue(string_value=value)


def _kvs(attributes: dict[str, object]) -> list[KeyValue]:
    return [KeyValue(key=k, value=_any(v)) for k, v in attributes.items()]


def _resource(case: dict[str, Any]) -> list[KeyValue]:
    return _kvs({names.PROJECT_ATTR: "p", **case["resource"]})


@pytest.mark.parametrize("case", cases(VECTORS["records"]))
def test_record_vectors_through_the_otlp_conversion(case: dict[str, Any]) -> None:
    want = tuple(case["link"]) if case["link"] else (None, None)
    trace_id = bytes.fromhex(case["trace_id"]) if case["trace_id"] else b""
    logs = ExportLogsServiceRequest()
    rl = logs.resource_logs.add()
    rl.resource.attributes.extend(_resource(case))
    record = rl.scope_logs.add().log_records.add()
    record.time_unix_nano = now = time.time_ns()
    record.trace_id = trace_id
    record.attributes.extend(_kvs(case["attributes"]))
    converted = convert_logs(logs, None, lambda p: True).batch.logs
    assert [(r.session_id, r.request_id) for r in converted] == [want]
    if not trace_id:
        return  # a span always has a trace id
    traces = ExportTraceServiceRequest()
    rs = traces.resource_spans.add()
    rs.resource.attributes.extend(_resource(case))
    span = rs.scope_spans.add().spans.add()
    span.trace_id, span.span_id, span.name = trace_id, b"\x01" * 8, "GET /x"
    span.start_time_unix_nano = span.end_time_unix_nano = now
    span.attributes.extend(_kvs(case["attributes"]))
    spans = convert_traces(traces, None, lambda p: True).batch.spans
    assert [(s.session_id, s.request_id) for s in spans] == [want]
