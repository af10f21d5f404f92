"""Query latency of the session and request views with 1M spans and 1M logs loaded.

    .venv/bin/python bench/query.py [--rows 1000000] [--sessions 1000] [--samples 300]

Loads a data dir through the store's own write functions (``writes.write_browser`` for
sessions with their network requests and console, ``writes.write_telemetry`` for spans,
logs and backend errors), then starts a real ``backlight serve`` on it and times
``GET /api/v1/sessions/{id}`` and ``GET /api/v1/requests/{id}`` one at a time over
loopback, for a few hundred random ids.

Shape of the data (``--rows`` spans and as many logs):
- ``--sessions`` sessions × ``--requests-per-session`` network requests; the request id is
  the W3C trace id, as the browser SDK sends it;
- half of the spans and logs belong to those requests: per request, one service that
  carries ``highlight.session_id``/``highlight.trace_id`` (its own trace id) and one plain
  OpenTelemetry service whose trace id is the request id; every 10th request has a
  backend error;
- the other half are unlinked traces of 10 spans (logs: 70 % with a trace id).
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import orjson
from _server_common import ROUTES, hex_id, median, percentile, rss_mb, session_id, table

from backlight_server.pipeline.fingerprint import fingerprint
from backlight_server.pipeline.model import (
    BrowserBatch,
    ConsoleRecord,
    ErrorRecord,
    Frame,
    LogRecord,
    NetworkRecord,
    SessionInfo,
    SpanRecord,
    TelemetryBatch,
)
from backlight_server.store.sqlite import SqliteStore
from backlight_server.store.sqlite.connection import open_writer
from backlight_server.store.sqlite.migrations import migrate
from backlight_server.store.sqlite.writes import write_browser, write_telemetry
from backlight_server.testing import BacklightProcess

CHUNK = 20_000  # rows per load transaction


class Loader:
    """Builds the records; pools of attribute JSON and bodies keep generation cheap."""

    def __init__(self, project: str, seed: int = 7) -> None:
        self.rng = random.Random(seed)
        self.project = project
        self.now_ms = time.time() * 1000 - 6 * 3_600_000
        rng = self.rng
        self.attrs = [
            orjson.dumps(
                {
                    "http.method": rng.choice(("GET", "POST")),
                    "http.route": rng.choice(ROUTES),
                    "http.status_code": rng.choice((200, 201, 404, 500)),
                    "net.peer.name": f"10.0.{rng.randrange(256)}.{rng.randrange(256)}",
                    "code.function": f"handler_{rng.randrange(50)}",
                    "user.id": f"user-{i}",
                    "thread.name": f"worker-{i % 8}",
                    "db.rows": rng.randrange(1000),
                }
            ).decode()
            for i in range(512)
        ]
        self.bodies = [
            f"GET {rng.choice(ROUTES)} served in {rng.randrange(900)} ms for "
            f"user {rng.randrange(10**5)} (cache {rng.choice(('hit', 'miss'))})"
            for _ in range(512)
        ]

    def _spans(
        self, trace: str, n: int, start_ns: int, service: str, session: str | None, request: str
    ) -> list[SpanRecord]:
        rng, out, root = self.rng, [], None
        for i in range(n):
            sid = hex_id(rng, 8)
            begin = start_ns + i * 2_000_000
            out.append(
                SpanRecord(
                    self.project,
                    trace,
                    sid,
                    root,
                    f"GET {ROUTES[i % len(ROUTES)]}",
                    2 if root is None else 1,
                    begin,
                    begin + rng.randrange(10**5, 5 * 10**7),
                    1,
                    None,
                    service,
                    "production",
                    session,
                    request,
                    self.attrs[rng.randrange(512)],
                    None,
                )
            )
            root = root or sid
        return out

    def _logs(
        self,
        trace: str | None,
        n: int,
        start_ns: int,
        service: str,
        session: str | None,
        request: str | None,
    ) -> list[LogRecord]:
        rng = self.rng
        return [
            LogRecord(
                self.project,
                start_ns + i * 1_000_000,
                trace,
                hex_id(rng, 8) if trace else None,
                sev,
                _LEVEL[sev],
                body,
                service,
                "production",
                session,
                request,
                self.attrs[rng.randrange(512)],
            )
            for i in range(n)
            for sev, body in [(rng.choice((9, 9, 9, 5, 13, 17)), self.bodies[rng.randrange(512)])]
        ]

    def sessions(self, n_sessions: int, per_session: int) -> Iterator[BrowserBatch]:
        rng = self.rng
        for _ in range(n_sessions):
            sid = session_id(rng)
            start = self.now_ms - rng.randrange(3_600_000 * 5)
            info = SessionInfo(
                self.project,
                sid,
                start,
                url="https://shop.test/cart",
                user_agent="Mozilla/5.0 (bench)",
                sdk_version="0.1.0",
                environment="production",
                service="storefront",
            )
            network = [
                NetworkRecord(
                    sid,
                    hex_id(rng, 16),
                    "fetch",
                    "POST",
                    f"https://api.shop.test{ROUTES[r % len(ROUTES)]}",
                    200,
                    start + r * 1000,
                    start + r * 1000 + 80,
                    None,
                    '{"request_headers":{"content-type":"application/json"}}',
                )
                for r in range(per_session)
            ]
            console = [
                ConsoleRecord(sid, start + c * 900, "info", f"render step {c}", None)
                for c in range(per_session)
            ]
            yield BrowserBatch(
                session=info,
                seq=0,
                network=network,
                console=console,
                page_loads=1,
                last_url=info.url,
            )

    def linked(
        self, requests: list[tuple[str, str, float]], spans_per: int, logs_per: int
    ) -> Iterator[TelemetryBatch]:
        """Per request: a highlight-SDK service (own trace) and a plain OTel one (trace = R)."""
        batch = TelemetryBatch()
        for i, (sid, rid, start_ms) in enumerate(requests):
            ns = int(start_ms * 1e6)
            own = hex_id(self.rng, 16)
            a, b = spans_per // 2, spans_per - spans_per // 2
            batch.spans += self._spans(own, a, ns, "checkout", sid, rid)
            batch.spans += self._spans(rid, b, ns, "inventory", None, rid)
            la, lb = logs_per // 2, logs_per - logs_per // 2
            batch.logs += self._logs(own, la, ns, "checkout", sid, rid)
            batch.logs += self._logs(rid, lb, ns, "inventory", None, rid)
            if i % 10 == 0:
                batch.errors.append(self._error(sid, rid, own, start_ms))
            if len(batch.spans) + len(batch.logs) >= CHUNK:
                yield batch
                batch = TelemetryBatch()
        if batch.size():
            yield batch

    def _error(self, sid: str, rid: str, trace: str, ts_ms: float) -> ErrorRecord:
        n = self.rng.randrange(40)
        frames = [
            Frame("app/checkout.py", f"charge_{n % 7}", 10 + n % 7),
            Frame("app/payments.py", "call_provider", 88),
        ]
        message = f"payment provider timed out after {n} s"
        return ErrorRecord(
            self.project,
            ts_ms,
            "span",
            "TimeoutError",
            message,
            frames,
            "Traceback (most recent call last): ...",
            sid,
            rid,
            trace,
            hex_id(self.rng, 8),
            "checkout",
            "production",
            None,
            None,
            fingerprint("TimeoutError", message, frames),
        )

    def unlinked(self, n_spans: int, n_logs: int) -> Iterator[TelemetryBatch]:
        rng = self.rng
        ns = int(self.now_ms * 1e6)
        batch, spans_left, logs_left = TelemetryBatch(), n_spans, n_logs
        while spans_left > 0 or logs_left > 0:
            trace = hex_id(rng, 16)
            k = min(10, spans_left)
            batch.spans += self._spans(trace, k, ns, "worker", None, trace)
            spans_left -= k
            k = min(10, logs_left)
            if rng.random() < 0.7:
                batch.logs += self._logs(trace, k, ns, "worker", None, trace)
            else:
                batch.logs += self._logs(None, k, ns, "worker", None, None)
            logs_left -= k
            ns += 50_000_000
            if len(batch.spans) + len(batch.logs) >= CHUNK:
                yield batch
                batch = TelemetryBatch()
        if batch.size():
            yield batch


_LEVEL = {5: "debug", 9: "info", 13: "warn", 17: "error"}


def load(db: Path, rows: int, n_sessions: int, per_session: int) -> dict[str, object]:
    """Fill ``db``; return some ids to query and the counts."""
    store = SqliteStore(db)
    store.open()
    project = store.create_project("bench")
    store.close()
    conn = open_writer(db, "normal")
    migrate(conn)
    gen = Loader(project)

    def commit(fn: object) -> None:
        conn.execute("BEGIN IMMEDIATE")
        fn(conn)  # type: ignore[operator]
        conn.execute("COMMIT")

    sessions: list[str] = []
    requests: list[tuple[str, str, float]] = []
    for b in gen.sessions(n_sessions, per_session):
        commit(lambda c, b=b: write_browser(c, b, b.session.started_ms))
        sessions.append(b.session.secure_id)
        requests += [(b.session.secure_id, str(n.request_id), n.start_ms) for n in b.network]
    n_req = len(requests)
    spans_per = max(1, rows // 2 // n_req)
    logs_per = spans_per
    for t in gen.linked(requests, spans_per, logs_per):
        commit(lambda c, t=t: write_telemetry(c, t))
    linked_rows = spans_per * n_req
    unlinked_traces: list[str] = []
    for t in gen.unlinked(max(0, rows - linked_rows), max(0, rows - linked_rows)):
        commit(lambda c, t=t: write_telemetry(c, t))
        unlinked_traces.append(t.spans[0].trace_id if t.spans else "")
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    counts = {
        name: conn.execute(f"SELECT count(*) FROM {name}").fetchone()[0]
        for name in ("sessions", "network", "spans", "logs", "errors")
    }
    conn.close()
    return {
        "sessions": sessions,
        "requests": [r for _, r, _ in requests],
        "unlinked": [t for t in unlinked_traces if t],
        "counts": counts,
        "spans_per_request": spans_per,
        "logs_per_request": logs_per,
    }


def check_linkage(client: httpx.Client, sid: str, info: dict[str, object]) -> None:
    """The timed views must return the loaded data, not fast empty answers."""
    view = client.get(f"/api/v1/sessions/{sid}").json()
    first = view["network"][0]
    spans, logs = info["spans_per_request"], info["logs_per_request"]
    assert first["backend"]["spans"] == spans and first["backend"]["logs"] == logs, first
    req = client.get(f"/api/v1/requests/{first['request_id']}").json()
    assert req["session_secure_id"] == sid and req["span_count"] == spans, req["trace_ids"]
    assert len(req["logs"]) == logs and len(req["services"]) == 2, req["services"]


def measure(client: httpx.Client, paths: list[str]) -> tuple[list[float], int]:
    """Latency (ms) of each GET, one at a time; and the mean response size."""
    out, size = [], 0
    for path in paths:
        t0 = time.perf_counter()
        r = client.get(path)
        out.append((time.perf_counter() - t0) * 1000)
        if r.status_code != 200:
            raise RuntimeError(f"GET {path}: HTTP {r.status_code} {r.text[:200]}")
        size += len(r.content)
    return out, size // max(1, len(paths))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rows", type=int, default=1_000_000, help="spans, and as many logs")
    ap.add_argument("--sessions", type=int, default=1000)
    ap.add_argument("--requests-per-session", type=int, default=20)
    ap.add_argument("--samples", type=int, default=300, help="ids timed per endpoint")
    ap.add_argument("--seed", type=int, default=11)
    args = ap.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="backlight-bench-") as tmp:
        data_dir = Path(tmp) / "data"
        data_dir.mkdir()
        t0 = time.perf_counter()
        print(
            f"loading {args.rows:,} spans and {args.rows:,} logs, {args.sessions:,} sessions "
            f"x {args.requests_per_session} requests ...",
            flush=True,
        )
        info = load(data_dir / "backlight.db", args.rows, args.sessions, args.requests_per_session)
        size_mb = sum(f.stat().st_size for f in data_dir.iterdir()) / 1e6
        print(
            f"  loaded in {time.perf_counter() - t0:.0f} s: {info['counts']}; "
            f"{info['spans_per_request']} spans and {info['logs_per_request']} logs per "
            f"linked request; database {size_mb:,.0f} MB",
            flush=True,
        )

        rng = random.Random(args.seed)
        sessions: list[str] = info["sessions"]  # type: ignore[assignment]
        requests: list[str] = info["requests"]  # type: ignore[assignment]
        unlinked: list[str] = info["unlinked"]  # type: ignore[assignment]
        cases = [
            (
                "GET /api/v1/sessions/{id}",
                [f"/api/v1/sessions/{rng.choice(sessions)}" for _ in range(args.samples)],
            ),
            (
                "GET /api/v1/requests/{id} (browser-linked)",
                [f"/api/v1/requests/{rng.choice(requests)}" for _ in range(args.samples)],
            ),
            (
                "GET /api/v1/requests/{id} (backend-only trace)",
                [f"/api/v1/requests/{rng.choice(unlinked)}" for _ in range(args.samples)],
            ),
        ]
        server = BacklightProcess(data_dir).start()
        try:
            assert server.proc is not None
            headers = {"Authorization": f"Bearer {server.token}"}
            with httpx.Client(base_url=server.url, headers=headers, timeout=30) as client:
                check_linkage(client, sessions[0], info)
                for _, paths in cases:  # warm-up: worker threads, read connections, cache
                    measure(client, paths[:10])
                results = [(name, *measure(client, paths)) for name, paths in cases]
            rss = rss_mb(server.proc.pid)
        finally:
            server.stop()

    rows = [
        [
            name,
            f"{median(lat):.1f}",
            f"{percentile(lat, 95):.1f}",
            f"{max(lat):.1f}",
            f"{size / 1024:.0f} KiB",
        ]
        for name, lat, size in results
    ]
    print()
    print(table(["endpoint", "p50 ms", "p95 ms", "max ms", "mean response"], rows))
    print(
        f"\n{args.samples} random ids per endpoint, sequential, keep-alive, loopback; "
        f"server RSS after the queries {rss:.0f} MB"
    )
    worst = max(percentile(lat, 95) for _, lat, _ in results)
    print(f"target p95 < 50 ms: {'met' if worst < 50 else 'MISSED'} (worst p95 {worst:.1f} ms)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
