"""The log_match and user_error triggers and PagerDuty's resolve, end to end: a real
``backlight serve``, data sent to its public ingest endpoints (OTLP/JSON logs and traces,
browser batches with identify), rules made through the API, loopback receivers."""

from __future__ import annotations

import secrets
import time
from pathlib import Path
from typing import Any

import httpx
from blalerts import SECRET, Receiver, exception_span, traces, verify, webhook_rule
from blchannels import validate_pagerduty

from backlight_server.testing import BacklightProcess, wait_for
from bltest import batch, network_entry, session_id, session_start

PUBLIC = "https://backlight.example.test"
FAST = ["--public-url", PUBLIC, "--alert-interval-s", "0.2"]
ROUTING_KEY = "0123456789abcdef0123456789abcdef"


def _post(server: BacklightProcess, path: str, body: dict[str, Any]) -> None:
    r = httpx.post(server.url + path, json=body, timeout=30)
    assert r.status_code == 200, (path, r.status_code, r.text)


def _api(server: BacklightProcess, method: str, path: str, body: Any = None) -> Any:
    r = httpx.request(
        method,
        server.url + path,
        json=body,
        headers={"Authorization": f"Bearer {server.token}"},
        timeout=30,
    )
    assert r.status_code < 300, (method, path, r.status_code, r.text)
    return r.json()


def _rule(server: BacklightProcess, body: dict[str, Any]) -> str:
    return str(_api(server, "POST", "/api/v1/alert-rules", body)["id"])


def _events(receiver: Receiver, path: str) -> list[dict[str, Any]]:
    out = []
    for got in receiver.at(path):
        assert verify(SECRET, got.headers, got.body), "signature does not verify"
        out.extend(got.json["events"])
    return out


def _logs(project: str, records: list[tuple[str, int]], service: str = "api") -> dict[str, Any]:
    """OTLP/JSON logs: (body, severity number) each, timed now."""
    now = time.time_ns()
    resource = [
        {"key": "service.name", "value": {"stringValue": service}},
        {"key": "highlight.project_id", "value": {"stringValue": project}},
    ]
    return {
        "resourceLogs": [
            {
                "resource": {"attributes": resource},
                "scopeLogs": [
                    {
                        "logRecords": [
                            {
                                "timeUnixNano": str(now + i),
                                "severityNumber": severity,
                                "body": {"stringValue": body},
                            }
                            for i, (body, severity) in enumerate(records)
                        ]
                    }
                ],
            }
        ]
    }


ERROR, INFO = 17, 9


def test_log_match_fires_above_its_threshold_with_a_sample_and_the_search_link(
    tmp_path: Path,
) -> None:
    with Receiver().running() as rx, BacklightProcess(tmp_path, args=FAST) as server:
        p = server.project
        trigger = {
            "kind": "log_match",
            "query": "payment declin*",
            "level": "error",
            "threshold": 2,
            "window_minutes": 5,
        }
        _rule(server, webhook_rule(rx.url + "/logs", trigger, filters={"service": "api"}))
        _post(server, "/v1/logs", _logs(p, [("Payment declined: card 1", ERROR)] * 2))
        # not matching: another word, another level, another service
        _post(
            server,
            "/v1/logs",
            _logs(p, [("payment accepted", ERROR), ("payment declined: retry", INFO)]),
        )
        _post(server, "/v1/logs", _logs(p, [("payment declined", ERROR)], service="billing"))
        time.sleep(1)  # five evaluations: 2 matches are not more than 2
        assert rx.at("/logs") == []
        _post(server, "/v1/logs", _logs(p, [("payment declined: card 3", ERROR)]))
        [event] = wait_for(lambda: _events(rx, "/logs"), "the log match")
        assert event["kind"] == "log_match" and event["count"] == 3
        assert event["title"] == "3 logs match 'payment declin*' in 5 min"
        assert event["message"] == "payment declined: card 3"  # the newest, as a sample
        assert event["service"] == "api" and event["source"] == "backend"
        assert event["key"].startswith("log_match/") and event["group_id"] is None
        assert event["links"]["logs"] == (
            f"{PUBLIC}/logs?q=payment%20declin%2A&level=error&service=api&since=1h"
        )
        time.sleep(1)  # more evaluations, no new log: nothing again
        assert len(rx.at("/logs")) == 1
        # the link opens the UI's log search with those results
        page = httpx.get(
            server.url + event["links"]["logs"].removeprefix(PUBLIC),
            headers={"Authorization": f"Bearer {server.token}"},
            timeout=30,
        )
        assert page.status_code == 200
        assert page.text.count("payment declined: card") >= 1 and "accepted" not in page.text


def _session(
    server: BacklightProcess, user: str, props: dict[str, Any], rid: str, seq: int = 0
) -> str:
    """A browser session that identified ``user`` and made request ``rid``."""
    sid = session_id()
    _post(server, "/ingest/v1/session", session_start(server.project, sid))
    ident = {"ts": time.time() * 1000, "identifier": user, "metadata": props}
    _post(
        server,
        "/ingest/v1/batch",
        batch(server.project, sid, seq, network=[network_entry(rid)], identify=ident),
    )
    return sid


def test_user_error_fires_once_per_session_and_group_for_the_chosen_users(
    tmp_path: Path,
) -> None:
    with Receiver().running() as rx, BacklightProcess(tmp_path, args=FAST) as server:
        p = server.project
        paying = {"kind": "user_error", "property_name": "plan", "property_value": "pro"}
        _rule(server, webhook_rule(rx.url + "/pro", paying, cooldown_seconds=0))
        ada = {"kind": "user_error", "user": "ada@example.com"}
        _rule(server, webhook_rule(rx.url + "/ada", ada, cooldown_seconds=0))
        rid, rid_free = secrets.token_hex(16), secrets.token_hex(16)
        sid = _session(server, "ada@example.com", {"plan": "pro", "seats": 3}, rid)
        free = _session(server, "bob@example.com", {"plan": "free"}, rid_free)
        at = time.time() * 1000
        front = {"ts": at, "type": "TypeError", "message": "x is undefined", "source": "onerror"}
        _post(server, "/ingest/v1/batch", batch(p, sid, 1, errors=[front]))  # not backend
        _post(server, "/v1/traces", traces(p, [exception_span(free, rid_free, at)]))
        _post(server, "/v1/traces", traces(p, [exception_span(sid, rid, at + 10, message="500")]))

        [event] = wait_for(lambda: _events(rx, "/pro"), "the paying user's error")
        assert event["kind"] == "user_error" and event["user"] == "ada@example.com"
        assert event["title"] == "ada@example.com: ValueError: 500"
        assert event["session_id"] == sid and event["request_id"] == rid
        assert event["source"] == "backend" and event["service"] == "api"
        replay = event["links"]["replay"]
        assert replay.startswith(f"{PUBLIC}/sessions/{sid}?t=") and replay.endswith(
            f"&request={rid}"
        )
        assert abs(float(replay.split("t=")[1].split("&")[0]) - (at + 10)) < 1
        assert [e["session_id"] for e in wait_for(lambda: _events(rx, "/ada"), "ada")] == [sid]

        # a backend that links by trace id only (no session attribute): the session of
        # the browser request with that id
        rid_carol = secrets.token_hex(16)
        carol = _session(server, "carol@example.com", {"plan": "pro"}, rid_carol)
        _post(server, "/v1/traces", traces(p, [exception_span(None, rid_carol, at, "OSError")]))
        wait_for(lambda: len(_events(rx, "/pro")) == 2, "carol's error")
        by_carol = _events(rx, "/pro")[1]
        assert by_carol["user"] == "carol@example.com" and by_carol["session_id"] == carol
        assert by_carol["links"]["replay"].endswith(f"&request={rid_carol}")

        # the same group again in that session: not again; another group: once more
        more = [
            exception_span(sid, secrets.token_hex(16), at + 20, message="500"),
            exception_span(sid, secrets.token_hex(16), at + 30, "KeyError", "cart"),
        ]
        _post(server, "/v1/traces", traces(p, more))
        wait_for(lambda: len(_events(rx, "/pro")) == 3, "the second group")
        time.sleep(1)
        got = [e for e in _events(rx, "/pro") if e["session_id"] == sid]
        assert [e["error_type"] for e in got] == ["ValueError", "KeyError"]
        assert len(_events(rx, "/pro")) == 3
        assert len(_events(rx, "/ada")) == 2


def test_pagerduty_resolves_the_incident_when_the_group_is_resolved(tmp_path: Path) -> None:
    with Receiver().running() as rx, BacklightProcess(tmp_path, args=FAST) as server:
        p = server.project
        pd = {"kind": "pagerduty", "routing_key": ROUTING_KEY, "events_url": rx.url + "/pd"}
        _rule(
            server,
            {
                "name": "page on new errors",
                "trigger": {"kind": "new_group"},
                "channels": [{"kind": "webhook", "url": rx.url + "/hook", "secret": SECRET}, pd],
                "cooldown_seconds": 0,
            },
        )
        rid = secrets.token_hex(16)
        _post(server, "/v1/traces", traces(p, [exception_span(None, rid, time.time() * 1000)]))
        [trigger] = wait_for(lambda: rx.at("/pd"), "the trigger")
        validate_pagerduty(trigger.json)
        assert trigger.json["event_action"] == "trigger"
        [hooked] = wait_for(lambda: _events(rx, "/hook"), "the webhook")
        gid = hooked["group_id"]
        assert trigger.json["dedup_key"] == f"backlight:{p}:group:{gid}"

        _api(server, "PATCH", f"/api/v1/error-groups/{gid}", {"state": "resolved"})
        resolve = wait_for(lambda: rx.at("/pd")[1:], "the resolve")[0].json
        validate_pagerduty(resolve)
        assert resolve == {
            "routing_key": ROUTING_KEY,
            "event_action": "resolve",
            "dedup_key": trigger.json["dedup_key"],
        }
        time.sleep(1)  # more evaluations: the resolve is sent once, the webhook gets none
        assert len(rx.at("/pd")) == 2 and len(rx.at("/hook")) == 1
        log = _api(server, "GET", "/api/v1/alert-deliveries")["deliveries"]
        assert [(d["kind"], d["ok"]) for d in log if "/resolve/" in d["key"]] == [
            ("pagerduty", True)
        ]

        # it comes back (a regression of a new_group rule: no trigger), is resolved again:
        # a resolve again, since PagerDuty ignores one for an incident already resolved
        _post(server, "/v1/traces", traces(p, [exception_span(None, rid, time.time() * 1000)]))
        _api(server, "PATCH", f"/api/v1/error-groups/{gid}", {"state": "resolved"})
        wait_for(lambda: len(rx.at("/pd")) == 3, "the second resolve")
        assert rx.at("/pd")[2].json == resolve
