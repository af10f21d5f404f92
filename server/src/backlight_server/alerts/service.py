"""The alerts thread: evaluation and delivery, every ``alert_interval_s``, on one server.

A daemon thread with its own event loop, started by ``create_app`` (like the retention
``Purger``): nothing here runs on the server's event loop or the ingest path. Each tick it
takes (or renews) the store lease ``alerts``; only its holder evaluates and delivers, so
servers sharing a store do it once. A holder that dies loses the lease after
``lease_seconds`` (ten intervals, 2 to 30 s), and another server (or its restart) takes
over from the cursors and the outbox. A server that stops gives the lease up, so another
takes over at its next tick.
"""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
import socket
import threading
import time

import httpx

from backlight_server.alerts.deliver import MAX_CONNECTIONS, TIMEOUT_S, Deliverer
from backlight_server.alerts.evaluate import Evaluator
from backlight_server.errors import StorageUnavailable
from backlight_server.store.base import NOT_OPEN, Store

log = logging.getLogger("backlight.alerts")


class AlertService:
    def __init__(self, store: Store, base_url: str, interval_s: float) -> None:
        self.store, self.interval = store, max(0.05, interval_s)
        self.evaluator = Evaluator(store, base_url)
        self.holder = f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"
        self.lease_seconds = min(30.0, max(2.0, 10 * self.interval))
        self._held_until = 0.0
        self._storage_down: str | None = None  # the reason, while writes fail
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="backlight-alerts", daemon=True)

    def start(self) -> None:
        self._thread.start()

    @staticmethod
    def _report_storage(was: str | None, now: str | None) -> str | None:
        """One log line when the store stops taking writes and one when it takes them again
        (every tick fails while the disk is full): what the store's health says too."""
        if now is not None and now != was:
            log.warning("alerts: paused, the store cannot write: %s", now)
        elif now is None and was is not None:
            log.info("alerts: the store writes again, alerts resume")
        return now

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=TIMEOUT_S + 5)

    def _leader(self) -> bool:
        """Renew when a quarter of the lease has passed; otherwise trust the last answer."""
        now = time.monotonic()
        if now < self._held_until - 0.75 * self.lease_seconds:
            return True
        if self.store.lease("alerts", self.holder, self.lease_seconds):
            self._held_until = now + self.lease_seconds
            return True
        self._held_until = 0.0
        return False

    def _run(self) -> None:
        asyncio.run(self._main())

    async def _main(self) -> None:
        limits = httpx.Limits(max_connections=MAX_CONNECTIONS)
        async with httpx.AsyncClient(timeout=TIMEOUT_S, limits=limits) as client:
            deliverer = Deliverer(self.store, client)
            while not self._stop.is_set():
                started = time.monotonic()
                if self.store.health().reason == NOT_OPEN:
                    break  # closed without a shutdown (tests that build the app alone)
                try:
                    if await asyncio.to_thread(self._leader):
                        now = time.time() * 1000
                        await asyncio.to_thread(self.evaluator.run_once, now)
                        rules = self.evaluator.rule_rows  # read by this evaluation
                        await deliverer.run_once(time.time() * 1000, rules)
                    self._storage_down = self._report_storage(self._storage_down, None)
                except StorageUnavailable as exc:  # disk full, say: one line, not a traceback
                    self._storage_down = self._report_storage(self._storage_down, exc.reason)
                except Exception:
                    log.exception("alerts: evaluation failed")
                # a tick every interval, however long the work took (at least a tenth of
                # it idle): an event waits an interval at most before it is evaluated
                idle = max(0.1 * self.interval, self.interval - (time.monotonic() - started))
                await asyncio.to_thread(self._stop.wait, idle)
            if deliverer.tasks:  # let messages on their way finish (each has a timeout)
                await asyncio.wait(deliverer.tasks, timeout=TIMEOUT_S + 1)
            try:
                await deliverer.flush()  # their outcomes and log entries
            except Exception:
                log.exception("alerts: the last delivery outcomes could not be written")
        if self._held_until:  # another server takes over at its next tick, not at expiry
            try:
                self.store.lease("alerts", self.holder, 0)
            except Exception:  # a store closing under us: the lease runs out by itself
                log.debug("alerts: the lease could not be given up", exc_info=True)
