"""An error group's id derives from its project and fingerprint (``store/ids.py``), not from
a counter: two stores that never talk to each other give the same error the same group id,
whatever order the errors arrive in; the pages and the API serve such ids."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from backlight_server.pipeline.fingerprint import fingerprint
from backlight_server.pipeline.model import ErrorRecord, Frame, LogRecord, TelemetryBatch
from backlight_server.store.ids import group_id
from backlight_server.store.queries import ErrorGroupQuery, LogQuery
from backlight_server.store.sqlite import SqliteStore, writes
from bltest import AUTH

PROJECT = "shop1234"


def record(error_type: str, message: str) -> ErrorRecord:
    frames = [Frame("app/checkout.py", "reserve", 10)]
    return ErrorRecord(
        PROJECT, time.time() * 1000, "span", error_type, message, frames, None, None, None,
        None, None, "api", None, None, None, fingerprint(error_type, message, frames),
    )  # fmt: skip


async def _ids(path: Path, errors: list[ErrorRecord]) -> dict[str, int]:
    store = SqliteStore(path)
    store.open()
    try:
        store.create_project("shop", PROJECT)
        for err in errors:
            await store.write_telemetry(TelemetryBatch(errors=[err]), 1)
        page = store.list_error_groups(ErrorGroupQuery(project_id=PROJECT))
        return {g["type"]: g["id"] for g in page["groups"]}
    finally:
        store.close()


async def test_two_stores_give_one_error_the_same_group_id(tmp_path: Path) -> None:
    one, two = record("ValueError", "declined"), record("KeyError", "sku")
    first = await _ids(tmp_path / "a.db", [one, two, two])
    second = await _ids(tmp_path / "b.db", [two, one])  # the other order
    assert (
        first
        == second
        == {
            "ValueError": group_id(PROJECT, one.fingerprint),
            "KeyError": group_id(PROJECT, two.fingerprint),
        }
    )


async def test_a_colliding_id_joins_the_group_instead_of_failing_the_batch(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No collision of the 53-bit hash is known, so this one is made by replacing it. The
    writer must not lose the batch (its logs here) to the primary key."""
    monkeypatch.setattr(writes, "group_id", lambda project, fp: 77)
    store = SqliteStore(tmp_path / "backlight.db")
    store.open()
    try:
        store.create_project("shop", PROJECT)
        await store.write_telemetry(TelemetryBatch(errors=[record("ValueError", "a")]), 1)
        log = LogRecord(PROJECT, time.time_ns(), None, None, 9, "info", "kept", "api", *[None] * 4)
        later = TelemetryBatch(logs=[log], errors=[record("KeyError", "b")])
        await store.write_telemetry(later, 2)
        groups = store.list_error_groups(ErrorGroupQuery())["groups"]
        assert [(g["id"], g["type"], g["count"]) for g in groups] == [(77, "ValueError", 2)]
        group = store.get_error_group(77, 10)
        assert group is not None
        assert sorted(i["type"] for i in group["instances"]) == ["KeyError", "ValueError"]
        assert [x["body"] for x in store.search_logs(LogQuery(text="kept"))["logs"]] == ["kept"]
    finally:
        store.close()


async def test_group_pages_take_derived_ids_and_refuse_others(
    app: FastAPI, client: httpx.AsyncClient, project: str
) -> None:
    """A derived id is far above 2**31; the UI page and the API serve it, and an id out of
    range is "not found" (page) or refused naming the limit (API), never a failure."""
    err = record("ValueError", "declined")
    err.project_id = project
    await app.state.backlight.store.write_telemetry(TelemetryBatch(errors=[err]), 1)
    gid = group_id(project, err.fingerprint)
    assert gid > 2**31
    page = await client.get(f"/errors/{gid}", headers=AUTH)
    assert page.status_code == 200 and "declined" in page.text
    api = await client.get(f"/api/v1/error-groups/{gid}", headers=AUTH)
    assert api.status_code == 200 and api.json()["group"]["id"] == gid
    for bad in (0, -1, 2**53, 2**64, 10**30):
        r = await client.get(f"/errors/{bad}", headers=AUTH)
        assert r.status_code == 404, (bad, r.text[:200])
    r = await client.get(f"/api/v1/error-groups/{10**30}", headers=AUTH)
    assert r.status_code == 400 and "path.group_id" in r.json()["detail"]
