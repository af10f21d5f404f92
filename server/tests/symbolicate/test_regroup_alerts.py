"""A merge by the regroup job fires no alert: two builds' errors make two groups (two
``new_group`` events from the real evaluator), their maps are uploaded through the API
(in-process app, SQLite or chdb with ``BACKLIGHT_TEST_STORE=chdb``), the job merges the
groups, and the evaluator finds nothing new: neither ``new_group`` nor ``regression`` for
the merged group, also after another instance joins it."""

from __future__ import annotations

import asyncio
import secrets
import time
from pathlib import Path
from typing import Any

import blsmapp
import httpx
from fastapi import FastAPI

from backlight_server.alerts.evaluate import Evaluator
from backlight_server.alerts.rules import Rule
from backlight_server.pipeline import stack
from backlight_server.store.base import Store
from backlight_server.store.queries import ErrorGroupQuery
from backlight_server.symbolicate.regroup import regrouper_for
from bltest import AUTH

HOST = "https://shop.example.com/static"
HOOK = [{"kind": "webhook", "url": "http://127.0.0.1:9/hook", "secret": "s"}]
PRELUDE = """\
export const flags: string[] = ["a", "b"];
export function on(f: string) {
  return flags.indexOf(f) >= 0;
}
on("a");
"""
RULES = ["r-new_group", "r-regression"]


def save_rule(store: Store, project: str, kind: str) -> None:
    body = {"name": kind, "trigger": {"kind": kind}, "channels": HOOK, "cooldown_seconds": 0}
    rule = Rule.model_validate({**body, "id": f"r-{kind}", "project_id": project})
    store.save_alert_rule(rule.id, project, rule.model_dump_json())


async def send(client: httpx.AsyncClient, project: str, app: blsmapp.App, version: str) -> None:
    raw = blsmapp.throw(app, f"{HOST}/js/{app.name}.js")
    sid, now = secrets.token_hex(12), time.time() * 1000
    head = {"v": 1, "project_id": project, "session_secure_id": sid}
    r = await client.post("/ingest/v1/session", json={**head, "app_version": version})
    assert r.status_code == 200, r.text
    frames = [
        {k: f.as_dict()[k] for k in ("file", "function", "line", "column")}
        for f in stack.parse(raw)
    ]
    error = {"ts": now, "type": "Error", "message": "negative price", "stack": frames}
    r = await client.post("/ingest/v1/batch", json={**head, "seq": 0, "errors": [error]})
    assert r.status_code == 200, r.text


async def upload(client: httpx.AsyncClient, project: str, app: blsmapp.App, version: str) -> None:
    for suffix, data in ((".js", app.script), (".js.map", app.source_map)):
        r = await client.put(
            f"/api/v1/projects/{project}/artifacts",
            params={"release": version, "url": f"{HOST}/js/{app.name}{suffix}"},
            content=data,
            headers=AUTH,
        )
        assert r.status_code == 200 and r.json()["status"] == "stored", r.text


def fired(store: Store, group_ids: list[int]) -> list[str]:
    """The events the rules' outbox rows hold about these groups."""
    return sorted({str(r["key"]) for r in store.alert_fired_groups(RULES, group_ids)})


def frontend_groups(store: Store, project: str) -> list[dict[str, Any]]:
    return list(store.list_error_groups(ErrorGroupQuery(project_id=project))["groups"])


async def test_a_merge_fires_no_alert(
    app: FastAPI, client: httpx.AsyncClient, project: str, tmp_path: Path
) -> None:
    store: Store = app.state.backlight.store
    for kind in ("new_group", "regression"):
        save_rule(store, project, kind)
    one = blsmapp.build(tmp_path / "one")
    two = blsmapp.build(tmp_path / "two", name="app.77ab", prelude=PRELUDE)
    await send(client, project, one, "1.0")
    await send(client, project, two, "2.0")
    # the app's alerts thread evaluates too: what fired is read from the outbox
    evaluator = Evaluator(store, "https://backlight.example.test")
    evaluator.run_once(time.time() * 1000)
    groups = frontend_groups(store, project)
    old = sorted(int(g["id"]) for g in groups)
    assert len(old) == 2
    assert fired(store, old) == sorted(f"new_group/{g}" for g in old)
    r = await client.patch(
        f"/api/v1/error-groups/{groups[0]['id']}", json={"state": "resolved"}, headers=AUTH
    )
    assert r.status_code == 200

    jobs = regrouper_for(store)
    runs = jobs.runs
    await upload(client, project, one, "1.0")
    await upload(client, project, two, "2.0")
    deadline = time.monotonic() + 60
    while (jobs.runs == runs or len(frontend_groups(store, project)) != 1) and (  # noqa: ASYNC110
        time.monotonic() < deadline
    ):
        await asyncio.sleep(0.1)  # the job runs on a thread of its own
    merged = frontend_groups(store, project)
    assert len(merged) == 1 and merged[0]["count"] == 2 and jobs.runs > runs
    assert merged[0]["state"] == "open"  # one of the two was open
    new = int(merged[0]["id"])
    evaluator.run_once(time.time() * 1000)
    await send(client, project, one, "1.0")  # joins the merged group: not new
    assert [g["count"] for g in frontend_groups(store, project)] == [3]
    evaluator.run_once(time.time() * 1000)
    assert fired(store, [*old, new]) == sorted(f"new_group/{g}" for g in old)
