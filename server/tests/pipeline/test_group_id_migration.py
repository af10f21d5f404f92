"""Groups numbered 1, 2, 3… by a server before issue 19 take the id their fingerprint
derives when a new one starts (migration 5, ``store/sqlite/rekey.py``): instances follow,
nothing else changes, and the errors ingested afterwards join the same groups.

The old database is made as the old server made it: every migration up to 4 applied, then
group and instance rows written with the ids SQLite assigned."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path
from typing import Any

import pytest

from backlight_server.pipeline.fingerprint import fingerprint
from backlight_server.pipeline.model import ErrorRecord, Frame, TelemetryBatch
from backlight_server.store.ids import group_id
from backlight_server.store.sqlite import SqliteStore, migrations, regroup, rekey
from backlight_server.store.sqlite.migrations import _split, migrate

NOW = time.time() * 1000
P1, P2 = "proj1111", "proj2222"
FRAMES = '[{"file": "app/checkout.py", "function": "reserve", "line": 10, "in_app": true}]'
_COLUMNS = "project_id, fingerprint, type, message, source, stack, first_ms, last_ms, count, state"


pytestmark = pytest.mark.sqlite_only  # builds SQLite files of older versions


def database_at(path: Path, version: int) -> sqlite3.Connection:
    """A database as a server whose last migration was ``version`` left it."""
    conn = sqlite3.connect(path, isolation_level=None)
    for number, _name, step in migrations._migrations():
        if number > version:
            break
        if callable(step):
            step(conn)
        else:
            for statement in _split(step):
                conn.execute(statement)
        conn.execute(f"PRAGMA user_version={number}")
    for project in (P1, P2):
        conn.execute("INSERT INTO projects VALUES (?, ?, ?)", (project, project, NOW - 1e6))
    return conn


def old_group(
    conn: sqlite3.Connection,
    project: str,
    fp: str,
    state: str,
    times: list[float],
    gid: int | None = None,
    message: str | None = None,
) -> int:
    """A group and its instances as the old writer stored them: SQLite numbers the group
    (unless ``gid`` is given)."""
    message = f"msg {fp}" if message is None else message
    gid = int(
        conn.execute(
            f"INSERT INTO error_groups (id, {_COLUMNS}) VALUES (?,?,?,?,?,?,?,?,?,?,?) "
            "RETURNING id",
            (gid, project, fp, "ValueError", message, "span", FRAMES, *span(times), state),
        ).fetchone()[0]
    )
    for ts in times:
        conn.execute(
            "INSERT INTO errors (group_id, project_id, ts_ms, source, type, message, stack) "
            "VALUES (?,?,?,?,?,?,?)",
            (gid, project, ts, "span", "ValueError", message, FRAMES),
        )
    return gid


def span(times: list[float]) -> tuple[float, float, int]:
    return min(times), max(times), len(times)


def groups(conn: sqlite3.Connection) -> dict[tuple[str, str], dict[str, Any]]:
    conn.row_factory = sqlite3.Row
    rows = {
        (r["project_id"], r["fingerprint"]): dict(r)
        for r in conn.execute("SELECT * FROM error_groups")
    }
    conn.row_factory = None
    return rows


def instances(conn: sqlite3.Connection) -> list[tuple[int, str, float]]:
    """(group id, group fingerprint, time) of every instance, through the join."""
    return sorted(
        conn.execute(
            "SELECT e.group_id, g.fingerprint, e.ts_ms FROM errors e "
            "LEFT JOIN error_groups g ON g.id = e.group_id"
        ).fetchall()
    )


def record(project: str, message: str, ts_ms: float) -> ErrorRecord:
    frames = [Frame("app/checkout.py", "reserve", 10)]
    fp = fingerprint("ValueError", message, frames)
    return ErrorRecord(
        project, ts_ms, "span", "ValueError", message, frames, None, None, None, None, None,
        "api", None, None, None, fp,
    )  # fmt: skip


async def test_old_group_ids_become_derived_and_instances_follow(tmp_path: Path) -> None:
    conn = database_at(tmp_path / "backlight.db", 4)
    fp_a, fp_b = record(P1, "a", NOW).fingerprint, record(P1, "b", NOW).fingerprint
    made = [
        old_group(conn, P1, fp_a, "resolved", [NOW - 9000, NOW - 8000]),
        old_group(conn, P1, fp_b, "ignored", [NOW - 5000]),
        old_group(conn, P2, fp_a, "open", [NOW - 3000, NOW - 2000, NOW - 1000]),
    ]
    assert made == [1, 2, 3]
    before = groups(conn)
    indexes = "SELECT name, sql FROM sqlite_master WHERE tbl_name = 'errors' ORDER BY name"
    errors_indexes = conn.execute(indexes).fetchall()
    assert migrate(conn) >= 5
    assert conn.execute(indexes).fetchall() == errors_indexes  # dropped, then built again

    after = groups(conn)
    assert set(after) == set(before)
    for (project, fp), row in after.items():
        assert row["id"] == group_id(project, fp)
        assert {**row, "id": None} == {**before[(project, fp)], "id": None}  # all else kept
    assert after[(P1, fp_a)]["id"] != after[(P2, fp_a)]["id"]  # one fingerprint, two projects
    a1, b1, a2 = (group_id(p, fp) for p, fp in ((P1, fp_a), (P1, fp_b), (P2, fp_a)))
    assert [(gid, fp) for gid, fp, _ts in instances(conn)] == sorted(
        [(a1, fp_a), (a1, fp_a), (b1, fp_b), (a2, fp_a), (a2, fp_a), (a2, fp_a)]
    )
    assert migrate(conn) >= 5 and groups(conn) == after  # a second start changes nothing
    conn.close()

    # the new writer counts a new instance in the re-keyed group, and re-opens it
    store = SqliteStore(tmp_path / "backlight.db")
    store.open()
    try:
        await store.write_telemetry(TelemetryBatch(errors=[record(P1, "a", NOW)]), 1)
        group = store.get_error_group(group_id(P1, fp_a), 10)
        assert group is not None and len(group["instances"]) == 3
        assert (group["group"]["count"], group["group"]["state"]) == (3, "open")
    finally:
        store.close()
    conn = sqlite3.connect(tmp_path / "backlight.db")
    assert len(groups(conn)) == 3
    conn.close()


def test_an_old_id_that_is_another_groups_new_id_moves_without_a_clash(tmp_path: Path) -> None:
    """Two groups whose old ids are each other's derived ids swap them (the primary key
    would refuse a naive one-by-one update)."""
    conn = database_at(tmp_path / "backlight.db", 4)
    fp_x, fp_y = "fp-x", "fp-y"
    x, y = group_id(P1, fp_x), group_id(P1, fp_y)
    for gid, fp in ((y, fp_x), (x, fp_y)):
        conn.execute(
            f"INSERT INTO error_groups (id, {_COLUMNS}) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
            (gid, P1, fp, "E", fp, "span", None, NOW, NOW, 1, "open"),
        )
        conn.execute(
            "INSERT INTO errors (group_id, project_id, ts_ms, source, type, message) "
            "VALUES (?,?,?,?,?,?)",
            (gid, P1, NOW, "span", "E", fp),
        )
    migrate(conn)
    assert {fp: row["id"] for (_p, fp), row in groups(conn).items()} == {fp_x: x, fp_y: y}
    assert [(gid, fp) for gid, fp, _ts in instances(conn)] == sorted([(x, fp_x), (y, fp_y)])
    conn.close()


def test_a_step_3_merge_ends_with_the_id_of_the_new_fingerprint(tmp_path: Path) -> None:
    """A database from before issue 17 runs regroup (3) then re-key (5): two groups the old
    fingerprint rule split become one, under the id of today's fingerprint."""
    conn = database_at(tmp_path / "backlight.db", 2)
    today = record(P1, "declined", NOW).fingerprint
    old_group(conn, P1, "old-rule-1", "resolved", [NOW - 9000])
    old_group(conn, P1, "old-rule-2", "open", [NOW - 100, NOW - 50])
    conn.execute("UPDATE error_groups SET message = 'declined'")
    conn.execute("UPDATE errors SET message = 'declined'")
    migrate(conn)
    [(key, row)] = groups(conn).items()
    assert key == (P1, today) and row["id"] == group_id(P1, today)
    assert (row["count"], row["state"], row["first_ms"]) == (3, "open", NOW - 9000)
    assert {gid for gid, _fp, _ts in instances(conn)} == {row["id"]}
    conn.close()


def test_a_later_regroup_step_gives_merged_groups_the_id_of_their_new_fingerprint(
    tmp_path: Path,
) -> None:
    """The next change of the fingerprint rule ships another regroup step, which runs on
    groups that already have derived ids; it ends with the ids of the new fingerprints."""
    conn = database_at(tmp_path / "backlight.db", 5)
    today = record(P1, "declined", NOW).fingerprint
    for fp, state, times in (("rule-1", "resolved", [NOW - 9000]), ("rule-2", "open", [NOW])):
        old_group(conn, P1, fp, state, times, gid=group_id(P1, fp), message="declined")
    steady = {}  # groups the new rule leaves alone: most instances stay where they are
    for word in "abcdefgh":  # (digits would not tell messages apart)
        fp = record(P1, f"steady {word}", NOW).fingerprint
        steady[fp] = old_group(conn, P1, fp, "open", [NOW], group_id(P1, fp), f"steady {word}")
    regroup.apply(conn)
    found = groups(conn)
    assert {fp: found[(P1, fp)]["id"] for fp in steady} == steady
    merged = found[(P1, today)]
    assert merged["id"] == group_id(P1, today) and len(found) == 9
    assert [gid for gid, _fp, _ts in instances(conn)].count(merged["id"]) == 2
    assert {gid for gid, _fp, _ts in instances(conn)} == {g["id"] for g in found.values()}
    conn.close()


def test_a_fresh_database_migrates_and_writes_derived_ids(tmp_path: Path) -> None:
    conn = sqlite3.connect(tmp_path / "new.db", isolation_level=None)
    assert migrate(conn) >= 5 and groups(conn) == {}
    conn.close()


def test_ids_that_collide_merge_into_the_older_group(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No collision of the 53-bit hash is known, so this one is made by replacing it: two
    fingerprints that derive one id become one group, as in a store keyed by id alone."""
    conn = database_at(tmp_path / "backlight.db", 4)
    old_group(conn, P1, "fp-1", "ignored", [NOW - 9000])
    old_group(conn, P1, "fp-2", "resolved", [NOW - 100, NOW - 50])
    old_group(conn, P1, "fp-3", "open", [NOW])
    monkeypatch.setattr(rekey, "group_id", lambda p, fp: 77 if fp != "fp-3" else 78)
    migrate(conn)
    found = {row["id"]: row for row in groups(conn).values()}
    assert sorted(found) == [77, 78]
    kept = found[77]
    assert (kept["fingerprint"], kept["count"], kept["state"]) == ("fp-1", 3, "resolved")
    assert (kept["first_ms"], kept["last_ms"]) == (NOW - 9000, NOW - 50)
    assert [gid for gid, _fp, _ts in instances(conn)] == [77, 77, 77, 78]
    conn.close()
