"""Alerts end to end: a real ``backlight serve``, data sent to its public ingest endpoints,
rules made through the API, and a loopback webhook receiver that checks each signature."""

from __future__ import annotations

import secrets
import time
from pathlib import Path
from typing import Any

import httpx
from blalerts import SECRET, Receiver, exception_span, traces, verify, webhook_rule

from backlight_server.testing import BacklightProcess, wait_for
from bltest import batch, network_entry, session_id, session_start

PUBLIC = "https://backlight.example.test"
FAST = ["--public-url", PUBLIC, "--alert-interval-s", "0.2"]


def _post(server: BacklightProcess, path: str, body: dict[str, Any]) -> httpx.Response:
    r = httpx.post(server.url + path, json=body, timeout=30)
    assert r.status_code == 200, (path, r.status_code, r.text)
    return r


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


def _rule(server: BacklightProcess, url: str, trigger: dict[str, Any], **extra: Any) -> str:
    return str(
        _api(server, "POST", "/api/v1/alert-rules", webhook_rule(url, trigger, **extra))["id"]
    )


def _events(receiver: Receiver, path: str) -> list[dict[str, Any]]:
    out = []
    for got in receiver.at(path):
        assert verify(SECRET, got.headers, got.body), "signature does not verify"
        out.extend(got.json["events"])
    return out


def test_new_group_regression_and_spike_reach_the_receiver(tmp_path: Path) -> None:
    with Receiver().running() as rx, BacklightProcess(tmp_path, args=FAST) as server:
        p = server.project
        _rule(server, rx.url + "/new", {"kind": "new_group"}, cooldown_seconds=0)
        _rule(server, rx.url + "/regression", {"kind": "regression"}, cooldown_seconds=0)
        spike = {"kind": "spike", "threshold": 3, "window_minutes": 5, "scope": "group"}
        _rule(server, rx.url + "/spike", spike, filters={"source": "backend"})
        sid, rid, at = session_id(), secrets.token_hex(16), time.time() * 1000
        _post(server, "/ingest/v1/session", session_start(p, sid))
        front = {"ts": at, "type": "TypeError", "message": "cart is undefined", "source": "onerror"}
        _post(
            server,
            "/ingest/v1/batch",
            batch(p, sid, 0, network=[network_entry(rid)], errors=[front]),
        )
        _post(server, "/v1/traces", traces(p, [exception_span(sid, rid, at + 10)]))

        wait_for(lambda: len(_events(rx, "/new")) >= 2, "2 new groups")
        new = _events(rx, "/new")
        by_type = {e["error_type"]: e for e in new}
        assert set(by_type) == {"TypeError", "ValueError"}
        backend = by_type["ValueError"]
        assert backend["kind"] == "new_group" and backend["source"] == "backend"
        assert backend["service"] == "api" and backend["top_frame"] == "reserve (/app/shop.py:9)"
        gid = backend["group_id"]
        links = backend["links"]
        assert links["group"] == f"{PUBLIC}/errors/{gid}"
        assert links["request"] == f"{PUBLIC}/requests/{rid}"
        assert links["replay"].startswith(f"{PUBLIC}/sessions/{sid}?t=")
        assert links["replay"].endswith(f"&request={rid}")
        assert abs(float(links["replay"].split("t=")[1].split("&")[0]) - (at + 10)) < 1
        assert by_type["TypeError"]["source"] == "frontend"
        assert by_type["TypeError"]["links"]["replay"].startswith(f"{PUBLIC}/sessions/{sid}?t=")

        # regression: resolved through the API, then a new instance
        _api(server, "PATCH", f"/api/v1/error-groups/{gid}", {"state": "resolved"})
        rid2 = secrets.token_hex(16)
        _post(server, "/v1/traces", traces(p, [exception_span(sid, rid2, at + 500)]))
        reg = wait_for(lambda: _events(rx, "/regression"), "the regression")
        assert [(e["kind"], e["group_id"], e["request_id"]) for e in reg] == [
            ("regression", gid, rid2)
        ]

        # spike: more than 3 instances of the group within 5 minutes (2 so far, 2 more)
        assert _events(rx, "/spike") == []
        more = [exception_span(sid, secrets.token_hex(16), at + 600 + n) for n in range(2)]
        _post(server, "/v1/traces", traces(p, more))
        spikes = wait_for(lambda: _events(rx, "/spike"), "the spike")
        assert len(spikes) == 1 and spikes[0]["kind"] == "spike" and spikes[0]["count"] == 4
        assert spikes[0]["title"].startswith("4 errors in 5 min")
        time.sleep(1)  # several more evaluations: nothing is sent twice
        assert len(_events(rx, "/new")) == 2 and len(_events(rx, "/regression")) == 1
        assert len(_events(rx, "/spike")) == 1


def test_a_service_spike_counts_every_group_of_that_service_and_no_other(
    tmp_path: Path,
) -> None:
    """``scope: service``: four groups of one instance each make a spike of their service
    (more than 3), which no group makes on its own; another service's errors count for it
    alone."""
    with Receiver().running() as rx, BacklightProcess(tmp_path, args=FAST) as server:
        p = server.project
        per = {"kind": "spike", "threshold": 3, "window_minutes": 5}
        _rule(server, rx.url + "/service", {**per, "scope": "service"})
        _rule(server, rx.url + "/group", {**per, "scope": "group"})
        at = time.time() * 1000

        def errors(service: str, types: list[str]) -> None:
            spans = [
                exception_span(None, secrets.token_hex(16), at + n, error_type)
                for n, error_type in enumerate(types)
            ]
            _post(server, "/v1/traces", traces(p, spans, service=service))

        # 5 errors in the window, of 5 groups: 2 of api, 3 of billing; no service has more
        # than 3 (all of them together would)
        errors("api", ["FirstError", "SecondError"])
        errors("billing", ["LedgerError", "InvoiceError", "RefundError"])
        time.sleep(1)  # five evaluations
        assert rx.at("/service") == []
        # 2 more groups of api: 4 errors of api, each group still at 1
        errors("api", ["ThirdError", "FourthError"])
        [event] = wait_for(lambda: _events(rx, "/service"), "the spike of api")
        assert event["kind"] == "spike" and event["service"] == "api"
        assert event["count"] == 4  # api's 4, not billing's 3 with them
        assert event["title"] == "4 errors in 5 min: service api"
        assert event["key"].startswith("spike/service:api/")
        assert rx.at("/service")[0].json["summary"] == "Spike: 4 errors in 5 min: service api"
        time.sleep(1)  # more evaluations: once per window; no group spiked
        assert len(rx.at("/service")) == 1
        assert rx.at("/group") == []


def test_a_message_survives_sigkill_between_commit_and_delivery(tmp_path: Path) -> None:
    """The receiver is down when the error is committed; the server is killed with the
    message still in its outbox; after the restart it is delivered, once."""
    rx = Receiver()
    server = BacklightProcess(tmp_path, args=FAST).start()
    try:
        _rule(server, rx.url + "/hook", {"kind": "new_group"})
        p = server.project
        _post(
            server,
            "/v1/traces",
            traces(p, [exception_span(None, secrets.token_hex(16), time.time() * 1000)]),
        )
        wait_for(
            lambda: _api(server, "GET", "/api/v1/alert-deliveries")["total"] >= 1,
            "a failed first attempt",
        )
        log = _api(server, "GET", "/api/v1/alert-deliveries")["deliveries"]
        assert not log[0]["ok"] and log[0]["status"] is None  # connection refused
        server.kill()
    finally:
        server.kill()
    with rx.running(), BacklightProcess(tmp_path, port=server.port, args=FAST) as again:
        got = wait_for(lambda: rx.at("/hook"), "the delivery after the restart")
        wait_for(
            lambda: any(
                d["ok"] for d in _api(again, "GET", "/api/v1/alert-deliveries")["deliveries"]
            ),
            "the delivery log",
        )
        time.sleep(1)  # more evaluations and deliveries: nothing again
        assert len(rx.at("/hook")) == 1 and verify(SECRET, got[0].headers, got[0].body)
        assert got[0].json["events"][0]["error_type"] == "ValueError"


def test_a_receiver_that_fails_gets_the_message_after_retries(tmp_path: Path) -> None:
    with Receiver().running() as rx, BacklightProcess(tmp_path, args=FAST) as server:
        rx.answers["/hook"] = [(500, {"Retry-After": "0"}), (503, {"Retry-After": "0"})]
        rule = _rule(server, rx.url + "/hook", {"kind": "new_group"})
        _post(
            server,
            "/v1/traces",
            traces(
                server.project, [exception_span(None, secrets.token_hex(16), time.time() * 1000)]
            ),
        )
        wait_for(lambda: len(rx.at("/hook")) >= 3, "three attempts")
        log = wait_for(
            lambda: (
                (page := _api(server, "GET", f"/api/v1/alert-deliveries?rule_id={rule}"))["total"]
                >= 3
                and page["deliveries"]
            ),
            "three attempts in the delivery log",
        )
        assert [(d["attempt"], d["ok"], d["status"]) for d in reversed(log)] == [
            (1, False, 500),
            (2, False, 503),
            (3, True, 200),
        ]
        assert log[0]["kind"] == "webhook" and SECRET not in str(log)
        bodies = {r.body for r in rx.at("/hook")}
        assert len(bodies) == 1  # the same message each time
        time.sleep(1)
        assert len(rx.at("/hook")) == 3


def test_a_storm_of_500_new_groups_sends_one_digest_per_channel(tmp_path: Path) -> None:
    with Receiver().running() as rx, BacklightProcess(tmp_path, args=FAST) as server:
        body = webhook_rule(rx.url + "/a", {"kind": "new_group"})
        body["channels"].append({"kind": "webhook", "url": rx.url + "/b", "secret": SECRET})
        _api(server, "POST", "/api/v1/alert-rules", body)
        at = time.time() * 1000
        types = [f"Storm{n}Error" for n in range(500)]
        spans = [
            exception_span(None, secrets.token_hex(16), at + n, error_type)
            for n, error_type in enumerate(types)
        ]
        # one request, committed at once: one evaluation sees all 500 (in several requests,
        # the groups an evaluation after the first finds wait for the cooldown's end, 300 s)
        _post(server, "/v1/traces", traces(server.project, spans))
        wait_for(lambda: rx.at("/a") and rx.at("/b"), "a digest on each channel")
        time.sleep(2)  # ten more evaluations, all within the cooldown (300 s)
        for path in ("/a", "/b"):
            got = rx.at(path)
            assert len(got) == 1, (path, len(got))
            assert verify(SECRET, got[0].headers, got[0].body)
            digest = got[0].json
            assert digest["digest"] is True and digest["summary"] == "rule new_group: 500 alerts"
            events = digest["events"]
            assert {e["kind"] for e in events} == {"new_group"}
            # every group: the first 100 listed (each once, with every field), the rest
            # counted in "more"
            assert len(events) == 100 and digest["more"] == 400
            assert len({e["group_id"] for e in events}) == 100
            assert len({e["error_type"] for e in events} & set(types)) == 100
        log = _api(server, "GET", "/api/v1/alert-deliveries")["deliveries"]
        assert sorted((d["channel"], d["events"], d["ok"]) for d in log) == [
            (0, 500, True),
            (1, 500, True),
        ]


def test_a_storm_spread_over_evaluations_sends_one_digest_per_cooldown(tmp_path: Path) -> None:
    """500 new groups in five requests, half a second apart (several evaluations): within the
    cooldown one digest, when it ends one more with every group the first did not hold;
    none lost, none twice."""
    cooldown = 8
    with Receiver().running() as rx, BacklightProcess(tmp_path, args=FAST) as server:
        body = webhook_rule(rx.url + "/a", {"kind": "new_group"}, cooldown_seconds=cooldown)
        _api(server, "POST", "/api/v1/alert-rules", body)
        types = [f"Spread{n}Error" for n in range(500)]
        start = time.monotonic()  # the first slot is no earlier than this
        for part in range(5):
            at = time.time() * 1000
            spans = [
                exception_span(None, secrets.token_hex(16), at + n, error_type)
                for n, error_type in enumerate(types[part * 100 : (part + 1) * 100])
            ]
            _post(server, "/v1/traces", traces(server.project, spans))
            time.sleep(0.5)
        wait_for(lambda: rx.at("/a"), "the first digest")
        assert len(rx.at("/a")) == 1  # the rest wait for the cooldown's end
        wait_for(lambda: len(rx.at("/a")) >= 2, "the digest after the cooldown", timeout=40)
        # not before the cooldown ended: the second slot is the first slot (no earlier than
        # the first request) plus the cooldown, however late the first digest was delivered
        assert time.monotonic() - start > cooldown - 0.5
        time.sleep(2)  # ten more evaluations: nothing is left to send
        got = rx.at("/a")
        assert len(got) == 2, len(got)
        digests = [g.json for g in got]
        assert all(verify(SECRET, g.headers, g.body) for g in got)
        assert all(d["digest"] for d in digests)
        listed = [e["error_type"] for d in digests for e in d["events"]]
        assert len(listed) == len(set(listed)) and set(listed) <= set(types)
        assert sum(len(d["events"]) + d["more"] for d in digests) == 500
        log = _api(server, "GET", "/api/v1/alert-deliveries")["deliveries"]
        assert sorted(d["events"] for d in log if d["ok"]) == sorted(
            len(d["events"]) + d["more"] for d in digests
        )


def test_a_hanging_receiver_does_not_delay_ingest(tmp_path: Path) -> None:
    rx = Receiver(hang_s=30)
    with rx.running(), BacklightProcess(tmp_path, args=FAST) as server:
        _rule(server, rx.url + "/hang", {"kind": "new_group"}, cooldown_seconds=0)
        took = []
        for n in range(30):
            span = exception_span(None, secrets.token_hex(16), time.time() * 1000, f"Hang{n}Error")
            started = time.perf_counter()
            _post(server, "/v1/traces", traces(server.project, [span]))
            took.append(time.perf_counter() - started)
            if n == 0:
                wait_for(lambda: rx.at("/hang"), "the receiver to hang")
        assert max(took) < 5.0, took  # a delivery waits up to 10 s; ingest never does


def test_a_hanging_receiver_delays_no_other_destination(tmp_path: Path) -> None:
    """Ten rules post to a receiver that never answers and hold every attempt they can;
    a rule posting elsewhere still gets its message at once, not after their timeouts."""
    hanging, answering = Receiver(hang_s=30), Receiver()
    with hanging.running(), answering.running(), BacklightProcess(tmp_path, args=FAST) as server:
        for n in range(10):
            rule = {"service": "checkout"}
            _rule(server, f"{hanging.url}/hang{n}", {"kind": "new_group"}, filters=rule)
        _rule(server, answering.url + "/ok", {"kind": "new_group"}, filters={"service": "search"})
        at = time.time() * 1000
        span = exception_span(None, secrets.token_hex(16), at, "CheckoutError")
        _post(server, "/v1/traces", traces(server.project, [span], service="checkout"))
        wait_for(lambda: len(hanging.got) >= 8, "the hanging receiver to hold eight attempts")
        held = time.monotonic()
        span = exception_span(None, secrets.token_hex(16), at + 1, "SearchError")
        _post(server, "/v1/traces", traces(server.project, [span], service="search"))
        wait_for(lambda: answering.at("/ok"), "the other destination's message", timeout=30)
        # an attempt is cut off after 10 s: before that, every held attempt still hangs
        assert time.monotonic() - held < 8, "the message waited for the hanging receiver"
        assert [e["error_type"] for e in _events(answering, "/ok")] == ["SearchError"]
