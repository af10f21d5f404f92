"""The storage contract, method by method: every store in ``stores.STORES`` must pass.

Records go in through the ``Store`` write methods (as ingest hands them over) and come
out through its read methods; nothing here knows the engine.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest
from blstores import (
    STORES,
    Opened,
    browser,
    error,
    hex_id,
    log,
    make,
    now_ms,
    request,
    session,
    span,
)

from backlight_server.pipeline.model import ConsoleRecord, Identify, TelemetryBatch, TrackRecord
from backlight_server.store.base import OutboxRow, Store
from backlight_server.store.queries import ErrorGroupQuery, LogQuery, SessionQuery

DAY_MS = 86_400_000


@pytest.fixture(params=STORES)
def opened(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Opened]:
    """A fresh store of each kind, opened, with its default project."""
    store = make(request.param, tmp_path)
    store.open()
    try:
        yield Opened(store, store.default_project())
    finally:
        store.close()


async def test_projects(opened: Opened) -> None:
    store = opened.store
    assert store.default_project() == opened.project  # the same one, every time
    assert store.project_exists(opened.project)
    assert not store.project_exists("nope")
    pid = store.create_project("shop", "shop1")
    assert pid == "shop1" and store.project_exists("shop1")
    made = store.create_project("other")
    assert [p["id"] for p in store.list_projects()] == [opened.project, "shop1", made]
    assert {p["name"] for p in store.list_projects()} == {"default", "shop", "other"}


async def test_session_round_trip(opened: Opened) -> None:
    store, p = opened.store, opened.project
    info = session(p)
    sid, t, rid = info.secure_id, now_ms(), hex_id(16)
    await store.start_session(info)
    assert store.session_info(sid) is not None
    events = [{"type": 4, "data": {"href": "http://app.test/"}, "timestamp": t}]
    fe = error(p, "x is undefined", source="frontend", error_type="TypeError", session_id=sid)
    assert await store.write_browser(
        browser(
            info,
            0,
            events=events,
            network=[request(sid, rid, t)],
            console=[ConsoleRecord(sid, t, "warn", "careful", None)],
            errors=[fe],
        ),
        100,
    )
    assert await store.write_browser(
        browser(info, 1, events=[{"type": 3, "data": {}, "timestamp": t + 1}]), 10
    )
    assert await store.annotate_session(
        sid, Identify(t, "ada@example.com", '{"plan": "pro"}'), [TrackRecord(sid, t, "buy", None)]
    )
    view = store.get_session(sid)
    assert view is not None
    assert view["session"]["identifier"] == "ada@example.com"
    assert view["session"]["fe_error_count"] == 1
    assert [n["request_id"] for n in view["network"]] == [rid]
    assert view["network"][0]["backend"] == {
        "spans": 0,
        "logs": 0,
        "errors": 0,
        "worst_level": None,
    }
    assert [e["type"] for e in view["errors"]] == ["TypeError"]
    assert [e["event"] for e in view["track"]] == ["buy"]
    assert [(c["level"], c["message"]) for c in view["console"]] == [("warn", "careful")]
    overview = store.get_session_overview(sid)
    assert overview is not None and overview["network"][0]["backend"] is not None
    assert [e["event"] for e in overview["track"]] == ["buy"]  # the session page shows them
    assert store.get_session("missing") is None
    page = store.get_replay(sid, -1, 1)
    assert len(page["events_json"]) == 1 and page["next_seq"] == 0
    rest = store.get_replay(sid, 0, 10)
    assert len(rest["events_json"]) == 1 and rest["next_seq"] is None


async def test_a_request_without_an_id_gets_an_empty_backend_summary(opened: Opened) -> None:
    """A session whose network rows carry no request id (untraced requests) still shows a
    summary of nothing for each, not a missing one."""
    store, p = opened.store, opened.project
    info = session(p)
    t = now_ms()
    await store.start_session(info)
    assert await store.write_browser(
        browser(info, 0, network=[request(info.secure_id, None, t)]), 1
    )
    view = store.get_session(info.secure_id)
    assert view is not None and [n["request_id"] for n in view["network"]] == [None]
    assert view["network"][0]["backend"] == {
        "spans": 0,
        "logs": 0,
        "errors": 0,
        "worst_level": None,
    }


async def test_a_batch_whose_only_error_was_recorded_before_keeps_its_logs(
    opened: Opened,
) -> None:
    """One exception recorded as a span event and, in a later batch, as a log record of the
    same trace is one instance; that later batch's logs are stored all the same."""
    store, p = opened.store, opened.project
    trace = hex_id(16)
    first = error(p, "card declined", source="span", trace_id=trace, request_id=trace)
    await store.write_telemetry(TelemetryBatch(errors=[first]), 1)
    again = error(p, "card declined", source="log", trace_id=trace, request_id=trace)
    body = log(p, "charge failed: card declined", "api", trace_id=trace, severity=17)
    await store.write_telemetry(TelemetryBatch(logs=[body], errors=[again]), 1)
    view = store.get_trace(trace)
    assert [lg["body"] for lg in view["logs"]] == ["charge failed: card declined"]
    assert [e["source"] for e in view["errors"]] == ["span"]


async def test_retried_browser_batch_is_stored_once(opened: Opened) -> None:
    store, p = opened.store, opened.project
    info = session(p)
    sid, t = info.secure_id, now_ms()
    first = browser(info, 3, network=[request(sid, hex_id(16), t)])
    assert await store.write_browser(first, 10)
    again = browser(info, 3, network=[request(sid, hex_id(16), t)])
    assert not await store.write_browser(again, 10)  # same session and seq: a retry
    view = store.get_session(sid)
    assert view is not None and len(view["network"]) == 1
    assert view["session"]["network_count"] == 1


async def test_request_links_across_services(opened: Opened) -> None:
    """The browser's request id R; service A carries R with traces of its own, service B
    is plain OpenTelemetry continuing trace R; an unrelated trace stays out."""
    store, p = opened.store, opened.project
    info = session(p)
    sid, rid, t = info.secure_id, hex_id(16), now_ms()
    await store.write_browser(browser(info, 0, network=[request(sid, rid, t)]), 10)
    own = hex_id(16)
    root = span(p, own, "api", session_id=sid, request_id=rid)
    child = span(p, own, "api", parent=root.span_id, session_id=sid, request_id=rid)
    plain = span(p, rid, "pricing")
    other = span(p, hex_id(16), "unrelated")
    batch = TelemetryBatch(
        spans=[root, child, plain, other],
        logs=[
            log(p, "reserving stock", "api", trace_id=own, session_id=sid, request_id=rid),
            log(p, "cache miss", "pricing", trace_id=rid, severity=13),
            log(p, "elsewhere", "unrelated", trace_id=other.trace_id),
        ],
        errors=[error(p, "out of stock", session_id=sid, request_id=rid, trace_id=own)],
    )
    await store.write_telemetry(batch, 100)
    view = store.get_request(rid)
    assert view["session_secure_id"] == sid
    assert view["browser"]["request_id"] == rid
    assert view["trace_ids"] == sorted([own, rid])
    assert view["services"] == ["api", "pricing"]
    assert view["span_count"] == 3
    api_root = next(s for s in view["spans"] if s["span_id"] == root.span_id)
    assert [c["span_id"] for c in api_root["children"]] == [child.span_id]
    assert api_root["duration_ms"] == 5.0
    assert {lg["body"] for lg in view["logs"]} == {"reserving stock", "cache miss"}
    assert [e["message"] for e in view["errors"]] == ["out of stock"]
    assert all(x["match"] == "exact" for x in [*view["logs"], *view["errors"]])
    summary = store.backend_summaries([rid, "unknown"])
    assert summary[rid] == {"spans": 3, "logs": 2, "errors": 1, "worst_level": "warn"}
    session_view = store.get_session(sid)
    assert session_view is not None
    assert session_view["network"][0]["backend"] == summary[rid]
    assert [e["message"] for e in session_view["backend_errors"]] == ["out of stock"]
    trace = store.get_trace(own)
    assert trace["span_count"] == 2 and [s["span_id"] for s in trace["spans"]] == [root.span_id]


async def test_errors_group_by_fingerprint_and_keep_their_state(opened: Opened) -> None:
    store, p = opened.store, opened.project
    await store.write_telemetry(
        TelemetryBatch(
            errors=[
                error(p, "order 1 failed"),
                error(p, "order 2 failed"),  # numbers differ: the same group
                error(p, "order 3 failed", error_type="KeyError"),
            ]
        ),
        10,
    )
    page = store.list_error_groups(ErrorGroupQuery(project_id=p))
    assert page["total"] == 2
    counts = {g["type"]: g["count"] for g in page["groups"]}
    second = store.list_error_groups(ErrorGroupQuery(limit=1, offset=1))
    assert second["total"] == 2 and len(second["groups"]) == 1
    assert second["groups"][0]["id"] == page["groups"][1]["id"]
    assert counts == {"ValueError": 2, "KeyError": 1}
    gid = next(g["id"] for g in page["groups"] if g["type"] == "ValueError")
    assert await store.set_error_group_state(gid, "resolved")
    assert not await store.set_error_group_state(10**9, "resolved")
    resolved = store.list_error_groups(ErrorGroupQuery(state="resolved"))
    assert [g["id"] for g in resolved["groups"]] == [gid]
    assert store.list_error_groups(ErrorGroupQuery(state="open"))["total"] == 1
    group = store.get_error_group(gid, 1)
    assert group is not None and group["group"]["state"] == "resolved"
    assert len(group["instances"]) == 1 and sum(group["group"]["sparkline"]) == 2
    assert store.get_error_group(10**9, 10) is None
    # a later instance of a resolved group is still counted in it
    await store.write_telemetry(TelemetryBatch(errors=[error(p, "order 4 failed")]), 10)
    group = store.get_error_group(gid, 10)
    assert group is not None and group["group"]["count"] == 3


async def test_sessions_list_filters_and_pages(opened: Opened) -> None:
    store, p = opened.store, opened.project
    base = now_ms() - 10_000
    infos = [session(p, started_ms=base + i) for i in range(5)]
    for i, info in enumerate(infos):
        errors = [error(p, "boom", source="frontend", session_id=info.secure_id)] if i == 1 else []
        await store.write_browser(browser(info, 0, errors=errors), 10)
    await store.annotate_session(infos[2].secure_id, Identify(base, "grace@example.com", None), [])
    every = store.list_sessions(SessionQuery(project_id=p))
    assert every["total"] == 5
    assert [s["secure_id"] for s in every["sessions"]] == [i.secure_id for i in reversed(infos)]
    page = store.list_sessions(SessionQuery(limit=2, offset=2))
    assert page["total"] == 5 and len(page["sessions"]) == 2
    assert page["sessions"][0]["secure_id"] == infos[2].secure_id
    assert [
        s["secure_id"] for s in store.list_sessions(SessionQuery(user="grace"))["sessions"]
    ] == [infos[2].secure_id]
    with_errors = store.list_sessions(SessionQuery(has_errors=True))["sessions"]
    assert [s["secure_id"] for s in with_errors] == [infos[1].secure_id]
    assert store.list_sessions(SessionQuery(has_errors=False))["total"] == 4
    late = store.list_sessions(SessionQuery(start_ms=base + 3))
    assert late["total"] == 2
    assert store.list_sessions(SessionQuery(url_contains="cart"))["total"] == 5
    assert store.list_sessions(SessionQuery(url_contains="100%_"))["total"] == 0
    assert store.list_sessions(SessionQuery(project_id="other"))["total"] == 0


async def test_log_search_semantics(opened: Opened) -> None:
    store, p = opened.store, opened.project
    info = session(p)
    sid, rid, t = info.secure_id, hex_id(16), time.time_ns() // 10**6 * 10**6
    await store.write_browser(browser(info, 0, network=[request(sid, rid, now_ms())]), 10)
    bodies = [
        ("payment declined for order 7", "api", 17, None),
        ("payment accepted", "api", 9, rid),
        ('quoted "payment" (declined)', "billing", 13, None),
        ("inventory reserved", "inventory", 9, None),
    ]
    await store.write_telemetry(
        TelemetryBatch(
            logs=[
                log(p, body, svc, severity=sev, trace_id=trace, ts_ns=t + i * 10**6)
                for i, (body, svc, sev, trace) in enumerate(bodies)
            ]
        ),
        10,
    )

    def found(**fields: object) -> list[str]:
        return [lg["body"] for lg in store.search_logs(LogQuery(**fields))["logs"]]  # type: ignore[arg-type]

    # every word must occur; newest first
    assert found(text="payment declined") == [bodies[2][0], bodies[0][0]]
    assert found(text="pay*") == [bodies[2][0], bodies[1][0], bodies[0][0]]
    assert found(text="PAYMENT accepted") == [bodies[1][0]]  # case does not matter
    # no syntax: quotes and brackets are text like any other (issue 22: substrings)
    assert found(text='"payment" (declined') == [bodies[2][0]]
    assert found(text="refund") == []
    assert found(level="error") == [bodies[0][0]]
    assert found(service="inventory") == [bodies[3][0]]
    assert found(request_id=rid) == [bodies[1][0]]
    assert found(session_id=sid) == [bodies[1][0]]  # through the session's request
    assert found(start_ms=t / 1e6 + 1.5) == [bodies[3][0], bodies[2][0]]
    assert found(end_ms=t / 1e6 + 0.5) == [bodies[0][0]]
    page = store.search_logs(LogQuery(limit=3))
    assert len(page["logs"]) == 3 and page["has_more"]
    rest = store.search_logs(LogQuery(limit=3, offset=3))
    assert [lg["body"] for lg in rest["logs"]] == [bodies[0][0]] and not rest["has_more"]
    assert rest["logs"][0]["ts_ms"] == t // 10**6  # a whole ms, read back exact


async def test_retention_removes_only_older_data(opened: Opened) -> None:
    store, p = opened.store, opened.project
    old_ms, new_ms = now_ms() - 40 * DAY_MS, now_ms()
    old, new = session(p, started_ms=old_ms), session(p, started_ms=new_ms)
    await store.write_browser(browser(old, 0, network=[request(old.secure_id, None, old_ms)]), 1)
    await store.write_browser(browser(new, 0, network=[request(new.secure_id, None, new_ms)]), 1)
    old_trace, new_trace = hex_id(16), hex_id(16)
    await store.write_telemetry(
        TelemetryBatch(
            spans=[
                span(p, old_trace, "api", start_ns=int(old_ms * 1e6)),
                span(p, new_trace, "api", start_ns=int(new_ms * 1e6)),
            ],
            logs=[
                log(p, "old news", "api", ts_ns=int(old_ms * 1e6)),
                log(p, "fresh news", "api", ts_ns=int(new_ms * 1e6)),
            ],
            errors=[error(p, "old failure", ts_ms=old_ms), error(p, "new failure", ts_ms=new_ms)],
        ),
        10,
    )
    assert store.purge_before(now_ms() - 30 * DAY_MS) > 0
    assert store.get_session(old.secure_id) is None
    assert store.get_session(new.secure_id) is not None
    assert store.get_trace(old_trace)["span_count"] == 0
    assert store.get_trace(new_trace)["span_count"] == 1
    assert [lg["body"] for lg in store.search_logs(LogQuery(text="news"))["logs"]] == ["fresh news"]
    groups = store.list_error_groups(ErrorGroupQuery())["groups"]
    gid = groups[0]["id"]
    group = store.get_error_group(gid, 10)
    assert group is not None
    assert [i["message"] for i in group["instances"]] == ["new failure"]


async def test_counts_for_the_setup_checklist(opened: Opened) -> None:
    store, p = opened.store, opened.project
    assert store.counts(p)["sessions"] == 0
    info = session(p)
    rid, t = hex_id(16), now_ms()
    await store.write_browser(
        browser(
            info, 0, network=[request(info.secure_id, rid, t), request(info.secure_id, None, t)]
        ),
        10,
    )
    await store.write_telemetry(
        TelemetryBatch(spans=[span(p, rid, "api")], logs=[log(p, "x", "api")]), 10
    )
    counts = store.counts(p)
    assert counts["sessions"] == 1 and counts["spans"] == 1 and counts["logs"] == 1
    assert counts["requests_with_id"] == 1 and counts["requests_without_id"] == 1
    assert counts["first_linked_request"]["request_id"] == rid
    assert store.counts("other")["sessions"] == 0
    # the first linked request is the earliest that links, not the earliest with an id
    other = session(p)
    unlinked, failed, early, late = (hex_id(16) for _ in range(4))
    await store.write_browser(
        browser(
            other,
            0,
            network=[
                request(other.secure_id, unlinked, t - 5000),
                request(other.secure_id, failed, t - 4000)._replace(error="cors", status=0),
                request(other.secure_id, late, t - 2000),
                request(other.secure_id, early, t - 3000),
            ],
        ),
        10,
    )
    await store.write_telemetry(
        TelemetryBatch(spans=[span(p, late, "api"), span(p, early, "api")]), 10
    )
    counts = store.counts(p)
    assert counts["first_linked_request"]["request_id"] == early
    assert counts["requests_with_id"] == 5 and counts["requests_without_id"] == 1
    assert counts["requests_with_id_failed"] == 1


async def test_operational_figures(opened: Opened) -> None:
    store, p = opened.store, opened.project
    seen: list[float] = []
    store.observe_writes(seen.append)
    assert store.health().ok
    assert store.queue_depth() == 0
    await store.write_telemetry(TelemetryBatch(logs=[log(p, "x", "api")]), 10)
    store.write_telemetry_sync(TelemetryBatch(logs=[log(p, "y", "api")]), 10)
    assert len(seen) >= 2 and all(s >= 0 for s in seen)


def test_the_suite_calls_every_store_method() -> None:
    """A method added to ``Store`` needs a conformance test before a second store can
    be trusted to implement it."""
    source = "".join(f.read_text() for f in sorted(Path(__file__).parent.glob("test_*.py")))
    methods = [n for n, v in vars(Store).items() if not n.startswith("_") and callable(v)]
    missing = [n for n in methods if f".{n}(" not in source]
    assert missing == []


def test_a_lease_has_one_holder_until_it_expires(opened: Opened) -> None:
    store = opened.store
    assert store.lease("retention", "server-a", 60)
    assert not store.lease("retention", "server-b", 60)  # held by a
    assert store.lease("retention", "server-a", 60)  # renewed by its holder
    assert store.lease("alerts", "server-b", 60)  # another job: its own lease
    assert store.lease("short", "server-a", 0.2)
    time.sleep(0.4)
    assert store.lease("short", "server-b", 60)  # expired: taken over
    assert not store.lease("short", "server-a", 60)


async def test_a_group_shows_its_earliest_instance(opened: Opened) -> None:
    """Type, message and stack of a group are those of its earliest instance by time,
    whatever order instances arrive in (servers may receive them in any order)."""
    store, p, t = opened.store, opened.project, now_ms()
    await store.write_telemetry(TelemetryBatch(errors=[error(p, "order 1 failed", ts_ms=t)]), 1)
    await store.write_telemetry(
        TelemetryBatch(errors=[error(p, "order 2 failed", ts_ms=t - 10)]), 1
    )
    [group] = store.list_error_groups(ErrorGroupQuery())["groups"]
    assert group["message"] == "order 2 failed"
    assert group["count"] == 2 and group["first_ms"] == t - 10 and group["last_ms"] == t


# --- alerts (issue 20) ------------------------------------------------------------------


def _rule_body(name: str) -> str:
    return orjson.dumps({"name": name}).decode()


def test_alert_rules_are_created_replaced_and_deleted(opened: Opened) -> None:
    store, p = opened.store, opened.project
    other = store.create_project("other", "other1")
    assert store.alert_cursors() == {}
    store.save_alert_rule("r1", p, _rule_body("one"))
    store.save_alert_rule("r2", other, _rule_body("two"))
    assert set(store.alert_cursors()) == {p, other}  # a rule starts its project's cursor
    assert [r["id"] for r in store.alert_rules()] == ["r1", "r2"]
    assert [r["id"] for r in store.alert_rules(other)] == ["r2"]
    store.save_alert_rule("r1", p, _rule_body("one, renamed"))
    got = store.get_alert_rule("r1")
    assert got is not None and orjson.loads(got["body"]) == {"name": "one, renamed"}
    assert got["project_id"] == p and got["updated_ms"] > 0
    assert len(store.alert_rules()) == 2
    assert store.delete_alert_rule("r1")
    assert not store.delete_alert_rule("r1")
    assert store.get_alert_rule("r1") is None
    assert [r["id"] for r in store.alert_rules()] == ["r2"]


async def test_alert_errors_after_the_cursor_say_new_and_reopened(opened: Opened) -> None:
    store, p = opened.store, opened.project
    await store.write_telemetry(
        TelemetryBatch(errors=[error(p, "before", error_type="OSError")]), 1
    )
    store.save_alert_rule("r1", p, _rule_body("one"))
    cursor = store.alert_cursors()[p]
    sid = hex_id(10)
    info = session(p, sid)
    await store.start_session(info)
    await store.annotate_session(sid, Identify(now_ms(), "ada@example.com", None), [])
    await store.write_telemetry(
        TelemetryBatch(
            errors=[
                error(p, "order 1 failed", session_id=sid, request_id="req-1"),
                error(p, "order 2 failed"),  # same group: not new
                error(p, "cart empty", error_type="KeyError", service="web"),
            ]
        ),
        1,
    )
    rows, cursor = store.alert_errors_after(p, cursor, 100)
    # ClickHouse reads again a few seconds before its cursor (late inserts), and orders
    # one insert's rows by id: which of two instances inserted together made the group is
    # the one it reads first.
    rows = [r for r in rows if r["type"] != "OSError"]
    assert sorted((r["type"], str(r["change"])) for r in rows) == [
        ("KeyError", "new"),
        ("ValueError", "None"),
        ("ValueError", "new"),
    ]
    assert rows[0]["change"] == "new"
    first = next(r for r in rows if r["request_id"] == "req-1")
    assert first["user"] == "ada@example.com" and first["session_id"] == sid
    assert first["request_id"] == "req-1" and first["service"] == "api"
    assert first["count"] == 2 and first["first_ms"] <= first["last_ms"]
    assert "ts_ms" in first and "stack" in first and "environment" in first
    gid = int(first["group_id"])
    assert await store.set_error_group_state(gid, "resolved")
    await asyncio.sleep(0.01)
    await store.write_telemetry(TelemetryBatch(errors=[error(p, "order 5 failed")]), 1)
    await store.write_telemetry(TelemetryBatch(errors=[error(p, "order 6 failed")]), 1)
    again, cursor = store.alert_errors_after(p, cursor, 100)
    seen = {int(r["id"]) for r in rows}
    fresh = [r for r in again if int(r["id"]) not in seen and r["type"] != "OSError"]
    assert [r["change"] for r in fresh] == ["reopened", None]
    assert all(r["change"] in ("new", None) for r in again if int(r["id"]) in seen)
    counts = store.alert_error_counts(p, now_ms() - 60_000, "group", [str(gid)])
    assert counts == {str(gid): 4}
    by_service = store.alert_error_counts(p, now_ms() - 60_000, "service", ["api", "web", "x"])
    assert by_service == {"api": 5, "web": 1, "x": 0}


def test_the_outbox_keeps_one_row_per_key(opened: Opened) -> None:
    store, p = opened.store, opened.project
    store.save_alert_rule("r1", p, _rule_body("one"))
    t = now_ms()
    rows = [OutboxRow(f"r1/0/new_group/{n}", "r1", p, 0, t, f'{{"n": {n}}}') for n in range(3)]
    assert store.alert_last_slot("r1") is None
    assert store.enqueue_alerts(rows, p, "cursor-1") == 3
    assert store.enqueue_alerts(rows[:2], p, "cursor-2") == 0  # the same keys: kept once
    assert store.alert_cursors()[p] == "cursor-2"
    assert store.alert_last_slot("r1") == t
    due = store.due_alerts(t + 1, 100)
    assert sorted(r["key"] for r in due) == [r.key for r in rows]
    assert {r["state"] for r in due} == {"pending"} and due[0]["event"].startswith('{"n"')
    assert store.due_alerts(t - 1000, 100) == []  # not due before its slot
    store.mark_alerts(due[:1], "sending", 1, t + 40_000, "")
    store.mark_alerts(due[1:2], "pending", 1, t + 2_000, "HTTP 500")
    store.mark_alerts(due[2:], "delivered", 1, 0.0, "")
    assert [r["key"] for r in store.due_alerts(t + 1, 100)] == []
    later = store.due_alerts(t + 3_000, 100)
    assert [(r["key"], r["attempts"], r["last_error"]) for r in later] == [
        (due[1]["key"], 1, "HTTP 500")
    ]
    cut = store.due_alerts(t + 50_000, 100)  # a "sending" row past its deadline comes back
    assert {r["key"]: r["state"] for r in cut} == {
        due[0]["key"]: "sending",
        due[1]["key"]: "pending",
    }
    assert store.enqueue_alerts(rows, p, "cursor-3") == 0  # a delivered key is not added again
    assert due[2]["key"] not in {r["key"] for r in store.due_alerts(t + 50_000, 100)}


def test_the_delivery_log_pages_newest_first(opened: Opened) -> None:
    store = opened.store
    for n in range(5):
        store.log_alert_delivery(
            {
                "at_ms": now_ms() + n,
                "rule_id": "r1" if n % 2 == 0 else "r2",
                "channel": 0,
                "kind": "webhook",
                "key": f"r1/0/new_group/{n}",
                "events": 1,
                "ok": n == 4,
                "status": 200 if n == 4 else 500,
                "error": "" if n == 4 else "HTTP 500",
                "attempt": n + 1,
            }
        )
    page = store.alert_deliveries(None, 2, 0)
    assert page["total"] == 5 and [d["attempt"] for d in page["deliveries"]] == [5, 4]
    assert page["deliveries"][0]["ok"] is True and page["deliveries"][1]["ok"] is False
    assert page["deliveries"][0]["status"] == 200 and page["deliveries"][0]["kind"] == "webhook"
    rest = store.alert_deliveries(None, 10, 2)
    assert [d["attempt"] for d in rest["deliveries"]] == [3, 2, 1]
    mine = store.alert_deliveries("r1", 10, 0)
    assert mine["total"] == 3 and [d["attempt"] for d in mine["deliveries"]] == [5, 3, 1]


# --- alerts: log_match, user_error, PagerDuty's resolve ---------------------------------


def _total(store: Store, query: LogQuery, env: str | None, state: dict[str, object]) -> int:
    """Asks for what came after the last cursor and applies it as the evaluator does:
    ``whole`` replaces, otherwise adds."""
    got = store.alert_log_counts(query, env, 60_000, str(state.get("cursor", "")))
    buckets: dict[int, int] = dict(state.get("buckets", {}))  # type: ignore[call-overload]
    if got.whole:
        buckets = dict(got.buckets)
    else:
        for b, n in got.buckets.items():
            buckets[b] = buckets.get(b, 0) + n
    state.update(cursor=got.cursor, buckets=buckets, sample=got.sample)
    return sum(buckets.values())


async def test_alert_log_counts_match_as_the_log_search_does(opened: Opened) -> None:
    store, p = opened.store, opened.project
    other = store.create_project("other", "other1")
    t = (time.time_ns() // 60_000_000_000 - 3) * 60_000_000_000  # a minute's start
    bodies = [
        ("payment declined for order 7", "api", 17),
        ("payment accepted", "api", 9),
        ("inventory reserved", "inventory", 9),
        ('Payment "DECLINED" (twice)', "billing", 13),
    ]
    logs = [
        log(p, b, svc, severity=sev, ts_ns=t + i * 10**6) for i, (b, svc, sev) in enumerate(bodies)
    ]
    logs.append(log(other, "payment declined elsewhere", "api", ts_ns=t))
    await store.write_telemetry(TelemetryBatch(logs=logs), 10)
    since = t / 1e6 - 60_000

    def q(**fields: object) -> LogQuery:
        return LogQuery(project_id=p, start_ms=since, **fields)  # type: ignore[arg-type]

    state: dict[str, object] = {}
    assert _total(store, q(text="payment declined"), None, state) == 2
    sample = state["sample"]
    assert isinstance(sample, dict) and sample["body"] == bodies[3][0]
    assert sample["service"] == "billing" and sample["ts_ms"] == t // 10**6 + 3
    assert sample["level"] == "warn" and "id" in sample
    # nothing new: the same count, and nothing counted twice
    assert _total(store, q(text="payment declined"), None, state) == 2
    got = store.alert_log_counts(q(text="payment declined"), None, 60_000, str(state["cursor"]))
    assert not got.whole and got.buckets == {} and got.sample is None
    # a match a minute later and a log that does not match: one more, in its own bucket
    await store.write_telemetry(
        TelemetryBatch(
            logs=[
                log(p, "payment declined again", "api", ts_ns=t + 60 * 10**9),
                log(p, "payment retried", "api", ts_ns=t + 60 * 10**9),
            ]
        ),
        10,
    )
    assert _total(store, q(text="payment declined"), None, state) == 3
    assert state["buckets"] == {t // 60_000_000_000: 2, t // 60_000_000_000 + 1: 1}
    assert state["sample"]["body"] == "payment declined again"  # type: ignore[index]
    # the search's words and filters, counted whole from an empty cursor
    assert _total(store, q(text="pay*"), None, {}) == 5
    assert _total(store, q(text="PAYMENT declined", level="error"), None, {}) == 1
    assert _total(store, q(text="declined", service="billing"), None, {}) == 1
    assert _total(store, q(text="declined"), "test", {}) == 3
    assert _total(store, q(text="declined"), "production", {}) == 0
    assert _total(store, q(text="refund"), None, {}) == 0
    late = LogQuery(project_id=p, start_ms=t / 1e6 + 2, text="declined")
    assert _total(store, late, None, {}) == 2  # timed at or after start_ms


async def test_alert_rows_carry_the_users_properties(opened: Opened) -> None:
    store, p = opened.store, opened.project
    store.save_alert_rule("r1", p, _rule_body("one"))
    cursor = store.alert_cursors()[p]
    sid = hex_id(10)
    await store.start_session(session(p, sid))
    meta = orjson.dumps({"plan": "pro", "seats": 12}).decode()
    await store.annotate_session(sid, Identify(now_ms(), "ada@example.com", meta), [])
    await store.write_telemetry(
        TelemetryBatch(errors=[error(p, "card declined", session_id=sid, request_id="r-1")]), 1
    )
    # a backend that links by trace id only: the session of the browser request
    rid = hex_id(16)
    await store.write_browser(browser(session(p, sid), 0, network=[request(sid, rid, now_ms())]), 1)
    await store.write_telemetry(
        TelemetryBatch(errors=[error(p, "card expired", error_type="KeyError", request_id=rid)]), 1
    )
    await store.write_telemetry(TelemetryBatch(errors=[error(p, "alone", request_id="r-9")]), 1)
    rows, _ = store.alert_errors_after(p, cursor, 100)
    by_message = {r["message"]: r for r in rows}
    row = by_message["card declined"]
    assert row["session_id"] == sid and row["user"] == "ada@example.com"
    assert orjson.loads(row["user_metadata"]) == {"plan": "pro", "seats": 12}
    linked = by_message["card expired"]
    assert linked["session_id"] == sid and linked["request_id"] == rid
    assert linked["user"] == "ada@example.com" and linked["user_metadata"] == row["user_metadata"]
    alone = by_message["alone"]
    assert alone["session_id"] is None and alone["user"] is None


async def test_group_resolutions_are_read_after_a_cursor(opened: Opened) -> None:
    store, p = opened.store, opened.project
    await store.write_telemetry(TelemetryBatch(errors=[error(p, "order 1 failed")]), 1)
    [group] = store.list_error_groups(ErrorGroupQuery())["groups"]
    gid = int(group["id"])
    rows, cursor = store.alert_resolutions_after("", 100)
    assert rows == []  # an empty cursor starts at the latest
    assert await store.set_error_group_state(gid, "resolved")
    rows, cursor = store.alert_resolutions_after(cursor, 100)
    assert [(r["project_id"], r["group_id"]) for r in rows] == [(p, gid)]
    first = rows[0]["id"]
    assert isinstance(first, str) and rows[0]["at_ms"] > 0
    assert not await store.set_error_group_state(gid + 1, "resolved")  # no such group
    assert await store.set_error_group_state(gid, "open")  # not a resolution
    await asyncio.sleep(0.01)
    assert await store.set_error_group_state(gid, "resolved")
    again, _ = store.alert_resolutions_after(cursor, 100)
    # ClickHouse reads again a few seconds before its cursor: the same id for the same one
    fresh = [r for r in again if r["id"] != first]
    assert [(r["project_id"], r["group_id"]) for r in fresh] == [(p, gid)]


def test_fired_groups_are_read_from_the_outbox(opened: Opened) -> None:
    store, p = opened.store, opened.project
    t = now_ms()

    def event(key: str, gid: int | None) -> str:
        return orjson.dumps({"kind": "new_group", "key": key, "group_id": gid}).decode()

    resolve = orjson.dumps({"resolve": {"key": "resolve/5/1", "group_id": 5}}).decode()
    rows = [
        OutboxRow("r1/0/new_group/5", "r1", p, 0, t, event("new_group/5", 5)),
        OutboxRow("r1/1/new_group/5", "r1", p, 1, t, event("new_group/5", 5)),
        OutboxRow("r1/0/regression/5/9", "r1", p, 0, t, event("regression/5/9", 5)),
        OutboxRow("r1/0/new_group/6", "r1", p, 0, t, event("new_group/6", 6)),
        OutboxRow("r2/0/new_group/5", "r2", p, 0, t, event("new_group/5", 5)),
        OutboxRow("r1/0/log_match/7", "r1", p, 0, t, event("log_match/7", None)),
        OutboxRow("r1/0/resolve/5/1", "r1", p, 0, 0.0, resolve),
    ]
    assert store.enqueue_alerts(rows, p, "c") == 7
    got = store.alert_fired_groups(["r1"], [5])
    assert sorted((r["rule_id"], int(r["channel"]), int(r["group_id"]), r["key"]) for r in got) == [
        ("r1", 0, 5, "new_group/5"),
        ("r1", 0, 5, "regression/5/9"),
        ("r1", 1, 5, "new_group/5"),
    ]
    assert store.alert_fired_groups(["r1", "r2"], [6, 7]) == [
        {"rule_id": "r1", "channel": 0, "group_id": 6, "key": "new_group/6"}
    ]
    assert store.alert_fired_groups([], [5]) == [] and store.alert_fired_groups(["r1"], []) == []
