"""The writer thread of a ClickHouse store: a buffer of its own, flushed as few inserts.

ClickHouse wants few, large inserts. Telemetry jobs waiting in the queue are merged into one
insert per table; a job's future resolves once its rows are inserted (committed: a part
on disk, or, over HTTP with ``async_insert``, flushed by the server before it answers).

A browser batch is inserted on its own, each table with the batch's deduplication token
(session id and sequence number), so the same batch retried, on this server or another,
is stored once.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any

from backlight_server.errors import Overloaded, StorageUnavailable
from backlight_server.pipeline.model import BrowserBatch, TelemetryBatch
from backlight_server.store.base import Health
from backlight_server.store.clickhouse import writes
from backlight_server.store.clickhouse.transport import NO_LIMIT, Transport
from backlight_server.store.jobs import fail_queued

log = logging.getLogger("backlight.writer")
MAX_GROUP_JOBS = 256
MAX_GROUP_WEIGHT = 16 * 1024 * 1024
# Hostile clients may spread one batch over the whole accepted time window (366 days).
_INSERT = {"insert_deduplicate": 0, "max_partitions_per_insert_block": 400}


Work = TelemetryBatch | BrowserBatch | Callable[[Transport], Any]


@dataclass(slots=True)
class Job:
    work: Work
    weight: int
    future: Future[Any] = field(default_factory=Future)


class Writer:
    def __init__(
        self,
        tx: Transport,
        max_jobs: int,
        max_weight: int,
        insert_settings: dict[str, str | int] | None = None,
    ) -> None:
        self._tx = tx
        self._queue: queue.Queue[Job | None] = queue.Queue()
        self._max_jobs, self._max_weight = max_jobs, max_weight
        self._weight = 0
        self._lock = threading.Lock()
        self._stopped = False
        self._settings = {**_INSERT, **(insert_settings or {})}
        self._thread = threading.Thread(target=self._run, name="backlight-writer", daemon=True)
        self.health = Health()
        self.observe_commit: Callable[[float], None] | None = None

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        """Stop after the queued writes; writes submitted meanwhile or later fail
        (``StorageUnavailable``) instead of waiting forever."""
        with self._lock:
            self._stopped = True
        self._queue.put(None)
        self._thread.join(timeout=30)
        fail_queued(self._queue)

    def alive(self) -> bool:
        return self._thread.is_alive()

    def depth(self) -> int:
        return self._queue.qsize()

    def submit(self, work: Work, weight: int) -> Future[Any]:
        with self._lock:
            if self._stopped:
                raise StorageUnavailable("the store is closed")
            if self._queue.qsize() >= self._max_jobs or self._weight + weight > self._max_weight:
                raise Overloaded()
            self._weight += weight
        job = Job(work, weight)
        self._queue.put(job)
        return job.future

    # --- the thread ---
    def _run(self) -> None:
        while True:
            first = self._queue.get()
            if first is None:
                return
            group, weight, stop = [first], first.weight, False
            while len(group) < MAX_GROUP_JOBS and weight < MAX_GROUP_WEIGHT:
                try:
                    nxt = self._queue.get_nowait()
                except queue.Empty:
                    break
                if nxt is None:
                    stop = True
                    break
                group.append(nxt)
                weight += nxt.weight
            started = time.perf_counter()
            self._flush(group)
            if self.observe_commit is not None:
                self.observe_commit(time.perf_counter() - started)
            with self._lock:
                self._weight -= weight
            if stop:
                return

    def _flush(self, group: list[Job]) -> None:
        now = time.time() * 1000
        merged: writes.Rows = {}
        waiting: list[Job] = []
        pending: writes.Seen = []
        for job in group:
            try:
                if isinstance(job.work, TelemetryBatch):
                    for table, rows in writes.telemetry(self._tx, job.work, now, pending).items():
                        merged.setdefault(table, []).extend(rows)
                    waiting.append(job)
                elif isinstance(job.work, BrowserBatch):
                    job.future.set_result(self._browser(job.work, now, pending))
                else:
                    job.future.set_result(job.work(self._tx))
                self.health = self.health.recovered()
            except Exception as exc:
                self._failed(job, exc)
        if not waiting:
            return
        try:
            for table, rows in merged.items():
                self.insert(table, rows)
        except Exception as exc:
            for job in waiting:
                self._failed(job, exc)
            return
        self.health = self.health.recovered()
        for job in waiting:
            job.future.set_result(None)

    def _failed(self, job: Job, exc: Exception) -> None:
        if isinstance(exc, Overloaded | StorageUnavailable):
            job.future.set_exception(exc)
            return
        log.error("write failed: %r", exc)
        self.health = self.health.failed("the ClickHouse store refused a write")
        job.future.set_exception(StorageUnavailable("the store refused the write"))

    def insert(
        self,
        table: str,
        rows: Sequence[Sequence[Any]],
        token: str = "",
        columns: Sequence[str] | None = None,
    ) -> None:
        if not rows:  # e.g. a batch whose only error repeats one stored before: an empty
            return  # insert is refused by the engine (NO_DATA_TO_INSERT)
        settings: dict[str, str | int] = dict(self._settings)
        if token:
            # Deduplicated by token: a synchronous insert (a server ignores the tokens of
            # async inserts on tables that are not replicated).
            settings["insert_deduplicate"] = 1
            settings["insert_deduplication_token"] = token
            settings.pop("async_insert", None)
            settings.pop("wait_for_async_insert", None)
        self._tx.insert(table, columns or writes.COLUMNS[table], writes.encode(rows), settings)

    def _browser(self, batch: BrowserBatch, now: float, pending: writes.Seen) -> bool:
        sid, seq = batch.session.secure_id, batch.seq
        seen = self._tx.query(
            "SELECT 1 FROM batches WHERE session_id = {sid:String} AND seq = {seq:Int64} LIMIT 1",
            {"sid": sid, "seq": seq},
            NO_LIMIT,
        )
        if seen:
            return False
        rows = writes.browser(self._tx, batch, now, pending)
        token = f"{sid}/{seq}"
        # The batch's own row last: if an insert fails part-way, the retry is not refused as
        # a duplicate, and the tables already written drop their copy by the token.
        for table, table_rows in rows.items():
            if table != "batches":
                self.insert(table, table_rows, token)
        self.insert("batches", rows["batches"], token)
        return True
