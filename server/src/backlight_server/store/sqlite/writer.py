"""The single writer thread: jobs from a bounded queue, committed in groups.

Each job runs inside its own SAVEPOINT in a shared ``BEGIN IMMEDIATE`` transaction, so a
failing job is rolled back alone while its neighbours still commit. A job's future
resolves only after COMMIT returns, so a 2xx from ingest means the data is on disk.
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
from typing import Any

from backlight_server.errors import Overloaded

log = logging.getLogger("backlight.writer")
Apply = Callable[[sqlite3.Connection], Any]
MAX_GROUP_WEIGHT = 8 * 1024 * 1024
MAX_GROUP_JOBS = 256


@dataclass(slots=True)
class Job:
    apply: Apply
    weight: int
    future: Future[Any] = field(default_factory=Future)


@dataclass
class WriterStats:
    commits: int = 0
    jobs: int = 0
    failed_jobs: int = 0
    last_commit_seconds: float = 0.0
    observe: Callable[[float], None] | None = None


class Writer:
    def __init__(self, conn: sqlite3.Connection, max_jobs: int, max_weight: int) -> None:
        self._conn = conn
        self._queue: queue.Queue[Job | None] = queue.Queue()
        self._max_jobs = max_jobs
        self._max_weight = max_weight
        self._weight = 0
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._run, name="backlight-writer", daemon=True)
        self.stats = WriterStats()

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._queue.put(None)
        self._thread.join(timeout=30)

    def depth(self) -> int:
        return self._queue.qsize()

    def submit(self, apply: Apply, weight: int = 1) -> Future[Any]:
        """Queue a write; raise ``Overloaded`` if the queue is full."""
        with self._lock:
            if self._queue.qsize() >= self._max_jobs or (
                    self._weight + weight > self._max_weight and self._weight > 0):
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
            first = self._queue.get()
            if first is None:
                return
            group, stop = self._take_group(first)
            self._commit(group)
            if stop:
                return

    def _commit(self, group: list[Job]) -> None:
        started = time.perf_counter()
        results: list[tuple[Job, Any, BaseException | None]] = []
        conn = self._conn
        try:
            conn.execute("BEGIN IMMEDIATE")
            for job in group:
                conn.execute("SAVEPOINT job")
                try:
                    value = job.apply(conn)
                except Exception as exc:  # a bad job must not sink its neighbours
                    conn.execute("ROLLBACK TO job")
                    conn.execute("RELEASE job")
                    log.warning("write job failed: %r", exc)
                    results.append((job, None, exc))
                else:
                    conn.execute("RELEASE job")
                    results.append((job, value, None))
            conn.execute("COMMIT")
        except Exception as exc:
            log.exception("commit failed")
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            results = [(job, None, exc) for job in group]
        elapsed = time.perf_counter() - started
        self.stats.commits += 1
        self.stats.last_commit_seconds = elapsed
        if self.stats.observe is not None:
            self.stats.observe(elapsed)
        with self._lock:
            self._weight -= sum(job.weight for job in group)
        for job, value, error in results:
            self.stats.jobs += 1
            if error is not None:
                self.stats.failed_jobs += 1
                job.future.set_exception(error)
            else:
                job.future.set_result(value)
