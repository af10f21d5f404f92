"""A write submitted while the store closes fails at once instead of waiting forever.

Background jobs (the alert service, the purge) may submit a write just as the store
closes; before, such a write queued behind the writer's stop mark and its caller (and the
interpreter's exit, which joins worker threads) waited forever."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from backlight_server.errors import StorageUnavailable
from backlight_server.store.sqlite import SqliteStore
from backlight_server.testing import wait_for


def test_writes_after_stop_fail_and_queued_ones_finish(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "backlight.db")
    store.open()
    writer = store.writer
    gate = threading.Event()
    busy = writer.submit(lambda conn: gate.wait(10), 1)  # holds the writer thread
    queued = writer.submit(lambda conn: "queued", 1)
    stopper = threading.Thread(target=writer.stop)
    stopper.start()
    wait_for(lambda: writer._stopped, "stop() to begin")  # it waits for the writer thread
    with pytest.raises(StorageUnavailable):
        writer.submit(lambda conn: "late", 1).result(timeout=5)
    gate.set()
    stopper.join(10)
    assert busy.result(timeout=5) is True and queued.result(timeout=5) == "queued"
    store.close()
