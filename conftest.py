"""Fixtures shared by every test folder: a real ``backlight serve`` process."""

from __future__ import annotations

from collections.abc import Generator, Iterator
from pathlib import Path

import pytest

from backlight_server.testing import BacklightProcess, test_store_url


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


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """Captured output that holds lone surrogates (tests of odd text do) written as escapes:
    a worker of the parallel run (pytest-xdist) sends each report as UTF-8, which refuses
    them, and the worker would crash."""
    report = yield
    report.sections = [
        (title, text.encode("utf-8", "backslashreplace").decode("utf-8"))
        for title, text in report.sections
    ]
    return report


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """On a store other than SQLite (``BACKLIGHT_TEST_STORE``), skip the tests that read or
    write the SQLite file itself."""
    if not test_store_url(Path("unused")):
        return
    skip = pytest.mark.skip(reason="reads or writes the SQLite file itself")
    for item in items:
        if "sqlite_only" in item.keywords:
            item.add_marker(skip)
