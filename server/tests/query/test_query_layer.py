"""The storage-neutral query layer (``backlight_server.query``): what every store's reads
share once rows are fetched. Plain rows in, the API's shapes out."""

from __future__ import annotations

import math
import sqlite3
from typing import Any

from backlight_server.query import derive, requests, summaries, trees
from backlight_server.store.sqlite import reads, serverseen


def _span(sid: str, parent: str | None, start: int) -> dict[str, Any]:
    return {"span_id": sid, "parent_span_id": parent, "start_ns": start, "end_ns": start + 10}


def test_the_sqlite_reads_keep_no_copy_of_the_shared_logic() -> None:
    for name in ("span_tree", "_severity_level", "_time_key", "MAX_TREE_DEPTH", "_HEX32"):
        assert not hasattr(reads, name), name


def test_span_tree_nests_and_survives_cycles_and_depth() -> None:
    spans = [_span("a", None, 1), _span("b", "a", 2), _span("c", "b", 3), _span("x", "y", 0)]
    spans += [_span("y", "x", 5)]  # x and y are each other's parent
    roots = trees.span_tree(spans)
    assert [r["span_id"] for r in roots] == ["a", "x"]
    assert roots[0]["children"][0]["children"][0]["span_id"] == "c"
    assert roots[1]["children"][0]["span_id"] == "y"
    chain = [_span(str(i), str(i - 1) if i else None, i) for i in range(300)]
    root = trees.span_tree(chain)[0]
    depth = 0
    while root["children"]:
        root, depth = root["children"][0], depth + 1
    assert depth <= trees.MAX_TREE_DEPTH


def test_derived_fields_are_exact_and_tolerant() -> None:
    start = 1_764_600_000_123_456_789
    spans = derive.span_times([{"start_ns": start, "end_ns": start + 1}, {"start_ns": "x"}])
    assert spans[0]["duration_ms"] == 1e-6  # integer ns subtracted before dividing
    assert spans[0]["start_ms"] == derive.ms(start)
    assert spans[1]["duration_ms"] == 0 and spans[1]["start_ms"] == 0
    logs = derive.log_times([{"ts_ns": 2_000_000}, {"ts_ns": None}])
    assert [lg["ts_ms"] for lg in logs] == [2.0, None]
    assert [derive.severity_level(n) for n in (None, 0, 1, 9, 12, 13, 17, 21, 99)] == [
        None,
        None,
        "trace",
        "info",
        "info",
        "warn",
        "error",
        "fatal",
        "fatal",
    ]


def test_milliseconds_from_nanoseconds_are_exact_for_whole_ms_on_every_path() -> None:
    """``derive.ms`` and its SQLite twin (``store/sqlite/serverseen._ms``) give the same
    numbers, and whole milliseconds exactly; ``ns / 1e6`` misses a quarter of them."""
    whole = list(range(1_796_207_276_000, 1_796_207_277_000))
    assert sum((m * 1_000_000) / 1e6 != m for m in whole) > 100  # the naive way fails
    assert all(derive.ms(m * 1_000_000) == m for m in whole)
    odd: list[object] = [-1_500_000, -1, -1_000_001, 1_796_207_276_000_123_456, 7, 2.5e12]
    odd += ["x", None, math.inf, 10**400]
    assert [derive.ms(v) for v in odd] == [
        -1.5,
        -1e-6,
        -1.000001,
        1_796_207_276_000.1235,
        7e-6,
        2.5e6,
        None,
        None,
        None,
        None,
    ]
    conn = sqlite3.connect(":memory:")
    for v in [m * 1_000_000 for m in whole[:300]] + odd[:6] + [-(2**63), 2**63 - 1]:
        (got,) = conn.execute(f"SELECT {serverseen._ms('?1')}", (v,)).fetchone()
        assert got == derive.ms(v), v


def test_request_trace_ids() -> None:
    rid = "0af7651916cd43dd8448eb211c80319c"
    assert requests.request_trace_ids(rid, ["b" * 32, rid, None]) == [rid, "b" * 32]
    assert requests.request_trace_ids("req-1", ["c" * 32, 5]) == ["c" * 32]


def test_timed_records_are_marked_and_ordered() -> None:
    logs, errors = requests.with_timed(
        [{"ts_ns": 5}], [{"ts_ms": 2}], [{"ts_ns": 1}, {"ts_ns": "bad"}], [{"ts_ms": 1}]
    )
    assert [(lg["ts_ns"], lg["match"]) for lg in logs] == [
        (1, "time"),
        (5, "exact"),
        ("bad", "time"),
    ]
    assert [e["match"] for e in errors] == ["time", "exact"]


def test_summaries_merge_counts_each_error_once() -> None:
    r1, r2 = "r1", "r2"
    owners = summaries.trace_owners([r1, r2], [(r1, "t1"), (r2, "t1"), (r1, "t1")])
    assert owners == {r1: [r1], r2: [r2], "t1": [r1, r2]}
    merged = summaries.merge(
        [r1, r2],
        owners,
        spans_by_trace=[("t1", 3), (r1, 1)],
        logs_by_trace=[("t1", 2, 9)],
        logs_by_request=[(r2, 1, 17)],
        errors_by_trace=[(7, "t1")],
        errors_by_request=[(7, r1), (8, r1)],
        timed={
            r2: summaries.Timed(1, 13, frozenset({9})),
            "gone": summaries.Timed(1, 1, frozenset()),
        },
    )
    assert merged == {
        r1: {"spans": 4, "logs": 2, "errors": 2, "worst_level": "info"},
        r2: {"spans": 3, "logs": 4, "errors": 2, "worst_level": "error"},
    }
