"""Server time of each web UI page with 1,000 sessions, 100k logs and a 5,000-request session.

    .venv/bin/python bench/ui_pages.py [--sessions 1000] [--logs 100000] [--big 5000]
                                       [--samples 60] [--rounds 3] [--keep DIR]

Loads a data dir through the store's write functions (``writes.write_browser`` for
sessions with their rrweb chunk, network requests, console and frontend errors,
``writes.write_telemetry`` for spans, logs and backend errors), starts a real
``backlight serve`` on it, makes three alert rules through the API, logs in with the token
and GETs each page (and each JSON read a page makes) one at a time over loopback,
``--samples`` times after 5 warm-ups, in ``--rounds`` rounds over every page. Reported
per page, each figure the median of the rounds' figures: the server time (the
``Server-Timing`` header the UI sets: ``page``, store queries + template rendering, wall
clock; JSON reads have none and report the round trip) p50 and p95; the CPU time of the
thread that ran the page (``Server-Timing: cpu``, what the machine's load does not
inflate); the round trip seen by the client; the HTML size; and the bytes sent for a first
view with compression on: the page as sent plus every script and style sheet it links
(``/ui-static/``), asked for with ``Accept-Encoding: br, gzip`` as a browser does, counted
as sent, i.e. compressed (source maps are left out: browsers fetch them only with the
developer tools open). The load average (1, 5, 15 min) is printed at the start and after
each round. ``--keep DIR`` loads into DIR once and reuses it on later runs.

Shape of the data:
- ``--sessions`` sessions of 20 network requests (request id = W3C trace id) and 10 console
  messages, with one compressed rrweb chunk; every 10th has a frontend error;
- per request of those sessions: 2 spans (a highlight-SDK service with its own trace, a
  plain OTel one whose trace id is the request id) and 2 logs; every 25th has a backend error
  (its span has the error status); the first span's name is one of four routes and its
  duration log-normal around 27 ms;
- one session with ``--big`` network requests, each with 2 spans and 1 log;
- unlinked logs up to ``--logs`` in all.

``--session-only`` adds, per request of the ``--big`` session, what highlight's Node SDK
sends: a log carrying only the session id (no trace), and on every 10th request an error
carrying only the session id in a trace of its own; the server matches them to the
request by time (``store/sqlite/timematch.py``). It also times that session's request view.
"""

from __future__ import annotations

import argparse
import os
import random
import re
import shutil
import statistics
import sys
import tempfile
import time
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import orjson
from _server_common import ROUTES, hex_id, percentile, session_id, table

from backlight_server.pipeline.fingerprint import fingerprint
from backlight_server.pipeline.model import (
    BrowserBatch,
    ConsoleRecord,
    ErrorRecord,
    Frame,
    Identify,
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

CHUNK = 20_000
WORDS = ("served", "cache", "payment", "retrying", "order", "inventory", "checkout", "user")
SPAN_NAMES = ("POST /api/checkout", "GET /api/cart", "GET /api/items/{id}", "POST /api/pay")
_LEVEL = {5: "debug", 9: "info", 13: "warn", 17: "error"}


class Gen:
    def __init__(self, project: str, seed: int) -> None:
        self.rng = random.Random(seed)
        self.project = project
        self.now_ms = time.time() * 1000 - 3 * 3_600_000
        rng = self.rng
        self.bodies = [
            f"{rng.choice(WORDS)} {rng.choice(ROUTES)} step {rng.randrange(900)} "
            f"for user {rng.randrange(10**5)} ({rng.choice(WORDS)})"
            for _ in range(512)
        ]

    def replay(self, start: float) -> bytes:
        events = [
            {
                "type": 4,
                "data": {"href": "https://shop.test/", "width": 1280, "height": 720},
                "timestamp": start,
            },
            {
                "type": 2,
                "data": {
                    "node": {"type": 0, "id": 1, "childNodes": []},
                    "initialOffset": {"left": 0, "top": 0},
                },
                "timestamp": start + 1,
            },
        ]
        events += [
            {
                "type": 3,
                "data": {"source": 1, "positions": [{"x": i, "y": i, "id": 1, "timeOffset": 0}]},
                "timestamp": start + i * 500,
            }
            for i in range(1, 40)
        ]
        return zlib.compress(orjson.dumps(events))

    def session(self, n_requests: int, identifier: str | None, error: bool) -> BrowserBatch:
        rng = self.rng
        sid = session_id(rng)
        start = self.now_ms - rng.randrange(3_600_000 * 2)
        info = SessionInfo(
            self.project,
            sid,
            start,
            url=f"https://shop.test/p/{rng.randrange(50)}",
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
                rng.choice(("GET", "POST")),
                f"https://api.shop.test{ROUTES[r % len(ROUTES)]}",
                rng.choice((200, 200, 201, 500)),
                start + r * 400,
                start + r * 400 + rng.randrange(20, 400),
                None,
                '{"request_headers":{"content-type":"application/json"},"response_body":"{}"}',
            )
            for r in range(n_requests)
        ]
        console = [
            ConsoleRecord(
                sid, start + c * 900, rng.choice(("info", "log", "error")), f"render step {c}", None
            )
            for c in range(10)
        ]
        errors = []
        if error:
            frames = [Frame("https://shop.test/app.js", "onClick", 10 + rng.randrange(5), 3)]
            message = f"x is undefined ({rng.randrange(3)})"
            errors.append(
                ErrorRecord(
                    self.project,
                    start + 5000,
                    "frontend",
                    "TypeError",
                    message,
                    frames,
                    None,
                    sid,
                    None,
                    None,
                    None,
                    None,
                    "production",
                    info.url,
                    None,
                    fingerprint("TypeError", message, frames),
                )
            )
        return BrowserBatch(
            session=info,
            seq=0,
            replay=self.replay(start),
            replay_first_ms=start,
            replay_last_ms=start + 20_000,
            n_events=41,
            network=network,
            console=console,
            errors=errors,
            identify=Identify(start, identifier, None) if identifier else None,
            page_loads=1,
            last_url=info.url,
        )

    def _log(
        self, trace: str | None, ts_ns: int, service: str, session: str | None, request: str | None
    ) -> LogRecord:
        sev = self.rng.choice((9, 9, 9, 5, 13, 17))
        return LogRecord(
            self.project,
            ts_ns,
            trace,
            hex_id(self.rng, 8) if trace else None,
            sev,
            _LEVEL[sev],
            self.bodies[self.rng.randrange(512)],
            service,
            "production",
            session,
            request,
            None,
        )

    def backend(
        self, requests: list[tuple[str, str, float]], logs_per: int, error_every: int
    ) -> Iterator[TelemetryBatch]:
        rng, batch = self.rng, TelemetryBatch()
        for i, (sid, rid, start_ms) in enumerate(requests):
            ns = int(start_ms * 1e6)
            own, root = hex_id(rng, 16), hex_id(rng, 8)
            failed = i % error_every == 0
            batch.spans.append(
                SpanRecord(
                    self.project,
                    own,
                    root,
                    None,
                    rng.choice(SPAN_NAMES),
                    2,
                    ns + 1_000_000,
                    ns + 1_000_000 + int(rng.lognormvariate(3.3, 0.8) * 1e6),  # ~27 ms median
                    2 if failed else 1,
                    "payment provider timed out" if failed else None,
                    "checkout",
                    "production",
                    sid,
                    rid,
                    None,
                    None,
                )
            )
            batch.spans.append(
                SpanRecord(
                    self.project,
                    rid,
                    hex_id(rng, 8),
                    None,
                    "reserve_stock",
                    2,
                    ns + 5_000_000,
                    ns + 30_000_000,
                    1,
                    None,
                    "inventory",
                    "production",
                    None,
                    rid,
                    None,
                    None,
                )
            )
            batch.logs += [
                self._log(own, ns + k * 1_000_000, "checkout", sid, rid) for k in range(logs_per)
            ]
            if failed:
                n = rng.randrange(30)
                frames = [
                    Frame("app/checkout.py", f"charge_{n}", 10 + n, code=f"charge({n})"),
                    Frame("app/payments.py", "call_provider", 88),
                ]
                message = f"payment provider timed out after {n} s"
                kind = f"TimeoutError{n % 10}"
                batch.errors.append(
                    ErrorRecord(
                        self.project,
                        start_ms + 20,
                        "span",
                        kind,
                        message,
                        frames,
                        "Traceback (most recent call last): ...",
                        sid,
                        rid,
                        own,
                        root,
                        "checkout",
                        "production",
                        None,
                        None,
                        fingerprint(kind, message, frames),
                    )
                )
            if len(batch.spans) + len(batch.logs) >= CHUNK:
                yield batch
                batch = TelemetryBatch()
        if batch.size():
            yield batch

    def session_only(self, requests: list[tuple[str, str, float]]) -> Iterator[TelemetryBatch]:
        """highlight's Node SDK: ``H.log`` and ``H.consumeError`` with the session id only."""
        rng, batch = self.rng, TelemetryBatch()
        for i, (sid, _rid, start_ms) in enumerate(requests):
            ns = int(start_ms * 1e6)
            batch.logs.append(
                LogRecord(
                    self.project,
                    ns + 2_000_000,
                    None,
                    None,
                    0,
                    "warn",
                    self.bodies[rng.randrange(512)],
                    "hl-node",
                    "production",
                    sid,
                    None,
                    None,
                )
            )
            if i % 10 == 0:
                own = hex_id(rng, 16)
                frames = [Frame("/app/server.js", "handler", 10, 5)]
                batch.errors.append(
                    ErrorRecord(
                        self.project,
                        start_ms + 3,
                        "span",
                        "Error",
                        "stock check failed",
                        frames,
                        "Error: stock check failed",
                        sid,
                        own,
                        own,
                        hex_id(rng, 8),
                        "hl-node",
                        "production",
                        None,
                        None,
                        fingerprint("Error", "stock check failed", frames),
                    )
                )
            if len(batch.logs) >= CHUNK:
                yield batch
                batch = TelemetryBatch()
        if batch.size():
            yield batch

    def unlinked_logs(self, n: int) -> Iterator[TelemetryBatch]:
        ns = int(self.now_ms * 1e6)
        while n > 0:
            k = min(CHUNK, n)
            yield TelemetryBatch(
                logs=[self._log(None, ns + i * 50_000_000, "worker", None, None) for i in range(k)]
            )
            ns += k * 50_000_000
            n -= k


def load(
    db: Path, n_sessions: int, n_logs: int, big: int, seed: int, session_only: bool = False
) -> dict[str, object]:
    store = SqliteStore(db)
    store.open()
    project = store.create_project("bench")
    store.close()
    conn = open_writer(db, "normal")
    migrate(conn)
    gen = Gen(project, seed)

    def commit(fn: object) -> None:
        conn.execute("BEGIN IMMEDIATE")
        fn(conn)  # type: ignore[operator]
        conn.execute("COMMIT")

    sessions: list[str] = []
    requests: list[tuple[str, str, float]] = []
    for i in range(n_sessions):
        b = gen.session(20, f"user{i % 300}@example.com" if i % 3 else None, i % 10 == 0)
        commit(lambda c, b=b: write_browser(c, b, b.session.started_ms))
        sessions.append(b.session.secure_id)
        requests += [(b.session.secure_id, str(n.request_id), n.start_ms) for n in b.network]
    huge = gen.session(big, "big@example.com", True)
    commit(lambda c: write_browser(c, huge, huge.session.started_ms))
    big_requests = [(huge.session.secure_id, str(n.request_id), n.start_ms) for n in huge.network]
    for t in gen.backend(requests, 2, 25):
        commit(lambda c, t=t: write_telemetry(c, t))
    for t in gen.backend(big_requests, 1, 50):
        commit(lambda c, t=t: write_telemetry(c, t))
    if session_only:
        for t in gen.session_only(big_requests):
            commit(lambda c, t=t: write_telemetry(c, t))
    linked_logs = len(requests) * 2 + len(big_requests)
    for t in gen.unlinked_logs(max(0, n_logs - linked_logs)):
        commit(lambda c, t=t: write_telemetry(c, t))
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    counts = {
        name: conn.execute(f"SELECT count(*) FROM {name}").fetchone()[0]
        for name in ("sessions", "network", "spans", "logs", "errors", "error_groups")
    }
    groups = [r[0] for r in conn.execute("SELECT id FROM error_groups")]
    conn.close()
    return {
        "sessions": sessions,
        "requests": [r for _, r, _ in requests],
        "groups": groups,
        "big": huge.session.secure_id,
        "big_requests": [r for _, r, _ in big_requests],
        "counts": counts,
    }


def pages(info: dict[str, object], rng: random.Random, n: int) -> dict[str, list[str]]:
    """Each page (or JSON read a page makes) with the ``n`` URLs it is timed on."""
    sessions: list[str] = info["sessions"]  # type: ignore[assignment]
    requests: list[str] = info["requests"]  # type: ignore[assignment]
    groups: list[int] = info["groups"]  # type: ignore[assignment]
    big: list[str] = info["big_requests"]  # type: ignore[assignment]
    pick = rng.choice
    big_n = info["big_n"]
    return {
        "sessions list, page 1": ["/sessions"] * n,
        "sessions list, last page": [f"/sessions?offset={950 + rng.randrange(2) * 50}"] * n,
        "sessions list, filtered": [
            f"/sessions?errors=yes&since=24h&user=user{rng.randrange(300)}" for _ in range(n)
        ],
        "session (20 requests)": [f"/sessions/{pick(sessions)}" for _ in range(n)],
        f"session ({big_n} requests)": [f"/sessions/{info['big']}"] * n,
        f"backend summaries of 100 rows in view ({big_n}-request session)": [
            "/ui-data/backend-summaries?ids=" + ",".join(big[k : k + 100])
            for k in (rng.randrange(0, len(big) - 100) for _ in range(n))
        ],
        "request view": [f"/requests/{pick(requests)}" for _ in range(n)],
        "request view (fragment)": [f"/requests/{pick(requests)}?fragment=1" for _ in range(n)],
        "errors list": ["/errors"] * n,
        "error group (with its facts)": [f"/errors/{pick(groups)}" for _ in range(n)],
        "error group facts (API)": [f"/api/v1/error-groups/{pick(groups)}/facts" for _ in range(n)],
        "logs, newest": ["/logs"] * n,
        "logs, page 100": [f"/logs?offset={99 * 100}"] * n,
        "logs, level + service": ["/logs?level=error&service=checkout"] * n,
        "logs, search (common word)": [f"/logs?q={pick(WORDS)}" for _ in range(n)],
        "logs, search (rare: two words)": [
            f"/logs?q=user+{rng.randrange(10**5)}" for _ in range(n)
        ],
        "logs, search + level + service": [
            f"/logs?q={pick(WORDS)}&level=error&service=checkout" for _ in range(n)
        ],
        "logs, by session": [f"/logs?session={pick(sessions)}" for _ in range(n)],
        "logs, histogram zoomed to an hour": ["/logs?since=1h&level=warn"] * n,
        "log counts (API: histogram and facets of a search)": [
            f"/api/v1/logs/stats?q={pick(WORDS)}" for _ in range(n)
        ],
        "trace list": ["/traces"] * n,
        "trace list, filtered (error, over 10 ms)": ["/traces?status=error&min_ms=10"] * n,
        "trace list, filtered (service + duration)": [
            f"/traces?service=checkout&min_ms={pick((50, 100, 200))}" for _ in range(n)
        ],
        "trace list, filtered (no match: every trace read)": [
            "/traces?service=inventory&min_ms=100"
        ]
        * n,
        "trace list, filtered (span name)": [
            f"/traces?name={pick(('pay', 'cart', 'reserve', 'refund'))}" for _ in range(n)
        ],
        "trace": [f"/traces/{pick(requests)}" for _ in range(n)],
        "alerts": ["/alerts"] * n,
        "setup": ["/setup"] * n,
        **(
            {
                f"request view ({big_n}-request session, matched by time)": [
                    f"/requests/{pick(big)}" for _ in range(n)
                ],
                f"API session ({big_n} requests, with summaries)": [
                    f"/api/v1/sessions/{info['big']}"
                ]
                * n,
            }
            if info.get("session_only")
            else {}
        ),
    }


ASSET = re.compile(r'(?:src|href)="(/ui-static/[^"]+)"')
ACCEPT = {"Accept-Encoding": "br, gzip", "Accept": "text/html,application/json"}


def sent(client: httpx.Client, path: str) -> tuple[int, int]:
    """Bytes on the wire (bodies as sent, compressed where the server compresses) of ``path``
    and of the assets it links, asked for as a browser asks: (page, assets)."""
    with client.stream("GET", path, headers=ACCEPT) as r:
        page_sent = len(b"".join(r.iter_raw()))
    html = client.get(path).text  # decoded (httpx reads gzip; Python has no brotli)
    assets = 0
    for url in dict.fromkeys(ASSET.findall(html)):
        with client.stream("GET", url, headers=ACCEPT) as r:
            if r.status_code != 200:
                raise RuntimeError(f"GET {url}: HTTP {r.status_code}")
            assets += len(b"".join(r.iter_raw()))
    return page_sent, assets


def _timing(header: str, name: str) -> float | None:
    """A metric's ``dur`` from a ``Server-Timing`` header (``page;dur=1.2, cpu;dur=0.8``)."""
    for part in header.split(","):
        metric, _, params = part.strip().partition(";")
        if metric == name and params.startswith("dur="):
            return float(params[4:])
    return None


@dataclass
class Timed:
    server: list[float]  # ms: Server-Timing page (JSON reads: the round trip)
    cpu: list[float]  # ms: Server-Timing cpu (JSON reads: none)
    total: list[float]  # ms: the round trip
    size: int  # bytes of the body, decoded, on average


def measure(client: httpx.Client, paths: list[str]) -> Timed:
    timed = Timed([], [], [], 0)
    size = 0
    for path in paths:
        t0 = time.perf_counter()
        r = client.get(path)
        elapsed = (time.perf_counter() - t0) * 1000
        if r.status_code != 200:
            raise RuntimeError(f"GET {path}: HTTP {r.status_code} {r.text[:200]}")
        timing = r.headers.get("server-timing", "")
        timed.total.append(elapsed)
        timed.server.append(_timing(timing, "page") or elapsed)
        cpu = _timing(timing, "cpu")
        if cpu is not None:
            timed.cpu.append(cpu)
        size += len(r.content)
    timed.size = size // max(1, len(paths))
    return timed


def alert_rules(client: httpx.Client) -> None:
    """Three rules, so the Alerts page lists some (their webhooks point at a closed port
    on loopback; a new rule does not fire on data from before it); made once per data dir."""
    if client.get("/api/v1/alert-rules").json().get("rules"):
        return
    for name, trigger in (
        ("New errors", {"kind": "new_group"}),
        ("Checkout spike", {"kind": "spike", "threshold": 50, "window_minutes": 10}),
        ("Timeouts in logs", {"kind": "log_match", "query": "timed out", "threshold": 5}),
    ):
        body = {
            "name": name,
            "trigger": trigger,
            "channels": [{"kind": "webhook", "url": "http://127.0.0.1:9/hook", "secret": "s" * 32}],
        }
        made = client.post("/api/v1/alert-rules", json=body)
        if made.status_code != 201:
            raise RuntimeError(f"POST /api/v1/alert-rules: {made.status_code} {made.text[:200]}")


def _ms(values: list[float], p: float) -> str:
    return f"{percentile(values, p):.1f}" if values else "–"


def _mid(values: list[str]) -> str:
    """The median of one figure over the rounds."""
    numbers = [float(v) for v in values if v != "–"]
    return f"{statistics.median(numbers):.1f}" if numbers else "–"


def _load() -> str:
    return "/".join(f"{x:.1f}" for x in os.getloadavg())


def prepare(args: argparse.Namespace) -> tuple[Path, dict[str, object]]:
    """The data dir, loaded (or, with ``--keep`` and a loaded one there, reused)."""
    root = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="backlight-ui-bench-"))
    data_dir, saved = root / "data", root / "info.json"
    if args.keep and saved.is_file():
        print(f"reusing {data_dir}", flush=True)
        return data_dir, orjson.loads(saved.read_bytes())
    data_dir.mkdir(parents=True, mode=0o700)
    t0 = time.perf_counter()
    info = load(
        data_dir / "backlight.db", args.sessions, args.logs, args.big, args.seed, args.session_only
    )
    info["big_n"] = args.big
    info["session_only"] = args.session_only
    print(f"loaded in {time.perf_counter() - t0:.0f} s: {info['counts']}", flush=True)
    saved.write_bytes(orjson.dumps(info))
    return data_dir, info


COLUMNS = [
    "page",
    "server p50 ms",
    "server p95 ms",
    "CPU p50 ms",
    "CPU p95 ms",
    "round trip p50 ms",
    "round trip p95 ms",
    "HTML KiB",
    "first view KiB sent",
]


def run(client: httpx.Client, info: dict[str, object], args: argparse.Namespace) -> list[list[str]]:
    first = measure(client, ["/setup"])  # before its counts are cached
    rounds: dict[str, list[list[str]]] = {}
    sizes: dict[str, str] = {}
    for n in range(args.rounds):
        for name, paths in pages(info, random.Random(args.seed + n), args.samples).items():
            measure(client, paths[:5])  # warm the caches and the read connection
            t = measure(client, paths)
            timings = [t.server, t.cpu, t.total]
            rounds.setdefault(name, []).append(
                [_ms(v, p) for v in timings for p in (50, 95)] + [f"{t.size / 1024:.0f}"]
            )
            if name not in sizes:
                page_sent, assets = sent(client, paths[0])
                sizes[name] = f"{(page_sent + assets) / 1024:.0f}" + (
                    f" ({assets / 1024:.0f} assets)" if assets else ""
                )
        print(f"  round {n + 1} of {args.rounds} done, load {_load()}", file=sys.stderr, flush=True)
    once = [_ms(first.server, 50), "–", _ms(first.cpu, 50), "–", _ms(first.total, 50), "–"]
    rows = [["setup, first load (counts not cached)", *once, f"{first.size / 1024:.0f}", "–"]]
    for name, figures in rounds.items():
        html = f"{statistics.median(float(r[6]) for r in figures):.0f}"
        rows.append([name, *(_mid([r[i] for r in figures]) for i in range(6)), html, sizes[name]])
    return rows


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    ap.add_argument("--sessions", type=int, default=1000)
    ap.add_argument("--logs", type=int, default=100_000)
    ap.add_argument("--big", type=int, default=5000, help="network requests of one session")
    ap.add_argument("--samples", type=int, default=60, help="GETs timed per page and round")
    ap.add_argument("--rounds", type=int, default=3, help="rounds over every page (medians)")
    ap.add_argument("--seed", type=int, default=5)
    ap.add_argument("--keep", metavar="DIR", help="load into DIR and keep it; reuse it if loaded")
    ap.add_argument(
        "--session-only",
        action="store_true",
        help="add highlight-Node-style records to the big session (see above)",
    )
    args = ap.parse_args(argv)
    data_dir, info = prepare(args)
    try:
        started = _load()
        with (
            BacklightProcess(data_dir) as server,
            httpx.Client(
                base_url=server.url, timeout=60, headers={"Authorization": f"Bearer {server.token}"}
            ) as client,
        ):
            alert_rules(client)
            rows = run(client, info, args)
        print(f"load average (1/5/15 min) at the start {started}, at the end {_load()}")
        print(table(COLUMNS, rows))
    finally:
        if not args.keep:
            shutil.rmtree(data_dir.parent, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
