"""Issue 21: a frontend error read through its request (``GET /api/v1/requests/{id}``, the
``/requests/{id}`` view the session page's panel loads) or its trace is symbolicated like
the session and error-group reads: original frames with ``context`` and the minified
``raw`` frame, as the OpenAPI document says (``RequestView`` validates the answer).

A real esbuild bundle and map (``blsmapp``), uploaded through the artifacts API; the
session through the public browser ingest. No ingest path links a frontend error to a
request yet, so the error row is written through the store's own write API."""

from __future__ import annotations

import html
import time
from pathlib import Path
from typing import Any

import blsmapp
import httpx
import pytest
from fastapi import FastAPI

from backlight_server.api import schemas
from backlight_server.pipeline import stack
from backlight_server.pipeline.fingerprint import fingerprint
from backlight_server.pipeline.model import ErrorRecord, TelemetryBatch
from backlight_server.store.base import Store
from bltest import AUTH, request_id, session_id, session_start, wait_for

RELEASE = "3.1.4"
URL = "https://shop.example.com/static/js/app.js"


@pytest.fixture(scope="module")
def app_build(tmp_path_factory: pytest.TempPathFactory) -> tuple[blsmapp.App, str]:
    built = blsmapp.build(tmp_path_factory.mktemp("smapp"))
    return built, blsmapp.throw(built, URL)


async def _upload(client: httpx.AsyncClient, project: str, built: blsmapp.App) -> None:
    for url, data in ((URL, built.script), (URL + ".map", built.source_map)):
        r = await client.put(
            f"/api/v1/projects/{project}/artifacts",
            params={"release": RELEASE, "url": url},
            content=data,
            headers=AUTH,
        )
        assert r.status_code == 200, r.text


def _frontend_error(project: str, sid: str, rid: str, raw: str) -> ErrorRecord:
    frames = stack.parse(raw)
    message = "negative price: -400"
    return ErrorRecord(
        project,
        time.time() * 1000,
        "frontend",
        "Error",
        message,
        frames,
        raw,
        sid,
        rid,
        rid,  # the trace id: a W3C request id is one
        None,
        None,
        None,
        "https://shop.example.com/cart",
        None,
        fingerprint("Error", message, frames),
    )


def _assert_original(frames: list[dict[str, Any]]) -> None:
    top = frames[0]
    assert top["file"].endswith("src/util/format.ts")
    assert top["function"] == "formatPrice"
    assert top["line"] == blsmapp.line_of(blsmapp.FORMAT_TS, "throw new Error")
    assert top["code"] == 'throw new Error("negative price: " + cents);'
    assert top["context"]["lines"][0] == "// Money formatting for the cart."
    assert top["raw"] == {"file": URL, "function": "t", "line": 1, "column": 34}
    library = next(f for f in frames if "tinylib" in (f["file"] or ""))
    assert library["in_app"] is False and library["raw"]["file"] == URL


async def test_request_and_trace_reads_are_symbolicated(
    app: FastAPI, client: httpx.AsyncClient, project: str, app_build: tuple[blsmapp.App, str]
) -> None:
    built, raw = app_build
    store: Store = app.state.backlight.store
    sid, rid = session_id(), request_id()
    start = session_start(project, sid, app_version=RELEASE)
    r = await client.post("/ingest/v1/session", json=start)
    assert r.status_code == 200, r.text
    wait_for(lambda: store.session_info(sid) is not None)
    await _upload(client, project, built)
    store.write_telemetry_sync(TelemetryBatch(errors=[_frontend_error(project, sid, rid, raw)]), 1)

    r = await client.get(f"/api/v1/requests/{rid}", headers=AUTH)
    assert r.status_code == 200, r.text
    view = r.json()
    schemas.RequestView.model_validate(view)
    (error,) = view["errors"]
    _assert_original(error["stack"])
    assert error["raw_stack"] == raw  # the text as sent, unchanged

    r = await client.get(f"/api/v1/traces/{rid}", headers=AUTH)
    assert r.status_code == 200, r.text
    schemas.TraceView.model_validate(r.json())
    _assert_original(r.json()["errors"][0]["stack"])

    # the request view the session page's panel loads, and the trace page
    for path in (f"/requests/{rid}?fragment=1", f"/traces/{rid}"):
        page = await client.get(path, headers=AUTH)
        assert page.status_code == 200, path
        text = html.unescape(page.text)
        assert '<span class="fn">formatPrice</span>' in text, path
        assert "// Money formatting for the cart." in text, path
        assert f"t {URL}:1:34" in text, path  # the minified frame, under "minified"

    # an error whose session is unknown: no project to look maps up in; as sent, no error
    orphan = request_id()
    store.write_telemetry_sync(
        TelemetryBatch(errors=[_frontend_error(project, session_id(), orphan, raw)]), 1
    )
    r = await client.get(f"/api/v1/requests/{orphan}", headers=AUTH)
    assert r.status_code == 200, r.text
    top = r.json()["errors"][0]["stack"][0]
    assert top["file"] == URL and top["function"] == "t" and "raw" not in top


def test_frame_type_of_the_ui_names_every_field_of_the_api_frame() -> None:
    """The TypeScript ``Frame`` (server/ui/src/types.ts) the session page renders with
    (stack.ts) has the OpenAPI ``StackFrame``'s fields, ``RawFrame`` and ``SourceContext``
    theirs."""
    source = (Path(__file__).parents[2] / "ui/src/types.ts").read_text()
    for ts_name, model in (
        ("Frame", schemas.StackFrame),
        ("RawFrame", schemas.RawFrame),
        ("SourceContext", schemas.SourceContext),
    ):
        head = f"export type {ts_name} = {{"
        assert head in source, ts_name
        body = source.split(head, 1)[1].split("}", 1)[0]
        fields = {
            line.strip().split(":", 1)[0].rstrip("?")
            for line in body.splitlines()
            if ":" in line and not line.strip().startswith(("/", "*"))
        }
        assert fields == set(model.model_fields), (ts_name, fields)
