"""The upload API (``/api/v1/projects/{id}/upload-keys``, ``…/artifacts``) and highlight's
uploader protocol (``/private``), in-process over the real app and store."""

from __future__ import annotations

import hashlib
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
from fastapi import FastAPI

from backlight_server.api import sourcemaps as api
from bltest import AUTH

DEBUG_ID = "c0ffee00-1234-4abc-8def-0123456789ab"
MAP = (
    b'{"version":3,"file":"app.js","sources":["src/a.ts"],"mappings":"AAAA",'
    b'"debugId":"C0FFEE00-1234-4ABC-8DEF-0123456789AB"}'
)
SCRIPT = (
    b'throw new Error("x");\n//# debugId='
    + DEBUG_ID.encode()
    + b"\n//# sourceMappingURL=app.js.map\n"
)
URL = "https://app.example.com/static/app.js"


async def new_key(client: httpx.AsyncClient, project: str) -> dict[str, Any]:
    r = await client.post(f"/api/v1/projects/{project}/upload-keys", headers=AUTH)
    assert r.status_code == 201, r.text
    made: dict[str, Any] = r.json()
    return made


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


async def put(
    client: httpx.AsyncClient, project: str, key: str, url: str, data: bytes, release: str = "1.0"
) -> httpx.Response:
    return await client.put(
        f"/api/v1/projects/{project}/artifacts",
        params={"release": release, "url": url},
        content=data,
        headers=bearer(key),
    )


async def test_keys_are_shown_once_masked_and_hashed(
    client: httpx.AsyncClient, project: str, app: FastAPI
) -> None:
    made = await new_key(client, project)
    key = made["key"]
    assert key.startswith("blup_") and made["project_id"] == project
    assert made["masked"].endswith(key[-4:]) and key not in made["masked"]
    api.NewUploadKey.model_validate(made, strict=False)
    listed = (await client.get(f"/api/v1/projects/{project}/upload-keys", headers=AUTH)).json()
    assert listed == {"keys": [{k: made[k] for k in ("id", "project_id", "masked", "created_ms")}]}
    stored = app.state.backlight.store.upload_keys(project)[0]
    assert stored["key_hash"] == hashlib.sha256(key.encode()).hexdigest()
    assert key not in str(stored)
    r = await client.delete(f"/api/v1/projects/{project}/upload-keys/{made['id']}", headers=AUTH)
    assert r.json() == {"deleted": 1}
    r = await put(client, project, key, URL, SCRIPT)
    assert r.status_code == 401  # a deleted key uploads nothing
    r = await client.delete(f"/api/v1/projects/{project}/upload-keys/{made['id']}", headers=AUTH)
    assert r.status_code == 404 and r.json()["error"] == "not_found"
    r = await client.post("/api/v1/projects/nope/upload-keys", headers=AUTH)
    assert r.status_code == 404


async def test_upload_reads_debug_ids_and_is_idempotent(
    client: httpx.AsyncClient, project: str, app: FastAPI
) -> None:
    key = (await new_key(client, project))["key"]
    r = await put(client, project, key, URL, SCRIPT)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["status"] == "stored" and body["kind"] == "script"
    assert body["debug_id"] == DEBUG_ID and body["ref"] == "app.js.map"
    r = await put(client, project, key, URL + ".map", MAP)
    assert r.json()["debug_id"] == DEBUG_ID and r.json()["ref"] == "app.js"
    assert (await put(client, project, key, URL + ".map", MAP)).json()["status"] == "unchanged"
    changed = MAP.replace(b"AAAA", b"AACA")
    assert (await put(client, project, key, URL + ".map", changed)).json()["status"] == "replaced"
    store = app.state.backlight.store
    found = store.find_artifact(project, DEBUG_ID)
    assert found is not None and found[1] == changed
    got = store.get_artifact(project, "1.0", URL)
    assert got is not None and got[1] == SCRIPT
    listed = await client.get(
        f"/api/v1/projects/{project}/artifacts", params={"release": "1.0"}, headers=bearer(key)
    )
    assert [f["url"] for f in listed.json()["files"]] == [URL, URL + ".map"]
    assert listed.json()["limits"]["max_file_bytes"] > 0
    api.Artifacts.model_validate(listed.json(), strict=False)  # the documented models
    api.Uploaded.model_validate(r.json(), strict=False)
    # deleting a release takes the token
    r = await client.delete(
        f"/api/v1/projects/{project}/artifacts", params={"release": "1.0"}, headers=bearer(key)
    )
    assert r.status_code == 401
    r = await client.delete(
        f"/api/v1/projects/{project}/artifacts", params={"release": "1.0"}, headers=AUTH
    )
    assert r.json() == {"deleted": 2}


async def test_a_key_opens_no_other_route(
    client: httpx.AsyncClient, project: str, app: FastAPI
) -> None:
    key = (await new_key(client, project))["key"]
    other = app.state.backlight.store.create_project("other")
    allowed = {
        ("/api/v1/projects/{project_id}/artifacts", "get"),
        ("/api/v1/projects/{project_id}/artifacts", "put"),
    }
    doc = (await client.get("/api/openapi.json", headers=AUTH)).json()
    tried = 0
    for path, operations in doc["paths"].items():
        for method in operations:
            url = (
                path.replace("{project_id}", project)
                .replace("{key_id}", "x")
                .replace("{group_id}", "1")
                .replace("{rule_id}", "x")
                .replace("{secure_id}", "x")
                .replace("{request_id}", "x")
                .replace("{trace_id}", "0" * 32)
            )
            r = await client.request(
                method.upper(), url, headers=bearer(key), params={"release": "1"}
            )
            tried += 1
            if (path, method) in allowed:
                assert r.status_code != 401, (path, method)
            else:
                assert r.status_code == 401, (path, method, r.status_code)
    assert tried > 20
    # nor the UI, nor another project's uploads
    assert (await client.get("/sessions", headers=bearer(key))).status_code in (302, 303, 307)
    r = await put(client, other, key, URL, SCRIPT)
    assert r.status_code == 403 and r.json()["error"] == "wrong_project"
    r = await client.get(
        f"/api/v1/projects/{other}/artifacts", params={"release": "1"}, headers=bearer(key)
    )
    assert r.status_code == 403


async def test_refusals_name_the_field_and_the_limit(
    client: httpx.AsyncClient, project: str, app: FastAPI
) -> None:
    key = (await new_key(client, project))["key"]
    r = await put(client, project, key, URL, b"\xff\xfe not text")
    assert r.status_code == 400 and r.json()["error"] == "not_utf8"
    r = await put(client, project, key, "app.js", SCRIPT)
    assert r.status_code == 400 and r.json()["error"] == "invalid_url"
    r = await put(client, project, key, "https://a.test/../x.js", SCRIPT)
    assert r.status_code == 400 and "'..'" in r.json()["detail"]
    r = await put(client, project, key, URL, SCRIPT, release="a\nb")
    assert r.status_code == 400 and r.json()["error"] == "invalid_release"
    r = await put(client, project, "not-a-key", URL, SCRIPT)
    assert r.status_code == 401 and r.json()["error"] == "unauthorized"
    # caps: per file (from Content-Length, before reading), per release, per project
    settings = app.state.backlight.settings
    object.__setattr__(settings, "sourcemap_max_file_bytes", 100)
    object.__setattr__(settings, "sourcemap_max_release_files", 2)
    r = await put(client, project, key, URL, b"x" * 101)
    assert r.status_code == 413 and r.json()["error"] == "file_too_large"
    assert "sourcemap_max_file_bytes" in r.json()["detail"] and "100" in r.json()["detail"]
    for name in ("a.js", "b.js"):
        assert (await put(client, project, key, f"~/{name}", name.encode())).status_code == 200
    r = await put(client, project, key, "~/c.js", b"c")
    assert r.status_code == 413 and r.json()["error"] == "release_full"
    assert "sourcemap_max_release_files" in r.json()["detail"]
    assert (await put(client, project, key, "~/a.js", b"a2")).json()["status"] == "replaced"
    assert (await put(client, project, key, "~/a.js", b"a2")).json()["status"] == "unchanged"
    object.__setattr__(settings, "sourcemap_max_project_bytes", 5)
    r = await put(client, project, key, "~/d.js", b"dddd", release="2")
    assert r.status_code == 413 and r.json()["error"] == "project_full"
    assert "sourcemap_max_project_bytes" in r.json()["detail"]
    # the same bytes again still answer "unchanged" at the cap (idempotent re-runs)
    assert (await put(client, project, key, "~/a.js", b"a2")).json()["status"] == "unchanged"


async def test_highlight_uploader_protocol(
    client: httpx.AsyncClient, project: str, app: FastAPI
) -> None:
    key = (await new_key(client, project))["key"]
    verify = "query ApiKeyToOrgID($api_key: String!) { api_key_to_org_id(api_key: $api_key) }"
    r = await client.post("/private", json={"query": verify, "variables": {"api_key": key}})
    assert r.json() == {"data": {"api_key_to_org_id": project}}
    r = await client.post("/private", json={"query": verify, "variables": {"api_key": "x"}})
    assert r.status_code == 401 and r.json()["data"] is None
    urls_query = (
        "query GetSourceMapUploadUrls($api_key: String!, $paths: [String!]!) "
        "{ get_source_map_upload_urls(api_key: $api_key, paths: $paths) }"
    )
    paths = [f"{project}/2.0/static/app.js", f"{project}/2.0/static/app.js.map"]
    r = await client.post(
        "/private", json={"query": urls_query, "variables": {"api_key": key, "paths": paths}}
    )
    urls = r.json()["data"]["get_source_map_upload_urls"]
    assert len(urls) == 2 and all(u.startswith("http://backlight/private/") for u in urls)
    for url, data in zip(urls, (SCRIPT, MAP), strict=True):
        assert (await client.put(url, content=data)).json()["status"] == "stored"
    got = app.state.backlight.store.get_artifact(project, "2.0", "~/static/app.js.map")
    assert got is not None and got[1] == MAP and got[0].debug_id == DEBUG_ID
    # a URL is good for its own file only, and only with a valid signature
    parts = urlsplit(urls[0])
    q = {k: v[0] for k, v in parse_qs(parts.query).items()}
    r = await client.put("/private/sourcemap-upload", params={**q, "path": paths[1]}, content=b"x")
    assert r.status_code == 403 and r.json()["error"] == "invalid_signature"
    r = await client.put("/private/sourcemap-upload", params={**q, "exp": "1"}, content=b"x")
    assert r.status_code == 403
    # another project's paths are refused
    r = await client.post(
        "/private",
        json={"query": urls_query, "variables": {"api_key": key, "paths": ["other/1/a.js"]}},
    )
    assert r.status_code == 400 and "variables.paths[0]" in r.json()["detail"]
    r = await client.post("/private", content=b"{")
    assert r.status_code == 400 and r.json()["error"] == "invalid_json"
