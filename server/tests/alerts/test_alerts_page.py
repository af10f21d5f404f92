"""The Alerts pages of the UI, rendered by the app in-process (the browser side is in
tests/ui/test_alerts_page.py): login, secrets never on a page, a stored rule this server
cannot read, the delivery log paged and filtered, every trigger and channel kind in the form."""

from __future__ import annotations

import re
from typing import Any, get_args

import httpx
from fastapi import FastAPI

from backlight_server.alerts.channels.config import Channel
from backlight_server.alerts.rules import Trigger
from bltest import TOKEN

AUTH = {"Authorization": f"Bearer {TOKEN}"}
SECRETS: dict[str, dict[str, Any]] = {
    "webhook": {"url": "http://127.0.0.1:9/hook", "secret": "whsec-0123456789-abcdefXYZ1"},
    "slack": {"webhook_url": "https://hooks.slack.test/services/T0/B0/SLACKsecretTOKEN1"},
    "discord": {"webhook_url": "https://discord.test/api/webhooks/1/DISCORDsecretTOKEN2"},
    "teams": {"webhook_url": "https://teams.test/workflows/run?sig=TEAMSsecretTOKEN3"},
    "pagerduty": {"routing_key": "PDsecretROUTINGkey0123456789ab4"},
    "email": {
        "host": "smtp.test",
        "sender": "alerts@shop.test",
        "to": ["ops@shop.test"],
        "username": "alerts",
        "password": "SMTPsecretPASSWORD5",
    },
}
SECRET_VALUES = [
    "whsec-0123456789-abcdefXYZ1",
    "SLACKsecretTOKEN1",
    "DISCORDsecretTOKEN2",
    "TEAMSsecretTOKEN3",
    "PDsecretROUTINGkey0123456789ab4",
    "SMTPsecretPASSWORD5",
]


def _kinds(union: Any) -> set[str]:
    return {m.model_fields["kind"].default for m in get_args(get_args(union)[0])}


async def _rule(client: httpx.AsyncClient, name: str, **extra: Any) -> str:
    body = {
        "name": name,
        "trigger": {"kind": "new_group"},
        "channels": [{"kind": k, **v} for k, v in SECRETS.items()],
        **extra,
    }
    r = await client.post("/api/v1/alert-rules", json=body, headers=AUTH)
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


async def test_the_alert_pages_need_a_login(client: httpx.AsyncClient) -> None:
    rule = await _rule(client, "r")
    for path in ("/alerts", "/alerts/new", f"/alerts/rules/{rule}", "/alerts?offset=50"):
        r = await client.get(path)
        assert r.status_code == 303, path
        assert r.headers["location"].startswith("/login?next="), path
    assert (await client.get("/alerts", headers=AUTH)).status_code == 200


async def test_no_page_shows_a_secret_and_names_are_escaped(client: httpx.AsyncClient) -> None:
    rule = await _rule(client, "<script>alert(1)</script> prod")
    for path in ("/alerts", f"/alerts/rules/{rule}"):
        r = await client.get(path, headers=AUTH)
        assert r.status_code == 200, path
        for secret in SECRET_VALUES:
            assert secret not in r.text, (path, secret)
        assert "<script>alert(1)" not in r.text and "&lt;script&gt;alert(1)" in r.text
    form = (await client.get(f"/alerts/rules/{rule}", headers=AUTH)).text
    cards = form[: form.index("<template")]  # the rule's channels (then the empty templates)
    masked = re.findall(r'data-secret[^>]*value="([^"]*)"', cards)
    assert masked == ["••••XYZ1", "••••KEN1", "••••KEN2", "••••KEN3", "••••9ab4", "••••ORD5"]


async def test_a_stored_rule_this_server_cannot_read_is_listed_not_fatal(
    app: FastAPI, client: httpx.AsyncClient, project: str
) -> None:
    store = app.state.backlight.store
    good = await _rule(client, "still readable")
    store.save_alert_rule("bad-1", project, '{"name": 1, "trigger": {"kind": "from_later"}}')
    store.save_alert_rule("bad-2", project, "not json at all")
    r = await client.get("/alerts", headers=AUTH)
    assert r.status_code == 200
    assert f'data-rule-id="{good}"' in r.text and "still readable" in r.text
    for bad in ("bad-1", "bad-2"):
        row = re.search(
            rf'<tr class="rule-row unreadable" data-rule-id="{bad}".*?</tr>', r.text, re.S
        )
        assert (
            row
            and "cannot read this rule" in row.group(0)
            and 'data-action="delete"' in row.group(0)
        )
    r = await client.get("/alerts/rules/bad-1", headers=AUTH)
    assert r.status_code == 404 and "readable alert rule bad-1" in r.text
    assert (await client.get("/alerts/rules/" + "x" * 65, headers=AUTH)).status_code == 404


async def test_the_delivery_log_is_paged_and_filtered(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    store = app.state.backlight.store
    a, b = await _rule(client, "rule A"), await _rule(client, "rule B")
    for n in range(65):
        store.log_alert_delivery(
            {
                "at_ms": 1_764_583_200_000 + n * 1000,
                "rule_id": a if n < 60 else b,
                "channel": n % 2,
                "kind": "webhook" if n % 2 == 0 else "slack",
                "key": f"new_group/{n}",
                "events": 1,
                "ok": n % 3 != 0,
                "status": 200 if n % 3 else 500,
                "error": "" if n % 3 else f"HTTP 500 number {n}",
                "attempt": 1 + n % 4,
            }
        )
    store.log_alert_delivery(
        {
            "at_ms": 1_764_583_300_000,
            "rule_id": "deleted-rule",
            "channel": 0,
            "kind": "webhook",
            "key": "k",
            "events": 3,
            "ok": False,
            "status": None,
            "error": "interrupted",
            "attempt": 2,
        }
    )
    page = (await client.get("/alerts", headers=AUTH)).text
    assert page.count('<tr class="delivery-row"') == 50 and "1–50 of 66" in page
    assert 'rel="next" href="?offset=50"' in page
    newest = page.index('data-rule-id="deleted-rule"')  # newest first; a deleted rule's id
    assert newest < page.index(f'<tr class="delivery-row" data-rule-id="{b}"')
    page = (await client.get("/alerts?offset=50", headers=AUTH)).text
    assert page.count('<tr class="delivery-row"') == 16 and "51–66 of 66" in page
    assert "HTTP 500 number 0" in page  # the oldest attempt, with its error
    page = (await client.get(f"/alerts?rule={b}", headers=AUTH)).text
    assert page.count('<tr class="delivery-row"') == 5 and "1–5 of 5" in page
    assert "Rule <strong>rule B</strong> only" in page
    # each rule's last delivery: B's newest attempt (n = 64: ok), A's (n = 59: ok)
    for rule, when in ((a, 59), (b, 64)):
        row = re.search(rf'<tr class="rule-row" data-rule-id="{rule}".*?</tr>', page, re.S)
        assert row and "delivered" in row.group(0)
        assert f'data-ms="{1_764_583_200_000 + when * 1000}' in row.group(0)


async def test_the_form_has_every_trigger_and_channel_kind(client: httpx.AsyncClient) -> None:
    page = (await client.get("/alerts/new", headers=AUTH)).text
    assert set(re.findall(r'data-variant="(\w+)"', page)) == _kinds(Trigger)
    assert set(re.findall(r'data-channel-template="(\w+)"', page)) == _kinds(Channel)
    assert set(re.findall(r'value="(\w+)" data-trigger-kind', page)) == _kinds(Trigger)
    for model in get_args(get_args(Trigger)[0]):
        kind = model.model_fields["kind"].default
        block = re.search(rf'data-variant="{kind}".*?</div>\n', page, re.S)
        assert block, kind
        for name in model.model_fields:
            if name != "kind":
                assert f'data-field="trigger.{name}"' in block.group(0), (kind, name)
    for model in get_args(get_args(Channel)[0]):
        kind = model.model_fields["kind"].default
        block = re.search(rf'data-channel-template="{kind}">.*?</template>', page, re.S)
        assert block, kind
        for name in model.model_fields:
            if name != "kind":
                assert f'data-field="{name}"' in block.group(0), (kind, name)
