"""The storage contract of source-map artifacts and upload keys (``Store.put_artifact`` …),
on every store in ``blstores.STORES``."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from blstores import STORES, Opened, make

from backlight_server.store.base import Artifact

DEBUG_ID = "2f3b1a40-8c1e-4e4b-9a55-0123456789ab"


@pytest.fixture(params=STORES)
def opened(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Opened]:
    store = make(request.param, tmp_path)
    store.open()
    try:
        yield Opened(store, store.default_project())
    finally:
        store.close()


def art(
    project: str,
    release: str,
    url: str,
    data: bytes,
    kind: str = "map",
    debug_id: str | None = None,
) -> Artifact:
    sha = hashlib.sha256(data).hexdigest()
    return Artifact(project, release, url, kind, sha, len(data), debug_id, "app.js")


def test_put_get_replace_unchanged(opened: Opened) -> None:
    store, p = opened.store, opened.project
    url = "https://app.example.com/static/app.js.map"
    one = b'{"version":3,"file":"app.js","mappings":"AAAA","sources":["a.ts"],"x":"\xc3\xa9"}'
    assert store.get_artifact(p, "1.0", url) is None
    assert store.put_artifact(art(p, "1.0", url, one, debug_id=DEBUG_ID), one) == "stored"
    got = store.get_artifact(p, "1.0", url)
    assert got is not None and got[1] == one
    meta = got[0]
    assert (meta.kind, meta.size, meta.debug_id, meta.ref) == ("map", len(one), DEBUG_ID, "app.js")
    assert meta.sha256 == hashlib.sha256(one).hexdigest() and meta.uploaded_ms > 0
    # the same bytes again: nothing written
    assert store.put_artifact(art(p, "1.0", url, one, debug_id=DEBUG_ID), one) == "unchanged"
    # other bytes under the same name replace them
    two = one.replace(b"AAAA", b"BBBB")
    assert store.put_artifact(art(p, "1.0", url, two), two) == "replaced"
    got = store.get_artifact(p, "1.0", url)
    assert got is not None and got[1] == two and got[0].debug_id is None
    assert [a.url for a in store.list_artifacts(p, "1.0", 100)] == [url]
    # the replaced bytes are gone: usage counts the one blob left
    assert store.artifact_usage(p, "1.0") == (1, len(two))
    # other releases, other projects do not see it
    assert store.get_artifact(p, "1.1", url) is None
    other = store.create_project("other")
    assert store.get_artifact(other, "1.0", url) is None


def test_find_by_debug_id(opened: Opened) -> None:
    store, p = opened.store, opened.project
    script, smap = b"console.log(1)\n//# debugId=" + DEBUG_ID.encode(), b'{"version":3}'
    base = "https://app.example.com/static/"
    store.put_artifact(art(p, "2", base + "a.js", script, "script", DEBUG_ID), script)
    assert store.find_artifact(p, DEBUG_ID) is None  # a script, not a map
    store.put_artifact(art(p, "2", base + "a.js.map", smap, "map", DEBUG_ID), smap)
    found = store.find_artifact(p, DEBUG_ID)
    assert found is not None and found[1] == smap and found[0].url == base + "a.js.map"
    found = store.find_artifact(p, DEBUG_ID, "script")
    assert found is not None and found[1] == script
    assert store.find_artifact(p, "00000000-0000-0000-0000-000000000000") is None
    assert store.find_artifact(store.create_project("x"), DEBUG_ID) is None


def test_bytes_stored_once_per_project(opened: Opened) -> None:
    store, p = opened.store, opened.project
    data = b'{"version":3,"mappings":"' + b"A" * 10_000 + b'"}'
    for release in ("1", "2", "3"):
        store.put_artifact(art(p, release, "~/app.js.map", data), data)
    assert store.artifact_usage(p, "2") == (1, len(data))
    assert len(store.list_artifacts(p, None, 100)) == 3
    # deleting one release keeps the bytes the others use
    assert store.delete_artifacts(p, "1") == 1
    assert store.get_artifact(p, "1", "~/app.js.map") is None
    got = store.get_artifact(p, "2", "~/app.js.map")
    assert got is not None and got[1] == data
    assert store.delete_artifacts(p, "2") == 1 and store.delete_artifacts(p, "3") == 1
    assert store.artifact_usage(p, "3") == (0, 0)
    assert store.delete_artifacts(p, "3") == 0


def test_purge_by_newest_upload_of_release(opened: Opened) -> None:
    store, p = opened.store, opened.project
    store.put_artifact(art(p, "old", "~/a.js", b"a", "script"), b"a")
    store.put_artifact(art(p, "old", "~/b.js", b"b", "script"), b"b")
    time.sleep(0.01)
    cutoff = time.time() * 1000
    time.sleep(0.01)
    store.put_artifact(art(p, "new", "~/a.js", b"c", "script"), b"c")
    assert store.purge_artifacts(cutoff) == 2
    assert [a.release for a in store.list_artifacts(p, None, 100)] == ["new"]
    assert store.artifact_usage(p, "new") == (1, 1)


def test_upload_keys(opened: Opened) -> None:
    store, p = opened.store, opened.project
    other = store.create_project("other")
    assert store.upload_keys(p) == []
    store.create_upload_key(p, "k1", "h1" * 32, "blup_k1_…abcd")
    store.create_upload_key(other, "k2", "h2" * 32, "blup_k2_…efgh")
    keys = store.upload_keys(p)
    assert [(k["id"], k["project_id"], k["masked"]) for k in keys] == [("k1", p, "blup_k1_…abcd")]
    assert keys[0]["key_hash"] == "h1" * 32 and keys[0]["created_ms"] > 0
    found = store.upload_key("h2" * 32)
    assert found is not None and found["project_id"] == other and found["id"] == "k2"
    assert store.upload_key("nope") is None
    assert not store.delete_upload_key(other, "k1")  # not that project's key
    assert store.delete_upload_key(p, "k1")
    assert store.upload_key("h1" * 32) is None and store.upload_keys(p) == []
    assert not store.delete_upload_key(p, "k1")
