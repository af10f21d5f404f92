"""The stores the conformance suite (``conformance/``) runs against, and records to feed
them.

Add an engine by adding its name to ``STORES`` and a branch to ``make``: every test of the
suite then runs against it too.
"""

from __future__ import annotations

import os
import secrets
import time
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
from blclickhouse import ClickhouseStandIn

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
    TrackRecord,
)
from backlight_server.store.base import Store
from backlight_server.store.clickhouse import ClickhouseStore
from backlight_server.store.clickhouse import timeline as ch_timeline
from backlight_server.store.clickhouse.schema import Layout
from backlight_server.store.clickhouse.transport import Params, Settings, Transport
from backlight_server.store.sqlite import SqliteStore

STORES = ["sqlite", "chdb", "clickhouse-http"]


@dataclass
class Opened:
    """An open store with its default project."""

    store: Store
    project: str


def make(kind: str, folder: Path) -> Store:
    if kind == "sqlite":
        return SqliteStore(folder / "backlight.db", query_timeout_ms=30_000)
    if kind == "chdb":
        return ClickhouseStore(f"chdb://{folder / 'chdb'}", query_timeout_ms=30_000)
    if kind == "clickhouse-http":
        return StandInStore(folder / "clickhouse")
    raise ValueError(f"no store {kind!r}")


class StandInStore(ClickhouseStore):
    """The ``clickhouse://`` store, over the real client and HTTP, to a stand-in server
    (``blclickhouse``) on the real engine: started when the store opens, stopped when it
    closes. Its database is not the server's default one, so the store makes it."""

    def __init__(self, folder: Path) -> None:
        self.server = ClickhouseStandIn(folder)
        url = f"clickhouse://default:@127.0.0.1:{self.server.port}/backlight"
        super().__init__(url, query_timeout_ms=30_000)

    def open(self) -> None:
        self.server.start()
        try:
            super().open()
        except BaseException:
            self.server.stop()
            raise

    def close(self) -> None:
        try:
            super().close()
        finally:
            self.server.stop()


def hex_id(n: int) -> str:
    return secrets.token_hex(n)


def env_kind() -> str:
    """The store a test of one store runs on: chdb with ``BACKLIGHT_TEST_STORE=chdb``."""
    return "chdb" if os.environ.get("BACKLIGHT_TEST_STORE") == "chdb" else "sqlite"


@contextmanager
def opened_store(kind: str, folder: Path) -> Iterator[Store]:
    """A store of ``kind`` in ``folder``, open until the block ends."""
    store = make(kind, folder)
    store.open()
    try:
        yield store
    finally:
        store.close()


def now_ms() -> float:
    return time.time() * 1000


def session(project: str, sid: str | None = None, started_ms: float | None = None) -> SessionInfo:
    return SessionInfo(
        project_id=project,
        secure_id=sid or hex_id(10),
        started_ms=started_ms if started_ms is not None else now_ms(),
        url="http://app.test/cart",
        user_agent="conformance",
        sdk_version="0.1.0",
        environment="test",
        service="storefront",
    )


def browser(
    info: SessionInfo,
    seq: int,
    *,
    network: list[NetworkRecord] | None = None,
    errors: list[ErrorRecord] | None = None,
    events: list[dict[str, object]] | None = None,
    console: list[ConsoleRecord] | None = None,
    track: list[TrackRecord] | None = None,
) -> BrowserBatch:
    replay = zlib.compress(orjson.dumps(events)) if events else None
    return BrowserBatch(
        session=info,
        seq=seq,
        replay=replay,
        replay_first_ms=info.started_ms,
        replay_last_ms=info.started_ms + 1,
        n_events=len(events or []),
        network=network or [],
        console=console or [],
        errors=errors or [],
        track=track or [],
    )


def request(sid: str, rid: str | None, start_ms: float, status: int = 500) -> NetworkRecord:
    return NetworkRecord(
        sid,
        rid,
        "fetch",
        "POST",
        "http://api.test/checkout",
        status,
        start_ms,
        start_ms + 50,
        None,
        orjson.dumps({"request_headers": {"content-type": "application/json"}}).decode(),
    )


def span(
    project: str,
    trace_id: str,
    service: str,
    *,
    parent: str | None = None,
    span_id: str | None = None,
    session_id: str | None = None,
    request_id: str | None = None,
    start_ns: int | None = None,
) -> SpanRecord:
    start = start_ns if start_ns is not None else time.time_ns()
    return SpanRecord(
        project,
        trace_id,
        span_id or hex_id(8),
        parent,
        f"{service} work",
        2,
        start,
        start + 5_000_000,
        0,
        None,
        service,
        "test",
        session_id,
        request_id or trace_id,
        '{"http.method": "POST"}',
        None,
    )


def log(
    project: str,
    body: str,
    service: str,
    *,
    trace_id: str | None = None,
    session_id: str | None = None,
    request_id: str | None = None,
    severity: int = 9,
    ts_ns: int | None = None,
) -> LogRecord:
    level = ("trace", "debug", "info", "warn", "error", "fatal")[min((severity - 1) // 4, 5)]
    return LogRecord(
        project,
        ts_ns if ts_ns is not None else time.time_ns(),
        trace_id,
        None,
        severity,
        level,
        body,
        service,
        "test",
        session_id,
        request_id if request_id is not None else trace_id,
        None,
    )


def error(
    project: str,
    message: str,
    *,
    source: str = "span",
    error_type: str = "ValueError",
    line: int = 10,
    session_id: str | None = None,
    request_id: str | None = None,
    trace_id: str | None = None,
    service: str | None = "api",
    ts_ms: float | None = None,
) -> ErrorRecord:
    frames = [Frame("app/checkout.py", "reserve", line)]
    return ErrorRecord(
        project,
        ts_ms if ts_ms is not None else now_ms(),
        source,
        error_type,
        message,
        frames,
        None,
        session_id,
        request_id,
        trace_id,
        None,
        service,
        "test",
        None,
        None,
        fingerprint(error_type, message, frames),
    )


# ``store/clickhouse/serverseen.BY_SESSION`` before schema version 11 kept its rows: read
# from ``spans`` (for tests that make a folder at an older version and read it first).
# What ``session_timeline`` (schema version 12) holds of a session, read from its source
# tables: how a release before it read the session view's first round.
TIMELINE_IN_SOURCES = (
    "SELECT kind, row FROM ("
    + " UNION ALL ".join(ch_timeline.select(kind) for kind in ch_timeline.COLUMNS)
    + ") WHERE session_id = {sid:String} ORDER BY kind, ts, rank"
)
SESSION_REQUESTS_IN_SPANS = (
    "SELECT request_id, start_ns AS first_ns, end_ns AS last_ns FROM spans "
    "WHERE session_id = {sid:String} AND (kind = 2 OR request_id != trace_id)"
)


class Recording:
    """A transport that keeps the SQL of reads (the ClickHouse store tests: which
    statements a view ran)."""

    def __init__(self, tx: Transport) -> None:
        self.tx = tx
        self.statements: list[str] = []

    def query(
        self, sql: str, params: Params | None = None, settings: Settings | None = None
    ) -> list[list[Any]]:
        self.statements.append(sql)
        return self.tx.query(sql, params, settings)

    def records(self, sql: str, params: Params | None = None) -> list[dict[str, Any]]:
        self.statements.append(sql)
        return self.tx.records(sql, params)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.tx, name)


def chdb_store(folder: Path, layout: Layout | None = None) -> ClickhouseStore:
    """A ClickHouse store on an embedded engine in ``folder``."""
    return ClickhouseStore(f"chdb://{folder}", layout=layout, query_timeout_ms=30_000)
