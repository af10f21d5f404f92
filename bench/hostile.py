"""How responsive the server stays while a worst-case request for each parser is in flight.

For each hostile request (the worst input we know for a parser, at the size limits), a
real ``backlight serve`` on loopback gets that request from ``--senders`` threads in a loop
while another thread polls ``GET /healthz`` every 10 ms. Printed: the /healthz latency
(median, p99, max) under each load, and its ratio to the idle latency measured in the same
run, plus how long one hostile request takes and what it is answered.

    .venv/bin/python bench/hostile.py [--seconds 5] [--senders 2]
"""

from __future__ import annotations

import argparse
import gzip
import statistics
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import orjson
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from backlight_server.testing import BacklightProcess

SID = "Hb7Qw2Zr8Xk3Lp5Mn9Tv4Yc6Ud1E"
Case = tuple[str, str, bytes, dict[str, str]]
JSON = {"content-type": "application/json"}
GZIP = {"content-type": "application/json", "content-encoding": "gzip"}


def _batch(project: str, **lists: object) -> bytes:
    return orjson.dumps(
        {"v": 1, "project_id": project, "session_secure_id": SID, "seq": 0, **lists}
    )


def cases(project: str) -> list[Case]:
    now = time.time() * 1000
    v8 = "at " + " (" * 32766 + "x"
    stack_8k = "    at " + "a (" * 2700
    spans = ExportTraceServiceRequest()
    rs = spans.resource_spans.add()
    kv = rs.resource.attributes.add()
    kv.key, kv.value.string_value = "highlight.project_id", project
    scope = rs.scope_spans.add()
    for i in range(40):
        span = scope.spans.add()
        span.trace_id, span.span_id, span.name = bytes([i + 1]) * 16, bytes([i + 1]) * 8, "s"
        span.start_time_unix_nano = span.end_time_unix_nano = time.time_ns()
        ev = span.events.add()
        ev.name, ev.time_unix_nano = "exception", time.time_ns()
        attr = ev.attributes.add()
        attr.key, attr.value.string_value = "exception.stacktrace", stack_8k
    errors = [
        {"ts": now, "type": "Error", "message": "1" * 1024, "raw_stack": stack_8k[:4000]}
        for _ in range(2000)
    ]
    deep_node = '{"type":3,"textContent":"x","id":0}'
    for i in range(500):  # 500 elements: ~1,000 JSON levels, near orjson's 1,024
        deep_node = f'{{"type":2,"tagName":"div","id":{i + 1},"childNodes":[{deep_node}]}}'
    deep = (
        f'{{"v":1,"project_id":"{project}","session_secure_id":"{SID}","seq":1,'
        f'"events":[{{"type":2,"timestamp":{now},"data":{{"node":{deep_node}}}}}]}}'
    )
    big = _batch(project, events=[{"type": 3, "data": {"t": "y" * 30_000_000}, "timestamp": now}])
    aliased = (
        "mutation { " + " ".join(f"a{i}: pushMetrics(metrics: [])" for i in range(2000)) + " }"
    )
    return [
        (
            "v8 stack line, 244 B gzipped",
            "/ingest/v1/batch",
            gzip.compress(
                _batch(project, errors=[{"ts": now, "type": "E", "message": "m", "raw_stack": v8}])
            ),
            GZIP,
        ),
        (
            "40 OTLP spans, 8 KB stacks",
            "/v1/traces",
            spans.SerializeToString(),
            {"content-type": "application/x-protobuf"},
        ),
        (
            "2,000 errors, 1 KB digit messages",
            "/ingest/v1/batch",
            gzip.compress(_batch(project, errors=errors)),
            GZIP,
        ),
        ("rrweb snapshot 1,000 levels deep", "/ingest/v1/batch", deep.encode(), JSON),
        ("30 MB batch from 30 KB gzip", "/ingest/v1/batch", gzip.compress(big), GZIP),
        (
            "GraphQL, 2,000 aliased fields",
            "/public",
            gzip.compress(orjson.dumps({"query": aliased})),
            GZIP,
        ),
    ]


def _poll(url: str, stop: threading.Event) -> list[float]:
    out: list[float] = []
    with httpx.Client(timeout=60) as client:
        while not stop.is_set():
            started = time.perf_counter()
            client.get(url + "/healthz")
            out.append((time.perf_counter() - started) * 1000)
            time.sleep(0.01)
    return out


def _measure(
    url: str, seconds: float, load: Callable[[threading.Event], None] | None, senders: int
) -> list[float]:
    stop = threading.Event()
    threads = [
        threading.Thread(target=load, args=(stop,), daemon=True)
        for _ in range(senders if load else 0)
    ]
    for t in threads:
        t.start()
    box: list[list[float]] = []
    poller = threading.Thread(target=lambda: box.append(_poll(url, stop)))
    poller.start()
    time.sleep(seconds)
    stop.set()
    poller.join()
    for t in threads:
        t.join(120)
    return box[0]


def _stats(xs: list[float]) -> tuple[float, float, float]:
    ordered = sorted(xs)
    return (statistics.median(ordered), ordered[int(len(ordered) * 0.99) - 1 or 0], ordered[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--senders", type=int, default=2)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, BacklightProcess(Path(tmp)) as server:
        httpx.post(
            server.url + "/ingest/v1/session",
            json={
                "v": 1,
                "project_id": server.project,
                "session_secure_id": SID,
                "started_at": time.time() * 1000,
            },
        )
        idle = _stats(_measure(server.url, args.seconds, None, 0))
        print(f"idle /healthz: median {idle[0]:.2f} ms, p99 {idle[1]:.2f} ms, max {idle[2]:.2f} ms")
        print(
            f"{'hostile request':36} {'one request':>12} {'answer':>7} "
            f"{'healthz p50':>12} {'p99':>9} {'max':>9} {'p50/idle':>9}"
        )
        for name, path, body, headers in cases(server.project):
            started = time.perf_counter()
            r = httpx.post(server.url + path, content=body, headers=headers, timeout=120)
            one = (time.perf_counter() - started) * 1000

            def load(
                stop: threading.Event,
                path: str = path,
                body: bytes = body,
                headers: dict[str, str] = headers,
            ) -> None:
                with httpx.Client(base_url=server.url, timeout=120) as client:
                    while not stop.is_set():
                        client.post(path, content=body, headers=headers)

            p50, p99, worst = _stats(_measure(server.url, args.seconds, load, args.senders))
            print(
                f"{name:36} {one:9.0f} ms {r.status_code:>7} {p50:9.2f} ms {p99:6.1f} ms "
                f"{worst:6.1f} ms {p50 / idle[0]:8.1f}x"
            )


if __name__ == "__main__":
    main()
