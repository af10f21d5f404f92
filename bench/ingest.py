"""OTLP ingest end to end (HTTP → committed) against raw SQLite executemany, same run.

    .venv/bin/python bench/ingest.py [--requests 50] [--per-request 1000] [--rounds 8]
    .venv/bin/python bench/ingest.py --store chdb://     # also a server on ClickHouse (chdb)

A real ``backlight serve`` process on a temporary data dir gets gzip OTLP/HTTP protobuf
export requests (built once up front, ~1,000 spans or logs each) over a few concurrent
loopback connections; every request must answer 200, which means committed. The baseline
inserts exactly the rows the server stores (the server's own converter, run before the
clock starts) with ``executemany`` of the server's INSERT statements into a fresh database
with the same migrations and pragmas, one transaction per export request. Rounds
alternate baseline and server so that both see the same machine load; the medians are
reported.

With ``--store URL`` (``chdb://`` for the embedded engine in a temporary folder,
``chdb:///DIR``, or ``clickhouse://host:8123/db``) a second ``backlight serve --store URL``
gets the same requests in the same rounds (the three take turns, their order rotating
each round), and the table adds its records/s and the ratio ClickHouse / SQLite store
(target ≥ 2×), and how many records each store's writer committed at a time, and in how
long (from each server's ``/metrics``). Its rows are counted in the store afterwards too.

    .venv/bin/python bench/ingest.py --store chdb:// --prefill 1000000

times the same rounds on stores that already hold data, as a store in use does: before the
first round, 1,000,000 spans and 1,000,000 logs are made inside each store (both servers'
and the baseline's database) by the ``INSERT … SELECT`` filler of ``query.py``
(``_filler.py``: the same rows in SQLite and in ClickHouse), with the servers stopped;
ClickHouse's parts are then merged (``OPTIMIZE … FINAL``) and SQLite's WAL checkpointed.

    .venv/bin/python bench/ingest.py --insert-costs 1000,2000,4000,8000 --rounds 8

measures instead, in process, the chdb store's inserts by rows per insert, with and
without the materialized views (docs/benchmarks.md, "Ingest" of the ClickHouse section).
"""

from __future__ import annotations

import argparse
import asyncio
import gzip
import os
import resource
import sqlite3
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from _filler import FillSql, fill_clickhouse, fill_sqlite
from _server_common import (
    Payload,
    cpu_seconds,
    log_payloads,
    median,
    rss_mb,
    table,
    trace_payloads,
)

from backlight_server.cli import redact_url
from backlight_server.ingest.otlp_decode import decode_protobuf
from backlight_server.pipeline.otlp import convert_logs, convert_traces
from backlight_server.store.clickhouse import writes as ch_writes
from backlight_server.store.clickhouse.migrations import migrate as ch_migrate
from backlight_server.store.clickhouse.schema import Layout
from backlight_server.store.clickhouse.transport import NO_LIMIT, connect
from backlight_server.store.clickhouse.writer import _INSERT as CH_INSERT
from backlight_server.store.factory import check_url
from backlight_server.store.sqlite.connection import open_writer
from backlight_server.store.sqlite.migrations import migrate
from backlight_server.store.sqlite.writes import INDEX_NEW_LOGS, INSERT_LOG, INSERT_SPAN, MAX_LOG_ID
from backlight_server.testing import BacklightProcess

HEADERS = {"Content-Type": "application/x-protobuf", "Content-Encoding": "gzip"}


@dataclass
class Sent:
    records: int
    seconds: float
    server_cpu: float
    client_cpu: float
    retries: int
    commits: float  # the writer's group commits (inserts) meanwhile
    commit_s: float  # their total time


def commits(server: BacklightProcess) -> tuple[float, float]:
    """The writer's group commits so far and their total seconds (``/metrics``)."""
    r = httpx.get(
        f"{server.url}/metrics", headers={"Authorization": f"Bearer {server.token}"}, timeout=30
    )
    r.raise_for_status()
    found = {"count": 0.0, "sum": 0.0}
    for line in r.text.splitlines():
        for key in found:
            if line.startswith(f"backlight_write_commit_seconds_{key} "):
                found[key] = float(line.split()[1])
    return found["count"], found["sum"]


async def _send_all(url: str, payloads: list[Payload], connections: int) -> int:
    """POST every payload over ``connections`` keep-alive connections; return retries."""
    queue: asyncio.Queue[Payload] = asyncio.Queue()
    for p in payloads:
        queue.put_nowait(p)
    retries = 0
    limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)

    async def worker(client: httpx.AsyncClient) -> None:
        nonlocal retries
        while not queue.empty():
            p = queue.get_nowait()
            while True:
                r = await client.post(f"{url}/v1/{p.kind}", content=p.body, headers=HEADERS)
                if r.status_code in (429, 503):  # back-pressure: honour Retry-After
                    retries += 1
                    await asyncio.sleep(float(r.headers.get("retry-after", "1")))
                    continue
                if r.status_code != 200:
                    raise RuntimeError(f"{p.kind}: HTTP {r.status_code}: {r.text[:300]}")
                break

    async with httpx.AsyncClient(limits=limits, timeout=120) as client:
        await asyncio.gather(*(worker(client) for _ in range(connections)))
    return retries


def send(server: BacklightProcess, payloads: list[Payload], connections: int) -> Sent:
    assert server.proc is not None
    pid = server.proc.pid
    n0, s0 = commits(server)
    cpu0, ccpu0, t0 = cpu_seconds(pid), time.process_time(), time.perf_counter()
    retries = asyncio.run(_send_all(server.url, payloads, connections))
    t1, ccpu1, cpu1 = time.perf_counter(), time.process_time(), cpu_seconds(pid)
    n1, s1 = commits(server)
    records = sum(p.records for p in payloads)
    return Sent(records, t1 - t0, cpu1 - cpu0, ccpu1 - ccpu0, retries, n1 - n0, s1 - s0)


def server_rows(payloads: list[Payload], project: str) -> list[list[Any]]:
    """The rows the server stores for each payload, from its own decoder and converter."""
    out: list[list[Any]] = []
    for p in payloads:
        message = decode_protobuf(p.kind, gzip.decompress(p.body))
        convert = convert_traces if p.kind == "traces" else convert_logs
        conv = convert(message, None, lambda pid: pid == project)
        assert conv.rejected == 0 and not conv.batch.errors, conv.error_message()
        out.append(list(conv.batch.spans if p.kind == "traces" else conv.batch.logs))
    return out


def raw_insert(conn: sqlite3.Connection, sql: str, batches: list[list[Any]]) -> tuple[float, float]:
    """Wall and CPU seconds to insert ``batches`` with executemany, one transaction each.

    Log bodies also go into the FTS5 index, as the server does (since schema version 2 a
    single ``INSERT … SELECT`` per batch rather than a row trigger), so that both sides
    end with the same database content.
    """
    t0, c0 = time.perf_counter(), time.process_time()
    for rows in batches:
        conn.execute("BEGIN IMMEDIATE")
        if sql == INSERT_LOG:
            before = conn.execute(MAX_LOG_ID).fetchone()[0]
            conn.executemany(sql, rows)
            conn.execute(INDEX_NEW_LOGS, (before,))
        else:
            conn.executemany(sql, rows)
        conn.execute("COMMIT")
    return time.perf_counter() - t0, time.process_time() - c0


def pipeline_seconds(payloads: list[Payload], project: str) -> float:
    """In-process cost of gunzip + protobuf decode + conversion (no HTTP, no SQLite)."""
    t0 = time.perf_counter()
    for p in payloads:
        message = decode_protobuf(p.kind, gzip.decompress(p.body))
        convert = convert_traces if p.kind == "traces" else convert_logs
        convert(message, None, lambda pid: pid == project)
    return time.perf_counter() - t0


def count(db: Path, table_name: str) -> int:
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        return int(conn.execute(f"SELECT count(*) FROM {table_name}").fetchone()[0])
    finally:
        conn.close()


def clickhouse_url(store: str, root: Path) -> str:
    """``chdb://`` (no folder) means a folder in the run's temporary directory."""
    if store.rstrip("/") in ("chdb:", "chdb"):
        return f"chdb://{root / 'chdb'}"
    return check_url(store)


def clickhouse_counts(url: str) -> dict[str, int]:
    """Rows in the store's ``spans`` and ``logs`` (its server stopped: chdb opens a folder
    in one process at a time)."""
    tx = connect(url, 60_000)
    try:
        return {t: int(tx.query(f"SELECT count() FROM {t}")[0][0]) for t in ("spans", "logs")}
    finally:
        tx.close()


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def insert_costs(sizes: list[int], repeat: int) -> int:
    """In process, no server: the chdb store's own insert of spans and logs (the rows
    and encoding of ``clickhouse/writes``, the writer's settings), by rows per insert,
    into the store's tables and into copies of them without the materialized views
    (``CREATE TABLE … AS``), taking turns. CPU is the whole process's, so it includes
    the engine's background merges of the parts made meanwhile."""
    load0 = os.getloadavg()[0]
    need = max(sizes) * repeat
    rows = {
        "spans": [
            r
            for b in server_rows(trace_payloads("bench", need // 1000 + 1, 1000), "bench")
            for r in b
        ],
        "logs": [
            r
            for b in server_rows(log_payloads("bench", need // 1000 + 1, 1000), "bench")
            for r in b
        ],
    }
    header = [
        "table",
        "rows per insert",
        "with the views: ms wall / CPU",
        "µs CPU a row",
        "without the views: ms wall / CPU",
        "µs CPU a row",
    ]
    body = []
    with tempfile.TemporaryDirectory(prefix="backlight-inserts-") as tmp:
        tx = connect(f"chdb://{tmp}", 60_000)
        try:
            ch_migrate(tx, Layout())
            for name in rows:
                tx.command(f"CREATE TABLE {name}_no_views AS {name}")
            for name, all_rows in rows.items():
                for size in sizes:
                    took: dict[str, list[tuple[float, float]]] = {
                        name: [],
                        f"{name}_no_views": [],
                    }
                    for i in range(repeat):
                        data = ch_writes.encode(all_rows[i * size : (i + 1) * size])
                        for target, out in took.items():
                            c0, t0 = _cpu(), time.perf_counter()
                            tx.insert(target, ch_writes.COLUMNS[name], data, CH_INSERT)
                            out.append((time.perf_counter() - t0, _cpu() - c0))
                    cells = [name, f"{size:,}"]
                    for out in took.values():
                        wall = statistics.median(w for w, _ in out) * 1000
                        cpu = statistics.median(c for _, c in out) * 1000
                        cells += [f"{wall:.1f} / {cpu:.1f}", f"{cpu / size * 1000:.1f}"]
                    body.append(cells)
                    print(" ", " | ".join(cells), flush=True)
        finally:
            tx.close()
    print()
    print(table(header, body))
    print(
        f"\nmedians of {repeat} inserts per size and table; load average {load0:.1f} before, "
        f"{os.getloadavg()[0]:.1f} after"
    )
    return 0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--requests", type=int, default=50, help="export requests per kind/round")
    ap.add_argument("--per-request", type=int, default=1000, help="spans or logs per request")
    ap.add_argument("--rounds", type=int, default=8)
    ap.add_argument("--connections", type=int, default=4)
    ap.add_argument(
        "--store",
        default="",
        help="also run a server on this ClickHouse store: chdb:// (temporary folder), "
        "chdb:///DIR or clickhouse://host:8123/db",
    )
    ap.add_argument(
        "--insert-costs",
        default="",
        metavar="SIZES",
        help="instead: the chdb store's inserts in process, e.g. 1000,2000,4000,8000 rows "
        "per insert, with and without the materialized views (--rounds inserts each)",
    )
    ap.add_argument(
        "--prefill",
        type=int,
        default=0,
        metavar="N",
        help="before the first round, N spans and N logs already stored in every store "
        "(the filler of query.py, the same rows in each)",
    )
    args = ap.parse_args(argv)
    if args.insert_costs:
        return insert_costs([int(x) for x in args.insert_costs.split(",")], args.rounds)

    load0 = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="backlight-bench-") as tmp:
        root = Path(tmp)
        ch_url = clickhouse_url(args.store, root) if args.store else ""
        servers = {"sqlite": BacklightProcess(root / "server")}
        if ch_url:
            servers["ch"] = BacklightProcess(root / "ch-server", args=["--store", ch_url])
        try:
            for s in servers.values():
                s.start(timeout=60)
            server = servers["sqlite"]
            project = server.project
            if args.prefill:
                prefill(servers, ch_url, root / "raw" / "raw.db", args.prefill)
            assert server.proc is not None
            print(
                f"building payloads: {args.rounds} rounds x {args.requests} requests x "
                f"{args.per_request} records per kind ...",
                flush=True,
            )
            n = args.requests
            payloads = {
                name: (
                    trace_payloads(s.project, n * args.rounds + 4, args.per_request),
                    log_payloads(s.project, n * args.rounds + 4, args.per_request),
                )
                for name, s in servers.items()
            }
            spans, logs = payloads["sqlite"]
            warm = {name: {"traces": p[0][-4:], "logs": p[1][-4:]} for name, p in payloads.items()}
            rounds = {
                name: {
                    "traces": [p[0][i * n : (i + 1) * n] for i in range(args.rounds)],
                    "logs": [p[1][i * n : (i + 1) * n] for i in range(args.rounds)],
                }
                for name, p in payloads.items()
            }
            gz = sum(len(p.body) for p in spans[:n]) / n / 1024
            raw_kb = sum(len(p.raw) for p in spans[:n]) / n / 1024
            lgz = sum(len(p.body) for p in logs[:n]) / n / 1024
            lraw_kb = sum(len(p.raw) for p in logs[:n]) / n / 1024
            print(
                f"  span request: {raw_kb:.0f} KiB protobuf, {gz:.0f} KiB gzip; "
                f"log request: {lraw_kb:.0f} KiB protobuf, {lgz:.0f} KiB gzip",
                flush=True,
            )
            rows = {k: [server_rows(r, project) for r in v] for k, v in rounds["sqlite"].items()}

            raw_conn = open_writer(root / "raw" / "raw.db", "normal")
            migrate(raw_conn)
            for kind in ("traces", "logs"):  # warm-up: imports, caches, first pages
                for name, s in servers.items():
                    send(s, warm[name][kind], args.connections)
                raw_insert(
                    raw_conn,
                    INSERT_SPAN if kind == "traces" else INSERT_LOG,
                    server_rows(warm["sqlite"][kind], project),
                )

            results: dict[str, dict[str, list[float]]] = {
                k: {
                    "raw": [],
                    "server": [],
                    "ratio": [],
                    "cpu": [],
                    "raw_cpu": [],
                    "client": [],
                    "pipe": [],
                    "ch": [],
                    "ch_ratio": [],
                    "ch_cpu": [],
                    "per_commit": [],
                    "commit_ms": [],
                    "ch_per_commit": [],
                    "ch_commit_ms": [],
                }
                for k in ("traces", "logs")
            }
            retries = 0
            for i in range(args.rounds):
                for kind in ("traces", "logs"):
                    sql = INSERT_SPAN if kind == "traces" else INSERT_LOG
                    records = sum(len(b) for b in rows[kind][i])
                    # rotate the order so that drifting load hits all of them
                    order = ["raw", *servers][i % (len(servers) + 1) :]
                    order += ["raw", *servers][: i % (len(servers) + 1)]
                    sent: dict[str, Sent] = {}
                    for who in order:
                        if who == "raw":
                            raw_s, raw_cpu = raw_insert(raw_conn, sql, rows[kind][i])
                        else:
                            sent[who] = send(servers[who], rounds[who][kind][i], args.connections)
                    first = rounds["sqlite"][kind][i][: max(1, n // 5)]
                    pipe_s = pipeline_seconds(first, project)
                    pipe_n = sum(p.records for p in first)
                    retries += sum(x.retries for x in sent.values())
                    r, sq = results[kind], sent["sqlite"]
                    r["raw"].append(records / raw_s)
                    r["ratio"].append(sq.records / sq.seconds / (records / raw_s))
                    r["raw_cpu"].append(raw_cpu / records * 1e6)
                    r["server"].append(sq.records / sq.seconds)
                    r["cpu"].append(sq.server_cpu / sq.records * 1e6)
                    r["client"].append(sq.client_cpu / sq.seconds)
                    r["pipe"].append(pipe_s / pipe_n * 1e6)
                    r["per_commit"].append(sq.records / max(sq.commits, 1))
                    r["commit_ms"].append(sq.commit_s / max(sq.commits, 1) * 1000)
                    line = (
                        f"  round {i + 1} {kind:6}: raw {records / raw_s:>9,.0f}/s  "
                        f"server {sq.records / sq.seconds:>9,.0f}/s  "
                        f"ratio {sq.records / sq.seconds / (records / raw_s):5.1%}  "
                        f"server CPU {sq.server_cpu / sq.seconds:.2f} cores"
                    )
                    if "ch" in sent:
                        ch = sent["ch"]
                        r["ch"].append(ch.records / ch.seconds)
                        r["ch_ratio"].append(r["ch"][-1] / r["server"][-1])
                        r["ch_cpu"].append(ch.server_cpu / ch.records * 1e6)
                        r["ch_per_commit"].append(ch.records / max(ch.commits, 1))
                        r["ch_commit_ms"].append(ch.commit_s / max(ch.commits, 1) * 1000)
                        line += (
                            f"  | ClickHouse {r['ch'][-1]:>9,.0f}/s  "
                            f"x{r['ch_ratio'][-1]:.2f} of SQLite  "
                            f"CPU {ch.server_cpu / ch.seconds:.2f} cores"
                        )
                    print(line, flush=True)
            raw_conn.close()

            db = server.data_dir / "backlight.db"
            want = {
                k: sum(p.records for p in v) + args.prefill
                for k, v in (("spans", spans), ("logs", logs))
            }
            got = {"spans": count(db, "spans"), "logs": count(db, "logs")}
            rss = {name: rss_mb(s.proc.pid) for name, s in servers.items() if s.proc}
        finally:
            for s in servers.values():
                s.stop()
        ch_got = clickhouse_counts(ch_url) if ch_url else want

    if got != want or ch_got != want:
        print(f"ERROR: stored {got} (SQLite), {ch_got} (ClickHouse), sent {want}", file=sys.stderr)
        return 1
    print(
        f"\nall {want['spans']:,} spans and {want['logs']:,} logs stored "
        f"{'in each store ' if ch_url else ''}({retries} back-pressure retries); server RSS "
        f"after the run {', '.join(f'{k} {v:.0f} MB' for k, v in rss.items())}\n"
    )
    body = []
    for kind, label in (("traces", "spans"), ("logs", "logs")):
        r = results[kind]
        cpu, raw_cpu = median(r["cpu"]), median(r["raw_cpu"])
        body.append(
            [
                label,
                f"{median(r['server']):,.0f}",
                f"{median(r['raw']):,.0f}",
                f"{median(r['ratio']):.0%}",
                f"{cpu:.1f}",
                f"{raw_cpu:.1f}",
                f"{raw_cpu / cpu:.0%}",
                f"{median(r['pipe']):.1f}",
                f"{median(r['client']):.2f}",
            ]
        )
    print(
        table(
            [
                "records",
                "server rec/s",
                "raw SQLite rec/s",
                "ratio",
                "server CPU µs/rec",
                "raw CPU µs/rec",
                "CPU ratio",
                "decode+convert µs/rec",
                "client CPU (cores)",
            ],
            body,
        )
    )
    if ch_url:
        ch_body = []
        for kind, label in (("traces", "spans"), ("logs", "logs")):
            r = results[kind]
            cpu_ratio = median(r["cpu"]) / median(r["ch_cpu"])
            ch_body.append(
                [
                    label,
                    f"{median(r['server']):,.0f}",
                    f"{median(r['ch']):,.0f}",
                    f"**{median(r['ch_ratio']):.2f}×**",
                    f"{median(r['cpu']):.1f}",
                    f"{median(r['ch_cpu']):.1f}",
                    f"{cpu_ratio:.2f}×",
                    f"{median(r['per_commit']):,.0f} / {median(r['ch_per_commit']):,.0f}",
                    f"{median(r['commit_ms']):.0f} / {median(r['ch_commit_ms']):.0f}",
                ]
            )
        print()
        print(
            table(
                [
                    "records",
                    "SQLite store rec/s",
                    "ClickHouse store rec/s",
                    "ClickHouse / SQLite",
                    "SQLite server CPU µs/rec",
                    "ClickHouse server CPU µs/rec",
                    "CPU ratio (SQLite / ClickHouse)",
                    "records per commit, SQLite / ClickHouse",
                    "ms per commit, SQLite / ClickHouse",
                ],
                ch_body,
            )
        )
        print(
            "\n(a commit: one group of requests written by the store's writer thread, "
            "from the servers' /metrics, backlight_write_commit_seconds)"
        )
        worst = min(median(results[k]["ch_ratio"]) for k in results)
        print(
            f"\nClickHouse store: {redact_url(ch_url)}; target ≥ 2× the SQLite store: "
            f"{'met' if worst >= 2 else 'MISSED'} (lowest median ratio {worst:.2f}×)"
        )
    prefilled = f"; {args.prefill:,} spans and logs stored before the first round"
    print(
        f"\nmedians of {args.rounds} rounds; ratio = median of the per-round ratios (server "
        f"and baseline run back to back); CPU ratio = raw CPU per record / server CPU per "
        f"record (server: all threads, from /proc).\n{args.requests} requests x "
        f"{args.per_request} records per kind and round; {args.connections} connections; "
        f"gzip protobuf; load average {load0:.1f} before, {os.getloadavg()[0]:.1f} after"
        + (prefilled if args.prefill else "")
    )
    return 0


PREFILL_CHUNK = 500_000
# every table of the store's engine that merges parts: spans, logs and the tables their
# materialized views fill, whatever the schema version names them
MERGE_TREES = (
    "SELECT name FROM system.tables WHERE database = currentDatabase() AND engine LIKE '%MergeTree'"
)


def prefill(servers: dict[str, BacklightProcess], ch_url: str, raw_db: Path, n: int) -> None:
    """N filler spans and N logs in every store, the servers stopped meanwhile (chdb opens
    a folder in one process at a time), then the servers started again on them."""
    for s in servers.values():
        s.stop()
    now_ns = time.time_ns()
    sqlite_project = servers["sqlite"].project
    raw_db.parent.mkdir(parents=True, exist_ok=True)
    for db in (servers["sqlite"].data_dir / "backlight.db", raw_db):
        conn = open_writer(db, "normal")
        migrate(conn)
        conn.execute("PRAGMA cache_size=-1048576")  # the load only; the server uses its own
        fill_sqlite(conn, FillSql("sqlite", sqlite_project, n, now_ns), n, PREFILL_CHUNK)
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        conn.close()
    if "ch" in servers:
        tx = connect(ch_url, 3_600_000)
        try:
            sql = FillSql("ch", servers["ch"].project, n, now_ns)
            fill_clickhouse(tx, sql, n, PREFILL_CHUNK)
            # merged before the timing, as a store in use has merged what it held (the
            # rounds' own parts are merged while they run, as on any server)
            for (table,) in tx.query(MERGE_TREES):
                tx.command(f"OPTIMIZE TABLE {table} FINAL", settings=NO_LIMIT)
        finally:
            tx.close()
    os.sync()  # the filler's pages written out now, not by the kernel during the rounds
    for s in servers.values():
        s.start(timeout=120)


if __name__ == "__main__":
    sys.exit(main())
