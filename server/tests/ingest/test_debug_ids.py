"""``errors[].debug_ids`` of the browser protocol: script URL → debug id, checked at the
edge (type, count, URL length, id shape), stored in the error's attributes, where
symbolication reads it (symbolicate/apply.py)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from backlight_server.ingest.fields import MAX_DEBUG_IDS, MAX_SCRIPT_URL
from bltest import AUTH, NOW_MS, batch, session_id, session_start

APP = "https://app.example.com/static/js/app.js"
ID = "85314830-023F-4CF1-A267-535F4E37BB17"


def error(**extra: Any) -> dict[str, Any]:
    return {
        "ts": NOW_MS,
        "type": "Error",
        "message": "negative price",
        "source": "onerror",
        "stack": [{"file": APP, "function": "t", "line": 1, "column": 48213}],
        **extra,
    }


async def _post(
    client: httpx.AsyncClient, project: str, *errors: dict[str, Any]
) -> tuple[str, httpx.Response]:
    sid = session_id()
    assert (await client.post("/ingest/v1/session", json=session_start(project, sid))).is_success
    r = await client.post("/ingest/v1/batch", json=batch(project, sid, 0, errors=list(errors)))
    return sid, r


async def _errors(client: httpx.AsyncClient, sid: str) -> list[dict[str, Any]]:
    r = await client.get(f"/api/v1/sessions/{sid}", headers=AUTH)
    assert r.status_code == 200, r.text
    found: list[dict[str, Any]] = r.json()["errors"]
    return found


async def test_debug_ids_are_stored_lowercased(client: httpx.AsyncClient, project: str) -> None:
    plain = "0a1b2c3d4e5f60718293a4b5c6d7e8f9"
    sid, r = await _post(
        client,
        project,
        error(debug_ids={APP: ID, "https://cdn.example.com/v.js": plain}),
        error(message="no ids"),
        error(message="empty ids", debug_ids={}),
    )
    assert r.status_code == 200, r.text
    by_message = {e["message"]: e["attributes"] for e in await _errors(client, sid)}
    assert by_message["negative price"]["debug_ids"] == {
        APP: ID.lower(),
        "https://cdn.example.com/v.js": plain,
    }
    assert "debug_ids" not in by_message["no ids"]
    assert "debug_ids" not in by_message["empty ids"]


@pytest.mark.parametrize(
    ("ids", "detail"),
    [
        ([ID], "errors[0].debug_ids: must be an object of script URL to debug id"),
        ("x", "errors[0].debug_ids: must be an object of script URL to debug id"),
        (
            {f"https://a.example.com/{i}.js": ID for i in range(MAX_DEBUG_IDS + 1)},
            f"errors[0].debug_ids: {MAX_DEBUG_IDS + 1} entries; the limit is {MAX_DEBUG_IDS}",
        ),
        (
            {"https://a.example.com/" + "a" * MAX_SCRIPT_URL: ID},
            f"errors[0].debug_ids: a script URL is empty or longer than {MAX_SCRIPT_URL} "
            "characters",
        ),
        ({"": ID}, "errors[0].debug_ids: a script URL is empty or longer than"),
        ({APP: 42}, f"errors[0].debug_ids.{APP}: must be a debug id"),
        ({APP: "not-a-uuid"}, f"errors[0].debug_ids.{APP}: must be a debug id"),
        ({APP: ID + "0"}, f"errors[0].debug_ids.{APP}: must be a debug id"),
        ({APP: "g" * 32}, "must be a debug id: 32 to 36 hex digits and dashes"),
        ({APP: ID * 1000}, f"errors[0].debug_ids.{APP}: must be a debug id"),
    ],
)
async def test_bad_debug_ids_are_refused_by_name(
    client: httpx.AsyncClient, project: str, ids: Any, detail: str
) -> None:
    sid, r = await _post(client, project, error(debug_ids=ids))
    assert r.status_code == 400, r.text
    body = r.json()
    assert body["error"] == "invalid_field"
    assert body["detail"].startswith(detail) or detail in body["detail"], body
    assert await _errors(client, sid) == []
