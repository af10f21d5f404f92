"""A server that stops gives the alerts lease up: another server takes over at its next
tick, not when the lease would have run out (up to 30 s without alerts on a restart)."""

from __future__ import annotations

from pathlib import Path

import pytest
from blstores import make

from backlight_server.alerts.service import AlertService
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
