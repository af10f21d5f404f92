"""The rule of requests "seen by the server" (``query/serverseen.py``) on rows given to it
as a store would fetch them; every store's reads are in
``conformance/test_server_seen_contract.py``."""

from __future__ import annotations

from typing import Any

from backlight_server.query import serverseen


def test_the_rows_a_store_gives_and_the_rest_counted() -> None:
    """The earliest requests a store gives, the count of the rest; an id that is no text
    or a time that is no number names nothing."""

    class Rows:
        def requests(
            self, session_id: str, known: list[str], scan: int, limit: int
        ) -> list[tuple[object, ...]]:
            assert known == ["r999"] and scan == serverseen.MAX_SCAN
            # as a store gives them: the earliest ``limit``, the counts on every row
            found = [("e1", 0.5, 0.25)] + [(f"r{i}", 1.0 + i, 6.0 + i) for i in range(999)]
            rows = [(*f, 1000, 999, 3) for f in found[:limit]]
            return [*rows[:2], (None, 1.0, 2.0, 1000, 999, 3), ("r5", "x", 2.0, 1000, 999, 3)]

        def roots(self, session_id: str, request_ids: list[str]) -> list[dict[str, Any]]:
            return []

    rows, seen = serverseen.find(Rows(), "s", {"r999"})
    assert [r["request_id"] for r in rows] == ["e1", "r0"]  # the odd rows name nothing
    assert rows[0]["end_ms"] == rows[0]["start_ms"] == 0.5
    assert seen == {"shown": 2, "more": 1000 - 4, "complete": True}


def test_the_root_span_gives_the_time_method_url_and_status() -> None:
    """The request's server span is its root (an earlier internal span is not); the older
    OpenTelemetry attribute names count too; a span name "<METHOD> <route>" gives the
    method when no attribute does."""
    spans: list[dict[str, Any]] = [
        {"request_id": "a", "kind": 1, "start_ns": 1_000_000, "end_ns": 9_000_000},
        {
            "request_id": "a",
            "kind": 2,
            "name": "POST /x",
            "service": "web",
            "start_ns": 2_000_000,
            "end_ns": 5_000_000,
            "attributes": {
                "http.method": "post",
                "http.target": "/x?y=1",
                "http.status_code": "302",
            },
        },
        {
            "request_id": "b",
            "kind": 1,
            "name": "GET /p",
            "start_ns": 7_000_000,
            "end_ns": 1,  # before its start: read as its start
            "attributes": {"url.path": "/p", "url.query": "q=1"},
        },
    ]

    class Rows:
        def requests(
            self, session_id: str, known: list[str], scan: int, limit: int
        ) -> list[tuple[object, ...]]:
            return [("a", 1.0, 9.0, 2, 3, 0), ("b", 7.0, 7.0, 2, 3, 0)]

        def roots(self, session_id: str, request_ids: list[str]) -> list[dict[str, Any]]:
            return [s for s in spans if s["request_id"] in request_ids]

    rows, seen = serverseen.find(Rows(), "s", set())
    assert seen == {"shown": 2, "more": 0, "complete": True}
    a, b = rows
    assert (a["start_ms"], a["end_ms"], a["method"], a["url"], a["status"]) == (
        2.0,
        5.0,
        "POST",
        "/x?y=1",
        302,
    )
    assert (a["service"], a["source"], a["id"]) == ("web", "server", None)
    assert (b["start_ms"], b["end_ms"], b["method"], b["url"], b["status"]) == (
        7.0,
        7.0,
        "GET",
        "/p?q=1",
        None,
    )
