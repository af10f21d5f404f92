"""The alert-rules API in-process: checked bodies, masked secrets, test messages."""

from __future__ import annotations

from typing import Any

import httpx
from blalerts import SECRET, Receiver, verify, webhook_rule

from bltest import AUTH

SLACK = "https://hooks.slack.example/services/T000/B000/abcdefghijklmnopqrstuvwx"


async def _create(client: httpx.AsyncClient, body: dict[str, Any]) -> httpx.Response:
    return await client.post("/api/v1/alert-rules", json=body, headers=AUTH)


async def test_a_rule_is_created_shown_masked_replaced_and_deleted(
    client: httpx.AsyncClient, project: str
) -> None:
    body = webhook_rule("http://127.0.0.1:9/hook", {"kind": "new_group"})
    body["channels"].append({"kind": "slack", "webhook_url": SLACK})
    r = await _create(client, body)
    assert r.status_code == 201, r.text
    rule = r.json()
    assert rule["project_id"] == project and rule["cooldown_seconds"] == 300
    assert rule["digest_threshold"] == 5 and rule["enabled"] is True
    shown = (await client.get(f"/api/v1/alert-rules/{rule['id']}", headers=AUTH)).text
    listed = (await client.get("/api/v1/alert-rules", headers=AUTH)).text
    for text in (r.text, shown, listed):
        assert SECRET not in text and SLACK not in text and "uvwx" in text
    # GET, edit, PUT: the masked secrets sent back keep the stored ones
    edited = {k: v for k, v in rule.items() if k not in ("id", "updated_ms")}
    edited["name"] = "renamed"
    r = await client.put(f"/api/v1/alert-rules/{rule['id']}", json=edited, headers=AUTH)
    assert r.status_code == 200, r.text
    store = client._transport.app.state.backlight.store  # type: ignore[attr-defined]
    stored = store.get_alert_rule(rule["id"])["body"]
    assert SECRET in stored and SLACK in stored and "renamed" in stored
    r = await client.delete(f"/api/v1/alert-rules/{rule['id']}", headers=AUTH)
    assert r.json() == {"id": rule["id"], "deleted": True}
    for method in ("GET", "DELETE", "PUT"):
        r = await client.request(
            method, f"/api/v1/alert-rules/{rule['id']}", json=edited, headers=AUTH
        )
        assert r.status_code == 404 and r.json()["error"] == "not_found"


async def test_refusals_name_the_field_and_the_limit(client: httpx.AsyncClient) -> None:
    good = webhook_rule("http://127.0.0.1:9/hook", {"kind": "new_group"})
    cases = [
        ({**good, "name": "x" * 201}, "name", "200"),
        ({**good, "cooldown_seconds": 86_401}, "cooldown_seconds", "86400"),
        ({**good, "channels": []}, "channels", "1"),
        ({**good, "channels": good["channels"] * 11}, "channels", "10"),
        (
            {**good, "trigger": {"kind": "spike", "threshold": 0, "window_minutes": 5}},
            "threshold",
            "1",
        ),
        (
            {**good, "trigger": {"kind": "spike", "threshold": 5, "window_minutes": 1441}},
            "window_minutes",
            "1440",
        ),
        ({**good, "filters": {"source": "mobile"}}, "source", "frontend"),
    ]
    for body, field, limit in cases:
        r = await _create(client, body)
        assert r.status_code == 400, (field, r.status_code, r.text)
        detail = r.json()["detail"]
        assert field in detail and limit in detail, (field, detail)
        assert r.json()["error"] == "invalid_parameter"
    r = await _create(client, {**good, "project_id": "nope"})
    assert r.status_code == 404 and "project_id: no project 'nope'" in r.json()["detail"]
    assert (await client.get("/api/v1/alert-rules", headers=AUTH)).json()["rules"] == []


async def test_a_test_message_is_sent_now_and_logged(client: httpx.AsyncClient) -> None:
    with Receiver().running() as rx:
        r = await _create(client, webhook_rule(rx.url + "/hook", {"kind": "regression"}))
        rule = r.json()["id"]
        r = await client.post(f"/api/v1/alert-rules/{rule}/test", headers=AUTH)
        assert r.status_code == 200, r.text
        assert r.json() == {
            "results": [{"channel": 0, "kind": "webhook", "ok": True, "status": 200, "error": ""}]
        }
        got = rx.at("/hook")
        assert len(got) == 1 and verify(SECRET, got[0].headers, got[0].body)
        assert "Test message" in got[0].json["events"][0]["title"]
    page = (await client.get("/api/v1/alert-deliveries", headers=AUTH)).json()
    assert page["total"] == 1 and page["deliveries"][0]["ok"] is True
    assert page["deliveries"][0]["rule_id"] == rule
    r = await client.post("/api/v1/alert-rules/nope/test", headers=AUTH)
    assert r.status_code == 404


async def test_a_stored_rule_this_server_cannot_read_never_gives_a_500(
    client: httpx.AsyncClient, project: str
) -> None:
    """A rule written by a newer version (an unknown trigger) or damaged: the list names it,
    GET answers 409 saying so, PUT replaces it, DELETE removes it."""
    store = client._transport.app.state.backlight.store  # type: ignore[attr-defined]
    good = webhook_rule("http://127.0.0.1:9/hook", {"kind": "new_group"})
    bodies = {
        "newer": '{"id": "newer", "name": "n", "trigger": {"kind": "anomaly"}}',
        "damaged": "{not json",
    }
    for rule_id, body in bodies.items():
        store.save_alert_rule(rule_id, project, body)
    listed = await client.get("/api/v1/alert-rules", headers=AUTH)
    assert listed.status_code == 200, listed.text
    assert sorted(listed.json()["unreadable"]) == ["damaged", "newer"]
    for rule_id in bodies:
        r = await client.get(f"/api/v1/alert-rules/{rule_id}", headers=AUTH)
        assert r.status_code == 409 and r.json()["error"] == "unreadable", r.text
    r = await client.put("/api/v1/alert-rules/newer", json=good, headers=AUTH)
    assert r.status_code == 200 and r.json()["project_id"] == project, r.text
    r = await client.delete("/api/v1/alert-rules/damaged", headers=AUTH)
    assert r.status_code == 200, r.text
    listed = await client.get("/api/v1/alert-rules", headers=AUTH)
    assert listed.json()["unreadable"] == []
    assert [x["id"] for x in listed.json()["rules"]] == ["newer"]
