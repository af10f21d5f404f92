"""Independent statements of one view, run at the same time.

A view of the ClickHouse store reads in a few rounds of statements that do not depend on
each other (a session's row, its network, console and errors; then what those name). Both
transports run statements of different threads in parallel: the embedded engine on a
connection each, a server over HTTP on a connection each. So a round costs its slowest
statement, not the sum: ``together`` runs the first call in the calling thread and the
others on a small pool of threads.

A call that runs on the pool never waits for the pool (``together`` inside it runs its
calls one after another), so a full pool cannot wait on itself.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, TypeVar

WORKERS = 8
_PREFIX = "backlight-ch-read"
_pool: ThreadPoolExecutor | None = None
_pool_lock = threading.Lock()

A = TypeVar("A")
B = TypeVar("B")
C = TypeVar("C")


def _executor() -> ThreadPoolExecutor:
    global _pool
    with _pool_lock:
        if _pool is None:
            _pool = ThreadPoolExecutor(WORKERS, thread_name_prefix=_PREFIX)
        return _pool


def run(*calls: Callable[[], Any]) -> list[Any]:
    """Each call's result, in order; the first exception raised (after all have ended)."""
    if len(calls) < 2 or threading.current_thread().name.startswith(_PREFIX):
        return [call() for call in calls]
    pool = _executor()
    futures: list[Future[Any]] = [pool.submit(call) for call in calls[1:]]
    first: Future[Any] = Future()
    try:
        first.set_result(calls[0]())
    except BaseException as exc:  # reported after the others have ended
        first.set_exception(exc)
    done = [first, *futures]
    for future in done:
        future.exception()  # wait for every call: none outlives the view
    return [future.result() for future in done]


def two(a: Callable[[], A], b: Callable[[], B]) -> tuple[A, B]:
    ra, rb = run(a, b)
    return ra, rb


def three(a: Callable[[], A], b: Callable[[], B], c: Callable[[], C]) -> tuple[A, B, C]:
    ra, rb, rc = run(a, b, c)
    return ra, rb, rc
