"""Shared pieces of the server benchmarks: OTLP payload builders, process probes, tables.

Payloads are built with the opentelemetry-proto message classes directly (what an OTel
SDK exporter produces), once, before anything is timed.
"""

from __future__ import annotations

import gzip
import os
import random
import statistics
import time
from collections.abc import Sequence
from dataclasses import dataclass

from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.logs.v1.logs_pb2 import LogRecord
from opentelemetry.proto.trace.v1.trace_pb2 import Span, Status

ALNUM = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
SERVICES = ("checkout", "inventory", "payments", "search")
ROUTES = ("/api/cart", "/api/checkout", "/api/items/{id}", "/api/search", "/api/user/me")
LOG_TEMPLATES = (
    "GET {route} served in {ms} ms for user {user}",
    "cache miss for key item:{n}, loading from database",
    "payment provider answered {status} after {ms} ms",
    "retrying upstream call to inventory ({n} of 3)",
    "order {n} placed by user {user} with {k} items",
)


def session_id(rng: random.Random) -> str:
    return "".join(rng.choice(ALNUM) for _ in range(28))


def hex_id(rng: random.Random, nbytes: int) -> str:
    return rng.randbytes(nbytes).hex()


def _kv(key: str, value: str | int | bool | float) -> KeyValue:
    if isinstance(value, bool):
        return KeyValue(key=key, value=AnyValue(bool_value=value))
    if isinstance(value, int):
        return KeyValue(key=key, value=AnyValue(int_value=value))
    if isinstance(value, float):
        return KeyValue(key=key, value=AnyValue(double_value=value))
    return KeyValue(key=key, value=AnyValue(string_value=value))


@dataclass(frozen=True)
class Payload:
    kind: str  # "traces" | "logs"
    records: int
    raw: bytes  # serialised protobuf
    body: bytes  # gzip of raw, as sent


def _attrs(rng: random.Random, linked: bool, i: int) -> list[KeyValue]:
    """Eight attributes; the linked ones carry the highlight session/request pair."""
    route = rng.choice(ROUTES)
    attrs = [
        _kv("http.method", rng.choice(("GET", "POST", "PUT"))),
        _kv("http.route", route),
        _kv("http.status_code", rng.choice((200, 200, 200, 201, 404, 500))),
        _kv("net.peer.name", f"10.0.{rng.randrange(256)}.{rng.randrange(256)}"),
        _kv("code.function", f"handle_{route.strip('/').replace('/', '_')[:20]}"),
        _kv("user.id", f"user-{rng.randrange(100_000)}"),
    ]
    if linked:
        attrs += [
            _kv("highlight.session_id", session_id(rng)),
            _kv("highlight.trace_id", hex_id(rng, 16)),
        ]
    else:
        attrs += [_kv("thread.name", f"worker-{i % 8}"), _kv("db.rows", rng.randrange(1000))]
    return attrs


def trace_payloads(
    project: str, n_requests: int, per_request: int, seed: int = 1, linked_share: float = 0.5
) -> list[Payload]:
    """Export requests of ``per_request`` spans: traces of 10 spans, half of them linked."""
    rng = random.Random(seed)
    out = []
    now_ns = time.time_ns() - 3_600_000_000_000  # recent: the retention purge keeps it
    for r in range(n_requests):
        req = ExportTraceServiceRequest()
        rs = req.resource_spans.add()
        rs.resource.attributes.extend(
            [
                _kv("service.name", SERVICES[r % len(SERVICES)]),
                _kv("deployment.environment", "production"),
                _kv("highlight.project_id", project),
                _kv("telemetry.sdk.language", "python"),
            ]
        )
        ss = rs.scope_spans.add()
        ss.scope.name = "opentelemetry.instrumentation.fastapi"
        trace_id = parent = b""
        for i in range(per_request):
            if i % 10 == 0:
                trace_id, parent = rng.randbytes(16), b""
            span_id = rng.randbytes(8)
            start = now_ns + (r * per_request + i) * 1_000_000
            span = Span(
                trace_id=trace_id,
                span_id=span_id,
                parent_span_id=parent,
                name=f"{rng.choice(('GET', 'POST'))} {rng.choice(ROUTES)}",
                kind=Span.SPAN_KIND_SERVER if not parent else Span.SPAN_KIND_INTERNAL,
                start_time_unix_nano=start,
                end_time_unix_nano=start + rng.randrange(100_000, 50_000_000),
            )
            span.attributes.extend(_attrs(rng, rng.random() < linked_share, i))
            span.status.code = (
                Status.STATUS_CODE_ERROR if rng.random() < 0.02 else Status.STATUS_CODE_OK
            )
            ss.spans.append(span)
            parent = parent or span_id
        raw = req.SerializeToString()
        out.append(Payload("traces", per_request, raw, gzip.compress(raw, 6)))
    return out


def log_payloads(
    project: str, n_requests: int, per_request: int, seed: int = 2, linked_share: float = 0.5
) -> list[Payload]:
    """Export requests of ``per_request`` log records, half of them linked."""
    rng = random.Random(seed)
    out = []
    now_ns = time.time_ns() - 3_600_000_000_000  # recent: the retention purge keeps it
    for r in range(n_requests):
        req = ExportLogsServiceRequest()
        rl = req.resource_logs.add()
        rl.resource.attributes.extend(
            [
                _kv("service.name", SERVICES[r % len(SERVICES)]),
                _kv("deployment.environment", "production"),
                _kv("highlight.project_id", project),
                _kv("telemetry.sdk.language", "python"),
            ]
        )
        sl = rl.scope_logs.add()
        sl.scope.name = "app.logger"
        for i in range(per_request):
            severity = rng.choice((9, 9, 9, 9, 5, 13, 17))
            text = rng.choice(LOG_TEMPLATES).format(
                route=rng.choice(ROUTES),
                ms=rng.randrange(1, 900),
                user=rng.randrange(10**5),
                status=rng.choice((200, 402, 502)),
                n=rng.randrange(10**6),
                k=rng.randrange(9),
            )
            ts = now_ns + (r * per_request + i) * 1_000_000
            rec = LogRecord(
                time_unix_nano=ts,
                observed_time_unix_nano=ts,
                severity_number=severity,  # type: ignore[arg-type]
                severity_text={5: "DEBUG", 9: "INFO", 13: "WARN", 17: "ERROR"}[severity],
                body=AnyValue(string_value=text),
            )
            if rng.random() < 0.7:
                rec.trace_id, rec.span_id = rng.randbytes(16), rng.randbytes(8)
            rec.attributes.extend(_attrs(rng, rng.random() < linked_share, i))
            sl.log_records.append(rec)
        raw = req.SerializeToString()
        out.append(Payload("logs", per_request, raw, gzip.compress(raw, 6)))
    return out


def cpu_seconds(pid: int) -> float:
    """utime + stime of a process (all threads), from /proc/PID/stat."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / ticks


def rss_mb(pid: int) -> float:
    """VmRSS of a process in MB (MiB), from /proc/PID/status."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for pid {pid}")


def percentile(values: Sequence[float], p: float) -> float:
    """Nearest-rank percentile (p in 0..100)."""
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    k = max(0, min(len(ordered) - 1, round(p / 100 * len(ordered) + 0.5) - 1))
    return ordered[k]


def median(values: Sequence[float]) -> float:
    return statistics.median(values)


def table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """A Markdown table (also readable on a terminal)."""
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(header)]
    fmt = "| " + " | ".join(f"{{:{w}}}" for w in widths) + " |"
    lines = [fmt.format(*header), "|" + "|".join("-" * (w + 2) for w in widths) + "|"]
    lines += [fmt.format(*r) for r in rows]
    return "\n".join(lines)
