"""The one background thread that encodes, compresses and sends what the app queued."""

from __future__ import annotations

import os
import threading
import time
import weakref
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from opentelemetry import context as otel_context

from backlight._debug import debug, internal_error
from backlight.export.buffer import Buffer


@dataclass
class Stats:
    """Counters for what was exported, dropped and failed (read them in debug mode)."""

    exported: dict[str, int] = field(default_factory=dict)
    failed: dict[str, int] = field(default_factory=dict)


class Signal:
    """One buffered signal (traces or logs): its buffer, encoder and endpoint path."""

    def __init__(
        self,
        name: str,
        path: str,
        encode: Callable[[list[Any]], bytes],
        maxsize: int,
        batch_size: int,
        wake: Callable[[], None],
    ) -> None:
        self.name = name
        self.path = path
        self.encode = encode
        self.batch_size = batch_size
        self.buffer: Buffer[Any] = Buffer(maxsize, batch_size, wake)


class Worker:
    """Sends full batches as soon as they fill, and everything else each ``interval``.

    Between timer ticks only full batches go out: a busy app keeps adding spans while a
    batch is being sent, and sending that trickle at once would turn one POST per batch
    into one POST per handful of spans, each costing the app the CPU of a whole request.
    """

    def __init__(
        self,
        send: Callable[[str, bytes, float | None], None],
        interval: float = 1.0,
        after_fork: Callable[[], None] | None = None,
    ) -> None:
        self.send = send
        self._after_fork_hook = after_fork  # what else a forked child must not share
        self.interval = interval
        self.signals: list[Signal] = []
        self.stats = Stats()
        self._wake = threading.Event()
        self._lock = threading.Lock()
        self._flushed = threading.Condition(self._lock)
        self._generation = 0  # bumped after each full drain; flush() waits for it to move
        self._draining = False
        self._flush_wanted = False  # the next wake drains everything, full batch or not
        self._stopping = False
        self._thread: threading.Thread | None = None
        self._pid = os.getpid()
        _live_workers.add(self)

    def add_signal(
        self,
        name: str,
        path: str,
        encode: Callable[[list[Any]], bytes],
        maxsize: int,
        batch_size: int,
    ) -> Signal:
        signal = Signal(name, path, encode, maxsize, batch_size, self._wake.set)
        self.signals.append(signal)
        return signal

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="backlight-export", daemon=True)
        self._thread.start()

    def flush(self, timeout: float = 5.0) -> bool:
        """Export everything queued so far; False when ``timeout`` ran out first."""
        deadline = time.monotonic() + timeout
        if self._thread is None or not self._thread.is_alive():
            self._drain(deadline)
            return not any(len(s.buffer) for s in self.signals)
        with self._lock:
            # A drain already under way may have passed the newest items: wait for the next.
            target = self._generation + (2 if self._draining else 1)
            self._flush_wanted = True
            self._wake.set()
            while self._generation < target:
                left = deadline - time.monotonic()
                if left <= 0 or not self._flushed.wait(left):
                    return False
        return True

    def stop(self, timeout: float = 5.0) -> None:
        self.flush(timeout)
        self._stopping = True
        self._wake.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout)
        _live_workers.discard(self)

    def dropped(self) -> dict[str, int]:
        return {s.name: s.buffer.dropped for s in self.signals}

    def _run(self) -> None:
        last_full_drain = time.monotonic()
        while not self._stopping:
            self._wake.wait(max(0.0, last_full_drain + self.interval - time.monotonic()))
            with self._lock:
                self._wake.clear()
                everything = (
                    self._flush_wanted
                    or self._stopping
                    or time.monotonic() - last_full_drain >= self.interval
                )
                self._flush_wanted = False
                self._draining = everything
            if not everything:  # woken by a full batch
                self._drain(None, full_batches_only=True)
                continue
            last_full_drain = time.monotonic()
            self._drain(None)
            with self._lock:
                self._draining = False
                self._generation += 1
                self._flushed.notify_all()

    def _drain(self, deadline: float | None, full_batches_only: bool = False) -> None:
        token = otel_context.attach(
            otel_context.set_value(otel_context._SUPPRESS_INSTRUMENTATION_KEY, True)
        )
        try:
            for signal in self.signals:
                least = signal.batch_size if full_batches_only else 1
                while len(signal.buffer) >= least:
                    self._export(signal, signal.buffer.take(signal.batch_size), deadline)
        finally:
            otel_context.detach(token)

    def _export(self, signal: Signal, batch: list[Any], deadline: float | None) -> None:
        try:
            payload = signal.encode(batch)
            self.send(signal.path, payload, deadline)
        except Exception:
            self.stats.failed[signal.name] = self.stats.failed.get(signal.name, 0) + len(batch)
            internal_error(f"export of {len(batch)} {signal.name}")
            return
        self.stats.exported[signal.name] = self.stats.exported.get(signal.name, 0) + len(batch)
        debug("backlight: exported %d %s", len(batch), signal.name)

    def _after_fork(self) -> None:
        """In a forked child: the parent's thread is gone, and its queue (and, through the
        hook, its connection) is not ours."""
        if self._after_fork_hook is not None:
            self._after_fork_hook()
        self._wake = threading.Event()
        self._lock = threading.Lock()
        self._flushed = threading.Condition(self._lock)
        for signal in self.signals:
            signal.buffer.clear()
            signal.buffer.wake = self._wake.set
        self._pid = os.getpid()
        if self._thread is not None and not self._stopping:
            self.start()


_live_workers: weakref.WeakSet[Worker] = weakref.WeakSet()


def _after_fork_in_child() -> None:
    for worker in list(_live_workers):
        try:
            worker._after_fork()
        except Exception:
            internal_error("after fork")


os.register_at_fork(after_in_child=_after_fork_in_child)
