"""init / flush / shutdown against the capture receiver: what goes over the wire."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from opentelemetry import propagate, trace
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from sdk_capture import PROJECT, REQUEST, SESSION, Arrival, Receiver, start_receiver

import backlight
from backlight._state import state


def test_spans_and_logs_arrive_with_resource(sdk: Receiver) -> None:
    with backlight.trace("job", secure_session_id=SESSION, request_id=REQUEST):
        logging.getLogger("app").warning("hello %s", "world")
    sdk.wait_for(lambda r: bool(r.spans) and bool(r.logs))
    paths = {a.path for a in sdk.arrivals}
    assert paths == {"/v1/traces", "/v1/logs"}
    for arrival in sdk.arrivals:
        assert "content-encoding" not in arrival.headers  # loopback: not compressed
        assert arrival.headers["content-type"] == "application/x-protobuf"
        assert arrival.headers["x-highlight-project"] == PROJECT
    span = sdk.spans_named("job")[0]
    assert span.resource["highlight.project_id"] == PROJECT
    assert span.resource["service.name"] == "svc"
    assert span.resource["service.version"] == "1.2.3"
    assert span.resource["deployment.environment"] == "test"
    assert span.link == (SESSION, REQUEST)
    assert span.trace_id == REQUEST  # a 32-hex request id is the trace id
    log = sdk.logs[0]
    assert log.body == "hello world"
    assert log.severity_text == "WARN"
    assert log.severity_number == 13
    assert log.link == (SESSION, REQUEST)
    assert log.trace_id == span.trace_id
    assert log.span_id == span.span_id
    assert log.resource["highlight.project_id"] == PROJECT


def test_gzip_to_a_remote_backend_not_to_loopback(receiver: Receiver) -> None:
    from backlight.export import encode
    from backlight.export.transport import Transport, is_loopback
    from backlight.span import SpanRecord

    for host in ("localhost", "api.localhost", "127.0.0.1", "127.8.0.1", "::1", "LOCALHOST"):
        assert is_loopback(host), host
    for host in ("backlight.example.com", "10.0.0.5", "192.168.1.2", "::ffff:10.0.0.1"):
        assert not is_loopback(host), host
    assert Transport("http://[::1]:8082", {}).compress is False
    remote = Transport("https://backlight.example.com", {})
    assert remote.compress and remote.headers["Content-Encoding"] == "gzip"
    # a forced gzip body, over a real connection, arrives whole
    span = SpanRecord("gz", 5, 6, 0, 1, 10, 20, {"k": "v" * 500}, None, 0, None)
    payload = encode.encode_traces(encode.resource({"service.name": "x"}), [span])
    forced = Transport(receiver.url, {}, compress=True)
    forced.send("/v1/traces", payload)
    forced.close()
    (arrival,) = receiver.arrivals
    assert arrival.headers["content-encoding"] == "gzip"
    assert arrival.raw == payload  # the receiver gunzipped it
    assert receiver.spans_named("gz")[0].attributes["k"] == "v" * 500


def test_init_is_idempotent(sdk: Receiver) -> None:
    first = state.client
    again = backlight.init(
        PROJECT,
        backend_url=sdk.url,
        service_name="svc",
        service_version="1.2.3",
        environment="test",
        export_interval=0.05,
    )
    assert again is first
    assert not [h for h in logging.getLogger().handlers if type(h).__name__ == "BacklightHandler"]


def test_reinit_with_new_settings_switches_backend(sdk: Receiver) -> None:
    other, server = start_receiver()
    try:
        backlight.init("other-project", backend_url=other.url, export_interval=0.05)
        with backlight.trace("after"):
            pass
        other.wait_for(lambda r: bool(r.spans_named("after")))
        assert other.spans_named("after")[0].resource["highlight.project_id"] == "other-project"
        assert not sdk.spans_named("after")
    finally:
        server.shutdown()
        server.server_close()


def test_installs_w3c_and_highlight_propagators(sdk: Receiver) -> None:
    fields = propagate.get_global_textmap().fields
    assert {"traceparent", "baggage", "x-highlight-request"} <= fields


def test_users_own_spans_nest_inside_and_are_exported(sdk: Receiver) -> None:
    tracer = trace.get_tracer("my.app")
    with (
        backlight.trace("outer", secure_session_id=SESSION, request_id=REQUEST) as outer,
        tracer.start_as_current_span("inner") as inner,
    ):
        inner.set_attribute("k", "v")
    assert outer is not None
    sdk.wait_for(lambda r: bool(r.spans_named("inner")) and bool(r.spans_named("outer")))
    inner_view = sdk.spans_named("inner")[0]
    outer_view = sdk.spans_named("outer")[0]
    assert inner_view.parent_span_id == outer_view.span_id
    assert inner_view.trace_id == outer_view.trace_id
    assert inner_view.scope == "my.app"
    assert inner_view.attributes["k"] == "v"
    assert inner_view.link == (SESSION, REQUEST)  # stamped by our span processor


def test_without_init_everything_is_a_no_op() -> None:
    assert state.client is None
    with backlight.trace("nothing") as span:
        assert span is None
    backlight.consume_error(ValueError("x"), SESSION, REQUEST)
    backlight.record_exception(ValueError("x"))
    assert backlight.flush() is True
    backlight.shutdown()


def test_export_failures_never_raise_and_are_counted(sdk: Receiver) -> None:
    sdk.status = 400  # a non-retryable refusal
    with backlight.trace("refused"):
        pass
    assert backlight.flush(5.0) is True  # flushed: the batch was handed over and refused
    client = state.client
    assert client is not None
    assert client.worker.stats.failed.get("spans") == 1
    assert [a.path for a in sdk.arrivals] == ["/v1/traces"]


def test_unreachable_backend_never_raises() -> None:
    rec, server = start_receiver()
    server.shutdown()
    server.server_close()  # nothing listens on that port any more
    backlight.init(PROJECT, backend_url=rec.url, export_interval=0.05, export_timeout=1.0)
    try:
        with backlight.trace("lost"):
            logging.getLogger("app").error("lost too")
        backlight.flush(10.0)
        client = state.client
        assert client is not None
        assert client.worker.stats.failed.get("spans") == 1
    finally:
        backlight.shutdown()


def test_retries_on_503_then_delivers(sdk: Receiver) -> None:
    sdk.fail_next = 2
    with backlight.trace("retried"):
        pass
    sdk.wait_for(lambda r: bool(r.spans_named("retried")))
    assert [a.path for a in sdk.arrivals] == ["/v1/traces"] * 3


def test_full_queue_drops_and_counts(receiver: Receiver) -> None:
    backlight.init(
        PROJECT,
        backend_url=receiver.url,
        max_queue_size=10,
        batch_size=1000,  # never wakes the worker early
        export_interval=3600,
    )
    try:
        for i in range(25):
            with backlight.trace(f"s{i}"):
                pass
        client = state.client
        assert client is not None
        assert client.worker.dropped()["spans"] == 15
        receiver.wait_for(lambda r: len(r.spans) == 10)
    finally:
        backlight.shutdown()


def test_between_timer_ticks_only_full_batches_are_sent(receiver: Receiver) -> None:
    """A busy app keeps adding spans while a batch is out; that trickle waits for the
    timer (or a flush) instead of going out as many tiny POSTs."""
    backlight.init(PROJECT, backend_url=receiver.url, batch_size=10, export_interval=3600)
    try:
        client = state.client
        assert client is not None
        spans = client.worker.signals[0]
        for i in range(25):
            with backlight.trace(f"s{i}"):
                pass
        receiver.wait_for(lambda r: len(r.spans) == 20, flush=False)
        time.sleep(0.3)  # time enough for a third POST, were one coming
        assert [len(_spans_in(a)) for a in receiver.arrivals] == [10, 10]
        assert len(spans.buffer) == 5
        assert backlight.flush(5.0) is True  # a flush sends the rest at once
        assert [len(_spans_in(a)) for a in receiver.arrivals] == [10, 10, 5]
    finally:
        backlight.shutdown()


def _spans_in(arrival: Arrival) -> list[object]:
    request = ExportTraceServiceRequest.FromString(arrival.raw)
    return [span for rs in request.resource_spans for ss in rs.scope_spans for span in ss.spans]


def test_debug_mode_logs_what_the_sdk_does(sdk: Receiver, caplog: pytest.LogCaptureFixture) -> None:
    debug_logger = logging.getLogger("debug-target")
    backlight.set_debug_mode(debug_logger)
    try:
        with caplog.at_level(logging.DEBUG, logger="debug-target"):
            with backlight.consume([("x-highlight-request", f"{SESSION}/{REQUEST}".encode())]):
                pass
            backlight.flush()
        messages = [r.getMessage() for r in caplog.records if r.name == "debug-target"]
        assert any("consume with headers" in m and SESSION in m for m in messages)
        assert any("exported" in m and "spans" in m for m in messages)
    finally:
        backlight.set_debug_mode(None)
    sdk.wait_for(lambda r: bool(r.spans_named("consume")))
    # the SDK's own debug records are never exported as app logs
    assert not [log for log in sdk.logs if "backlight:" in str(log.body)]


def test_debug_mode_reports_export_failures(
    sdk: Receiver, caplog: pytest.LogCaptureFixture
) -> None:
    debug_logger = logging.getLogger("debug-target")
    backlight.set_debug_mode(debug_logger)
    sdk.status = 400
    try:
        with caplog.at_level(logging.DEBUG, logger="debug-target"):
            with backlight.trace("x"):
                pass
            backlight.flush()
        messages = [r.getMessage() for r in caplog.records if r.name == "debug-target"]
        assert any("failed (HTTP 400)" in m for m in messages)
    finally:
        backlight.set_debug_mode(None)


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_fork_safety_child_exports_its_own_spans(sdk: Receiver) -> None:
    with backlight.trace("parent-before-fork"):
        pass  # still queued in the parent when it forks
    pid = os.fork()
    if pid == 0:  # the child: a fresh worker thread must export its spans
        code = 0
        try:
            with backlight.trace("from-child"):
                pass
            code = 0 if backlight.flush(10.0) else 3
        except BaseException:
            code = 4
        finally:
            sys.stdout.flush()
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    sdk.wait_for(lambda r: bool(r.spans_named("from-child")))
    sdk.wait_for(lambda r: bool(r.spans_named("parent-before-fork")))
    assert len(sdk.spans_named("parent-before-fork")) == 1  # the child did not re-send it


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_a_forked_child_exports_on_a_connection_of_its_own(sdk: Receiver) -> None:
    """A parent that exported before forking (gunicorn ``--preload``'s master logs) holds a
    keep-alive connection; a child writing to that same socket could read the other's
    response. The child opens its own; the parent keeps using its own."""
    client = state.client
    assert client is not None

    def socket_name() -> str:
        conn = client.transport._conn
        assert conn is not None and conn.sock is not None
        return repr(conn.sock.getsockname())

    with backlight.trace("parent-before-fork"):
        pass
    assert backlight.flush(10.0)
    parents = socket_name()
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child
        code = 0
        try:
            with backlight.trace("from-child"):
                pass
            code = 0 if backlight.flush(10.0) else 3
            os.write(write, socket_name().encode())
        except BaseException:
            code = 4
        finally:
            os._exit(code)
    os.close(write)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    with os.fdopen(read) as pipe:
        assert pipe.read() != parents
    with backlight.trace("parent-after-fork"):
        pass
    assert backlight.flush(10.0)
    assert socket_name() == parents  # the parent's connection still works, still its own
    sdk.wait_for(lambda r: bool(r.spans_named("from-child") and r.spans_named("parent-after-fork")))


def test_the_export_thread_imports_nothing(receiver: Receiver) -> None:
    """An import the export thread starts can be half done when the app forks (gunicorn
    ``--preload``); the child then cannot finish it and loses every export. Its first
    connection needed the "idna" codec, imported on first use: a gunicorn worker that
    forked at that moment exported nothing. In a fresh interpreter, everything the first
    export of a span and a log needs is imported by ``backlight.init``."""
    app = """
import logging, sys
import backlight
backlight.init("test-project", backend_url=sys.argv[1], export_interval=60)
before = set(sys.modules)
with backlight.trace("first"):
    logging.getLogger("app").warning("first log")
assert backlight.flush(10.0)
print(" ".join(sorted(set(sys.modules) - before)))
"""
    env = {**os.environ, "PYTHONPATH": str(Path(backlight.__file__).parents[1])}
    done = subprocess.run(
        [sys.executable, "-c", app, receiver.url],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
    )
    assert done.returncode == 0, done.stderr
    receiver.wait_for(lambda r: bool(r.spans_named("first")) and bool(r.logs), flush=False)
    assert done.stdout.split() == []
