"""OpenTelemetry's ``service.version`` (a resource attribute) is kept on every span, log and
error of the resource, in its attributes, as text of at most 256 characters; a record's own
``service.version`` wins; a value that is no text or number is left out."""

from __future__ import annotations

import time

import orjson
import pytest
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, ArrayValue, KeyValue

from backlight_server import names
from backlight_server.pipeline.otlp import MAX_VERSION, convert_logs, convert_traces


def _resource(version: AnyValue | None) -> list[KeyValue]:
    kvs = [
        KeyValue(key=names.PROJECT_ATTR, value=AnyValue(string_value="p")),
        KeyValue(key="service.name", value=AnyValue(string_value="api")),
    ]
    if version is not None:
        kvs.append(KeyValue(key="service.version", value=version))
    return kvs


def _exception(own: str | None = None) -> list[KeyValue]:
    kvs = [
        KeyValue(key="exception.type", value=AnyValue(string_value="ValueError")),
        KeyValue(key="exception.message", value=AnyValue(string_value="bad")),
    ]
    if own is not None:
        kvs.append(KeyValue(key="service.version", value=AnyValue(string_value=own)))
    return kvs


def _stored(version: AnyValue | None, own: str | None = None) -> list[object]:
    """``service.version`` in the attributes of a span, its exception's error, a log and its
    exception's error, converted from one resource."""
    now = time.time_ns()
    traces = ExportTraceServiceRequest()
    rs = traces.resource_spans.add()
    rs.resource.attributes.extend(_resource(version))
    span = rs.scope_spans.add().spans.add()
    span.trace_id, span.span_id, span.name = b"\x02" * 16, b"\x01" * 8, "GET /x"
    span.start_time_unix_nano = span.end_time_unix_nano = now
    if own is not None:
        span.attributes.append(KeyValue(key="service.version", value=AnyValue(string_value=own)))
    event = span.events.add()
    event.name, event.time_unix_nano = "exception", now
    event.attributes.extend(_exception())
    logs = ExportLogsServiceRequest()
    rl = logs.resource_logs.add()
    rl.resource.attributes.extend(_resource(version))
    record = rl.scope_logs.add().log_records.add()
    record.time_unix_nano = now
    record.body.string_value = "failed"
    record.attributes.extend(_exception(own))
    t, lg = convert_traces(traces, None, lambda p: True), convert_logs(logs, None, lambda p: True)
    stored = [t.batch.spans[0].attributes, t.batch.errors[0].attributes]
    stored += [lg.batch.logs[0].attributes, lg.batch.errors[0].attributes]
    return [orjson.loads(a or "{}").get("service.version") for a in stored]


def test_the_resource_version_is_kept_on_every_record() -> None:
    assert _stored(AnyValue(string_value="1.4.2")) == ["1.4.2"] * 4
    assert _stored(AnyValue(int_value=42)) == ["42"] * 4  # a number, as its text
    assert _stored(AnyValue(string_value="1.4.2"), own="2.0") == ["2.0"] * 4  # the record's
    assert _stored(None) == [None] * 4
    assert _stored(AnyValue(string_value="v" * 5000)) == ["v" * MAX_VERSION] * 4


@pytest.mark.parametrize(
    "value",
    [
        AnyValue(bool_value=True),
        AnyValue(string_value="   "),
        AnyValue(array_value=ArrayValue(values=[AnyValue(string_value="1")])),
    ],
)
def test_a_version_that_is_no_text_is_left_out(value: AnyValue) -> None:
    assert _stored(value) == [None] * 4
