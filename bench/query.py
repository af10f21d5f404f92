"""Query latency of the session and request views with 1M spans and 1M logs loaded.

    .venv/bin/python bench/query.py [--spans 1000000] [--logs 1000000] [--samples 300]
    .venv/bin/python bench/query.py --store chdb://   # and a ClickHouse store beside it

Loads a data dir through the store's own write functions (``writes.write_browser`` for
sessions with their network requests and console, ``writes.write_telemetry`` for spans,
logs and backend errors), then starts a real ``backlight serve`` on it and times
``GET /api/v1/sessions/{id}`` and ``GET /api/v1/requests/{id}`` one at a time over
loopback, for a few hundred random ids.

With ``--store URL`` (``chdb://`` for the embedded engine in a temporary folder,
``chdb:///DIR``, ``clickhouse://host:8123/db``) the same records go into that store in the
same pass, through its own write path in bulk (browser batches through its writer;
telemetry as the rows of ``clickhouse.writes.telemetry`` inserted with
``Writer.insert``, ``--ch-chunk`` rows a table at a time). A second ``backlight serve
--store URL`` serves it, and the two servers are timed on the same ids, taking turns
request by request. Bytes on disk per log row are reported for both: SQLite's ``logs``
table, its indexes and its FTS5 tables (``dbstat``); ClickHouse's active parts of
``logs`` (``system.parts``).

Shape of the data (``--spans`` spans and ``--logs`` logs):
- ``--sessions`` sessions × ``--requests-per-session`` network requests; the request id is
  the W3C trace id, as the browser SDK sends it;
- half of the spans and logs belong to those requests: per request, one service that
  carries ``highlight.session_id``/``highlight.trace_id`` (its own trace id) and one plain
  OpenTelemetry service whose trace id is the request id; every 10th request has a
  backend error;
- the other half are unlinked traces of 10 spans (logs: 70 % with a trace id).

``--fill N`` then adds N unlinked spans and N logs of the same shape (traces of 10 over the
last 72 hours) inside each engine, one ``INSERT … SELECT`` per chunk and table: SQLite
from a recursive CTE (and FTS5 indexing as the writer does it), ClickHouse from
``numbers()`` through the store's transport. Both get identical rows. This is how the
10M-row figures of docs/benchmarks.md are made. ClickHouse's filler goes in first; before
the timing the script waits (``--settle`` seconds at most, 0: not at all) until the engine
has merged each day partition of spans and logs into one part by itself, as schema version
3 makes it do for partitions without inserts for 10 minutes; ``--optimize`` forces that
at once (``OPTIMIZE … FINAL``).
"""

from __future__ import annotations

import argparse
import os
import random
import sqlite3
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import httpx
import orjson
from _filler import FillSql, fill_clickhouse, fill_sqlite, fill_trace_id
from _server_common import ROUTES, hex_id, median, percentile, rss_mb, session_id, table

from backlight_server.cli import redact_url
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
from backlight_server.store.clickhouse import ClickhouseStore
from backlight_server.store.clickhouse import writes as chwrites
from backlight_server.store.clickhouse.transport import NO_LIMIT
from backlight_server.store.factory import check_url
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


class ChLoad:
    """Bulk writes into a ClickHouse store: the rows its writer would insert, buffered per
    table and inserted ``chunk`` rows at a time through ``Writer.insert``."""

    def __init__(self, store: ClickhouseStore, chunk: int) -> None:
        self.store, self.chunk = store, chunk
        self.buffer: dict[str, list[Sequence[Any]]] = {}
        self.seconds = 0.0

    def browser(self, batch: BrowserBatch) -> None:
        t0 = time.perf_counter()
        assert self.store.writer.submit(batch, 1).result() is True
        self.seconds += time.perf_counter() - t0

    def telemetry(self, batch: TelemetryBatch) -> None:
        t0 = time.perf_counter()
        rows = chwrites.telemetry(self.store.tx, batch, time.time() * 1000, [])
        for name, table_rows in rows.items():
            buf = self.buffer.setdefault(name, [])
            buf += table_rows
            if len(buf) >= self.chunk:
                self.store.writer.insert(name, buf)
                buf.clear()
        self.seconds += time.perf_counter() - t0

    def flush(self) -> None:
        t0 = time.perf_counter()
        for name, buf in self.buffer.items():
            if buf:
                self.store.writer.insert(name, buf)
                buf.clear()
        self.seconds += time.perf_counter() - t0


PARTS = (
    "SELECT table, count(), sum(rows), sum(bytes_on_disk) FROM system.parts "
    "WHERE database = currentDatabase() AND active AND table IN ('spans', 'logs') "
    "GROUP BY table ORDER BY table"
)


def settle(store: ClickhouseStore, limit_s: float) -> tuple[float, dict[str, int]]:
    """Wait until the engine has merged every day partition of spans and logs into one
    part by itself (schema version 3: a partition without inserts for
    ``schema.SETTLE_SECONDS`` is merged) and no merge runs, at most ``limit_s``; the
    seconds waited and the active parts of spans and logs."""
    t0 = time.perf_counter()
    while time.perf_counter() - t0 < limit_s:
        merging = store.tx.query(
            "SELECT count() FROM system.merges WHERE database = currentDatabase()"
        )[0][0]
        if int(merging) == 0 and max_parts_per_partition(store) <= 1:
            break
        time.sleep(5)
    return time.perf_counter() - t0, active_parts(store)


def max_parts_per_partition(store: ClickhouseStore) -> int:
    rows = store.tx.query(
        "SELECT max(n) FROM (SELECT count() AS n FROM system.parts WHERE active "
        "AND database = currentDatabase() AND table IN ('spans', 'logs') "
        "GROUP BY table, partition)"
    )
    return int(rows[0][0] or 0)


def active_parts(store: ClickhouseStore) -> dict[str, int]:
    return {str(r[0]): int(r[1]) for r in store.tx.query(PARTS)}


def sqlite_log_bytes(conn: sqlite3.Connection) -> int:
    """Pages of ``logs``, its indexes and its FTS5 index (``dbstat``)."""
    names = [
        r[0]
        for r in conn.execute(
            "SELECT name FROM sqlite_master WHERE tbl_name = 'logs' OR name LIKE 'logs_fts%'"
        )
    ]
    marks = ",".join("?" * len(names))
    row = conn.execute(f"SELECT sum(pgsize) FROM dbstat WHERE name IN ({marks})", names)
    return int(row.fetchone()[0] or 0)


CH_COUNT = {
    "sessions": "SELECT uniqExact(secure_id) FROM sessions",
    **{t: f"SELECT count() FROM {t}" for t in ("network", "spans", "logs", "errors")},
}


def load(
    db: Path,
    ch: ClickhouseStore | None,
    n_spans: int,
    n_logs: int,
    n_sessions: int,
    per_session: int,
    ch_chunk: int,
    n_fill: int = 0,
    fill_chunk: int = 1_000_000,
    settle_s: float = 900.0,
    optimize: bool = False,
) -> dict[str, Any]:
    """Fill ``db`` (and ``ch``) with the same records, then ``n_fill`` filler spans and
    logs made inside each engine; return some ids to query, the counts, the seconds each
    store took and its bytes on disk per log row."""
    store = SqliteStore(db)
    store.open()
    project = store.create_project("bench")
    store.close()
    conn = open_writer(db, "normal")
    migrate(conn)
    gen = Loader(project)
    chl = ChLoad(ch, ch_chunk) if ch is not None else None
    if ch is not None:
        ch.create_project("bench", project)
    sqlite_s = 0.0

    def commit(fn: Callable[..., object], *args: Any) -> None:
        nonlocal sqlite_s
        t0 = time.perf_counter()
        conn.execute("BEGIN IMMEDIATE")
        fn(conn, *args)
        conn.execute("COMMIT")
        sqlite_s += time.perf_counter() - t0

    sessions: list[str] = []
    requests: list[tuple[str, str, float]] = []
    for b in gen.sessions(n_sessions, per_session):
        commit(write_browser, b, b.session.started_ms)
        if chl is not None:
            chl.browser(b)
        sessions.append(b.session.secure_id)
        requests += [(b.session.secure_id, str(n.request_id), n.start_ms) for n in b.network]
    n_req = len(requests)
    spans_per = max(1, n_spans // 2 // n_req)
    logs_per = max(1, n_logs // 2 // n_req)
    for t in gen.linked(requests, spans_per, logs_per):
        commit(write_telemetry, t)
        if chl is not None:
            chl.telemetry(t)
    unlinked_traces: list[str] = []
    left = (max(0, n_spans - spans_per * n_req), max(0, n_logs - logs_per * n_req))
    done = loaded = 0
    for t in gen.unlinked(*left):
        commit(write_telemetry, t)
        if chl is not None:
            chl.telemetry(t)
        unlinked_traces.append(t.spans[0].trace_id if t.spans else "")
        done += len(t.spans) + len(t.logs)
        if done >= 2_000_000:
            loaded, done = loaded + done, 0
            print(
                f"  ... {loaded:,} more rows: SQLite "
                f"{sqlite_s:.0f} s" + (f", ClickHouse {chl.seconds:.0f} s" if chl else ""),
                flush=True,
            )
    fill: dict[str, Any] = {}
    if n_fill:
        if chl is not None:
            chl.flush()
        now_ns = time.time_ns()
        # A bigger page cache than the server's writer (64 MiB) for the bulk load only: it
        # changes the load time, not what is stored.
        conn.execute("PRAGMA cache_size=-1048576")
        # ClickHouse first: its parts then age while SQLite fills, as they would while a
        # server runs (the engine merges a day partition once it has had no insert for
        # ``schema.SETTLE_SECONDS``; ``settle`` waits for that).
        if ch is not None:
            fill["ch_s"] = fill_clickhouse(
                ch.tx, FillSql("ch", project, n_fill, now_ns), n_fill, fill_chunk
            )
            fill["parts_loaded"] = active_parts(ch)
            if optimize:  # one part per day partition at once
                t0 = time.perf_counter()
                for table in ("spans", "logs"):
                    ch.tx.command(f"OPTIMIZE TABLE {table} FINAL", settings=NO_LIMIT)
                fill["optimize_s"] = time.perf_counter() - t0
        sql = FillSql("sqlite", project, n_fill, now_ns)
        fill["sqlite_s"] = fill_sqlite(conn, sql, n_fill, fill_chunk)
    t0 = time.perf_counter()
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    fill["checkpoint_s"] = time.perf_counter() - t0
    sqlite_s += fill["checkpoint_s"]
    counts = {
        name: conn.execute(f"SELECT count(*) FROM {name}").fetchone()[0]
        for name in ("sessions", "network", "spans", "logs", "errors")
    }
    log_bytes = sqlite_log_bytes(conn)
    conn.close()
    out: dict[str, Any] = {
        "sessions": sessions,
        "requests": [r for _, r, _ in requests],
        "unlinked": [t for t in unlinked_traces if t],
        "counts": counts,
        "spans_per_request": spans_per,
        "logs_per_request": logs_per,
        "seconds": {"sqlite": sqlite_s},
        "fill": fill,
        "log_bytes": {"sqlite": log_bytes},
    }
    if ch is not None and chl is not None:
        chl.flush()
        tx = ch.tx
        out["seconds"]["ch"] = chl.seconds
        fill["settle_s"], fill["parts"] = settle(ch, settle_s) if n_fill else (0.0, {})
        out["ch_counts"] = {k: int(tx.query(q)[0][0]) for k, q in CH_COUNT.items()}
        parts = tx.query(
            "SELECT sum(bytes_on_disk), count() FROM system.parts "
            "WHERE database = currentDatabase() AND table = 'logs' AND active"
        )[0]
        out["log_bytes"]["ch"] = int(parts[0])
        out["ch_parts"] = int(parts[1])
        projections = tx.query(
            "SELECT sum(bytes_on_disk) FROM system.projection_parts "
            "WHERE database = currentDatabase() AND table = 'logs' AND active"
        )
        out["ch_projection_bytes"] = int(projections[0][0] or 0) if projections else 0
    return out


def backend_only(rng: random.Random, unlinked: list[str], n_fill: int) -> str:
    """A backend-only trace id: a filler trace when there is filler, else a loaded one."""
    return fill_trace_id(rng.randrange(max(1, n_fill // 10))) if n_fill else rng.choice(unlinked)


def check_linkage(client: httpx.Client, sid: str, info: dict[str, Any]) -> None:
    """The timed views must return the loaded data, not fast empty answers."""
    view = client.get(f"/api/v1/sessions/{sid}").json()
    first = view["network"][0]
    spans, logs = info["spans_per_request"], info["logs_per_request"]
    assert first["backend"]["spans"] == spans and first["backend"]["logs"] == logs, first
    req = client.get(f"/api/v1/requests/{first['request_id']}").json()
    assert req["session_secure_id"] == sid and req["span_count"] == spans, req["trace_ids"]
    assert len(req["logs"]) == logs and len(req["services"]) == 2, req["services"]
    if info["fill"].get("n"):  # a filler trace with logs: 10 spans, 10 logs
        req = client.get(f"/api/v1/requests/{fill_trace_id(0)}").json()
        assert req["span_count"] == 10 and len(req["logs"]) == 10, req


def get(client: httpx.Client, path: str) -> tuple[float, int]:
    """Latency (ms) of one GET and its response size."""
    t0 = time.perf_counter()
    r = client.get(path)
    ms = (time.perf_counter() - t0) * 1000
    if r.status_code != 200:
        raise RuntimeError(f"GET {path}: HTTP {r.status_code} {r.text[:200]}")
    return ms, len(r.content)


def measure(
    clients: dict[str, httpx.Client], paths: list[str]
) -> dict[str, tuple[list[float], int]]:
    """Each GET on every server in turn (the order flips each time), one at a time;
    per server: the latencies and the mean response size."""
    lat: dict[str, list[float]] = {k: [] for k in clients}
    size = dict.fromkeys(clients, 0)
    names = list(clients)
    for i, path in enumerate(paths):
        for name in names if i % 2 == 0 else names[::-1]:
            ms, n = get(clients[name], path)
            lat[name].append(ms)
            size[name] += n
    return {k: (lat[k], size[k] // max(1, len(paths))) for k in clients}


def clickhouse_url(store: str, root: Path) -> str:
    """``chdb://`` (no folder) means a folder in the run's temporary directory."""
    if store.rstrip("/") in ("chdb:", "chdb"):
        return f"chdb://{root / 'chdb'}"
    return check_url(store)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--spans", type=int, default=1_000_000)
    ap.add_argument("--logs", type=int, default=1_000_000)
    ap.add_argument("--rows", type=int, default=0, help="shorthand: --spans N --logs N")
    ap.add_argument("--sessions", type=int, default=1000)
    ap.add_argument("--requests-per-session", type=int, default=20)
    ap.add_argument("--samples", type=int, default=300, help="ids timed per endpoint")
    ap.add_argument("--seed", type=int, default=11)
    ap.add_argument(
        "--store",
        default="",
        help="also a ClickHouse store: chdb:// (temporary folder), chdb:///DIR or "
        "clickhouse://host:8123/db (an empty database)",
    )
    ap.add_argument("--ch-chunk", type=int, default=200_000, help="rows per ClickHouse insert")
    ap.add_argument(
        "--fill",
        type=int,
        default=0,
        help="then N filler spans and N filler logs (unlinked traces of 10), made inside "
        "each engine by INSERT … SELECT",
    )
    ap.add_argument("--fill-chunk", type=int, default=1_000_000, help="filler rows a statement")
    ap.add_argument(
        "--settle",
        type=float,
        default=900,
        help="longest wait (s) for ClickHouse to merge each day partition into one part "
        "(0: time the store as loaded)",
    )
    ap.add_argument(
        "--optimize",
        action="store_true",
        help="after the filler, OPTIMIZE TABLE spans and logs FINAL (one part a day)",
    )
    args = ap.parse_args(argv)
    if args.rows:
        args.spans = args.logs = args.rows

    with tempfile.TemporaryDirectory(prefix="backlight-bench-") as tmp:
        data_dir = Path(tmp) / "data"
        data_dir.mkdir()
        ch_url = clickhouse_url(args.store, Path(tmp)) if args.store else ""
        t0 = time.perf_counter()
        print(
            f"loading {args.spans:,} spans and {args.logs:,} logs, {args.sessions:,} sessions "
            f"x {args.requests_per_session} requests into SQLite"
            + (f" and {redact_url(ch_url)}" if ch_url else "")
            + " ...",
            flush=True,
        )
        ch = ClickhouseStore(ch_url, query_timeout_ms=600_000) if ch_url else None
        if ch is not None:
            ch.open()
        try:
            info = load(
                data_dir / "backlight.db",
                ch,
                args.spans,
                args.logs,
                args.sessions,
                args.requests_per_session,
                args.ch_chunk,
                args.fill,
                args.fill_chunk,
                args.settle,
                args.optimize,
            )
            info["fill"]["n"] = args.fill
        finally:
            if ch is not None:
                ch.close()  # chdb: one process at a time on a folder; the server is next
        size_mb = sum(f.stat().st_size for f in data_dir.iterdir()) / 1e6
        seconds: dict[str, float] = info["seconds"]
        print(
            f"  loaded in {time.perf_counter() - t0:.0f} s (SQLite writes {seconds['sqlite']:.0f} s"
            + (f", ClickHouse writes {seconds['ch']:.0f} s" if ch_url else "")
            + f"): {info['counts']}; {info['spans_per_request']} spans and "
            f"{info['logs_per_request']} logs per linked request; SQLite database "
            f"{size_mb:,.0f} MB",
            flush=True,
        )
        fill = info["fill"]
        if args.fill:
            print(
                f"  filler ({args.fill:,} spans + {args.fill:,} logs, INSERT … SELECT): "
                f"SQLite {fill['sqlite_s']:.0f} s (+ checkpoint {fill['checkpoint_s']:.0f} s)"
                + (
                    f", ClickHouse {fill['ch_s']:.0f} s"
                    + (
                        f", OPTIMIZE … FINAL {fill['optimize_s']:.0f} s"
                        if "optimize_s" in fill
                        else ""
                    )
                    + f"; active parts as loaded {fill['parts_loaded']}, then "
                    f"{fill['settle_s']:.0f} s more until merged: {fill['parts']}"
                    if ch_url
                    else ""
                ),
                flush=True,
            )
        if ch_url:
            print(f"  ClickHouse: {info['ch_counts']}; logs in {info['ch_parts']} parts")
            if info["ch_counts"] != info["counts"]:
                print("ERROR: the two stores hold different counts", file=sys.stderr)
                return 1

        rng = random.Random(args.seed)
        sessions: list[str] = info["sessions"]
        requests: list[str] = info["requests"]
        unlinked: list[str] = info["unlinked"]
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
                [
                    f"/api/v1/requests/{backend_only(rng, unlinked, args.fill)}"
                    for _ in range(args.samples)
                ],
            ),
            # the log search: a word in a quarter of the bodies, one in about one in 30,000
            # (both whole words, so a server before issue 22's substring search finds them)
            ("GET /api/v1/logs?q= (common word)", ["/api/v1/logs?q=served"] * args.samples),
            (
                "GET /api/v1/logs?q= (rare word)",
                [f"/api/v1/logs?q={rng.randrange(10**5)}" for _ in range(args.samples)],
            ),
        ]
        servers = {"SQLite": BacklightProcess(data_dir)}
        if ch_url:
            servers["ClickHouse"] = BacklightProcess(
                Path(tmp) / "ch-server", args=["--store", ch_url]
            )
        clients: dict[str, httpx.Client] = {}
        try:
            for server in servers.values():
                server.start(timeout=120)
                clients[next(k for k, v in servers.items() if v is server)] = httpx.Client(
                    base_url=server.url,
                    headers={"Authorization": f"Bearer {server.token}"},
                    timeout=60,
                )
            for client in clients.values():
                check_linkage(client, sessions[0], info)
            for _, paths in cases:  # warm-up: worker threads, read connections, cache
                measure(clients, paths[:10])
            load_avg = [os.getloadavg()[0]]
            results = []
            for name, paths in cases:
                results.append((name, measure(clients, paths)))
                load_avg.append(os.getloadavg()[0])
            rss = {k: rss_mb(s.proc.pid) for k, s in servers.items() if s.proc}
        finally:
            for client in clients.values():
                client.close()
            for server in servers.values():
                server.stop()
        parts_after: dict[str, int] = {}
        if ch_url and args.fill:  # the server merged on: how many parts it left
            reopened = ClickhouseStore(ch_url)
            reopened.open()
            try:
                parts_after = active_parts(reopened)
            finally:
                reopened.close()

    rows = [
        [
            name,
            store,
            f"{median(lat):.1f}",
            f"{percentile(lat, 95):.1f}",
            f"{max(lat):.1f}",
            f"{size / 1024:.0f} KiB",
        ]
        for name, by_store in results
        for store, (lat, size) in by_store.items()
    ]
    print()
    print(table(["endpoint", "store", "p50 ms", "p95 ms", "max ms", "mean response"], rows))
    print(
        f"\n{args.samples} random ids per endpoint, sequential, keep-alive, loopback"
        + (", the two servers taking turns" if ch_url else "")
        + "; server RSS after the queries "
        + ", ".join(f"{k} {v:.0f} MB" for k, v in rss.items())
    )
    print(
        "load average (1 min) before and after each endpoint: "
        + ", ".join(f"{x:.1f}" for x in load_avg)
    )
    if parts_after:
        print(f"ClickHouse active parts after the timing: {parts_after}")
    per_row = {k: v / max(1, info["counts"]["logs"]) for k, v in info["log_bytes"].items()}
    print(
        f"bytes on disk per log row: SQLite {per_row['sqlite']:.0f} (table, indexes, FTS5)"
        + (
            f", ClickHouse {per_row['ch']:.0f} (active parts): "
            f"{per_row['ch'] / per_row['sqlite']:.0%} of SQLite's; target ≤ 25 %: "
            f"{'met' if per_row['ch'] <= per_row['sqlite'] / 4 else 'MISSED'}"
            if ch_url
            else ""
        )
    )
    if ch_url:
        proj = info["ch_projection_bytes"] / max(1, info["counts"]["logs"])
        table_only = per_row["ch"] - proj
        print(
            f"  of ClickHouse's {per_row['ch']:.0f}: {proj:.0f} in the trace_index projection, "
            f"{table_only:.0f} in the table ({table_only / per_row['sqlite']:.0%} of SQLite's)"
        )
    # the target (issue 19) is for the session and request views; log search is shown
    # beside them, not judged
    views = [by for name, by in results if "/logs" not in name]
    for store in servers:
        worst = max(percentile(by[store][0], 95) for by in views)
        print(
            f"{store}: target p95 < 50 ms for the session and request views: "
            f"{'met' if worst < 50 else 'MISSED'} (worst p95 {worst:.1f} ms)"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
