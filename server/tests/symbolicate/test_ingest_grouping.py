"""Ingest-time grouping (in-process app): a broken map leaves the minified fingerprint,
never an error; the debug ids an error carries (``errors[].debug_ids``, checked at ingest
by ``ingest/fields.py`` on main) find its map."""

from __future__ import annotations

import secrets
import time
from pathlib import Path

import blsmapp
import httpx
from fastapi import FastAPI

from backlight_server.pipeline import stack
from backlight_server.store.base import Store
from backlight_server.store.queries import ErrorGroupQuery
from bltest import AUTH

URL = "https://shop.example.com/static/js/app.js"


async def send(
    client: httpx.AsyncClient, project: str, raw: str, version: str, extra: dict[str, object]
) -> httpx.Response:
    sid = secrets.token_hex(12)
    head = {"v": 1, "project_id": project, "session_secure_id": sid}
    r = await client.post("/ingest/v1/session", json={**head, "app_version": version})
    assert r.status_code == 200, r.text
    frames = [
        {k: f.as_dict()[k] for k in ("file", "function", "line", "column")}
        for f in stack.parse(raw)
    ]
    error = {"ts": time.time() * 1000, "message": "negative price", "stack": frames, **extra}
    return await client.post("/ingest/v1/batch", json={**head, "seq": 0, "errors": [error]})


async def test_a_broken_map_keeps_the_minified_fingerprint(
    app: FastAPI, client: httpx.AsyncClient, project: str, tmp_path: Path
) -> None:
    built = blsmapp.build(tmp_path)
    raw = blsmapp.throw(built, URL)
    broken = b'{"version": 3, "mappings": ['
    for release, source_map in (("3.0", broken), ("3.1", built.source_map)):
        for url, data in ((URL, built.script), (URL + ".map", source_map)):
            r = await client.put(
                f"/api/v1/projects/{project}/artifacts",
                params={"release": release, "url": url},
                content=data,
                headers=AUTH,
            )
            assert r.status_code == 200, r.text
    assert (await send(client, project, raw, "3.0", {})).status_code == 200
    assert (await send(client, project, raw, "3.1", {})).status_code == 200
    store: Store = app.state.backlight.store
    groups = store.list_error_groups(ErrorGroupQuery(project_id=project))["groups"]
    # the same minified error: grouped as minified with the broken map, by its original
    # frames with the good one
    assert len(groups) == 2
    assert all(g["stack"][0]["file"] == URL for g in groups)  # both stored minified


async def test_debug_ids_find_the_map(
    app: FastAPI, client: httpx.AsyncClient, project: str, tmp_path: Path
) -> None:
    debug_id = "5b1c3f0e-8a4d-4e2b-9c6f-0d7e1a2b3c4d"
    one = blsmapp.build(tmp_path / "one", debug_id=debug_id)
    for name, data in (("app.js", one.script), ("app.js.map", one.source_map)):
        r = await client.put(
            f"/api/v1/projects/{project}/artifacts",
            params={"release": "uploaded-as", "url": f"~/elsewhere/{name}"},
            content=data,
            headers=AUTH,
        )
        assert r.status_code == 200, r.text
    raw = blsmapp.throw(one, URL)
    ids = {URL: debug_id.upper()}
    # sessions of another release: only the debug id can find the map
    assert (await send(client, project, raw, "other-1", {"debug_ids": ids})).status_code == 200
    assert (await send(client, project, raw, "other-2", {})).status_code == 200
    store: Store = app.state.backlight.store
    groups = store.list_error_groups(ErrorGroupQuery(project_id=project))["groups"]
    assert len(groups) == 2  # with the debug id: by original frames; without: minified
    carried = []
    for group in groups:
        view = store.get_error_group(int(group["id"]), 10)
        assert view is not None
        carried += [
            i["attributes"] for i in view["instances"] if "debug_ids" in str(i["attributes"])
        ]
    assert len(carried) == 1 and debug_id in str(carried[0])  # kept, lowercased
