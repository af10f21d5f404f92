"""Alert latency under sustained ingest, and ingest throughput with 20 rules against none.

    .venv/bin/python bench/alerts.py [--rounds 6] [--turn-seconds 15] [--probe-every 0.5]
    .venv/bin/python bench/alerts.py --store chdb      # both servers on chdb (temporary folders)

Two real ``backlight serve`` processes (temporary data dirs, loopback, the default alert
interval unless ``--alert-interval``): one with 20 alert rules, one with none. Their
webhook channels all post to a loopback receiver in this process, which notes when each
message arrives. In each round every server gets a turn of ``--turn-seconds`` of sustained
gzip OTLP/HTTP span ingest over ``--connections`` keep-alive connections (requests of
``--per-request`` spans built up front; 1 % of the spans raised one of 24 recurring
exceptions, so the load also makes error instances, about 140 a second at 14,000 spans a
second); the order of the two turns flips every round, so both see the same machine load.
Throughput is spans answered 200 (committed) per second of the turn; the ratio is the
median of the per-round ratios rules / none (target ≥ 95 %).

Latency: during each turn, every ``--probe-every`` seconds, a probe (one OTLP/JSON span
whose exception type is new: a new error group) goes to the server whose turn it is.
The server with rules has a ``new_group`` rule for the probes' service with no cooldown; the
latency of a probe is from just before its request is sent to the receiver getting the
message that carries it (the receiver and the client share the clock). Probes stop one
alert interval before a turn ends, so their messages are due while the ingest still runs.
Reported: p50 and p95 (target p95 < 5 s), the maximum, and that every probe arrived once.

The other 19 rules watch the same load: new groups per service, regressions (a few groups
are resolved through the API each round, on both servers), spikes per group and per
service (some fire), and the declared log-match and user-error triggers.

``--store``: ``sqlite`` (default), ``chdb`` (the embedded ClickHouse engine, a temporary
folder per server), or a URL (``chdb:///DIR`` is taken as a parent folder; a
``clickhouse://`` URL is used by the server with rules only, the other on SQLite: prefer
``chdb`` for a like-for-like ratio).
"""

from __future__ import annotations

import argparse
import asyncio
import gzip
import json
import os
import random
import secrets
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
from _server_common import (
    SERVICES,
    Payload,
    cpu_seconds,
    median,
    percentile,
    table,
    trace_payloads,
)
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.trace.v1.trace_pb2 import Status

from backlight_server.cli import redact_url
from backlight_server.testing import BacklightProcess, free_port

HEADERS = {"Content-Type": "application/x-protobuf", "Content-Encoding": "gzip"}
PROBE_SERVICE = "alert-probe"
ERROR_TYPES = ("KeyError", "ValueError", "TimeoutError", "PaymentDeclined", "StockMissing", "Boom")
HOUR_NS = 3_600_000_000_000


# --- the receiver ------------------------------------------------------------------------


@dataclass
class Receiver:
    """Notes when each probe's message arrives (and how many messages each path got)."""

    port: int = field(default_factory=free_port)
    probes: dict[str, list[float]] = field(default_factory=dict)
    paths: dict[str, int] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def got(self, path: str, body: bytes) -> None:
        now = time.time()
        try:
            events = json.loads(body).get("events") or []
        except ValueError:
            events = []
        with self.lock:
            self.paths[path] = self.paths.get(path, 0) + 1
            for event in events:
                kind = str(event.get("error_type") or "")
                if kind.startswith("Probe"):
                    self.probes.setdefault(kind, []).append(now)

    @contextmanager
    def running(self) -> Iterator[Receiver]:
        owner = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length") or 0))
                owner.got(self.path, body)
                self.send_response(200)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        server.daemon_threads = True
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            yield self
        finally:
            server.shutdown()
            server.server_close()


# --- the rules ---------------------------------------------------------------------------


def rules(receiver: str) -> list[dict[str, Any]]:
    """20 rules: the measured one first, then 19 that watch the load."""

    def rule(name: str, trigger: dict[str, Any], **extra: Any) -> dict[str, Any]:
        hook = {"kind": "webhook", "url": f"{receiver}/{name}", "secret": "bench-secret-0123"}
        return {"name": name, "trigger": trigger, "channels": [hook], **extra}

    out = [
        rule(
            "probe",
            {"kind": "new_group"},
            filters={"service": PROBE_SERVICE},
            cooldown_seconds=0,
        )
    ]
    out += [rule(f"new-{s}", {"kind": "new_group"}, filters={"service": s}) for s in SERVICES]
    out += [
        rule("regression-backend", {"kind": "regression"}, filters={"source": "backend"}),
        rule("regression-prod", {"kind": "regression"}, filters={"environment": "production"}),
        rule("regression-all", {"kind": "regression"}),
    ]
    out += [
        rule(f"spike-group-{n}", {"kind": "spike", "threshold": n, "window_minutes": 5})
        for n in (20, 50, 100, 500)
    ]
    out += [
        rule(
            f"spike-service-{s}",
            {"kind": "spike", "threshold": 200, "window_minutes": 1 + i, "scope": "service"},
            filters={"service": s},
        )
        for i, s in enumerate(SERVICES)
    ]
    out += [
        rule("logs-timeout", {"kind": "log_match", "query": "timeout", "threshold": 10}),
        rule("logs-error", {"kind": "log_match", "query": "payment", "level": "error"}),
        rule("user-ada", {"kind": "user_error", "user": "ada@example.com"}),
        rule(
            "user-paying", {"kind": "user_error", "property_name": "plan", "property_value": "pro"}
        ),
    ]
    assert len(out) == 20
    return out


# --- payloads ----------------------------------------------------------------------------


def _kv(key: str, value: str) -> KeyValue:
    return KeyValue(key=key, value=AnyValue(string_value=value))


def load_payloads(project: str, n: int, per_request: int, seed: int) -> list[Payload]:
    """Span export requests (``_server_common.trace_payloads``) moved to now, with 1 % of
    the spans raising one of 24 recurring exceptions (6 types × 4 services)."""
    rng = random.Random(seed)
    out = []
    for p in trace_payloads(project, n, per_request, seed=seed):
        req = ExportTraceServiceRequest.FromString(p.raw)
        for rs in req.resource_spans:
            service = next(
                a.value.string_value for a in rs.resource.attributes if a.key == "service.name"
            )
            for ss in rs.scope_spans:
                for span in ss.spans:
                    span.start_time_unix_nano += HOUR_NS
                    span.end_time_unix_nano += HOUR_NS
                    if rng.random() >= 0.01:
                        continue
                    kind = rng.choice(ERROR_TYPES)
                    span.status.code = Status.STATUS_CODE_ERROR
                    event = span.events.add()
                    event.name, event.time_unix_nano = "exception", span.end_time_unix_nano
                    event.attributes.extend(
                        [
                            _kv("exception.type", kind),
                            _kv("exception.message", f"{kind.lower()} in {service}"),
                            _kv(
                                "exception.stacktrace",
                                "Traceback (most recent call last):\n"
                                f'  File "/app/{service}.py", line 42, in handle\n'
                                f"{kind}: {kind.lower()} in {service}",
                            ),
                        ]
                    )
        raw = req.SerializeToString()
        out.append(Payload("traces", per_request, raw, gzip.compress(raw, 6)))
    return out


def probe_body(project: str, kind: str) -> bytes:
    ns = str(time.time_ns())
    attrs = [
        {"key": "exception.type", "value": {"stringValue": kind}},
        {"key": "exception.message", "value": {"stringValue": "probe"}},
    ]
    span = {
        "traceId": secrets.token_hex(16),
        "spanId": secrets.token_hex(8),
        "name": "GET /probe",
        "kind": 2,
        "startTimeUnixNano": ns,
        "endTimeUnixNano": ns,
        "status": {"code": 2},
        "events": [{"name": "exception", "timeUnixNano": ns, "attributes": attrs}],
    }
    resource = [
        {"key": "service.name", "value": {"stringValue": PROBE_SERVICE}},
        {"key": "highlight.project_id", "value": {"stringValue": project}},
    ]
    body = {
        "resourceSpans": [{"resource": {"attributes": resource}, "scopeSpans": [{"spans": [span]}]}]
    }
    return json.dumps(body).encode()


# --- a turn ------------------------------------------------------------------------------


@dataclass
class Turn:
    spans: int
    seconds: float
    server_cpu: float
    retries: int
    probes: dict[str, float]  # probe type -> when its request was sent (epoch s)
    commits: list[float]  # each probe's request: sent → answered 200 (committed), s


async def _turn(
    server: BacklightProcess,
    payloads: list[Payload],
    connections: int,
    seconds: float,
    probe_every: float,
    probe_until: float,
) -> tuple[int, int, dict[str, float], list[float]]:
    deadline = time.monotonic() + seconds
    probe_deadline = time.monotonic() + probe_until
    spans = retries = 0
    probes: dict[str, float] = {}
    commits: list[float] = []
    limits = httpx.Limits(
        max_connections=connections + 1, max_keepalive_connections=connections + 1
    )
    async with httpx.AsyncClient(limits=limits, timeout=120) as client:

        async def worker(start: int) -> None:
            nonlocal spans, retries
            i = start
            while time.monotonic() < deadline:
                p = payloads[i % len(payloads)]
                i += connections
                r = await client.post(f"{server.url}/v1/traces", content=p.body, headers=HEADERS)
                if r.status_code in (429, 503):
                    retries += 1
                    await asyncio.sleep(float(r.headers.get("retry-after", "1")))
                    continue
                if r.status_code != 200:
                    raise RuntimeError(f"HTTP {r.status_code}: {r.text[:300]}")
                spans += p.records

        async def prober() -> None:
            while time.monotonic() < probe_deadline:
                kind = f"Probe{secrets.token_hex(6)}"
                sent = time.time()
                r = await client.post(
                    f"{server.url}/v1/traces",
                    content=probe_body(server.project, kind),
                    headers={"Content-Type": "application/json"},
                )
                if r.status_code == 200:
                    probes[kind] = sent
                    commits.append(time.time() - sent)
                await asyncio.sleep(max(0.0, probe_every - (time.time() - sent)))

        await asyncio.gather(*(worker(k) for k in range(connections)), prober())
    return spans, retries, probes, commits


def turn(server: BacklightProcess, payloads: list[Payload], args: argparse.Namespace) -> Turn:
    assert server.proc is not None
    cpu0, t0 = cpu_seconds(server.proc.pid), time.perf_counter()
    spans, retries, probes, commits = asyncio.run(
        _turn(
            server,
            payloads,
            args.connections,
            args.turn_seconds,
            args.probe_every,
            max(0.0, args.turn_seconds - args.alert_interval),
        )
    )
    t1, cpu1 = time.perf_counter(), cpu_seconds(server.proc.pid)
    return Turn(spans, t1 - t0, cpu1 - cpu0, retries, probes, commits)


def resolve_some(server: BacklightProcess, n: int) -> int:
    """Resolve ``n`` open groups of the load (their next instance is a regression)."""
    auth = {"Authorization": f"Bearer {server.token}"}
    groups = server.api("/api/v1/error-groups", limit=100, state="open")["groups"]
    done = 0
    for g in groups:
        if done >= n or g.get("service") == PROBE_SERVICE:
            continue
        r = httpx.patch(
            f"{server.url}/api/v1/error-groups/{g['id']}",
            json={"state": "resolved"},
            headers=auth,
            timeout=30,
        )
        done += r.status_code == 200
    return done


def store_urls(store: str, root: Path) -> dict[str, str]:
    if store in ("", "sqlite"):
        return {"none": "", "rules": ""}
    if store.rstrip(":/") == "chdb":
        return {name: f"chdb://{root / (name + '-chdb')}" for name in ("none", "rules")}
    if store.startswith("chdb://"):
        base = Path(store.removeprefix("chdb://"))
        return {name: f"chdb://{base / name}" for name in ("none", "rules")}
    return {"none": "", "rules": store}


# --- the run -----------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rounds", type=int, default=6)
    ap.add_argument("--turn-seconds", type=float, default=15.0)
    ap.add_argument("--per-request", type=int, default=1000, help="spans per export request")
    ap.add_argument("--requests", type=int, default=40, help="distinct requests built per server")
    ap.add_argument("--connections", type=int, default=4)
    ap.add_argument("--probe-every", type=float, default=0.5, help="seconds between probes")
    ap.add_argument(
        "--alert-interval", type=float, default=2.0, help="the servers' --alert-interval-s"
    )
    ap.add_argument("--store", default="sqlite", help="sqlite, chdb, chdb:///DIR or a URL")
    args = ap.parse_args(argv)

    load0 = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="backlight-bench-") as tmp, Receiver().running() as rx:
        root = Path(tmp)
        urls = store_urls(args.store, root)
        servers: dict[str, BacklightProcess] = {}
        for name in ("none", "rules"):
            extra = ["--alert-interval-s", str(args.alert_interval)]
            env = {"BACKLIGHT_STORE": urls[name]} if urls[name] else {}
            servers[name] = BacklightProcess(root / name, args=extra, env=env)
        results: dict[str, list[Turn]] = {"none": [], "rules": []}
        try:
            for s in servers.values():
                s.start(timeout=60)
            auth = {"Authorization": f"Bearer {servers['rules'].token}"}
            for rule_body in rules(rx.url):
                r = httpx.post(
                    servers["rules"].url + "/api/v1/alert-rules",
                    json=rule_body,
                    headers=auth,
                    timeout=30,
                )
                assert r.status_code == 201, r.text
            print(f"building {args.requests} requests of {args.per_request} spans per server ...")
            payloads = {
                name: load_payloads(s.project, args.requests, args.per_request, seed=7)
                for name, s in servers.items()
            }
            for name, s in servers.items():  # warm-up: imports, caches, the first groups
                asyncio.run(_turn(s, payloads[name][:4], args.connections, 2.0, 10.0, 0.0))
            for i in range(args.rounds):
                order = ["none", "rules"] if i % 2 == 0 else ["rules", "none"]
                for name in order:
                    resolve_some(servers[name], 2)
                line = f"  round {i + 1}:"
                for name in order:
                    t = turn(servers[name], payloads[name], args)
                    results[name].append(t)
                    line += (
                        f"  {name} {t.spans / t.seconds:>8,.0f} spans/s "
                        f"(CPU {t.server_cpu / t.seconds:.2f} cores)"
                    )
                print(line, flush=True)
            # the last probes' messages: at most a few intervals more
            wanted = {k: v for t in results["rules"] for k, v in t.probes.items()}
            end = time.monotonic() + 10 * args.alert_interval + 30
            while time.monotonic() < end and len(rx.probes) < len(wanted):
                time.sleep(0.2)
            time.sleep(2 * args.alert_interval)  # and nothing arrives twice
            messages = sum(n for p, n in rx.paths.items() if p != "/probe")
        finally:
            for s in servers.values():
                s.stop()

    stray = [k for t in results["none"] for k in t.probes if k in rx.probes]
    latencies = sorted(rx.probes[k][0] - sent for k, sent in wanted.items() if k in rx.probes)
    commits = [c for t in results["rules"] for c in t.commits]
    missing = len(wanted) - len(latencies)
    twice = sum(1 for k in wanted if len(rx.probes.get(k, [])) > 1)
    ratios = [
        (r.spans / r.seconds) / (n.spans / n.seconds)
        for r, n in zip(results["rules"], results["none"], strict=True)
    ]
    body = []
    for name in ("none", "rules"):
        ts = results[name]
        body.append(
            [
                "20 rules" if name == "rules" else "no rules",
                f"{median([t.spans / t.seconds for t in ts]):,.0f}",
                f"{median([t.server_cpu / t.spans * 1e6 for t in ts]):.1f}",
                f"{median([t.server_cpu / t.seconds for t in ts]):.2f}",
                str(sum(t.retries for t in ts)),
            ]
        )
    print()
    print(
        table(
            ["server", "spans/s (median)", "server CPU µs/span", "server CPU (cores)", "503s"],
            body,
        )
    )
    ratio = median(ratios)
    p50, p95 = percentile(latencies, 50), percentile(latencies, 95)
    print()
    print(
        table(
            ["probes", "arrived", "twice", "p50", "p95", "max", "of which commit p50 / p95"],
            [
                [
                    str(len(wanted)),
                    str(len(latencies)),
                    str(twice),
                    f"{p50:.2f} s",
                    f"{p95:.2f} s",
                    f"{max(latencies, default=float('nan')):.2f} s",
                    f"{percentile(commits, 50):.2f} s / {percentile(commits, 95):.2f} s",
                ]
            ],
        )
    )
    store = redact_url(urls["rules"]) if urls["rules"] else "sqlite (data dir)"
    print(
        f"\nstore {store}; alert interval {args.alert_interval:g} s; {args.rounds} rounds of "
        f"{args.turn_seconds:g} s turns; {args.connections} connections; "
        f"{args.per_request} spans a request; probes every {args.probe_every:g} s; "
        f"other rules' messages {messages}; load average {load0:.1f} before, "
        f"{os.getloadavg()[0]:.1f} after"
    )
    print(
        f"ingest with 20 rules / none: {ratio:.1%} (per round: "
        f"{', '.join(f'{r:.0%}' for r in ratios)}); target ≥ 95 %: "
        f"{'met' if ratio >= 0.95 else 'MISSED'}"
    )
    print(
        f"new group → message: p50 {p50:.2f} s, p95 {p95:.2f} s; target p95 < 5 s: "
        f"{'met' if p95 < 5 and not missing else 'MISSED'}"
    )
    if missing or twice or stray:
        print(f"ERROR: {missing} probes never arrived, {twice} twice, {len(stray)} from no rule")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
