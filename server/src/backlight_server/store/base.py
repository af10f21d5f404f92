"""The storage interface. Ingest, the query API, the UI and operations talk only to this.

``AppState.store`` is typed ``Store``; nothing outside ``store/<engine>/`` reaches into a
store's internals. A ClickHouse implementation provides the same methods. Write methods
are coroutines that complete once the data is durably committed (or raise ``Overloaded``
when the write queue is full); read methods are synchronous and are called from a worker
thread by the API layer. A read that runs past the store's query time limit raises
``QueryTimeout``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from backlight_server.pipeline.model import (
    BrowserBatch,
    Identify,
    SessionInfo,
    TelemetryBatch,
    TrackRecord,
)
from backlight_server.store.queries import ErrorGroupQuery, LogQuery, SessionQuery, TraceQuery

Row = dict[str, Any]


@dataclass(frozen=True, slots=True)
class OutboxRow:
    """One message to send: an event of a rule for one of its channels (``alerts/``).

    ``key`` is ``rule/channel/event key``; a store keeps one row per key, however often it
    is added. Rows of one rule, channel and ``slot_ms`` are sent together (a digest when
    there are more than the rule's threshold)."""

    key: str
    rule_id: str
    project_id: str
    channel: int  # index in the rule's channels
    slot_ms: float  # when the rule may send next (its cooldown)
    event: str  # the event as JSON (alerts/events.py)


@dataclass(frozen=True, slots=True)
class LogCounts:
    """Logs that match a ``log_match`` rule (``Store.alert_log_counts``), per bucket of
    their time (``int(ts_ms // bucket_ms)``). ``whole``: the buckets hold every match since
    the query's ``start_ms`` (they replace what the caller counted); otherwise only the
    matches committed after the cursor it passed (they add to it; none when nothing
    new was committed)."""

    buckets: dict[int, int]
    sample: Row | None  # the newest of the logs counted (id, ts_ms, body, level, service ...)
    cursor: str  # pass it back next time
    whole: bool


@dataclass(frozen=True, slots=True)
class Artifact:
    """One uploaded file of a release (``sourcemaps/``): a source map or the script it
    belongs to. Keyed by (project, release, url); ``url`` is the script's full URL (url
    prefix + relative path) or ``~/path`` for any origin. ``debug_id`` is the lowercase
    UUID that the bundler wrote in both the script and its map. ``ref``: a script's
    ``sourceMappingURL``, a map's ``file`` field (as written, clipped). The bytes are
    stored once per project and content hash (``sha256``, hex)."""

    project_id: str
    release: str
    url: str
    kind: str  # "map" | "script" | "other"
    sha256: str
    size: int
    debug_id: str | None = None
    ref: str | None = None
    uploaded_ms: float = 0.0


@dataclass(frozen=True, slots=True)
class FetchConfig:
    """A project's source-map fetch settings (``symbolicate/fetch.py``): off, and no
    origins, until set. ``origins`` are normalised by ``symbolicate/netguard.py``
    (``scheme://host[:port]`` or ``scheme://*.domain[:port]``)."""

    project_id: str
    enabled: bool = False
    origins: tuple[str, ...] = ()
    updated_ms: float = 0.0


NOT_OPEN = "store is not open"  # the health reason (and assertion) of a closed store


@dataclass(frozen=True, slots=True)
class Health:
    """Whether the store can write: one snapshot, replaced whole, read without a lock."""

    ok: bool = True
    reason: str = ""
    since: float = 0.0  # epoch seconds of the last change

    def failed(self, reason: str) -> Health:
        return self if not self.ok and self.reason == reason else Health(False, reason, time.time())

    def recovered(self) -> Health:
        return self if self.ok else Health(True, "", time.time())


class Store(Protocol):
    # lifecycle
    def open(self) -> None: ...
    def close(self) -> None: ...

    # projects
    def project_exists(self, project_id: str) -> bool: ...
    def create_project(self, name: str, project_id: str | None = None) -> str: ...
    def default_project(self) -> str: ...
    def list_projects(self) -> list[Row]: ...

    # writes
    async def write_telemetry(self, batch: TelemetryBatch, weight: int) -> None: ...
    async def write_browser(self, batch: BrowserBatch, weight: int) -> bool: ...
    async def start_session(self, info: SessionInfo) -> None: ...
    async def set_error_group_state(self, group_id: int, state: str) -> bool: ...
    async def annotate_session(
        self, secure_id: str, identify: Identify | None, track: list[TrackRecord]
    ) -> bool: ...
    def write_telemetry_sync(self, batch: TelemetryBatch, weight: int) -> None: ...
    def session_info(self, secure_id: str) -> SessionInfo | None: ...
    def purge_before(self, cutoff_ms: float) -> int: ...

    # reads
    def list_sessions(self, query: SessionQuery) -> Row: ...
    def get_session(self, secure_id: str) -> Row | None:
        """A session with its network rows (headers and bodies in ``detail``), each with
        its ``backend`` summary and its ``source``: ``"browser"``, or ``"server"`` for a
        request its backend records name that the browser did not record
        (``query/serverseen.py``: ``id`` null, the root span's method, URL, status and
        times); ``server_seen``: ``{shown, more, complete}``; console, frontend and
        backend errors, track events."""
        ...

    def get_session_overview(self, secure_id: str, summaries_up_to: int = 1000) -> Row | None:
        """``get_session`` for the UI's session page: network rows without ``detail``;
        ``backend`` None on every row when there are more than ``summaries_up_to``."""
        ...

    def backend_summaries(self, request_ids: list[str]) -> dict[str, Row]: ...
    def get_replay(self, secure_id: str, after_seq: int, limit: int) -> Row: ...
    def get_request(self, request_id: str) -> Row: ...
    def list_error_groups(self, query: ErrorGroupQuery) -> Row: ...
    def get_error_group(self, group_id: int, limit: int) -> Row | None: ...
    def error_group_facts(self, group_id: int, now_ms: float, sample: int) -> Row:
        """The group page's facts (``query/errorfacts.py``): ``hourly`` (24 hour counts,
        the last holding ``now_ms``), and over its latest ``sample`` instances: ``users``
        (distinct identified users of their sessions), ``sessions``, ``breakdowns`` (per
        dimension ``[value, count]`` pairs, most first) and ``instances`` (the latest 100,
        each with its user, URL or route, user agent and release)."""
        ...

    def search_logs(self, query: LogQuery) -> Row: ...
    def get_trace(self, trace_id: str) -> Row: ...
    def list_traces(self, query: TraceQuery) -> Row:
        """Traces newest first: ``{"traces": [{trace_id, name, service, services, start_ms,
        duration_ms, span_count, error_count, project_id}], limit, offset, has_more}``;
        ``name`` and ``service`` are the earliest span's."""
        ...

    def log_stats(self, query: LogQuery, buckets: int) -> Row:
        """Counts of the logs the query matches (its limit and offset ignored): per time
        bucket and level (at most ``buckets`` round-width buckets over the query's time
        range, or from the first to the last match when it has none), per level (without
        the query's level filter) and per service (without its service filter)."""
        ...

    def log_page(self, query: LogQuery, buckets: int) -> Row:
        """The log page's two reads of one query: ``{"logs": search_logs(query), "stats":
        log_stats(query, buckets)}``, the same answers, read together where the store can
        (SQLite: one walk of the search index for both)."""
        ...

    def counts(self, project_id: str | None = None) -> Row: ...
    def app_versions(self, session_ids: list[str]) -> dict[str, str]:
        """Each session's app version (the release its source maps were uploaded under),
        for those of these sessions that have one."""
        ...

    # error groups merged by source maps (symbolicate/regroup.py, docs/sourcemaps.md
    # "Grouping"). Synchronous: called from ingest worker threads and the regroup job.
    def frontend_group_heads(self, project_id: str, limit: int) -> list[Row]:
        """The project's frontend groups, the ``limit`` most recently seen first, each as
        ``{group_id, fingerprint}`` and its latest instance's ``type, message, stack,
        raw_stack, session_id, attributes``."""
        ...

    def merge_error_groups(self, project_id: str, moves: list[tuple[int, str]]) -> int:
        """Move each group ``(old id, new fingerprint)`` into the group of the new
        fingerprint (``ids.group_id``): instances keep their row ids and arrival times,
        counts add up, first/last seen widen, the state is open if any was, else resolved
        if any was, else ignored; the old id becomes an alias of the new one. Returns the
        groups moved (an old id that holds no group, or whose new id is itself, is
        skipped)."""
        ...

    def group_aliases(self, group_ids: list[int]) -> dict[int, tuple[int, str]]:
        """For those of these ids that were merged away: ``(new id, its fingerprint)``."""
        ...

    # alerts (alerts/): rules, the evaluator's cursor per project, the outbox, the
    # delivery log. Synchronous: called from the alerts thread and API worker threads.
    def alert_rules(self, project_id: str | None = None) -> list[Row]:
        """Rules as ``{id, project_id, body, updated_ms}`` (``body``: the rule as JSON)."""
        ...

    def get_alert_rule(self, rule_id: str) -> Row | None: ...
    def save_alert_rule(self, rule_id: str, project_id: str, body: str) -> None:
        """Create or replace a rule; the project's cursor starts at its latest error if it
        has none (a new rule never fires on what came before it)."""
        ...

    def delete_alert_rule(self, rule_id: str) -> bool: ...
    def alert_cursors(self) -> dict[str, str]:
        """Each project's cursor: how far the evaluator has read its committed errors.
        A name starting with ``#`` is another of its cursors, not a project
        (``#resolved``: the group resolutions read, ``alert_resolutions_after``)."""
        ...

    def alert_errors_after(self, project_id: str, cursor: str, limit: int) -> tuple[list[Row], str]:
        """Error instances committed after ``cursor`` (at most ``limit``, in commit order;
        ClickHouse: again those of a short overlap before it that were not read and then
        enqueued with ``enqueue_alerts`` already; a page never repeats) with their group's count,
        first and last seen, whether the instance made the group (``change``: "new") or
        reopened a resolved one ("reopened"), and its session's user (``user``) and the
        properties it identified with (``user_metadata``, JSON text as stored). Returns
        the rows and the cursor after them: the same cursor when nothing was read and it
        has not gone far (so an idle evaluation writes nothing)."""
        ...

    def alert_log_counts(
        self, query: LogQuery, environment: str | None, bucket_ms: float, cursor: str
    ) -> LogCounts:
        """Logs matching ``query`` as the log search matches them (``text``, ``project_id``,
        ``service``, ``level``; ``start_ms``: timed at or after it), and of
        ``environment`` when given, counted per bucket of their time: those committed
        after ``cursor``, or all of them (``whole``) when the cursor is ``""`` or the
        store cannot tell what came after it. Cheap when nothing new was committed."""
        ...

    def alert_resolutions_after(self, cursor: str, limit: int) -> tuple[list[Row], str]:
        """Error groups resolved (``set_error_group_state(…, "resolved")``, recorded at
        commit) after ``cursor``: ``{id, project_id, group_id, at_ms}``, ``id`` unique per
        resolution, in commit order (ClickHouse: again those of a short overlap before
        it). ``""``: none, and the cursor at the latest. Returns the rows and the cursor
        after them."""
        ...

    def alert_fired_groups(self, rule_ids: list[str], group_ids: list[int]) -> list[Row]:
        """What these rules' outbox rows said about these groups: ``{rule_id, channel,
        group_id, key}`` (``key``: the event's key), once each; rows whose event has no
        top-level ``group_id`` (a resolve, a log match) are not about a group."""
        ...

    def alert_error_counts(
        self, project_id: str, since_ms: float, by: str, keys: list[str]
    ) -> dict[str, int]:
        """Instances since ``since_ms`` (their time) per group id (``by="group"``) or
        per service (``by="service"``), for the ``keys`` asked."""
        ...

    def alert_last_slot(self, rule_id: str) -> float | None:
        """The latest ``slot_ms`` of the rule's outbox rows (its cooldown), if any."""
        ...

    def alert_last_slots(self, rule_ids: list[str]) -> dict[str, float]:
        """``alert_last_slot`` of many rules in one read: those with outbox rows."""
        ...

    def alert_spike_counts(
        self, project_id: str, asks: list[tuple[float, str, list[str]]]
    ) -> list[dict[str, int]]:
        """``alert_error_counts`` for each ``(since_ms, by, keys)`` asked, in one read where
        the store can (the evaluator's spike rules of a project, every evaluation)."""
        ...

    def enqueue_alerts(self, rows: list[OutboxRow], project_id: str, cursor: str) -> int:
        """Add outbox rows (pending, due at their slot) whose keys are new, and move the
        project's cursor (or the cursor named ``project_id``, ``#resolved``), together
        where the store can. Returns how many were new."""
        ...

    def due_alerts(self, now_ms: float, limit: int) -> list[Row]:
        """Outbox rows pending (or interrupted while sending) and due by ``now_ms``."""
        ...

    def mark_alerts(
        self, rows: list[Row], state: str, attempts: int, next_ms: float, error: str
    ) -> None:
        """Set the state of outbox rows (as ``due_alerts`` gave them): ``sending``,
        ``pending`` (a retry at ``next_ms``), ``delivered`` or ``failed``."""
        ...

    def log_alert_delivery(self, entry: Row) -> None:
        """One delivery attempt: at_ms, rule_id, channel, kind, key, events, ok, status,
        error, attempt."""
        ...

    def log_alert_deliveries(self, entries: list[Row]) -> None:
        """Many ``log_alert_delivery`` entries in one write (the deliverer's, per tick)."""
        ...

    def alert_deliveries(self, rule_id: str | None, limit: int, offset: int) -> Row:
        """The delivery log, newest first: ``{total, limit, offset, deliveries}``."""
        ...

    # source maps (sourcemaps/): uploaded artifacts and the keys that may upload them.
    # Synchronous: called from API worker threads and the CLI.
    def put_artifact(self, artifact: Artifact, data: bytes) -> str:
        """Store a file under (project, release, url): ``"unchanged"`` when that name
        already holds these bytes (same ``sha256``: nothing written), ``"replaced"`` when
        it held other bytes, else ``"stored"``. Bytes already stored for the project under
        the same hash (another release, another name) are not stored again."""
        ...

    def get_artifact(
        self, project_id: str, release: str, url: str
    ) -> tuple[Artifact, bytes] | None:
        """The file stored under this name, with its bytes."""
        ...

    def find_artifact(
        self, project_id: str, debug_id: str, kind: str = "map"
    ) -> tuple[Artifact, bytes] | None:
        """The file of ``kind`` with this debug id (the newest upload when several)."""
        ...

    def list_artifacts(self, project_id: str, release: str | None, limit: int) -> list[Artifact]:
        """A release's files (every release's when ``None``), by url, without bytes."""
        ...

    def artifact_usage(self, project_id: str, release: str) -> tuple[int, int]:
        """(files in this release, bytes the project's stored blobs take)."""
        ...

    def delete_artifacts(self, project_id: str, release: str) -> int:
        """Delete a release's files (and bytes no other file refers to); how many."""
        ...

    def purge_artifacts(self, cutoff_ms: float) -> int:
        """Delete every release whose newest upload is before ``cutoff_ms``."""
        ...

    def create_upload_key(self, project_id: str, key_id: str, key_hash: str, masked: str) -> None:
        """Keep an upload key: only its SHA-256 (hex) and a masked form for display."""
        ...

    def upload_keys(self, project_id: str) -> list[Row]:
        """A project's keys: ``{id, project_id, key_hash, masked, created_ms}``."""
        ...

    def upload_key(self, key_hash: str) -> Row | None:
        """The key with this hash (as in ``upload_keys``), if it exists."""
        ...

    def delete_upload_key(self, project_id: str, key_id: str) -> bool: ...

    # the source-map fetch path (symbolicate/fetch.py): per project, off by default
    def sourcemap_fetch(self, project_id: str) -> FetchConfig:
        """The project's fetch settings; ``FetchConfig(project_id)`` (off) when never set."""
        ...

    def set_sourcemap_fetch(self, config: FetchConfig) -> FetchConfig:
        """Replace the project's fetch settings (checked by the caller); the stored value,
        with ``updated_ms`` now."""
        ...

    # background jobs: run by one server of many
    def lease(self, name: str, holder: str, seconds: float) -> bool:
        """Whether ``holder`` holds the lease ``name`` for the next ``seconds`` (taken, or
        renewed, now). Background jobs run only on the server that holds their lease, so
        servers sharing one store run each job once, not once each."""
        ...

    # operations: figures for /healthz and /metrics
    def queue_depth(self) -> int: ...
    def health(self) -> Health: ...
    def observe_writes(self, seconds: Callable[[float], None]) -> None:
        """Call ``seconds`` with the duration of every committed write from now on."""
        ...
