"""Fixtures shared by every test folder: a real ``backlight serve`` process."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from backlight_server.testing import BacklightProcess


@pytest.fixture(scope="session")
def backlight_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BacklightProcess]:
    """One real server process for the whole test session (tests use distinct ids)."""
    with BacklightProcess(tmp_path_factory.mktemp("backlight-shared")) as server:
        yield server


@pytest.fixture
def backlight_process(tmp_path: Path) -> Iterator[BacklightProcess]:
    """A server process of the test's own, not yet started (``.start()`` it)."""
    server = BacklightProcess(tmp_path / "server")
    yield server
    server.stop()
