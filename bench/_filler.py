"""Filler rows for the server benchmarks: N unlinked spans and N logs made inside each
engine by ``INSERT … SELECT``, the very same rows in SQLite and in ClickHouse (used by
``query.py`` and by ``ingest.py --prefill``)."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Sequence

from _server_common import ROUTES

from backlight_server.store.clickhouse.transport import NO_LIMIT, Transport
from backlight_server.store.sqlite.writes import INDEX_NEW_LOGS

# --- filler: N unlinked spans and N logs made inside each engine -------------------------
#
# Every value derives from the row number k with integer arithmetic that SQLite and
# ClickHouse compute alike, so both stores get the very same rows (and ``fill_trace_id``
# gives the trace ids to query). Traces of 10 spans; logs come 10 a trace, 70 % of the
# traces with their trace id on the logs (request id = trace id, no session).

FILL_HOURS = 72  # filler times: the 72 hours before now (3–4 daily partitions)
FILL_SERVICES = ("worker", "billing", "search", "gateway", "mailer")
_P = 4294967291  # largest prime below 2**32


def _mix_py(x: int, c: int) -> int:
    h = ((x + 1000003) * 2654435761 + c * 2246822519) % _P
    return ((h % 2147483647) * (h % 2147483629) + h) % _P


def fill_trace_id(t: int) -> str:
    """The trace id of filler trace ``t`` (as the SQL of ``FillSql`` makes it)."""
    return "".join(f"{_mix_py(t, c):08x}" for c in (1, 2, 3, 4))


class FillSql:
    """The expressions of the filler rows in one dialect (``sqlite`` or ``ch``)."""

    def __init__(self, dialect: str, project: str, n: int, now_ns: int) -> None:
        assert project.replace("-", "").isalnum(), project
        self.ch = dialect == "ch"
        self.project = project
        traces = max(1, (n + 9) // 10)
        self.end_ns = now_ns - 600 * 10**9
        self.step = FILL_HOURS * 3600 * 10**9 // traces
        self.base = self.end_ns - self.step * traces

    def div(self, a: str, b: int) -> str:
        return f"intDiv({a}, {b})" if self.ch else f"(({a}) / {b})"

    def txt(self, x: str) -> str:
        return f"toString({x})" if self.ch else f"({x})"

    def mix(self, x: str, c: int) -> str:
        h = f"((({x} + 1000003) * 2654435761 + {c * 2246822519}) % {_P})"
        return f"((({h} % 2147483647) * ({h} % 2147483629) + {h}) % {_P})"

    def hex8(self, x: str) -> str:
        if self.ch:
            return f"leftPad(lower(hex(toUInt32({x}))), 8, '0')"
        return f"printf('%08x', {x})"

    def trace_id(self, t: str) -> str:
        return " || ".join(self.hex8(self.mix(t, c)) for c in (1, 2, 3, 4))

    def span_id(self, k: str) -> str:
        return f"{self.hex8(self.mix(k, 11))} || {self.hex8(self.mix(k, 12))}"

    @staticmethod
    def pick(x: str, values: Sequence[str]) -> str:
        whens = " ".join(f"WHEN {i} THEN '{v}'" for i, v in enumerate(values))
        return f"CASE ({x}) % {len(values)} {whens} END"

    def source(self, lo: int, hi: int) -> str:
        """Rows k = lo … hi - 1, with t = k / 10 (the trace) and j = k % 10 (its row)."""
        if self.ch:
            return (
                f"(SELECT number AS k, intDiv(number, 10) AS t, number % 10 AS j "
                f"FROM numbers({lo}, {hi - lo}))"
            )
        return (
            f"(WITH RECURSIVE n(k) AS (SELECT {lo} UNION ALL SELECT k + 1 FROM n "
            f"WHERE k < {hi - 1}) SELECT k, k / 10 AS t, k % 10 AS j FROM n)"
        )

    def attributes(self, k: str) -> str:
        t = self.txt
        return (
            '\'{"http.method":"\' || '
            + self.pick(k, ("GET", "GET", "POST", "PUT"))
            + ' || \'","http.route":"\' || '
            + self.pick(self.div(k, 10), ROUTES)
            + ' || \'","http.status_code":\' || '
            + self.pick(self.mix(k, 21), ("200", "200", "200", "201", "404", "500"))
            + f" || ',\"net.peer.name\":\"10.0.' || {t(f'{self.mix(k, 22)} % 256')} || '.'"
            + f' || {t(f"{self.mix(k, 23)} % 256")} || \'","code.function":"handler_\''
            + f' || {t(f"({k}) % 50")} || \'","user.id":"user-\' || '
            + f'{t(f"{self.mix(k, 24)} % 100000")} || \'","thread.name":"worker-\' || '
            + f'{t(f"({k}) % 8")} || \'","db.rows":\' || {t(f"{self.mix(k, 25)} % 1000")}'
            + " || '}'"
        )

    def spans(self, lo: int, hi: int) -> str:
        start = f"({self.base} + t * {self.step} + j * 2000000)"
        tid = self.trace_id("t")
        return (
            "INSERT INTO spans (project_id, trace_id, span_id, parent_span_id, name, kind, "
            "start_ns, end_ns, status_code, status_message, service, environment, "
            "session_id, request_id, attributes, events) "
            f"SELECT '{self.project}', {tid}, {self.span_id('k')}, "
            f"CASE WHEN j = 0 THEN NULL ELSE {self.span_id('t * 10')} END, "
            f"'GET ' || {self.pick('t', ROUTES)}, CASE WHEN j = 0 THEN 2 ELSE 1 END, "
            f"{start}, {start} + 100000 + {self.mix('k', 13)} % 50000000, "
            f"CASE WHEN {self.mix('k', 14)} % 50 = 0 THEN 2 ELSE 1 END, NULL, "
            f"{self.pick('t', FILL_SERVICES)}, 'production', NULL, {tid}, "
            f"{self.attributes('k')}, NULL FROM {self.source(lo, hi)}"
        )

    def logs(self, lo: int, hi: int) -> str:
        linked = "t % 10 < 7"
        t = self.txt
        body = (
            f"CASE k % 4 WHEN 0 THEN 'handled request ' || {t(self.mix('k', 31) + ' % 10000')}"
            f" || ' for user ' || {t(self.mix('k', 32) + ' % 100')} "
            f"WHEN 1 THEN 'GET ' || {self.pick('t', ROUTES)} || ' served in ' || "
            f"{t(self.mix('k', 33) + ' % 900')} || ' ms' "
            f"WHEN 2 THEN 'cache miss for key item:' || {t(self.mix('k', 34) + ' % 50000')}"
            " || ', loading from database' "
            f"ELSE 'db query took ' || {t(self.mix('k', 35) + ' % 300')} || ' ms, rows=' || "
            f"{t(self.mix('k', 36) + ' % 1000')} END"
        )
        tid = f"CASE WHEN {linked} THEN {self.trace_id('t')} ELSE NULL END"
        return (
            "INSERT INTO logs (project_id, ts_ns, trace_id, span_id, severity_number, level, "
            "body, service, environment, session_id, request_id, attributes) "
            f"SELECT '{self.project}', {self.base} + t * {self.step} + j * 1000000 + 500000, "
            f"{tid}, CASE WHEN {linked} THEN {self.span_id('k')} ELSE NULL END, "
            "CASE k % 6 WHEN 3 THEN 5 WHEN 4 THEN 13 WHEN 5 THEN 17 ELSE 9 END, "
            "CASE k % 6 WHEN 3 THEN 'debug' WHEN 4 THEN 'warn' WHEN 5 THEN 'error' "
            f"ELSE 'info' END, {body}, {self.pick('t', FILL_SERVICES)}, 'production', NULL, "
            f"{tid}, {self.attributes('k + 7')} FROM {self.source(lo, hi)}"
        )


def fill_sqlite(conn: sqlite3.Connection, sql: FillSql, n: int, chunk: int) -> float:
    """N filler spans and N logs in SQLite, one INSERT … SELECT per chunk, the FTS5 index
    of each log chunk as the writer makes it; seconds taken."""
    t0 = time.perf_counter()
    for lo in range(0, n, chunk):
        hi = min(n, lo + chunk)
        conn.execute("BEGIN IMMEDIATE")
        conn.execute(sql.spans(lo, hi))
        before = conn.execute("SELECT coalesce(max(id), 0) FROM logs").fetchone()[0]
        conn.execute(sql.logs(lo, hi))
        conn.execute(INDEX_NEW_LOGS, (before,))
        conn.execute("COMMIT")
        _progress("SQLite", hi, n, t0)
    return time.perf_counter() - t0


def fill_clickhouse(tx: Transport, sql: FillSql, n: int, chunk: int) -> float:
    """N filler spans and N logs in ClickHouse, one INSERT … SELECT per chunk and table;
    seconds taken (the inserts only: the caller waits for the merges or forces them)."""
    t0 = time.perf_counter()
    for lo in range(0, n, chunk):
        hi = min(n, lo + chunk)
        tx.command(sql.spans(lo, hi), settings=NO_LIMIT)
        tx.command(sql.logs(lo, hi), settings=NO_LIMIT)
        _progress("ClickHouse", hi, n, t0)
    return time.perf_counter() - t0


def _progress(name: str, done: int, n: int, t0: float) -> None:
    print(
        f"  ... {name} filler: {done:,} / {n:,} rows a table, {time.perf_counter() - t0:.0f} s",
        flush=True,
    )
