"""The storage contract of the source-map fetch path's per-project settings
(``Store.sourcemap_fetch``, ``Store.set_sourcemap_fetch``), on every store in
``blstores.STORES``."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from blstores import STORES, Opened, make

from backlight_server.store.base import FetchConfig


@pytest.fixture(params=STORES)
def opened(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Opened]:
    store = make(request.param, tmp_path)
    store.open()
    try:
        yield Opened(store, store.default_project())
    finally:
        store.close()


def test_off_until_set_then_replaced_whole(opened: Opened) -> None:
    store, p = opened.store, opened.project
    other = store.create_project("other")
    assert store.sourcemap_fetch(p) == FetchConfig(p)  # never set: off, no origins
    assert not store.sourcemap_fetch(p).enabled
    before = time.time() * 1000
    origins = ("https://cdn.example.com", "https://*.static.example.net:8443")
    stored = store.set_sourcemap_fetch(FetchConfig(p, True, origins))
    assert stored.updated_ms >= before
    got = store.sourcemap_fetch(p)
    assert (got.enabled, got.origins) == (True, origins)
    assert got.updated_ms == pytest.approx(stored.updated_ms)
    assert store.sourcemap_fetch(other) == FetchConfig(other)  # per project

    store.set_sourcemap_fetch(FetchConfig(p, False, origins[1:]))  # replaced whole
    got = store.sourcemap_fetch(p)
    assert (got.enabled, got.origins) == (False, origins[1:])
    store.set_sourcemap_fetch(FetchConfig(p, True, ()))
    assert (store.sourcemap_fetch(p).enabled, store.sourcemap_fetch(p).origins) == (True, ())
    store.set_sourcemap_fetch(FetchConfig(other, True, ("http://127.0.0.1:9",)))
    assert store.sourcemap_fetch(other).origins == ("http://127.0.0.1:9",)
    assert store.sourcemap_fetch(p).origins == ()
