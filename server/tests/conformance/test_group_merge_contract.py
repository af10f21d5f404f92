"""Error groups merged by source maps (symbolicate/regroup.py, docs/sourcemaps.md
"Grouping"): ``frontend_group_heads``, ``merge_error_groups`` and ``group_aliases`` on
every store in ``blstores.STORES``."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from blstores import STORES, Opened, browser, error, make, now_ms, session

from backlight_server.pipeline.model import TelemetryBatch
from backlight_server.store.base import Store
from backlight_server.store.ids import group_id
from backlight_server.store.queries import ErrorGroupQuery


@pytest.fixture(params=STORES)
def opened(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Opened]:
    store = make(request.param, tmp_path)
    store.open()
    try:
        yield Opened(store, store.default_project())
    finally:
        store.close()


def caught_up(store: Store, project: str) -> str:
    """The alert evaluator's cursor past every instance stored so far."""
    rows, cursor = store.alert_errors_after(project, "", 1000)
    assert len(rows) == 5
    store.enqueue_alerts([], project, cursor)  # as the evaluator does after a read
    return cursor


async def three_groups(store: Store, project: str) -> tuple[int, int, int]:
    """Group a (two instances, resolved), b (one, open), c (one, ignored)."""
    info = session(project, "merge-sess")
    await store.start_session(info)
    t = now_ms() - 60_000
    errs = [
        error(project, "a", source="frontend", session_id="merge-sess", ts_ms=t),
        error(project, "a", source="frontend", session_id="merge-sess", ts_ms=t + 1000),
        error(project, "b", source="frontend", session_id="merge-sess", ts_ms=t + 2000),
        error(project, "c", source="frontend", session_id="merge-sess", ts_ms=t + 3000),
        error(project, "backend", source="span", ts_ms=t + 4000),
    ]
    assert await store.write_browser(browser(info, 0, errors=errs[:4]), 1)
    await store.write_telemetry(TelemetryBatch(errors=errs[4:]), 1)
    a, b, c = (group_id(project, e.fingerprint) for e in (errs[0], errs[2], errs[3]))
    assert await store.set_error_group_state(a, "resolved")
    assert await store.set_error_group_state(c, "ignored")
    return a, b, c


async def test_heads_are_frontend_groups_latest_first(opened: Opened) -> None:
    store, project = opened.store, opened.project
    a, b, c = await three_groups(store, project)
    heads = store.frontend_group_heads(project, 10)
    assert [h["group_id"] for h in heads] == [c, b, a]
    head = heads[2]
    assert head["message"] == "a" and head["type"] == "ValueError"
    assert head["session_id"] == "merge-sess"
    assert "reserve" in str(head["stack"])
    stored = store.get_error_group(a, 1)
    assert stored is not None and head["fingerprint"] == stored["group"]["fingerprint"]
    assert [h["group_id"] for h in store.frontend_group_heads(project, 2)] == [c, b]
    assert store.frontend_group_heads("no-such-project", 10) == []


async def test_merge_moves_instances_and_leaves_aliases(opened: Opened) -> None:
    store, project = opened.store, opened.project
    a, b, c = await three_groups(store, project)
    before = {g: store.get_error_group(g, 10) for g in (a, b)}
    ids = {i["id"] for g in before.values() for i in g["instances"]}  # type: ignore[index]
    cursor = caught_up(store, project)
    x = group_id(project, "fp-x")
    assert store.merge_error_groups(project, [(a, "fp-x"), (b, "fp-x")]) == 2
    assert store.get_error_group(a, 10) is None and store.get_error_group(b, 10) is None
    merged = store.get_error_group(x, 10)
    assert merged is not None
    group = merged["group"]
    assert group["count"] == 3 and group["fingerprint"] == "fp-x"
    assert group["state"] == "open"  # b was open
    assert group["first_ms"] == before[a]["group"]["first_ms"]  # type: ignore[index]
    assert group["last_ms"] == before[b]["group"]["last_ms"]  # type: ignore[index]
    assert {i["id"] for i in merged["instances"]} == ids  # same rows, new group
    assert store.group_aliases([a, b, c, x]) == {a: (x, "fp-x"), b: (x, "fp-x")}
    rows, _ = store.alert_errors_after(project, cursor, 1000)
    assert rows == []  # moved instances are not new arrivals for the evaluator
    listed = store.list_error_groups(ErrorGroupQuery(project_id=project))
    assert {g["id"] for g in listed["groups"]} >= {x, c}
    assert not {a, b} & {g["id"] for g in listed["groups"]}


async def test_merge_into_an_existing_group_and_again(opened: Opened) -> None:
    store, project = opened.store, opened.project
    a, b, c = await three_groups(store, project)
    fp_c = store.get_error_group(c, 1)["group"]["fingerprint"]  # type: ignore[index]
    # a (resolved) into c (ignored): resolved wins over ignored; counts add up
    assert store.merge_error_groups(project, [(a, fp_c)]) == 1
    group = store.get_error_group(c, 10)["group"]  # type: ignore[index]
    assert group["count"] == 3 and group["state"] == "resolved"
    # c into y: the alias of a follows (flat), then y back into c's fingerprint again:
    # c exists again, so its own alias goes
    y = group_id(project, "fp-y")
    assert store.merge_error_groups(project, [(c, "fp-y")]) == 1
    assert store.group_aliases([a, c]) == {a: (y, "fp-y"), c: (y, "fp-y")}
    assert store.merge_error_groups(project, [(y, fp_c)]) == 1
    assert store.group_aliases([a, c, y]) == {a: (c, fp_c), y: (c, fp_c)}
    assert store.get_error_group(c, 10)["group"]["count"] == 3  # type: ignore[index]
    # nothing to move: an unknown id, a group into itself
    fp_b = store.get_error_group(b, 1)["group"]["fingerprint"]  # type: ignore[index]
    assert store.merge_error_groups(project, [(123456, "fp-z"), (b, fp_b)]) == 0
    assert store.merge_error_groups(project, []) == 0
    assert store.group_aliases([]) == {}
