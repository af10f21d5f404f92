"""``ClickhouseStore``: the ``Store`` interface over ClickHouse, embedded (``chdb://DIR``)
or a server (``clickhouse://host:8123/db``). The same statements run on both."""

from __future__ import annotations

import asyncio
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from backlight_server.errors import StorageUnavailable
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
from backlight_server.store.clickhouse import (
    alerts,
    artifacts,
    errorfacts,
    fetchcfg,
    groups,
    logcounts,
    logstats,
    reads,
    timeline,
    traces,
    writes,
)
from backlight_server.store.clickhouse.migrations import migrate
from backlight_server.store.clickhouse.schema import Layout
from backlight_server.store.clickhouse.transport import (
    NO_LIMIT,
    EngineInUse,
    HttpTransport,
    Transport,
    connect,
)
from backlight_server.store.clickhouse.writer import Writer
from backlight_server.store.queries import ErrorGroupQuery, LogQuery, SessionQuery, TraceQuery
from backlight_server.store.sqlite.store import new_project_id

_CACHE = 4096


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0][:300]


_MISS_TTL_S = 5.0
_LEASE_SETTLE_S = 0.5


class ClickhouseStore:
    def __init__(
        self,
        url: str,
        *,
        layout: Layout | None = None,
        queue_max_jobs: int = 512,
        queue_max_bytes: int = 256 * 1024 * 1024,
        query_timeout_ms: int = 5000,
    ) -> None:
        self.url = url
        self._layout = layout or Layout()
        self._queue = (queue_max_jobs, queue_max_bytes)
        self._timeout_ms = query_timeout_ms
        self._tx: Transport | None = None
        self._writer: Writer | None = None
        self._projects: set[str] = set()
        self._missing: dict[str, float] = {}
        self._sessions: OrderedDict[str, SessionInfo] = OrderedDict()
        self._lock = threading.Lock()
        self._read_back = alerts.ReadBack()

    # --- lifecycle ---
    def open(self) -> None:
        """Connect and migrate; a store that cannot be reached or used refuses with
        ``StorageUnavailable`` (one line at start-up, no password in it)."""
        try:
            tx = connect(self.url, self._timeout_ms)
        except ImportError as exc:
            kind = "chdb" if self.url.startswith("chdb:") else "clickhouse"
            raise StorageUnavailable(
                f"this store needs the {kind} extra: pip install 'backlight-server[{kind}]'"
            ) from exc
        except EngineInUse as exc:
            raise StorageUnavailable(str(exc)) from exc
        except Exception as exc:
            raise StorageUnavailable(f"cannot connect: {_first_line(exc)}") from exc
        try:
            migrate(tx, self._layout)
        except StorageUnavailable:
            tx.close()
            raise
        except Exception as exc:
            tx.close()
            raise StorageUnavailable(f"cannot create the schema: {_first_line(exc)}") from exc
        self._tx = tx
        # Over HTTP, the server buffers small inserts from every instance (async inserts).
        extra: dict[str, str | int] = (
            {"async_insert": 1, "wait_for_async_insert": 1} if isinstance(tx, HttpTransport) else {}
        )
        self._writer = Writer(tx, self._queue[0], self._queue[1], extra)
        self._writer.start()

    def close(self) -> None:
        if self._writer is not None:
            self._writer.stop()
            self._writer = None
        if self._tx is not None:
            self._tx.close()
            self._tx = None

    @property
    def tx(self) -> Transport:
        assert self._tx is not None, NOT_OPEN
        return self._tx

    @property
    def writer(self) -> Writer:
        assert self._writer is not None, NOT_OPEN
        return self._writer

    def observe_writes(self, seconds: Callable[[float], None]) -> None:
        self.writer.observe_commit = seconds

    def lease(self, name: str, holder: str, seconds: float) -> bool:
        """A lease in the store (``leases``, latest row wins). ClickHouse has no
        compare-and-set, so taking one is: read; if it is free, expired or ours, write our
        row; read again after a pause, and hold it if the latest row is ours. Two servers
        racing within the pause both see the same latest row, so one wins. Jobs run under
        a lease are idempotent, which covers a rarer race."""
        now = time.time() * 1000
        read = (
            "SELECT argMax(holder, (taken_ms, holder)), argMax(until_ms, (taken_ms, holder)) "
            "FROM leases WHERE name = {n:String}"
        )
        rows = self.tx.query(read, {"n": name}, NO_LIMIT)
        current, until = (rows[0][0], float(rows[0][1])) if rows else ("", 0.0)
        if current and current != holder and until > now:
            return False
        row = [name, holder, now + seconds * 1000, now]
        self.writer.submit(lambda tx: self.writer.insert("leases", [row]), 1).result()
        time.sleep(_LEASE_SETTLE_S)
        rows = self.tx.query(read, {"n": name}, NO_LIMIT)
        return bool(rows) and rows[0][0] == holder

    def queue_depth(self) -> int:
        return self._writer.depth() if self._writer else 0

    def health(self) -> Health:
        writer = self._writer
        if writer is None:
            return Health(False, NOT_OPEN)
        if not writer.alive():
            return Health(False, "the writer thread stopped")
        return writer.health

    # --- projects ---
    def project_exists(self, project_id: str) -> bool:
        """Known projects are cached; an unknown id is looked up at most every few seconds
        (ingest asks on every request, and anyone can send any id)."""
        if project_id in self._projects:
            return True
        now = time.monotonic()
        with self._lock:
            if self._missing.get(project_id, 0.0) > now:
                return False
        found = bool(
            self.tx.query(
                "SELECT 1 FROM projects WHERE id = {p:String} LIMIT 1", {"p": project_id}, NO_LIMIT
            )
        )
        with self._lock:
            if found:
                self._projects.add(project_id)
                self._missing.pop(project_id, None)
            else:
                if len(self._missing) >= _CACHE:
                    self._missing.clear()
                self._missing[project_id] = now + _MISS_TTL_S
        return found

    def create_project(self, name: str, project_id: str | None = None) -> str:
        pid = project_id or new_project_id()
        row = [pid, name, time.time() * 1000]
        self.writer.submit(lambda tx: self.writer.insert("projects", [row]), 1).result()
        self._projects.add(pid)
        return pid

    def default_project(self) -> str:
        """The first project, created ("default") if there is none. Instances starting
        together on an empty store may each create one; all then agree on the earliest."""
        projects = self.list_projects()
        if not projects:
            self.create_project("default")
            projects = self.list_projects()
        pid = str(projects[0]["id"])
        self._projects.add(pid)
        return pid

    def list_projects(self) -> list[Row]:
        rows = self.tx.query(
            "SELECT id, any(name), min(created_ms) AS c FROM projects GROUP BY id ORDER BY c, id",
            settings=NO_LIMIT,
        )
        return [{"id": r[0], "name": r[1], "created_ms": r[2]} for r in rows]

    # --- writes ---
    async def _submit(self, work: Any, weight: int) -> Any:
        return await asyncio.wrap_future(self.writer.submit(work, weight))

    async def write_telemetry(self, batch: TelemetryBatch, weight: int) -> None:
        await self._submit(batch, weight)

    def write_telemetry_sync(self, batch: TelemetryBatch, weight: int) -> None:
        self.writer.submit(batch, weight).result()

    async def write_browser(self, batch: BrowserBatch, weight: int) -> bool:
        stored = bool(await self._submit(batch, weight))
        self._remember(batch.session)
        return stored

    async def start_session(self, info: SessionInfo) -> None:
        rows = writes.start_session(info)
        await self._submit(lambda tx: self._insert(rows), 1)
        self._remember(info)

    def _insert(self, rows: writes.Rows) -> None:
        for table, table_rows in rows.items():
            self.writer.insert(table, table_rows)

    async def annotate_session(
        self, secure_id: str, identify: Identify | None, track: list[TrackRecord]
    ) -> bool:
        info = await asyncio.to_thread(self.session_info, secure_id)
        if info is None:
            return False
        rows = writes.annotate(info, identify, track)
        if rows:
            await self._submit(lambda tx: self._insert(rows), 1)
        return True

    def _remember(self, info: SessionInfo) -> None:
        with self._lock:
            self._sessions[info.secure_id] = SessionInfo(
                info.project_id, info.secure_id, info.started_ms
            )
            self._sessions.move_to_end(info.secure_id)
            while len(self._sessions) > _CACHE:
                self._sessions.popitem(last=False)

    def session_info(self, secure_id: str) -> SessionInfo | None:
        with self._lock:
            known = self._sessions.get(secure_id)
        if known is not None:
            return known
        found = reads.session_info(self.tx, secure_id)  # small: one indexed lookup
        if found is None:
            return None
        info = SessionInfo(found[0], secure_id, found[1])
        self._remember(info)
        return info

    async def set_error_group_state(self, group_id: int, state: str) -> bool:
        project = await asyncio.to_thread(reads.group_project, self.tx, group_id)
        if project is None:
            return False
        row = [project, group_id, state, time.time() * 1000]
        await self._submit(lambda tx: self.writer.insert("group_states", [row]), 1)
        return True

    def purge_before(self, cutoff_ms: float) -> int:
        """Tables expire by TTL as well; this deletes what is older than ``cutoff_ms`` (or
        dated more than two days ahead) now, with lightweight deletes."""
        future_ms = time.time() * 1000 + 2 * 86_400_000
        p = {
            "lo": cutoff_ms,
            "hi": future_ms,
            "lo_ns": int(cutoff_ms * 1e6),
            "hi_ns": int(future_ms * 1e6),
        }
        ms = "NOT ({col} BETWEEN {{lo:Float64}} AND {{hi:Float64}})"
        ns = "NOT ({col} BETWEEN {{lo_ns:Int64}} AND {{hi_ns:Int64}})"
        targets = [
            ("sessions", ms.format(col="last_ms")),
            ("batches", ms.format(col="received_ms")),
            ("replay_chunks", ms.format(col="last_ms")),
            ("network", ms.format(col="end_ms")),
            ("console", ms.format(col="ts_ms")),
            ("track_events", ms.format(col="ts_ms")),
            ("spans", ns.format(col="end_ns")),
            ("logs", ns.format(col="ts_ns")),
            ("errors", ms.format(col="ts_ms")),
            ("request_traces", ns.format(col="first_ns")),
            ("session_timeline", timeline.PURGE),
            # rows per key and second (counts per trace, a session's requests): a second's
            # rows go once all of it is outside
            *(
                (
                    table,
                    "NOT (sec BETWEEN intDiv({lo_ns:Int64}, 1000000000) "
                    "AND intDiv({hi_ns:Int64}, 1000000000))",
                )
                for table in ("trace_counts", "session_requests")
            ),
        ]
        total = 0
        for table, cond in targets:
            n = int(self.tx.query(f"SELECT count() FROM {table} WHERE {cond}", p, NO_LIMIT)[0][0])
            if n:
                self.tx.command(f"DELETE FROM {table} WHERE {cond}", p, NO_LIMIT)
                total += n
        logcounts.purge(self.tx, int(p["lo_ns"]), int(p["hi_ns"]))  # the log page's counts
        return total + self._purge_alerts(cutoff_ms)

    def _purge_alerts(self, cutoff_ms: float) -> int:
        """Outbox keys sent or given up (latest state ``delivered`` or ``failed``) made
        before ``cutoff_ms``: first their older states (pending, sending), then the rest, so
        an older state never outlives the latest one (it would be sent again). And the
        delivery log before ``cutoff_ms``. TTLs (schema.alert_ttls) are the backstop."""
        p = {"lo": cutoff_ms}
        keys = [
            str(k)
            for (k,) in self.tx.query(
                "SELECT key FROM alert_outbox FINAL WHERE state IN ('delivered', 'failed') "
                "AND created_ms < {lo:Float64}",
                p,
                NO_LIMIT,
            )
        ]
        for i in range(0, len(keys), 10_000):
            chunk = {"k": keys[i : i + 10_000]}
            for only in ("state IN ('pending', 'sending') AND ", ""):
                self.tx.command(
                    f"DELETE FROM alert_outbox WHERE {only}key IN {{k:Array(String)}}",
                    chunk,
                    NO_LIMIT,
                )
        log = "alert_deliveries WHERE at_ms < {lo:Float64}"
        n = int(self.tx.query(f"SELECT count() FROM {log}", p, NO_LIMIT)[0][0])
        if n:
            self.tx.command(f"DELETE FROM {log}", p, NO_LIMIT)
        return len(keys) + n

    # --- reads ---
    def list_sessions(self, query: SessionQuery) -> Row:
        return reads.list_sessions(self.tx, query)

    def get_session(self, secure_id: str) -> Row | None:
        return reads.get_session(self.tx, secure_id)

    def get_session_overview(self, secure_id: str, summaries_up_to: int = 1000) -> Row | None:
        return reads.get_session_overview(self.tx, secure_id, summaries_up_to)

    def backend_summaries(self, request_ids: list[str]) -> dict[str, Row]:
        return reads.backend_summaries(self.tx, request_ids)

    def get_replay(self, secure_id: str, after_seq: int, limit: int) -> Row:
        return reads.get_replay(self.tx, secure_id, after_seq, limit)

    def get_request(self, request_id: str) -> Row:
        return reads.get_request(self.tx, request_id)

    def list_error_groups(self, query: ErrorGroupQuery) -> Row:
        return reads.list_error_groups(self.tx, query)

    def get_error_group(self, group_id: int, limit: int) -> Row | None:
        return reads.get_error_group(self.tx, group_id, limit)

    def error_group_facts(self, group_id: int, now_ms: float, sample: int) -> Row:
        return errorfacts.error_group_facts(self.tx, group_id, now_ms, sample)

    def search_logs(self, query: LogQuery) -> Row:
        return reads.search_logs(self.tx, query)

    def get_trace(self, trace_id: str) -> Row:
        return reads.get_trace(self.tx, trace_id)

    def list_traces(self, query: TraceQuery) -> Row:
        return traces.list_traces(self.tx, query)

    def log_stats(self, query: LogQuery, buckets: int) -> Row:
        return logstats.log_stats(self.tx, query, buckets)

    def log_page(self, query: LogQuery, buckets: int) -> Row:
        return {
            "logs": reads.search_logs(self.tx, query),
            "stats": logstats.log_stats(self.tx, query, buckets),
        }

    def counts(self, project_id: str | None = None) -> Row:
        return reads.counts(self.tx, project_id)

    def app_versions(self, session_ids: list[str]) -> dict[str, str]:
        return reads.app_versions(self.tx, session_ids)

    def frontend_group_heads(self, project_id: str, limit: int) -> list[Row]:
        return groups.heads(self.tx, project_id, limit)

    def merge_error_groups(self, project_id: str, moves: list[tuple[int, str]]) -> int:
        """On the writer thread, after the rows waiting in its buffer are inserted."""
        if not moves:
            return 0
        return int(self.writer.submit(lambda tx: groups.merge(tx, project_id, moves), 1).result())

    def group_aliases(self, group_ids: list[int]) -> dict[int, tuple[int, str]]:
        return groups.aliases(self.tx, group_ids)

    # --- alerts ---
    def _put(self, table: str, rows: list[list[Any]], token: str, columns: tuple[str, ...]) -> None:
        if rows:
            self.writer.submit(
                lambda tx: self.writer.insert(table, rows, token, columns), 1
            ).result()

    def alert_rules(self, project_id: str | None = None) -> list[Row]:
        return alerts.rules(self.tx, project_id)

    def get_alert_rule(self, rule_id: str) -> Row | None:
        return alerts.get_rule(self.tx, rule_id)

    def save_alert_rule(self, rule_id: str, project_id: str, body: str) -> None:
        row = [rule_id, project_id, body, time.time() * 1000, 0]
        cols = ("id", "project_id", "body", "updated_ms", "deleted")
        self._put("alert_rules", [row], "", cols)
        if project_id not in self.alert_cursors():
            cursor = [project_id, str(time.time() * 1000), alerts.version()]
            self._put("alert_cursors", [cursor], "", ("project_id", "position", "version"))

    def delete_alert_rule(self, rule_id: str) -> bool:
        rule = self.get_alert_rule(rule_id)
        if rule is None:
            return False
        row = [rule_id, rule["project_id"], "", time.time() * 1000, 1]
        self._put("alert_rules", [row], "", ("id", "project_id", "body", "updated_ms", "deleted"))
        return True

    def alert_cursors(self) -> dict[str, str]:
        return alerts.cursors(self.tx)

    def alert_errors_after(self, project_id: str, cursor: str, limit: int) -> tuple[list[Row], str]:
        return alerts.errors_after(self.tx, project_id, cursor, limit, self._read_back)

    def alert_last_slots(self, rule_ids: list[str]) -> dict[str, float]:
        return alerts.last_slots(self.tx, rule_ids)

    def alert_spike_counts(
        self, project_id: str, asks: list[tuple[float, str, list[str]]]
    ) -> list[dict[str, int]]:
        return alerts.spike_counts(self.tx, project_id, asks)

    def alert_error_counts(
        self, project_id: str, since_ms: float, by: str, keys: list[str]
    ) -> dict[str, int]:
        return alerts.error_counts(self.tx, project_id, since_ms, by, keys)

    def alert_last_slot(self, rule_id: str) -> float | None:
        return alerts.last_slot(self.tx, rule_id)

    def alert_log_counts(
        self, query: LogQuery, environment: str | None, bucket_ms: float, cursor: str
    ) -> LogCounts:
        return alerts.log_counts(self.tx, query, environment, bucket_ms, cursor)

    def alert_resolutions_after(self, cursor: str, limit: int) -> tuple[list[Row], str]:
        return alerts.resolutions_after(self.tx, cursor, limit)

    def alert_fired_groups(self, rule_ids: list[str], group_ids: list[int]) -> list[Row]:
        return alerts.fired_groups(self.tx, rule_ids, group_ids)

    def enqueue_alerts(self, rows: list[OutboxRow], project_id: str, cursor: str) -> int:
        """The new rows first, then the cursor: a crash between the two reads the same
        errors again, and their keys are then known."""
        new = alerts.new_outbox_rows(self.tx, rows)
        self._put("alert_outbox", new, alerts.token("outbox/", [r[0] for r in new]), alerts.OUTBOX)
        cursor_row = [project_id, cursor, alerts.version()]
        self._put("alert_cursors", [cursor_row], "", ("project_id", "position", "version"))
        self._read_back.enqueued(project_id)
        return len(new)

    def due_alerts(self, now_ms: float, limit: int) -> list[Row]:
        return alerts.due(self.tx, now_ms, limit)

    def mark_alerts(
        self, rows: list[Row], state: str, attempts: int, next_ms: float, error: str
    ) -> None:
        new = alerts.marked(rows, state, attempts, next_ms, error)
        if not new:
            return
        self._put(
            "alert_outbox",
            new,
            alerts.token(f"mark/{new[0][-1]}/", [r[0] for r in new]),
            alerts.OUTBOX,
        )

    def log_alert_delivery(self, entry: Row) -> None:
        row = [entry[name] for name in alerts.DELIVERY]
        self._put("alert_deliveries", [row], "", alerts.DELIVERY)

    def log_alert_deliveries(self, entries: list[Row]) -> None:
        rows = [[entry[name] for name in alerts.DELIVERY] for entry in entries]
        self._put("alert_deliveries", rows, "", alerts.DELIVERY)

    def alert_deliveries(self, rule_id: str | None, limit: int, offset: int) -> Row:
        return alerts.deliveries(self.tx, rule_id, limit, offset)

    # --- source maps (store/clickhouse/artifacts.py) ---
    def put_artifact(self, artifact: Artifact, data: bytes) -> str:
        """The bytes first (unless the project has them), then the name: a crash between
        the two leaves a blob without a name, which the next upload of it uses."""
        a = artifact
        old = artifacts.current(self.tx, a.project_id, a.release, a.url)
        if old is not None and old.sha256 == a.sha256:
            return "unchanged"
        now = time.time() * 1000
        if not artifacts.has_blob(self.tx, a.project_id, a.sha256):
            blob = [a.project_id, a.sha256, len(data), data.decode(), now]
            token = f"blob/{a.project_id}/{a.sha256}"
            self._put("artifact_blobs", [blob], token, artifacts.BLOB)
        row = [a.project_id, a.release, a.url, a.kind, a.sha256, len(data), a.debug_id, a.ref]
        self._put("artifacts", [[*row, now, 0, alerts.version()]], "", artifacts.ARTIFACT)
        if old is None:
            return "stored"
        artifacts.drop_unreferenced(self.tx, a.project_id, [old.sha256])
        return "replaced"

    def get_artifact(
        self, project_id: str, release: str, url: str
    ) -> tuple[Artifact, bytes] | None:
        return artifacts.get(self.tx, project_id, release, url)

    def find_artifact(
        self, project_id: str, debug_id: str, kind: str = "map"
    ) -> tuple[Artifact, bytes] | None:
        return artifacts.find(self.tx, project_id, debug_id, kind)

    def list_artifacts(self, project_id: str, release: str | None, limit: int) -> list[Artifact]:
        return artifacts.listing(self.tx, project_id, release, limit)

    def artifact_usage(self, project_id: str, release: str) -> tuple[int, int]:
        return artifacts.usage(self.tx, project_id, release)

    def delete_artifacts(self, project_id: str, release: str) -> int:
        files = artifacts.listing(self.tx, project_id, release, 1_000_000)
        if not files:
            return 0
        now, version = time.time() * 1000, alerts.version()
        rows = [
            [f.project_id, f.release, f.url, f.kind, f.sha256, f.size, None, None, now, 1, version]
            for f in files
        ]
        self._put("artifacts", rows, "", artifacts.ARTIFACT)
        artifacts.drop_unreferenced(self.tx, project_id, sorted({f.sha256 for f in files}))
        return len(files)

    def purge_artifacts(self, cutoff_ms: float) -> int:
        return sum(
            self.delete_artifacts(p, r) for p, r in artifacts.old_releases(self.tx, cutoff_ms)
        )

    def create_upload_key(self, project_id: str, key_id: str, key_hash: str, masked: str) -> None:
        row = [key_hash, key_id, project_id, masked, time.time() * 1000, 0, alerts.version()]
        self._put("upload_keys", [row], "", artifacts.KEY)

    def upload_keys(self, project_id: str) -> list[Row]:
        return artifacts.keys(self.tx, project_id)

    def upload_key(self, key_hash: str) -> Row | None:
        found = artifacts.keys(self.tx, None, key_hash)
        return found[0] if found else None

    def delete_upload_key(self, project_id: str, key_id: str) -> bool:
        found = [k for k in artifacts.keys(self.tx, project_id) if k["id"] == key_id]
        rows = [
            [k["key_hash"], key_id, project_id, k["masked"], k["created_ms"], 1, alerts.version()]
            for k in found
        ]
        self._put("upload_keys", rows, "", artifacts.KEY)
        return bool(found)

    # --- the source-map fetch path's settings (store/clickhouse/fetchcfg.py) ---
    def sourcemap_fetch(self, project_id: str) -> FetchConfig:
        return fetchcfg.get(self.tx, project_id)

    def set_sourcemap_fetch(self, config: FetchConfig) -> FetchConfig:
        now = time.time() * 1000
        row = fetchcfg.row(config, now, alerts.version())
        self._put("sourcemap_fetch", [row], "", fetchcfg.COLUMNS)
        return FetchConfig(config.project_id, config.enabled, tuple(config.origins), now)
