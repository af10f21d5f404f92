"""``SqliteStore``: the ``Store`` interface over one SQLite file in WAL mode."""

from __future__ import annotations

import asyncio
import secrets
import sqlite3
import string
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from backlight_server.errors import QueryTimeout
from backlight_server.pipeline.model import (
    BrowserBatch,
    Identify,
    SessionInfo,
    TelemetryBatch,
    TrackRecord,
)
from backlight_server.store.base import (
    NOT_OPEN,
    Artifact,
    FetchConfig,
    Health,
    LogCounts,
    OutboxRow,
    Row,
)
from backlight_server.store.queries import ErrorGroupQuery, LogQuery, SessionQuery, TraceQuery
from backlight_server.store.sqlite import (
    alerts,
    annotate,
    artifacts,
    errorfacts,
    fetchcfg,
    logstats,
    merges,
    reads,
    traces,
    writes,
)
from backlight_server.store.sqlite.connection import open_reader, open_writer, set_time_limit
from backlight_server.store.sqlite.health import unavailable
from backlight_server.store.sqlite.migrations import migrate
from backlight_server.store.sqlite.writer import Apply, Writer, write_probe

_ID_ALPHABET = string.ascii_lowercase + string.digits


def new_project_id() -> str:
    return "".join(secrets.choice(_ID_ALPHABET) for _ in range(8))


class SqliteStore:
    def __init__(
        self,
        path: Path,
        *,
        synchronous: str = "normal",
        queue_max_jobs: int = 512,
        queue_max_bytes: int = 256 * 1024 * 1024,
        query_timeout_ms: int = 5000,
    ) -> None:
        self.path = path
        self._synchronous = synchronous
        self._queue_max_jobs = queue_max_jobs
        self._queue_max_bytes = queue_max_bytes
        self._timeout_ms = query_timeout_ms
        self._local = threading.local()
        self._projects: set[str] = set()
        self._writer: Writer | None = None
        self._conn: sqlite3.Connection | None = None

    # --- lifecycle ---
    def open(self) -> None:
        """Open, migrate, and check with a real write that the database can be written.

        Raises ``StorageUnavailable`` (with ``where``) if the folder or file is read-only,
        cannot be created, or the disk is full, so start-up can refuse with one line.
        """
        conn: sqlite3.Connection | None = None
        try:
            conn = open_writer(self.path, self._synchronous)
            migrate(conn)
            write_probe(conn)
        except (OSError, sqlite3.Error) as exc:
            if conn is not None:
                conn.close()
            where = exc.filename if isinstance(exc, OSError) and exc.filename else self.path
            err = unavailable(exc, self.path.parent, where=str(where))
            if err is None:
                raise
            raise err from exc
        self._conn = conn
        self._load_projects()
        self._writer = Writer(
            conn, self._queue_max_jobs, self._queue_max_bytes, folder=self.path.parent
        )
        self._writer.start()

    def close(self) -> None:
        if self._writer is not None:
            self._writer.stop()
            self._writer = None
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    @property
    def writer(self) -> Writer:
        assert self._writer is not None, NOT_OPEN
        return self._writer

    def observe_writes(self, seconds: Callable[[float], None]) -> None:
        self.writer.observe_commit = seconds

    def lease(self, name: str, holder: str, seconds: float) -> bool:
        """Read and take (or renew) in one write transaction: processes sharing the file
        never both hold it."""
        now = time.time() * 1000

        def take(conn: sqlite3.Connection) -> bool:
            row = conn.execute(
                "SELECT holder, until_ms FROM leases WHERE name = ?", (name,)
            ).fetchone()
            if row is not None and row[0] != holder and row[1] > now:
                return False
            conn.execute(
                "INSERT INTO leases (name, holder, until_ms) VALUES (?, ?, ?) ON CONFLICT "
                "(name) DO UPDATE SET holder = excluded.holder, until_ms = excluded.until_ms",
                (name, holder, now + seconds * 1000),
            )
            return True

        return bool(self.writer.submit(take, 1).result())

    def queue_depth(self) -> int:
        return self._writer.depth() if self._writer else 0

    def health(self) -> Health:
        """Whether writes succeed (the last write or probe). Cheap: no I/O, no lock."""
        writer = self._writer
        if writer is None:
            return Health(False, NOT_OPEN)
        if not writer.alive():
            return Health(False, "the writer thread stopped")
        return writer.health

    # --- projects ---
    def _load_projects(self) -> None:
        self._projects = {r[0] for r in self._connection().execute("SELECT id FROM projects")}

    def project_exists(self, project_id: str) -> bool:
        if project_id in self._projects:
            return True
        # Perhaps created by another process (``backlight project create``): one indexed read.
        row = (
            self._connection()
            .execute("SELECT 1 FROM projects WHERE id = ?", (project_id,))
            .fetchone()
        )
        if row is not None:
            self._projects.add(project_id)
        return row is not None

    def create_project(self, name: str, project_id: str | None = None) -> str:
        """Synchronous: used at start-up and by the CLI, not on the request path."""
        pid = project_id or new_project_id()
        self.writer.submit(
            lambda c: c.execute(
                "INSERT INTO projects (id, name, created_ms) VALUES (?, ?, ?)",
                (pid, name, time.time() * 1000),
            ),
            1,
        ).result()
        self._projects.add(pid)
        return pid

    def default_project(self) -> str:
        """The first project, created ("default") if there is none. Synchronous.

        Read and insert run in one write transaction, so processes starting together on
        a fresh data dir make one default project and all agree on it.
        """

        def first_or_create(conn: sqlite3.Connection) -> str:
            row = conn.execute(
                "SELECT id FROM projects ORDER BY created_ms, rowid LIMIT 1"
            ).fetchone()
            if row is not None:
                return str(row[0])
            pid = new_project_id()
            conn.execute(
                "INSERT INTO projects (id, name, created_ms) VALUES (?, ?, ?)",
                (pid, "default", time.time() * 1000),
            )
            return pid

        pid: str = self.writer.submit(first_or_create, 1).result()
        self._projects.add(pid)
        return pid

    def list_projects(self) -> list[Row]:
        return reads._rows(
            self._connection().execute(
                "SELECT id, name, created_ms FROM projects ORDER BY created_ms, rowid"
            )
        )

    # --- writes ---
    async def _submit(self, apply: Apply, weight: int) -> Any:
        future = self.writer.submit(apply, weight)
        return await asyncio.wrap_future(future)

    async def write_telemetry(self, batch: TelemetryBatch, weight: int) -> None:
        await self._submit(lambda c: writes.write_telemetry(c, batch), weight)

    async def write_browser(self, batch: BrowserBatch, weight: int) -> bool:
        now = time.time() * 1000
        return bool(await self._submit(lambda c: writes.write_browser(c, batch, now), weight))

    async def start_session(self, info: SessionInfo) -> None:
        await self._submit(lambda c: writes.start_session(c, info), 1)

    async def annotate_session(
        self, secure_id: str, identify: Identify | None, track: list[TrackRecord]
    ) -> bool:
        return bool(
            await self._submit(lambda c: annotate.annotate(c, secure_id, identify, track), 1)
        )

    def write_telemetry_sync(self, batch: TelemetryBatch, weight: int) -> None:
        """For ingest paths that run on threads (OTLP/gRPC): block until committed."""
        self.writer.submit(lambda c: writes.write_telemetry(c, batch), weight).result()

    def session_info(self, secure_id: str) -> SessionInfo | None:
        with self._read() as conn:
            return annotate.session_info(conn, secure_id)

    async def set_error_group_state(self, group_id: int, state: str) -> bool:
        return bool(await self._submit(lambda c: writes.set_group_state(c, group_id, state), 1))

    def purge_before(self, cutoff_ms: float) -> int:
        return int(self.writer.submit(lambda c: writes.purge_before(c, cutoff_ms), 1).result())

    # --- reads ---
    def _connection(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = open_reader(self.path)
            self._local.conn = conn
        set_time_limit(conn, self._timeout_ms)
        return conn

    @contextmanager
    def _read(self) -> Iterator[sqlite3.Connection]:
        """This thread's reader, with the time limit; past it, ``QueryTimeout``."""
        try:
            yield self._connection()
        except sqlite3.OperationalError as exc:
            if "interrupted" in str(exc):
                raise QueryTimeout(self._timeout_ms) from exc
            raise

    def list_sessions(self, query: SessionQuery) -> Row:
        with self._read() as conn:
            return reads.list_sessions(conn, query)

    def get_session(self, secure_id: str) -> Row | None:
        with self._read() as conn:
            return reads.get_session(conn, secure_id)

    def get_session_overview(self, secure_id: str, summaries_up_to: int = 1000) -> Row | None:
        with self._read() as conn:
            return reads.get_session_overview(conn, secure_id, summaries_up_to)

    def backend_summaries(self, request_ids: list[str]) -> dict[str, Row]:
        with self._read() as conn:
            return reads.backend_summaries(conn, request_ids)

    def get_replay(self, secure_id: str, after_seq: int, limit: int) -> Row:
        with self._read() as conn:
            return reads.get_replay(conn, secure_id, after_seq, limit)

    def get_request(self, request_id: str) -> Row:
        with self._read() as conn:
            return reads.get_request(conn, request_id)

    def list_error_groups(self, query: ErrorGroupQuery) -> Row:
        with self._read() as conn:
            return reads.list_error_groups(conn, query)

    def get_error_group(self, group_id: int, limit: int) -> Row | None:
        with self._read() as conn:
            return reads.get_error_group(conn, group_id, limit)

    def error_group_facts(self, group_id: int, now_ms: float, sample: int) -> Row:
        with self._read() as conn:
            return errorfacts.error_group_facts(conn, group_id, now_ms, sample)

    def search_logs(self, query: LogQuery) -> Row:
        with self._read() as conn:
            return reads.search_logs(conn, query)

    def get_trace(self, trace_id: str) -> Row:
        with self._read() as conn:
            return reads.get_trace(conn, trace_id)

    def list_traces(self, query: TraceQuery) -> Row:
        with self._read() as conn:
            return traces.list_traces(conn, query)

    def log_stats(self, query: LogQuery, buckets: int) -> Row:
        with self._read() as conn:
            return logstats.log_stats(conn, query, buckets)

    def log_page(self, query: LogQuery, buckets: int) -> Row:
        with self._read() as conn:
            return logstats.log_page(conn, query, buckets)

    def counts(self, project_id: str | None = None) -> Row:
        with self._read() as conn:
            return reads.counts(conn, project_id)

    def app_versions(self, session_ids: list[str]) -> dict[str, str]:
        with self._read() as conn:
            return reads.app_versions(conn, session_ids)

    def frontend_group_heads(self, project_id: str, limit: int) -> list[Row]:
        with self._read() as conn:
            return merges.heads(conn, project_id, limit)

    def merge_error_groups(self, project_id: str, moves: list[tuple[int, str]]) -> int:
        now = time.time() * 1000
        return int(
            self.writer.submit(lambda c: merges.merge(c, project_id, moves, now), 1).result()
        )

    def group_aliases(self, group_ids: list[int]) -> dict[int, tuple[int, str]]:
        with self._read() as conn:
            return merges.aliases(conn, group_ids)

    # --- alerts ---
    def _write(self, apply: Apply) -> Any:
        return self.writer.submit(apply, 1).result()

    def alert_rules(self, project_id: str | None = None) -> list[Row]:
        with self._read() as conn:
            return alerts.rules(conn, project_id)

    def get_alert_rule(self, rule_id: str) -> Row | None:
        with self._read() as conn:
            return alerts.get_rule(conn, rule_id)

    def save_alert_rule(self, rule_id: str, project_id: str, body: str) -> None:
        self._write(lambda c: alerts.save_rule(c, rule_id, project_id, body))

    def delete_alert_rule(self, rule_id: str) -> bool:
        return bool(self._write(lambda c: alerts.delete_rule(c, rule_id)))

    def alert_cursors(self) -> dict[str, str]:
        with self._read() as conn:
            return alerts.cursors(conn)

    def alert_errors_after(self, project_id: str, cursor: str, limit: int) -> tuple[list[Row], str]:
        with self._read() as conn:
            return alerts.errors_after(conn, project_id, cursor, limit)

    def alert_error_counts(
        self, project_id: str, since_ms: float, by: str, keys: list[str]
    ) -> dict[str, int]:
        with self._read() as conn:
            return alerts.error_counts(conn, project_id, since_ms, by, keys)

    def alert_last_slot(self, rule_id: str) -> float | None:
        with self._read() as conn:
            return alerts.last_slot(conn, rule_id)

    def alert_last_slots(self, rule_ids: list[str]) -> dict[str, float]:
        with self._read() as conn:
            return alerts.last_slots(conn, rule_ids)

    def alert_spike_counts(
        self, project_id: str, asks: list[tuple[float, str, list[str]]]
    ) -> list[dict[str, int]]:
        with self._read() as conn:
            return [alerts.error_counts(conn, project_id, t, by, keys) for t, by, keys in asks]

    def alert_log_counts(
        self, query: LogQuery, environment: str | None, bucket_ms: float, cursor: str
    ) -> LogCounts:
        with self._read() as conn:
            return alerts.log_counts(conn, query, environment, bucket_ms, cursor)

    def alert_resolutions_after(self, cursor: str, limit: int) -> tuple[list[Row], str]:
        with self._read() as conn:
            return alerts.resolutions_after(conn, cursor, limit)

    def alert_fired_groups(self, rule_ids: list[str], group_ids: list[int]) -> list[Row]:
        with self._read() as conn:
            return alerts.fired_groups(conn, rule_ids, group_ids)

    def enqueue_alerts(self, rows: list[OutboxRow], project_id: str, cursor: str) -> int:
        return int(self._write(lambda c: alerts.enqueue(c, rows, project_id, cursor)))

    def due_alerts(self, now_ms: float, limit: int) -> list[Row]:
        with self._read() as conn:
            return alerts.due(conn, now_ms, limit)

    def mark_alerts(
        self, rows: list[Row], state: str, attempts: int, next_ms: float, error: str
    ) -> None:
        keys = [str(r["key"]) for r in rows]
        self._write(lambda c: alerts.mark(c, keys, state, attempts, next_ms, error))

    def log_alert_delivery(self, entry: Row) -> None:
        self._write(lambda c: alerts.log_delivery(c, entry))

    def log_alert_deliveries(self, entries: list[Row]) -> None:
        if entries:
            self._write(lambda c: alerts.log_deliveries(c, entries))

    def alert_deliveries(self, rule_id: str | None, limit: int, offset: int) -> Row:
        with self._read() as conn:
            return alerts.deliveries(conn, rule_id, limit, offset)

    # --- source maps (store/sqlite/artifacts.py) ---
    def put_artifact(self, artifact: Artifact, data: bytes) -> str:
        return str(self._write(lambda c: artifacts.put(c, artifact, data)))

    def get_artifact(
        self, project_id: str, release: str, url: str
    ) -> tuple[Artifact, bytes] | None:
        with self._read() as conn:
            return artifacts.get(conn, project_id, release, url)

    def find_artifact(
        self, project_id: str, debug_id: str, kind: str = "map"
    ) -> tuple[Artifact, bytes] | None:
        with self._read() as conn:
            return artifacts.find(conn, project_id, debug_id, kind)

    def list_artifacts(self, project_id: str, release: str | None, limit: int) -> list[Artifact]:
        with self._read() as conn:
            return artifacts.listing(conn, project_id, release, limit)

    def artifact_usage(self, project_id: str, release: str) -> tuple[int, int]:
        with self._read() as conn:
            return artifacts.usage(conn, project_id, release)

    def delete_artifacts(self, project_id: str, release: str) -> int:
        return int(self._write(lambda c: artifacts.delete_release(c, project_id, release)))

    def purge_artifacts(self, cutoff_ms: float) -> int:
        return int(self._write(lambda c: artifacts.purge(c, cutoff_ms)))

    def create_upload_key(self, project_id: str, key_id: str, key_hash: str, masked: str) -> None:
        self._write(lambda c: artifacts.create_key(c, project_id, key_id, key_hash, masked))

    def upload_keys(self, project_id: str) -> list[Row]:
        with self._read() as conn:
            return artifacts.keys(conn, project_id)

    def upload_key(self, key_hash: str) -> Row | None:
        with self._read() as conn:
            return artifacts.key(conn, key_hash)

    def delete_upload_key(self, project_id: str, key_id: str) -> bool:
        return bool(self._write(lambda c: artifacts.delete_key(c, project_id, key_id)))

    # --- the source-map fetch path's settings (store/sqlite/fetchcfg.py) ---
    def sourcemap_fetch(self, project_id: str) -> FetchConfig:
        with self._read() as conn:
            return fetchcfg.get(conn, project_id)

    def set_sourcemap_fetch(self, config: FetchConfig) -> FetchConfig:
        stored: FetchConfig = self._write(lambda c: fetchcfg.put(c, config))
        return stored
