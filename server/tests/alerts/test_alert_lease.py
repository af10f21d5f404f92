"""A server that stops gives the alerts lease up: another server takes over at its next
tick, not when the lease would have run out (up to 30 s without alerts on a restart)."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from blstores import make

from backlight_server.alerts.service import AlertService
from backlight_server.errors import StorageUnavailable
from backlight_server.testing import wait_for


@pytest.mark.parametrize("kind", ["sqlite", "chdb"])
def test_a_stopped_alert_service_gives_its_lease_up(kind: str, tmp_path: Path) -> None:
    store = make(kind, tmp_path)
    store.open()
    try:
        service = AlertService(store, "http://127.0.0.1:1", 0.2)
        assert service.lease_seconds >= 2
        service.start()
        wait_for(lambda: service._held_until, "the service to take the lease")
        assert not store.lease("alerts", "another server", 10)  # held while it runs
        service.stop()
        assert store.lease("alerts", "another server", 10)  # free at once after the stop
    finally:
        store.close()


def test_a_store_that_cannot_write_pauses_alerts_with_one_line_each_way(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Disk full: every tick's lease write fails. The log says so once (no traceback a tick),
    and once more when writes work again; then the service holds the lease as before."""
    store = make("sqlite", tmp_path)
    store.open()
    failing = {"left": 8}
    real_lease = store.lease

    def lease(name: str, holder: str, seconds: float) -> bool:
        if failing["left"] > 0:
            failing["left"] -= 1
            raise StorageUnavailable("disk full")
        return real_lease(name, holder, seconds)

    store.lease = lease  # type: ignore[method-assign]
    try:
        with caplog.at_level(logging.INFO, logger="backlight.alerts"):
            service = AlertService(store, "http://127.0.0.1:1", 0.05)
            service.start()
            wait_for(lambda: service._held_until, "the service to take the lease after")
            service.stop()
        mine = [r for r in caplog.records if r.name == "backlight.alerts"]
        assert failing["left"] == 0
        assert [(r.levelno, r.getMessage()) for r in mine] == [
            (logging.WARNING, "alerts: paused, the store cannot write: disk full"),
            (logging.INFO, "alerts: the store writes again, alerts resume"),
        ]
        assert not any(r.exc_info for r in mine)
    finally:
        store.close()
