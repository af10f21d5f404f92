"""What the write queues of every store share."""

from __future__ import annotations

import queue
from concurrent.futures import Future
from typing import Any, Protocol

from backlight_server.errors import StorageUnavailable


class _Job(Protocol):
    @property
    def future(self) -> Future[Any]: ...


def fail_queued(jobs: queue.Queue[Any]) -> None:
    """Fail what is left in a stopped writer's queue (``StorageUnavailable``), so nothing
    waits forever for a write that will not run."""
    while True:
        try:
            job: _Job | None = jobs.get_nowait()
        except queue.Empty:
            return
        if job is not None and not job.future.done():
            job.future.set_exception(StorageUnavailable("the store is closed"))
