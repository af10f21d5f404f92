"""docs/queues.md's generic recipe on a real Redis stream (Debian's redis-server, redis-py):
the producer stores ``message_headers(as_dict=True)`` with the message fields; the
consumer hands the fields, bytes as redis-py returns them, to ``backlight.consume``."""

from __future__ import annotations

import logging
import shutil
import subprocess
import time
from collections.abc import Iterator
from typing import Any

import pytest
from sdk_capture import REQUEST, SESSION, Receiver, free_port

import backlight

redis = pytest.importorskip("redis")
REDIS = shutil.which("redis-server")
pytestmark = pytest.mark.skipif(REDIS is None, reason="needs Debian's redis-server")


@pytest.fixture
def stream() -> Iterator[Any]:
    assert REDIS is not None
    port = free_port()
    command = [REDIS, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly"]
    proc = subprocess.Popen([*command, "no"], stdout=subprocess.DEVNULL)
    client = redis.Redis(port=port)
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                client.ping()
                break
            except redis.ConnectionError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise
                time.sleep(0.05)
        yield client
    finally:
        client.close()
        proc.terminate()
        proc.wait(timeout=20)


def test_redis_stream_message_links_its_consumer(sdk: Receiver, stream: Any) -> None:
    client = stream
    with backlight.trace("POST /orders", secure_session_id=SESSION, request_id=REQUEST):
        client.xadd("orders", {"order": "7", **backlight.message_headers(as_dict=True)})

    # the consumer (a worker process in real life), outside any request
    [(_, [(_, fields)])] = client.xread({"orders": "0"}, count=1)
    assert fields[b"order"] == b"7"
    with backlight.consume(fields, name="process-order") as link:
        logging.getLogger("orders").warning("processing order 7")
    assert link is not None and (link.secure_session_id, link.request_id) == (SESSION, REQUEST)
    assert backlight.flush(10.0)

    sdk.wait_for(lambda r: bool(r.spans_named("process-order")) and bool(r.logs_from("orders")))
    [consumer] = sdk.spans_named("process-order")
    [producer] = sdk.spans_named("POST /orders")
    assert consumer.link == (SESSION, REQUEST) and consumer.kind == 5  # CONSUMER
    assert (consumer.trace_id, consumer.parent_span_id) == (producer.trace_id, producer.span_id)
    [log] = sdk.logs_from("orders")
    assert log.link == (SESSION, REQUEST) and log.span_id == consumer.span_id


def test_kafka_header_list_round_trips(sdk: Receiver) -> None:
    """The shape confluent-kafka, aiokafka and kafka-python take and give back: a list of
    ``(str, bytes)`` pairs (no Kafka broker here: the clients themselves are untested)."""
    with backlight.trace("request", secure_session_id=SESSION, request_id=REQUEST):
        headers = backlight.message_headers()
    assert all(isinstance(k, str) and isinstance(v, bytes) for k, v in headers)
    received = [*headers, ("content-type", b"application/json")]  # other headers: ignored
    with backlight.consume(received) as link:
        pass
    assert link is not None and link.header_value == f"{SESSION}/{REQUEST}"
