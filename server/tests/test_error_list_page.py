"""The error list's Users column: distinct identified users of each group's sessions."""

from __future__ import annotations

import re

import httpx
from blstores import error, session
from fastapi import FastAPI

from backlight_server.pipeline.model import Identify, TelemetryBatch
from bltest import AUTH


async def test_the_error_list_shows_users_per_group(
    app: FastAPI, client: httpx.AsyncClient, project: str
) -> None:
    store = app.state.backlight.store
    sids = []
    for user in ("ada@x.test", "ada@x.test", "bob@x.test", None):
        info = session(project)
        sids.append(info.secure_id)
        await store.start_session(info)
        if user:
            assert await store.annotate_session(
                info.secure_id, Identify(info.started_ms, user, None), []
            )
    await store.write_telemetry(
        TelemetryBatch(errors=[error(project, "out of stock", session_id=s) for s in sids]), 10
    )
    page = await client.get("/errors", headers=AUTH)
    assert page.status_code == 200
    assert re.search(r"<th[^>]*>Sessions</th><th[^>]*>Users</th>", page.text)
    row = re.search(r'<tr class="group-row".*?</tr>', page.text, re.S)
    assert row is not None
    cells = re.findall(r'<td class="num">(\d+)</td>', row[0])
    assert cells == ["4", "4", "2"]  # count, sessions, users
