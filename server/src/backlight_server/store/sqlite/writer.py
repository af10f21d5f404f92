"""The single writer thread: jobs from a bounded queue, committed in groups.

Each job runs inside its own SAVEPOINT in a shared ``BEGIN IMMEDIATE`` transaction, so a
failing job is rolled back alone while its neighbours still commit. A job's future
resolves only after COMMIT returns, so a 2xx from ingest means the data is on disk.

A storage failure (disk full, read-only, I/O error; see ``health.py``) is not one job's
fault: the whole group is rolled back, every job in it fails with ``StorageUnavailable``
and ``health`` turns not ok. It turns ok again when a commit succeeds. Without traffic, the
thread probes (one tiny real write) every ``PROBE_FAILING_S`` while failing and after
``PROBE_IDLE_S`` without a write while ok, so ``/healthz`` follows the disk either way.
"""

from __future__ import annotations

import logging
import queue
import sqlite3
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from backlight_server.errors import Overloaded, StorageUnavailable
from backlight_server.store.jobs import fail_queued
from backlight_server.store.sqlite.health import Health, short_of_space, storage_reason

log = logging.getLogger("backlight.writer")
Apply = Callable[[sqlite3.Connection], Any]
MAX_GROUP_WEIGHT = 8 * 1024 * 1024
MAX_GROUP_JOBS = 256
PROBE_IDLE_S = 30.0
PROBE_FAILING_S = 2.0


def write_probe(conn: sqlite3.Connection) -> None:
    """The smallest real write: page 1 rewritten (same ``user_version``) and committed."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        version = int(conn.execute("PRAGMA user_version").fetchone()[0])
        conn.execute(f"PRAGMA user_version={version}")
        conn.execute("COMMIT")
    except BaseException:
        rollback(conn)
        raise


def rollback(conn: sqlite3.Connection) -> None:
    """Roll back what is open; SQLite may already have done it (after SQLITE_FULL, IOERR)."""
    if not conn.in_transaction:
        return
    try:
        conn.execute("ROLLBACK")
    except sqlite3.Error as exc:
        log.error("rollback failed: %r", exc)


@dataclass(slots=True)
class Job:
    apply: Apply
    weight: int
    future: Future[Any] = field(default_factory=Future)


Outcome = tuple[Job, Any, BaseException | None]  # a job, its value, or its error


class Writer:
    def __init__(
        self, conn: sqlite3.Connection, max_jobs: int, max_weight: int, folder: Path | None = None
    ) -> None:
        self._conn = conn
        self._folder = folder
        self.health = Health()
        self._queue: queue.Queue[Job | None] = queue.Queue()
        self._max_jobs = max_jobs
        self._max_weight = max_weight
        self._weight = 0
        self._lock = threading.Lock()
        self._stopped = False
        self._thread = threading.Thread(target=self._run, name="backlight-writer", daemon=True)
        # called with each group commit's duration in seconds (the metrics histogram)
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

    def depth(self) -> int:
        return self._queue.qsize()

    def alive(self) -> bool:
        return self._thread.is_alive()

    def submit(self, apply: Apply, weight: int = 1) -> Future[Any]:
        """Queue a write; raise ``Overloaded`` if the queue is full."""
        with self._lock:
            if self._stopped:
                raise StorageUnavailable("the store is closed")
            if self._queue.qsize() >= self._max_jobs or (
                self._weight + weight > self._max_weight and self._weight > 0
            ):
                raise Overloaded(retry_after=1)
            self._weight += weight
        job = Job(apply, weight)
        self._queue.put(job)
        return job.future

    def _take_group(self, first: Job) -> tuple[list[Job], bool]:
        group, weight, stop = [first], first.weight, False
        while len(group) < MAX_GROUP_JOBS and weight < MAX_GROUP_WEIGHT:
            try:
                job = self._queue.get_nowait()
            except queue.Empty:
                break
            if job is None:
                stop = True
                break
            group.append(job)
            weight += job.weight
        return group, stop

    def _run(self) -> None:
        while True:
            try:
                first = self._queue.get(timeout=PROBE_IDLE_S if self.health.ok else PROBE_FAILING_S)
            except queue.Empty:
                self._probe()
                continue
            if first is None:
                return
            group, stop = self._take_group(first)
            self._commit(group)
            if stop:
                return

    def _commit(self, group: list[Job]) -> None:
        started = time.perf_counter()
        try:
            results, wrote = self._apply_group(group)
        except Exception as exc:
            rollback(self._conn)
            reason = self._reason(exc)
            if reason is None:
                log.exception("commit failed")
                results = [(job, None, exc) for job in group]
            else:
                self._failed(reason)
                results = [(job, None, StorageUnavailable(reason)) for job in group]
        else:
            if wrote:  # a commit that wrote nothing (only reads, or only failed jobs) proves
                self._recovered()  # nothing about the disk
        if self.observe_commit is not None:
            self.observe_commit(time.perf_counter() - started)
        with self._lock:
            self._weight -= sum(job.weight for job in group)
        for job, value, error in results:
            if error is not None:
                job.future.set_exception(error)
            else:
                job.future.set_result(value)

    def _apply_group(self, group: list[Job]) -> tuple[list[Outcome], bool]:
        """Run the jobs in one transaction, each in a savepoint; raise on a storage failure.

        Returns each job's outcome, and whether any job that is kept changed a row.
        """
        results: list[Outcome] = []
        wrote = False
        conn = self._conn
        conn.execute("BEGIN IMMEDIATE")
        for job in group:
            conn.execute("SAVEPOINT job")
            changes = conn.total_changes
            try:
                value = job.apply(conn)
            except Exception as exc:  # a bad job must not sink its neighbours
                if storage_reason(exc) is not None:
                    raise  # ... but a full or read-only disk sinks them all
                conn.execute("ROLLBACK TO job")
                conn.execute("RELEASE job")
                log.warning("write job failed: %r", exc)
                results.append((job, None, exc))
            else:
                wrote = wrote or conn.total_changes != changes
                conn.execute("RELEASE job")
                results.append((job, value, None))
        conn.execute("COMMIT")
        return results, wrote

    def _probe(self) -> None:
        """One tiny real write, on this thread, when no job came for a while."""
        # After "disk full", probe only once space is free again: a one-page probe could
        # otherwise succeed in space that the failed commit left allocated in the WAL file.
        failing = self.health
        if (
            not failing.ok
            and failing.reason.startswith("disk full")
            and short_of_space(self._folder)
        ):
            return
        try:
            write_probe(self._conn)
        except Exception as exc:
            reason = self._reason(exc)
            if reason is None:
                log.warning("probe write failed: %r", exc)  # e.g. busy: says nothing
            else:
                self._failed(reason)
            return
        self._recovered()

    def _reason(self, exc: BaseException) -> str | None:
        return storage_reason(exc, self._folder)

    def _failed(self, reason: str) -> None:
        if self.health.ok or self.health.reason != reason:
            log.error("storage unavailable: %s; ingest answers 503 until a write succeeds", reason)
        self.health = self.health.failed(reason)

    def _recovered(self) -> None:
        if not self.health.ok:
            log.warning("storage writable again (was: %s)", self.health.reason)
        self.health = self.health.recovered()
