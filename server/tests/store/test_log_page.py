"""The log page's reads in SQLite (``store/sqlite/logstats.py: log_page``): with text, one
walk of the trigram index counts the matches and gives the page's rows; when the page lies
past the matches it counted, the walk goes on from the last one counted (it never starts
over), with the same answer. (That the
answer is ``search_logs`` and ``log_stats`` on every store: the conformance suite.)"""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path
from typing import Any

import pytest
from blstores import log

from backlight_server.pipeline.model import TelemetryBatch
from backlight_server.store.queries import LogQuery
from backlight_server.store.sqlite import SqliteStore, logstats, reads

pytestmark = pytest.mark.sqlite_only

MS = 1_000_000


async def test_one_walk_gives_the_counts_and_the_rows(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = SqliteStore(tmp_path / "backlight.db")
    store.open()
    try:
        p = store.default_project()
        t = (time.time_ns() // MS - 600_000) * MS
        await store.write_telemetry(
            TelemetryBatch(
                logs=[
                    log(
                        p,
                        f"order {i}",
                        ("api", "billing")[i % 2],
                        severity=(9, 17)[i % 3 == 0],
                        ts_ns=t + i * MS,
                    )
                    for i in range(60)
                ]
            ),
            10,
        )
        queries = [
            LogQuery(text="order", limit=5),
            LogQuery(text="order", level="error", service="api", limit=3, offset=2),
            LogQuery(text="order 1", limit=4, offset=8),  # past the end
        ]
        # 20 errors among the 60; the newest 12 logs hold 4 of them
        deep = LogQuery(text="order", level="error", limit=3, offset=2)  # 2 counted, 2 not
        deeper = LogQuery(text="order", level="error", limit=3, offset=6)  # none counted
        shallow = LogQuery(text="order", limit=3, offset=2)
        searched = {q: store.search_logs(q) for q in [*queries, deep, deeper, shallow]}
        expected = [{"logs": searched[q], "stats": store.log_stats(q, 20)} for q in queries]
        walks: list[LogQuery] = []
        search = reads.search_logs

        def counted_search(conn: sqlite3.Connection, query: LogQuery) -> dict[str, Any]:
            walks.append(query)
            return search(conn, query)

        monkeypatch.setattr(reads, "search_logs", counted_search)
        assert [store.log_page(q, 20) for q in queries] == expected
        assert walks == []  # every page was among the matches counted
        # counting fewer than match: a page past the counted ones, the walk goes on
        monkeypatch.setattr(logstats, "MAX_COUNTED", 12)
        for query in (deep, deeper, shallow):
            page = store.log_page(query, 20)
            assert page["logs"] == searched[query]
            assert page["stats"]["capped"]
            assert sum(lv["count"] for lv in page["stats"]["levels"]) == 12  # all it counted
        assert walks == []
    finally:
        store.close()
