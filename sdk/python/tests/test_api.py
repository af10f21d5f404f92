"""consume_error, record_exception, trace, inject, message_headers and consume."""

from __future__ import annotations

import asyncio
import json
import logging
import queue
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from sdk_capture import REQUEST, SESSION, Receiver

import backlight

APPS = Path(__file__).parent / "apps"


def test_consume_error_outside_any_request(sdk: Receiver) -> None:
    try:
        raise KeyError("missing")
    except KeyError as exc:
        backlight.consume_error(exc, SESSION, "a1B2c3D4e5", attributes={"job": "nightly"})
    sdk.wait_for(lambda r: bool(r.errors()))
    error = sdk.errors()[0]
    assert error.link == (SESSION, "a1B2c3D4e5")
    assert error.attributes["job"] == "nightly"
    assert error.status_code == 2
    event = error.exception()
    assert event is not None
    assert event["exception.type"] == "KeyError"
    assert event["exception.message"] == "'missing'"
    assert "test_consume_error_outside_any_request" in event["exception.stacktrace"]


def test_consume_error_uses_a_trace_id_request_id_as_the_trace(sdk: Receiver) -> None:
    backlight.consume_error(ValueError("x"), SESSION, REQUEST)
    sdk.wait_for(lambda r: bool(r.errors()))
    assert sdk.errors()[0].trace_id == REQUEST


def test_consume_error_inherits_the_current_link(sdk: Receiver) -> None:
    with backlight.trace("request", secure_session_id=SESSION, request_id=REQUEST):
        backlight.consume_error(RuntimeError("inside"))
    sdk.wait_for(lambda r: bool(r.errors()) and bool(r.spans_named("request")))
    assert sdk.errors()[0].link == (SESSION, REQUEST)
    assert sdk.errors()[0].parent_span_id == sdk.spans_named("request")[0].span_id


def test_consume_error_with_a_session_only_uses_its_trace_id(sdk: Receiver) -> None:
    backlight.consume_error(RuntimeError("x"), SESSION)
    sdk.wait_for(lambda r: bool(r.errors()))
    error = sdk.errors()[0]
    assert error.link == (SESSION, error.trace_id)


def test_record_exception_on_the_current_span(sdk: Receiver) -> None:
    with backlight.trace("work", secure_session_id=SESSION, request_id=REQUEST):
        backlight.record_exception(ValueError("handled"), attributes={"where": "here"})
    sdk.wait_for(lambda r: bool(r.spans_named("work")))
    span = sdk.spans_named("work")[0]
    event = span.exception()
    assert event is not None
    assert event["exception.message"] == "handled"
    assert event["where"] == "here"
    assert span.status_code == 2


def test_record_exception_without_a_span_is_a_linked_error(sdk: Receiver) -> None:
    backlight.record_exception(ValueError("alone"))
    sdk.wait_for(lambda r: bool(r.errors()))
    assert sdk.errors()[0].name == "backlight.error"


def test_trace_records_and_reraises_unchanged(sdk: Receiver) -> None:
    error = ZeroDivisionError("boom")
    with (
        pytest.raises(ZeroDivisionError) as caught,
        backlight.trace("failing", secure_session_id=SESSION, request_id=REQUEST),
    ):
        raise error
    assert caught.value is error
    sdk.wait_for(lambda r: bool(r.spans_named("failing")))
    span = sdk.spans_named("failing")[0]
    assert span.status_code == 2
    event = span.exception()
    assert event is not None
    assert event["exception.type"] == "ZeroDivisionError"


def test_trace_as_sync_and_async_decorators(sdk: Receiver) -> None:
    @backlight.trace("sync-job", secure_session_id=SESSION, request_id=REQUEST)
    def job(x: int) -> int:
        logging.getLogger("jobs").info("sync job ran")
        return x * 2

    @backlight.trace(secure_session_id=SESSION, request_id="asyncreq01")
    async def async_job(x: int) -> int:
        await asyncio.sleep(0)
        logging.getLogger("jobs").info("async job ran")
        return x + 1

    @backlight.trace
    def bare() -> str:
        return "ok"

    assert job(21) == 42
    assert asyncio.run(async_job(1)) == 2
    assert bare() == "ok"
    sdk.wait_for(lambda r: len(r.spans) >= 3 and len(r.logs) >= 2)
    assert sdk.spans_named("sync-job")[0].link == (SESSION, REQUEST)
    async_span = next(s for s in sdk.spans if s.name.endswith("async_job"))
    assert async_span.link == (SESSION, "asyncreq01")
    assert [s for s in sdk.spans if s.name.endswith("bare")]
    by_body = {log.body: log for log in sdk.logs}
    assert by_body["sync job ran"].link == (SESSION, REQUEST)
    assert by_body["async job ran"].link == (SESSION, "asyncreq01")


def test_inject_and_message_headers(sdk: Receiver) -> None:
    assert backlight.inject({}) == {}  # nothing current: nothing added
    with backlight.trace("producer", secure_session_id=SESSION, request_id=REQUEST) as span:
        assert span is not None
        headers = backlight.inject({"accept": "*/*"})
        pairs = backlight.message_headers()
        as_dict = backlight.message_headers(as_dict=True)
    assert headers["accept"] == "*/*"
    assert headers["x-highlight-request"] == f"{SESSION}/{REQUEST}"
    assert headers["traceparent"] == f"00-{REQUEST}-{span.span_id:016x}-01"
    assert "x-highlight-request=" in headers["baggage"]
    assert all(isinstance(k, str) and isinstance(v, bytes) for k, v in pairs)
    assert dict(pairs)["x-highlight-request"] == f"{SESSION}/{REQUEST}".encode()
    assert as_dict == {k: v.decode() for k, v in pairs}


@pytest.mark.parametrize(
    "headers",
    [
        pytest.param(None, id="none"),
        pytest.param([], id="empty"),
        pytest.param([("x-highlight-request", b"\xff/\x00")], id="malformed"),
        pytest.param([(b"traceparent", b"garbage")], id="bad-traceparent"),
        pytest.param(42, id="not-headers"),
    ],
)
def test_consume_with_bad_headers_runs_the_block_unlinked(sdk: Receiver, headers: object) -> None:
    ran = False
    with backlight.consume(headers) as link:
        ran = True
        assert link is None
    assert ran


def test_consume_reraises_unchanged(sdk: Receiver) -> None:
    error = LookupError("bad message")
    with (
        pytest.raises(LookupError) as caught,
        backlight.consume([("x-highlight-request", f"{SESSION}/{REQUEST}".encode())]),
    ):
        raise error
    assert caught.value is error
    sdk.wait_for(lambda r: bool(r.spans_named("consume")))
    span = sdk.spans_named("consume")[0]
    assert span.link == (SESSION, REQUEST)
    assert span.exception() is not None


async def test_queue_producer_in_request_consumer_in_thread(sdk: Receiver) -> None:
    """Kafka-style: headers travel with the message; the consumer reports the error."""
    import httpx
    from fastapi import FastAPI

    from backlight.integrations.asgi import BacklightMiddleware

    jobs: queue.Queue[tuple[bytes, list[tuple[str, bytes]]]] = queue.Queue()
    app = FastAPI(telemetry={"tracing": False, "logs": False})
    app.add_middleware(BacklightMiddleware)

    @app.post("/orders")
    def create_order() -> dict[str, str]:
        jobs.put((b'{"order": 1}', backlight.message_headers()))
        return {"queued": "yes"}

    def consumer() -> None:
        payload, headers = jobs.get(timeout=10)
        with backlight.consume(headers, name="process-order"):
            try:
                raise ValueError(f"cannot process {payload!r}")
            except ValueError as exc:
                backlight.consume_error(exc)
            logging.getLogger("worker").warning("order failed")

    worker = threading.Thread(target=consumer)
    worker.start()
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://app") as client:
        await client.post("/orders", headers={"x-highlight-request": f"{SESSION}/{REQUEST}"})
    await asyncio.to_thread(worker.join, 10)
    await asyncio.to_thread(sdk.wait_for, lambda r: bool(r.errors()) and bool(r.logs))
    error = sdk.errors()[0]
    assert error.link == (SESSION, REQUEST)
    assert "cannot process" in error.exception()["exception.message"]  # type: ignore[index]
    consume_span = sdk.spans_named("process-order")[0]
    server_span = sdk.spans_named("POST /orders")[0]
    assert consume_span.trace_id == server_span.trace_id  # the trace continues, too
    assert consume_span.parent_span_id == server_span.span_id
    log = next(log for log in sdk.logs if log.body == "order failed")
    assert log.link == (SESSION, REQUEST)


def test_queue_consumer_in_another_process(sdk: Receiver) -> None:
    with backlight.trace("enqueue", secure_session_id=SESSION, request_id="a1B2c3D4e5"):
        headers = backlight.message_headers(as_dict=True)
    message = json.dumps({"headers": headers, "payload": "order-7"})
    subprocess.run(
        [sys.executable, str(APPS / "queue_consumer.py"), sdk.url],
        input=message.encode(),
        check=True,
        timeout=60,
    )
    sdk.wait_for(lambda r: bool(r.errors()))
    error = sdk.errors()[0]
    assert error.link == (SESSION, "a1B2c3D4e5")
    assert error.resource["service.name"] == "queue-consumer"
    assert error.exception()["exception.message"] == "order-7 failed"  # type: ignore[index]
