"""``Store.app_versions``: a session's app version, the release its frontend errors are
symbolicated with (symbolicate/), on every store in ``blstores.STORES``."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from blstores import STORES, Opened, make

from backlight_server.pipeline.model import SessionInfo


@pytest.fixture(params=STORES)
def opened(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Opened]:
    store = make(request.param, tmp_path)
    store.open()
    try:
        yield Opened(store, store.default_project())
    finally:
        store.close()


async def test_app_versions_of_sessions(opened: Opened) -> None:
    store, project = opened.store, opened.project
    await store.start_session(SessionInfo(project, "sess-a", 1000.0, app_version="1.2.3"))
    await store.start_session(SessionInfo(project, "sess-b", 1000.0, app_version=None))
    await store.start_session(SessionInfo(project, "sess-c", 1000.0, app_version="2.0"))
    assert store.app_versions(["sess-a", "sess-b", "sess-c", "nope"]) == {
        "sess-a": "1.2.3",
        "sess-c": "2.0",
    }
    assert store.app_versions([]) == {}
