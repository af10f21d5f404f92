"""Symbolication of frontend frames with uploaded maps (symbolicate/): which map a frame
finds (debug id, release + URL, ``~/`` any origin), and what happens without one or with
a broken one. A real esbuild bundle (``blsmapp``), its stack as V8 prints it, a real store."""

from __future__ import annotations

import asyncio
import json
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import blsmapp
import pytest
from blstores import make

from backlight_server.pipeline import stack
from backlight_server.pipeline.model import SessionInfo
from backlight_server.settings import Settings
from backlight_server.sourcemaps.service import Limits, store_file
from backlight_server.store.base import Store
from backlight_server.symbolicate import maps
from backlight_server.symbolicate.apply import symbolicate_errors
from backlight_server.symbolicate.cache import MapCache
from backlight_server.symbolicate.resolve import candidates

DEBUG_ID = "2f3b1a40-8c1e-4e4b-9a55-0123456789ab"
URL = "https://shop.example.com/static/js/app.js"
RELEASE = "1.4.2"


@dataclass
class World:
    store: Store
    project: str
    app: blsmapp.App
    raw: str  # the stack V8 printed


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[blsmapp.App, blsmapp.App]:
    plain = blsmapp.build(tmp_path_factory.mktemp("plain"))
    with_id = blsmapp.build(tmp_path_factory.mktemp("debugid"), DEBUG_ID)
    return plain, with_id


@pytest.fixture
def world(tmp_path: Path, built: tuple[blsmapp.App, blsmapp.App]) -> Iterator[World]:
    store = make("sqlite", tmp_path)
    store.open()
    try:
        yield World(store, store.default_project(), built[0], blsmapp.throw(built[0], URL))
    finally:
        store.close()


def upload(w: World, url: str, data: bytes, release: str = RELEASE) -> None:
    store_file(w.store, Limits.of(Settings()), w.project, release, url, data)


def session(w: World, version: str | None) -> str:
    """A new session with this app version, written as ingest writes it."""
    sid = secrets.token_hex(8)
    asyncio.run(w.store.start_session(SessionInfo(w.project, sid, 1.0, app_version=version)))
    return sid


def row(raw: str, sid: str | None = None, attributes: Any = None) -> dict[str, Any]:
    return {
        "source": "frontend",
        "stack": [f.as_dict() for f in stack.parse(raw)],
        "session_id": sid,
        "attributes": attributes,
    }


def run(w: World, r: dict[str, Any], cache: MapCache | None = None) -> list[dict[str, Any]]:
    symbolicate_errors(w.store, w.project, [r], cache if cache is not None else MapCache())
    frames: list[dict[str, Any]] = r["stack"]
    return frames


def assert_original(frames: list[dict[str, Any]]) -> None:
    top = frames[0]
    assert top["file"] == "../../src/util/format.ts"
    assert top["function"] == "formatPrice"
    assert top["line"] == blsmapp.line_of(blsmapp.FORMAT_TS, "throw new Error")
    assert top["code"] == 'throw new Error("negative price: " + cents);'
    assert top["in_app"] is True
    context = top["context"]
    assert context["lines"][top["line"] - context["start"]].strip() == top["code"]
    assert context["start"] == 1  # the file's first lines are the context
    assert top["raw"] == {"file": URL, "function": "t", "line": 1, "column": 34}
    by_function = {f["function"]: f for f in frames}
    assert by_function["cartTotal"]["file"] == "../../src/cart.ts"
    assert by_function["checkout"]["line"] == blsmapp.line_of(blsmapp.MAIN_TS, "cartTotal([")
    library = by_function["callWith"]
    assert library["file"] == "../../node_modules/tinylib/index.js"
    assert library["in_app"] is False  # library code: collapsed in the UI


def test_release_and_exact_url(world: World) -> None:
    upload(world, URL, world.app.script)
    upload(world, URL + ".map", world.app.source_map)
    assert_original(run(world, row(world.raw, session(world, RELEASE))))


def test_any_origin_form(world: World) -> None:
    upload(world, "~/static/js/app.js", world.app.script)
    upload(world, "~/static/js/app.js.map", world.app.source_map)
    assert_original(run(world, row(world.raw, session(world, RELEASE))))
    assert candidates(URL + "?v=3#x") == [URL, "~/static/js/app.js"]


def test_map_found_by_its_file_field(world: World) -> None:
    """A map under another name, whose ``file`` names the script; no script uploaded."""
    source_map = json.loads(world.app.source_map)
    source_map["file"] = "app.js"
    upload(world, "~/static/js/maps-elsewhere.map", json.dumps(source_map).encode())
    frames = run(world, row(world.raw, session(world, RELEASE)))
    # without the script there is no scope: the position and source still map
    assert frames[0]["file"] == "../../src/util/format.ts" and frames[0]["raw"]["column"] == 34


def test_other_release_stays_raw(world: World) -> None:
    upload(world, URL, world.app.script)
    upload(world, URL + ".map", world.app.source_map)
    frames = run(world, row(world.raw, session(world, "2.0.0")))
    assert frames[0]["file"] == URL and "raw" not in frames[0]


def test_debug_id_finds_the_map_whatever_the_release_or_url(
    world: World, built: tuple[blsmapp.App, blsmapp.App]
) -> None:
    app = built[1]
    upload(world, "~/assets/a.js", app.script, release="other")
    upload(world, "~/assets/a.js.map", app.source_map, release="other")
    raw = blsmapp.throw(app, URL)
    carried = row(raw, None, {"debug_ids": {URL: DEBUG_ID.upper()}})
    assert_original(run(world, carried))
    # the uploaded script's own debug id links a release + URL match to its map
    upload(world, URL, app.script, release=RELEASE)
    assert_original(run(world, row(raw, session(world, RELEASE))))


def test_no_map_leaves_frames_raw(world: World) -> None:
    r = row(world.raw, session(world, RELEASE))
    before = json.loads(json.dumps(r["stack"]))
    assert run(world, r) == before


def test_broken_map_leaves_frames_raw_and_is_not_parsed_again(world: World) -> None:
    upload(world, URL, world.app.script)
    upload(world, URL + ".map", b'{"version":3,"sources":["a.ts"],"mappings":"AAAA;;;!!!"')
    cache = MapCache()
    sid = session(world, RELEASE)
    for _ in range(2):
        frames = run(world, row(world.raw, sid), cache)
        assert frames[0]["file"] == URL and "raw" not in frames[0]
    assert (cache.misses, cache.hits) == (1, 1)


def test_oversize_map_is_not_parsed(monkeypatch: pytest.MonkeyPatch, world: World) -> None:
    monkeypatch.setattr(maps, "MAX_MAP_BYTES", len(world.app.source_map) - 1)
    assert maps.parse(world.app.script, world.app.source_map) is None
    monkeypatch.setattr(maps, "MAX_MAP_BYTES", len(world.app.source_map))
    assert maps.parse(world.app.script, world.app.source_map) is not None


def test_a_symbolicated_frame_is_not_mapped_twice(world: World) -> None:
    upload(world, URL, world.app.script)
    upload(world, URL + ".map", world.app.source_map)
    r = row(world.raw, session(world, RELEASE))
    once = json.loads(json.dumps(run(world, r)))
    assert run(world, r) == once


def test_cache_is_bounded_by_bytes_least_recently_used_first(world: World) -> None:
    size = len(world.app.script) + len(world.app.source_map)
    cache = MapCache(max_bytes=2 * size)
    parse = lambda: maps.parse(world.app.script, world.app.source_map)  # noqa: E731
    for key in ("a", "b", "a", "c"):
        assert cache.get(key, parse) is not None
    assert len(cache) == 2 and cache.bytes == 2 * size
    assert (cache.misses, cache.hits) == (3, 1)
    cache.get("a", parse)  # kept: used after b
    assert cache.hits == 2
    cache.get("b", parse)  # dropped for c
    assert cache.misses == 4
