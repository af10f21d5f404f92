"""Fixtures for the SDK tests: a capture receiver and an initialised SDK."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))  # for sdk_capture (unique name on purpose)

from sdk_capture import PROJECT, Receiver, start_receiver

import backlight


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    rec, server = start_receiver()
    yield rec
    server.shutdown()
    server.server_close()


@pytest.fixture
def sdk(receiver: Receiver) -> Iterator[Receiver]:
    """The SDK initialised against a fresh receiver; shut down afterwards."""
    backlight.init(
        PROJECT,
        backend_url=receiver.url,
        service_name="svc",
        service_version="1.2.3",
        environment="test",
        export_interval=0.05,
    )
    yield receiver
    backlight.shutdown()
