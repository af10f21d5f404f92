"""Issue 24: requests "seen by the server" (``query/serverseen.py``), on every store.

A session whose browser recorded a fetch and the page a form POST redirected to (a
navigation row, as the browser SDK records it from ``Server-Timing``), and whose backend,
linked by the session cookie, also saw the POST itself: that POST is listed among the
network rows at its root span's start, marked ``"source": "server"``, with its backend
summary; the navigation the browser recorded stays one row; records that carry only the
session id (highlight's Node SDK) stay matched by time, and the POST's records are not
matched by time to the navigation in flight around them.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from blstores import STORES, Opened, browser, error, hex_id, log, make, now_ms, request, session

from backlight_server.pipeline.model import SpanRecord, TelemetryBatch
from backlight_server.query import serverseen
from backlight_server.store.base import Store

POST_ATTRS = (
    '{"http.request.method": "POST", "url.path": "/orders/new", "http.route": "/orders/new",'
    ' "http.response.status_code": 500}'
)


@pytest.fixture(params=STORES)
def opened(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Opened]:
    store = make(request.param, tmp_path)
    store.open()
    try:
        yield Opened(store, store.default_project())
    finally:
        store.close()


def _span(
    project: str,
    sid: str | None,
    trace: str,
    start_ms: float,
    *,
    kind: int = 2,
    parent: str | None = None,
    request_id: str | None = None,
    name: str = "GET /page",
    attributes: str | None = '{"http.request.method": "GET", "url.path": "/page"}',
    span_id: str | None = None,
) -> SpanRecord:
    return SpanRecord(
        project,
        trace,
        span_id or hex_id(8),
        parent,
        name,
        kind,
        int(start_ms * 1e6),
        int((start_ms + 40) * 1e6),
        0,
        None,
        "web",
        "test",
        sid,
        request_id or trace,
        attributes,
        None,
    )


class World:
    def __init__(self, store: Store, project: str) -> None:
        self.store, self.project = store, project
        self.info = session(project)
        self.sid, self.t = self.info.secure_id, now_ms() - 60_000
        self.fetch, self.nav, self.post = hex_id(16), hex_id(16), hex_id(16)
        self.node_trace = hex_id(16)

    async def write(self) -> None:
        p, sid, t = self.project, self.sid, self.t
        nav_row = request(sid, self.nav, t + 5_000, status=200)
        nav_row = nav_row._replace(type="navigation", method="GET", end_ms=t + 5_600)
        await self.store.write_browser(
            browser(self.info, 0, network=[request(sid, self.fetch, t + 1_000), nav_row]), 10
        )
        root = _span(p, sid, self.post, t + 5_010, name="POST /orders/new", attributes=POST_ATTRS)
        spans = [
            _span(p, sid, self.fetch, t + 1_005),  # the fetch's own backend side
            root,
            _span(p, sid, self.post, t + 5_012, kind=1, parent=root.span_id, attributes=None),
            _span(p, sid, self.nav, t + 5_400),  # the page the POST redirected to
            # highlight's Node SDK: an error in a trace of its own, the session id only
            _span(p, sid, self.node_trace, t + 1_020, kind=1, name="highlight.error"),
            _span(p, "other-session", hex_id(16), t + 5_000),  # not this session's
        ]
        await self.store.write_telemetry(
            TelemetryBatch(
                spans=spans,
                logs=[
                    log(
                        p,
                        "order form rejected",
                        "web",
                        trace_id=self.post,
                        session_id=sid,
                        severity=13,
                        ts_ns=int((t + 5_015) * 1e6),
                    )
                ],
                errors=[
                    error(
                        p,
                        "card declined",
                        session_id=sid,
                        request_id=self.post,
                        trace_id=self.post,
                        ts_ms=t + 5_016,
                    ),
                    error(
                        p,
                        "stock check failed",
                        session_id=sid,
                        request_id=self.node_trace,
                        trace_id=self.node_trace,
                        ts_ms=t + 1_021,
                    ),
                    # an app's own request id, no span: consume_error(exc, sid, "job-7")
                    error(p, "job failed", session_id=sid, request_id="job-7", ts_ms=t + 9_000),
                ],
            ),
            10,
        )


async def test_the_server_seen_post_is_listed_among_the_browser_rows(opened: Opened) -> None:
    w = World(opened.store, opened.project)
    await w.write()
    store = opened.store
    for view in (store.get_session_overview(w.sid), store.get_session(w.sid)):
        assert view is not None
        rows = view["network"]
        # by time; the navigation the browser recorded is one row, not two
        assert [(n["request_id"], n["source"]) for n in rows] == [
            (w.fetch, "browser"),
            (w.nav, "browser"),
            (w.post, "server"),
            ("job-7", "server"),
        ]
        assert view["server_seen"] == {"shown": 2, "more": 0, "complete": True}
        post = rows[2]
        assert post["id"] is None and post["type"] == "server"
        assert (post["method"], post["url"], post["status"]) == ("POST", "/orders/new", 500)
        assert post["start_ms"] == pytest.approx(w.t + 5_010, abs=0.01)  # its root span's
        assert post["end_ms"] == pytest.approx(w.t + 5_050, abs=0.01)
        assert (post["service"], post["name"]) == ("web", "POST /orders/new")
        assert post["backend"] == {"spans": 2, "logs": 1, "errors": 1, "worst_level": "warn"}
        job = rows[3]  # known from its error alone
        assert job["start_ms"] == pytest.approx(w.t + 9_000, abs=0.01)
        assert (job["method"], job["url"], job["status"]) == ("", "", None)
        assert job["backend"] == {"spans": 0, "logs": 0, "errors": 1, "worst_level": None}
        # the Node record is matched to the fetch in flight, as before
        assert rows[0]["backend"]["errors"] == 1
        # nothing of the POST is matched by time to the navigation in flight around it
        assert rows[1]["backend"] == {"spans": 1, "logs": 0, "errors": 0, "worst_level": None}
    detail = store.get_session(w.sid)
    assert detail is not None and detail["network"][2]["detail"] is None
    assert store.backend_summaries([w.post]) == {w.post: detail["network"][2]["backend"]}

    view = store.get_request(w.post)  # the drawer's view of it
    assert view["browser"] is None and view["session_secure_id"] == w.sid
    assert view["span_count"] == 2
    assert [lg["body"] for lg in view["logs"]] == ["order form rejected"]
    assert [e["message"] for e in view["errors"]] == ["card declined"]
    nav = store.get_request(w.nav)
    assert nav["errors"] == [] and nav["logs"] == []
    fetch = store.get_request(w.fetch)
    assert [(e["message"], e["match"]) for e in fetch["errors"]] == [("stock check failed", "time")]
    # a large session: the rows come without summaries (the page asks for those in view)
    view = store.get_session_overview(w.sid, summaries_up_to=3)
    assert view is not None
    assert [n["source"] for n in view["network"]] == ["browser", "browser", "server", "server"]
    assert all(n["backend"] is None for n in view["network"])


async def test_many_bogus_request_ids_are_capped(
    opened: Opened, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Anyone with a project id can send spans naming a session: the rows are capped,
    the earliest kept, the rest counted; the scan for them is capped too. Their attributes
    may be anything."""
    store, p = opened.store, opened.project
    info = session(p)
    sid, t = info.secure_id, now_ms() - 60_000
    await store.write_browser(browser(info, 0, network=[request(sid, hex_id(16), t)]), 10)
    spans = [_span(p, sid, hex_id(16), t + 100 * (20 - i)) for i in range(20)]
    await store.write_telemetry(TelemetryBatch(spans=spans), 10)
    monkeypatch.setattr(serverseen, "MAX_ROWS", 5)
    view = store.get_session_overview(sid)
    assert view is not None
    server = [n for n in view["network"] if n["source"] == "server"]
    assert [n["start_ms"] for n in server] == pytest.approx([t + 100 * k for k in range(1, 6)])
    assert view["server_seen"] == {"shown": 5, "more": 15, "complete": True}
    monkeypatch.setattr(serverseen, "MAX_SCAN", 8)
    view = store.get_session_overview(sid)
    assert view is not None
    assert view["server_seen"] == {"shown": 5, "more": 3, "complete": False}
    # stored attributes of any shape: nothing shown rather than a failed page
    info = session(p)
    sid = info.secure_id
    await store.write_browser(browser(info, 0), 10)
    odd: list[Any] = [
        '{"http.request.method": "<b>x</b>", "url.full": "' + "u" * 5000 + '",'
        ' "http.response.status_code": 99999}',
        '["not", "an", "object"]',
        "not json at all",
    ]
    spans = [_span(p, sid, hex_id(16), t + i, name="", attributes=a) for i, a in enumerate(odd)]
    await store.write_telemetry(TelemetryBatch(spans=spans), 10)
    view = store.get_session_overview(sid)
    assert view is not None
    rows = view["network"]
    assert [(n["method"], n["status"]) for n in rows] == [("", None)] * 3
    assert len(rows[0]["url"]) == serverseen.MAX_URL and rows[0]["url"].endswith("…")
    assert rows[1]["url"] == rows[2]["url"] == ""


def _misrounded_ms(near: int) -> int:
    """A whole millisecond at which ``ns / 1e6`` is not exact (a quarter of them today)."""
    return next(m for m in range(near, near + 1_000) if (m * 1_000_000) / 1e6 != m)


async def test_whole_milliseconds_read_back_exact(opened: Opened) -> None:
    """A span stored at a whole millisecond is read at that millisecond, not one unit in the
    last place off: the session row's start and the drawer's ``t=`` link are equal to it."""
    store, p = opened.store, opened.project
    info = session(p)
    sid, trace = info.secure_id, hex_id(16)
    at = _misrounded_ms(int(now_ms()) - 60_000)
    await store.write_browser(browser(info, 0, network=[request(sid, hex_id(16), at - 50)]), 10)
    root = _span(p, sid, trace, 0, name="POST /orders/new", attributes=POST_ATTRS)
    root = root._replace(start_ns=at * 1_000_000, end_ns=(at + 30) * 1_000_000)
    logged = log(p, "order form rejected", "web", trace_id=trace, session_id=sid)
    logged = logged._replace(ts_ns=(at + 7) * 1_000_000)
    await store.write_telemetry(TelemetryBatch(spans=[root], logs=[logged]), 10)
    view = store.get_session(sid)
    assert view is not None
    post = next(n for n in view["network"] if n["request_id"] == trace)
    assert (post["start_ms"], post["end_ms"]) == (at, at + 30)
    seen = store.get_request(trace)
    assert seen["spans"][0]["start_ms"] == at
    assert [lg["ts_ms"] for lg in seen["logs"]] == [at + 7]
