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

``--hang``: does a receiver that never answers delay ingest? Both servers get the same 20
rules; one's webhooks go to the answering receiver above, the other's to a second loopback
receiver that reads each request and never answers: it holds the connection until the
server gives up (the delivery's own time limit, 10 s) and retries later. Same rounds,
turns, load and probes (each probe a new group, so the probe rule fires all run long).
Reported: each server's throughput and the ratio hanging / answering (median of the
per-round ratios), the latency of each export request (sent → 200: p50, p95, max) and of
the probes' requests, the probes' messages (answering: arrived, latency; hanging: reached
the receiver), the hanging receiver's requests and most connections held at once, and
each server's delivery log (attempts, delivered, timed out).
"""

from __future__ import annotations

import argparse
import asyncio
import gzip
import json
import os
import random
import secrets
import select
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
    """Notes when each probe's message arrives (and how many messages each path got).

    ``hang``: never answers. Each request is read (and noted as above), then its connection
    is held, unanswered, until the client closes it or the receiver stops."""

    hang: bool = False
    port: int = field(default_factory=free_port)
    probes: dict[str, list[float]] = field(default_factory=dict)
    paths: dict[str, int] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)
    held: int = 0  # connections held unanswered now (hang)
    most_held: int = 0  # the most at once
    stopping: threading.Event = field(default_factory=threading.Event)

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

    def hold(self, conn: Any) -> None:
        """Hold ``conn`` unanswered until its client closes it (or the receiver stops)."""
        with self.lock:
            self.held += 1
            self.most_held = max(self.most_held, self.held)
        try:
            while not self.stopping.is_set():
                readable, _, _ = select.select([conn], [], [], 0.2)
                if readable and not conn.recv(4096):
                    return  # the client gave up
        except OSError:
            return
        finally:
            with self.lock:
                self.held -= 1

    @contextmanager
    def running(self) -> Iterator[Receiver]:
        owner = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length") or 0))
                owner.got(self.path, body)
                if owner.hang:
                    owner.hold(self.connection)
                    self.close_connection = True
                    return
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
            self.stopping.set()
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
    exports: list[float]  # each export request of the load: sent → answered 200, s


async def _turn(
    server: BacklightProcess,
    payloads: list[Payload],
    connections: int,
    seconds: float,
    probe_every: float,
    probe_until: float,
) -> tuple[int, int, dict[str, float], list[float], list[float]]:
    deadline = time.monotonic() + seconds
    probe_deadline = time.monotonic() + probe_until
    spans = retries = 0
    probes: dict[str, float] = {}
    commits: list[float] = []
    exports: list[float] = []
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
                sent = time.perf_counter()
                r = await client.post(f"{server.url}/v1/traces", content=p.body, headers=HEADERS)
                if r.status_code in (429, 503):
                    retries += 1
                    await asyncio.sleep(float(r.headers.get("retry-after", "1")))
                    continue
                if r.status_code != 200:
                    raise RuntimeError(f"HTTP {r.status_code}: {r.text[:300]}")
                exports.append(time.perf_counter() - sent)
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
    return spans, retries, probes, commits, exports


def turn(server: BacklightProcess, payloads: list[Payload], args: argparse.Namespace) -> Turn:
    assert server.proc is not None
    cpu0, t0 = cpu_seconds(server.proc.pid), time.perf_counter()
    spans, retries, probes, commits, exports = asyncio.run(
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
    return Turn(spans, t1 - t0, cpu1 - cpu0, retries, probes, commits, exports)


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


def store_urls(store: str, root: Path, names: tuple[str, str]) -> dict[str, str]:
    """Each server's store URL ("" = SQLite in its data dir); a plain URL serves the second
    server only (``--hang`` refuses it: the two servers' rules must match)."""
    if store in ("", "sqlite"):
        return dict.fromkeys(names, "")
    if store.rstrip(":/") == "chdb":
        return {name: f"chdb://{root / (name + '-chdb')}" for name in names}
    if store.startswith("chdb://"):
        base = Path(store.removeprefix("chdb://"))
        return {name: f"chdb://{base / name}" for name in names}
    if names == HANG:
        raise SystemExit("--hang: --store must be sqlite, chdb or chdb:///DIR")
    return {names[0]: "", names[1]: store}


def delivery_log(server: BacklightProcess) -> dict[str, int]:
    """The server's delivery log (``GET /api/v1/alert-deliveries``, every page): attempts,
    delivered, timed out (no answer in the channel's time limit), other failures."""
    counts = {"attempts": 0, "delivered": 0, "timed out": 0, "other": 0}
    while True:
        page = server.api("/api/v1/alert-deliveries", limit=500, offset=counts["attempts"])
        for d in page["deliveries"]:
            counts["attempts"] += 1
            if d["ok"]:
                counts["delivered"] += 1
            elif str(d.get("error") or "").startswith("timed out"):
                counts["timed out"] += 1
            else:
                counts["other"] += 1
        if not page["deliveries"] or counts["attempts"] >= page["total"]:
            return counts


# --- the run -----------------------------------------------------------------------------

DEFAULT = ("none", "rules")  # no rules / 20 rules, one receiver
HANG = ("answering", "hanging")  # 20 rules each: the answering receiver / the hanging one


@dataclass
class Run:
    """What the rounds left: each server's turns, the receivers, and the store URLs."""

    names: tuple[str, str]
    urls: dict[str, str]
    results: dict[str, list[Turn]]
    receivers: dict[str, Receiver]  # server name -> the receiver its rules post to
    wanted: dict[str, float]  # probes whose messages must arrive (answering rules)
    messages: int  # the answering receiver's messages other than probes'
    deliveries: dict[str, dict[str, int]]  # hang: each server's delivery log
    held_at_end: int  # hang: connections the hanging receiver still held at the end


def run(args: argparse.Namespace, rx: Receiver, hx: Receiver | None, root: Path) -> Run:
    """Start the servers, add the rules, and run the warm-up and the rounds."""
    names = HANG if hx is not None else DEFAULT
    receivers = {names[0]: rx, names[1]: hx or rx}
    urls = store_urls(args.store, root, names)
    servers: dict[str, BacklightProcess] = {}
    for name in names:
        extra = ["--alert-interval-s", str(args.alert_interval)]
        env = {"BACKLIGHT_STORE": urls[name]} if urls[name] else {}
        servers[name] = BacklightProcess(root / name, args=extra, env=env)
    results: dict[str, list[Turn]] = {name: [] for name in names}
    out = Run(names, urls, results, receivers, {}, 0, {}, 0)
    try:
        for s in servers.values():
            s.start(timeout=60)
        for name in names if hx is not None else ("rules",):
            auth = {"Authorization": f"Bearer {servers[name].token}"}
            for rule_body in rules(receivers[name].url):
                r = httpx.post(
                    servers[name].url + "/api/v1/alert-rules",
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
            order = list(names) if i % 2 == 0 else list(reversed(names))
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
        answered = names[0] if hx is not None else "rules"  # its probes' messages must arrive
        out.wanted = {k: v for t in results[answered] for k, v in t.probes.items()}
        end = time.monotonic() + 10 * args.alert_interval + 30
        while time.monotonic() < end and len(rx.probes) < len(out.wanted):
            time.sleep(0.2)
        time.sleep(2 * args.alert_interval)  # and nothing arrives twice
        out.messages = sum(n for p, n in rx.paths.items() if p != "/probe")
        if hx is not None:
            out.deliveries = {name: delivery_log(servers[name]) for name in names}
            out.held_at_end = hx.held
    finally:
        for s in servers.values():
            s.stop()
    return out


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
    ap.add_argument(
        "--hang",
        action="store_true",
        help="20 rules on both servers, one's receiver never answers (see above)",
    )
    args = ap.parse_args(argv)

    load0 = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="backlight-bench-") as tmp, Receiver().running() as rx:
        if args.hang:
            with Receiver(hang=True).running() as hx:
                done = run(args, rx, hx, Path(tmp))
            return report_hang(args, done, load0)
        done = run(args, rx, None, Path(tmp))
    return report(args, done, load0)


def report(args: argparse.Namespace, done: Run, load0: float) -> int:
    """The default mode: 20 rules against none."""
    results, urls, wanted, rx = done.results, done.urls, done.wanted, done.receivers["none"]
    messages = done.messages
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


def _ms(values: list[float]) -> str:
    """p50 / p95 / max of durations in seconds, in ms."""
    if not values:
        return "-"
    p50, p95 = percentile(values, 50) * 1000, percentile(values, 95) * 1000
    return f"{p50:.0f} / {p95:.0f} / {max(values) * 1000:.0f} ms"


def report_hang(args: argparse.Namespace, done: Run, load0: float) -> int:
    """``--hang``: the same 20 rules, one server's receiver answering, the other's hanging."""
    ok, hang = HANG
    results, rx, hx = done.results, done.receivers[ok], done.receivers[hang]
    sent = {name: {k: v for t in results[name] for k, v in t.probes.items()} for name in HANG}
    arrived = {  # probe -> its first message at the receiver its server posts to, - sent
        name: {
            k: done.receivers[name].probes[k][0] - v
            for k, v in sent[name].items()
            if k in done.receivers[name].probes
        }
        for name in HANG
    }
    stray = sum(k in hx.probes for k in sent[ok]) + sum(k in rx.probes for k in sent[hang])
    missing = len(sent[ok]) - len(arrived[ok])
    twice = sum(1 for k in sent[ok] if len(rx.probes.get(k, [])) > 1)
    ratios = [
        (h.spans / h.seconds) / (o.spans / o.seconds)
        for h, o in zip(results[hang], results[ok], strict=True)
    ]
    exports = {name: [x for t in results[name] for x in t.exports] for name in HANG}
    label = {ok: "receiver answers", hang: "receiver hangs"}
    print()
    print(
        table(
            [
                "20 rules,",
                "spans/s (median)",
                "server CPU µs/span",
                "server CPU (cores)",
                "503s",
                "export requests",
                "export sent → 200 p50 / p95 / max",
                "probe sent → 200 p50 / p95 / max",
            ],
            [
                [
                    label[name],
                    f"{median([t.spans / t.seconds for t in results[name]]):,.0f}",
                    f"{median([t.server_cpu / t.spans * 1e6 for t in results[name]]):.1f}",
                    f"{median([t.server_cpu / t.seconds for t in results[name]]):.2f}",
                    str(sum(t.retries for t in results[name])),
                    str(len(exports[name])),
                    _ms(exports[name]),
                    _ms([c for t in results[name] for c in t.commits]),
                ]
                for name in HANG
            ],
        )
    )
    print()
    print(
        table(
            [
                "20 rules,",
                "probes",
                "probe messages at the receiver",
                "new group → receiver p50 / p95 / max",
                "receiver: requests (most held at once)",
                "delivery log: attempts",
                "delivered",
                "timed out",
                "other failures",
            ],
            [
                [
                    label[name],
                    str(len(sent[name])),
                    (
                        f"{len(arrived[name])} ({twice} twice)"
                        if name == ok
                        else f"{len(arrived[name])} reached, never answered"
                    ),
                    " / ".join(
                        f"{v:.2f}"
                        for v in (
                            percentile(list(arrived[name].values()), 50),
                            percentile(list(arrived[name].values()), 95),
                            max(arrived[name].values(), default=float("nan")),
                        )
                    )
                    + " s",
                    f"{sum(done.receivers[name].paths.values())}"
                    + (f" ({hx.most_held})" if name == hang else ""),
                    str(done.deliveries[name]["attempts"]),
                    str(done.deliveries[name]["delivered"]),
                    str(done.deliveries[name]["timed out"]),
                    str(done.deliveries[name]["other"]),
                ]
                for name in HANG
            ],
        )
    )
    ratio = median(ratios)
    p95 = {name: percentile(exports[name], 95) for name in HANG}
    per_round = ", ".join(
        f"{percentile(o.exports, 95) * 1000:.0f}/{percentile(h.exports, 95) * 1000:.0f}"
        for o, h in zip(results[ok], results[hang], strict=True)
    )
    store = redact_url(done.urls[hang]) if done.urls[hang] else "sqlite (data dir)"
    print(
        f"\nstore {store}; alert interval {args.alert_interval:g} s; {args.rounds} rounds of "
        f"{args.turn_seconds:g} s turns; {args.connections} connections; "
        f"{args.per_request} spans a request; probes every {args.probe_every:g} s; "
        f"still held at the end {done.held_at_end}; load average {load0:.1f} before, "
        f"{os.getloadavg()[0]:.1f} after"
    )
    print(
        f"ingest with a hanging receiver / an answering one: {ratio:.1%} (per round: "
        f"{', '.join(f'{r:.0%}' for r in ratios)}); target ≥ 95 %: "
        f"{'met' if ratio >= 0.95 else 'MISSED'}"
    )
    print(
        f"export request sent → 200, p95: answering {p95[ok] * 1000:.0f} ms, hanging "
        f"{p95[hang] * 1000:.0f} ms (per round, answering/hanging: {per_round} ms)"
    )
    hung = done.deliveries[hang]["timed out"]
    if missing or twice or stray or not hung or not hx.most_held:
        print(
            f"ERROR: {missing} probes never arrived, {twice} twice, {stray} at the other "
            f"receiver; {hung} deliveries timed out, {hx.most_held} connections held"
        )
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
