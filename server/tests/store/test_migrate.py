"""``backlight migrate``: a SQLite install copied into a ClickHouse store (chdb) answers every
read as the SQLite store does; an interrupted run continues without writing anything twice;
a re-run after the SQLite server took more data copies what is new.

The only normalisation: SQLite numbers error groups with a counter, ClickHouse derives a
group's id from its project and fingerprint (``store.ids.group_id``), so SQLite's group ids
are mapped to derived ones before comparing. Row ids (network, logs, errors) are the same.
"""

from __future__ import annotations

import io
import sqlite3
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from blstores import browser, error, hex_id, log, make, now_ms, request, session, span

from backlight_server.ops import migrate
from backlight_server.pipeline.model import ConsoleRecord, Identify, TelemetryBatch, TrackRecord
from backlight_server.settings import Settings
from backlight_server.store.base import Store
from backlight_server.store.clickhouse import ClickhouseStore
from backlight_server.store.ids import group_id
from backlight_server.store.queries import ErrorGroupQuery, LogQuery, SessionQuery
from backlight_server.store.sqlite.migrations import _migrations

WORDS = ["checkout", "payment", "inventory", "reserve", "timeout", "retrying", "cache", "miss"]


@dataclass
class Data:
    project: str
    other: str
    sessions: list[str] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)
    traces: list[str] = field(default_factory=list)


async def fill(store: Store, data: Data, n_sessions: int, offset: int = 0) -> None:
    """Sessions with replay, requests, console, track events, identities and frontend
    errors; backend spans, logs and errors linked by request id, by trace id, by session
    only (matched by time), and unlinked; two projects."""
    p = data.project
    base = now_ms() - 3_600_000 + offset * 1000
    for i in range(n_sessions):
        project = p if i % 4 else data.other
        info = session(project, started_ms=base + i * 10_000)
        sid, t = info.secure_id, info.started_ms
        data.sessions.append(sid)
        await store.start_session(info)
        for seq in range(3):
            rid = hex_id(16)
            data.requests.append(rid)
            ts = t + seq * 1000
            events = [
                {"type": 3, "data": {"i": i, "seq": seq}, "timestamp": ts + k} for k in range(4)
            ]
            fe = [
                error(
                    project,
                    f"x{seq} is undefined",
                    source="frontend",
                    error_type="TypeError",
                    line=seq,
                    session_id=sid,
                    service=None,
                    ts_ms=ts + 5,
                )
            ]
            await store.write_browser(
                browser(
                    info,
                    seq,
                    events=events,
                    network=[
                        request(sid, rid, ts, 500 if seq == 1 else 200),
                        request(sid, None, ts + 2),
                    ],
                    console=[
                        ConsoleRecord(
                            sid, ts + 1, ("log", "warn", "error")[seq], f"step {seq}", None
                        )
                    ],
                    errors=fe if i % 3 == 0 else [],
                    track=[TrackRecord(sid, ts + 3, "click", '{"n": 1}')] if seq == 2 else [],
                ),
                100,
            )
            own = hex_id(16)
            data.traces.append(own)
            start = int(ts * 1e6)
            root = span(project, own, "api", session_id=sid, request_id=rid, start_ns=start)
            child = span(
                project, own, "db", parent=root.span_id, request_id=rid, start_ns=start + 1000
            )
            plain = span(project, rid, "pricing", start_ns=start + 2000)
            words = " ".join(WORDS[(i + seq + k) % len(WORDS)] for k in range(3))
            batch = TelemetryBatch(
                spans=[root, child, plain],
                logs=[
                    log(
                        project,
                        f"{words} order {i}-{seq}",
                        "api",
                        trace_id=own,
                        request_id=rid,
                        ts_ns=start + 10,
                    ),
                    log(
                        project,
                        f"cache miss for {rid[:6]}",
                        "pricing",
                        trace_id=rid,
                        severity=13,
                        ts_ns=start + 20,
                    ),
                    log(
                        project,
                        f"session only {i}",
                        "worker",
                        session_id=sid,
                        severity=17,
                        ts_ns=start + 30,
                    ),
                ],
                errors=[
                    error(
                        project,
                        f"order {i} failed",
                        error_type=("ValueError", "KeyError")[seq % 2],
                        line=seq,
                        session_id=sid,
                        request_id=rid,
                        trace_id=own,
                        ts_ms=ts + 7,
                    ),
                    error(
                        project,
                        "late",
                        source="log",
                        session_id=sid,
                        service="worker",
                        ts_ms=ts + 8,
                    ),
                ],
            )
            await store.write_telemetry(batch, 100)
        if i % 2:
            meta = '{"plan": "pro"}' if i % 4 == 1 else None
            await store.annotate_session(
                sid,
                Identify(t, f"user{i}@example.com", meta),
                [TrackRecord(sid, t + 9, "identify", None)],
            )
    other_trace = hex_id(16)
    await store.write_telemetry(
        TelemetryBatch(
            spans=[span(p, other_trace, "cron")],
            logs=[log(p, "nightly cleanup done", "cron", trace_id=other_trace)],
        ),
        10,
    )
    data.traces.append(other_trace)


def sqlite_groups(folder: Path) -> dict[int, int]:
    """SQLite's group ids → the ids ClickHouse derives from project and fingerprint."""
    with sqlite3.connect(folder / "backlight.db") as conn:
        rows = conn.execute("SELECT id, project_id, fingerprint FROM error_groups").fetchall()
    return {gid: group_id(project, fp) for gid, project, fp in rows}


def norm(value: Any, groups: dict[int, int]) -> Any:
    """SQLite's group ids as derived ones; group lists in a stable order."""
    if isinstance(value, dict):
        out = {k: norm(v, groups) for k, v in value.items()}
        if "group_id" in out and out["group_id"] in groups:
            out["group_id"] = groups[out["group_id"]]
        if "fingerprint" in out and out.get("id") in groups:
            out["id"] = groups[out["id"]]
        if "groups" in out and isinstance(out["groups"], list):
            out["groups"] = sorted(out["groups"], key=lambda g: (-g["last_ms"], g["id"]))
        return out
    if isinstance(value, list):
        return [norm(v, groups) for v in value]
    return value


def answers(store: Store, data: Data, ids: dict[int, int] | None) -> dict[str, Any]:
    """Every read of the API over a sample of ids. ``ids``: SQLite group id → derived."""
    out: dict[str, Any] = {}
    for project in (data.project, data.other, None):
        out[f"sessions {project}"] = store.list_sessions(SessionQuery(project_id=project, limit=50))
        out[f"groups {project}"] = store.list_error_groups(
            ErrorGroupQuery(project_id=project, limit=50)
        )
    out["sessions page"] = store.list_sessions(SessionQuery(limit=3, offset=2))
    out["sessions user"] = store.list_sessions(SessionQuery(user="user1"))
    out["sessions errors"] = store.list_sessions(SessionQuery(has_errors=True))
    out["resolved"] = store.list_error_groups(ErrorGroupQuery(state="resolved"))
    for sid in data.sessions:
        out[f"session {sid}"] = store.get_session(sid)
        out[f"overview {sid}"] = store.get_session_overview(sid)
        out[f"replay {sid}"] = store.get_replay(sid, -1, 100)
        out[f"replay paged {sid}"] = [store.get_replay(sid, -1, 1), store.get_replay(sid, 0, 1)]
    for rid in data.requests[::2]:
        out[f"request {rid}"] = store.get_request(rid)
        out[f"logs of {rid}"] = store.search_logs(LogQuery(request_id=rid))
    for tid in data.traces[::2]:
        out[f"trace {tid}"] = store.get_trace(tid)
    for text in ("checkout", "cache miss", "pay*", "ORDER", "nightly", "absent", "inv* timeout"):
        out[f"search {text}"] = store.search_logs(LogQuery(text=text, limit=500))
    out["search page"] = store.search_logs(LogQuery(limit=5, offset=5))
    out["search level"] = store.search_logs(LogQuery(level="error", service="worker", limit=500))
    out["search session"] = store.search_logs(LogQuery(session_id=data.sessions[1], limit=500))
    out["counts"] = store.counts(data.project)
    group_ids = {g["id"] for g in out["groups None"]["groups"]}
    for gid in sorted(group_ids):
        out[f"group {ids[gid] if ids else gid}"] = store.get_error_group(gid, 100)
    return norm(out, ids) if ids else out


def table_counts(store: ClickhouseStore) -> dict[str, int]:
    return {
        t: int(store.tx.query(f"SELECT count() FROM {t}")[0][0])
        for t in (
            "batches",
            "replay_chunks",
            "network",
            "console",
            "track_events",
            "spans",
            "logs",
            "errors",
        )
    }


def sqlite_counts(folder: Path) -> dict[str, int]:
    with sqlite3.connect(folder / "backlight.db") as conn:
        return {
            t: int(conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0])
            for t in (
                "batches",
                "replay_chunks",
                "network",
                "console",
                "track_events",
                "spans",
                "logs",
                "errors",
            )
        }


async def source(tmp_path: Path, n_sessions: int) -> tuple[Store, Data]:
    store = make("sqlite", tmp_path / "sqlite")
    (tmp_path / "sqlite").mkdir(mode=0o700)
    store.open()
    data = Data(store.default_project(), store.create_project("shop", "shop1"))
    await fill(store, data, n_sessions)
    return store, data


async def resolve_and_ignore(store: Store, data: Data) -> None:
    groups = store.list_error_groups(ErrorGroupQuery(project_id=data.project))["groups"]
    by_type = {g["type"]: g["id"] for g in groups}
    assert await store.set_error_group_state(by_type["KeyError"], "resolved")
    assert await store.set_error_group_state(by_type["ValueError"], "ignored")


def compare(sqlite_store: Store, target: str, data: Data, folder: Path) -> None:
    want = answers(sqlite_store, data, sqlite_groups(folder))
    chdb = ClickhouseStore(target, query_timeout_ms=30_000)
    chdb.open()
    try:
        got = answers(chdb, data, None)
    finally:
        chdb.close()
    assert got.keys() == want.keys()
    for key in want:
        assert got[key] == want[key], key


SETTINGS = Settings(retention_days=0)


async def test_migrated_store_answers_as_the_sqlite_store(tmp_path: Path) -> None:
    store, data = await source(tmp_path, 12)
    target = f"chdb://{tmp_path / 'chdb'}"
    try:
        await resolve_and_ignore(store, data)
        out = io.StringIO()
        copied = migrate.run(
            f"sqlite://{tmp_path / 'sqlite'}", target, SETTINGS, chunk_rows=7, out=out
        )
        assert copied["spans"].written == sqlite_counts(tmp_path / "sqlite")["spans"]
        assert copied["group_states"].written == 2
        lines = out.getvalue().splitlines()
        assert [line.split()[0] for line in lines] == migrate.TABLES  # one progress line each
        assert "rows/s" in lines[0]
        compare(store, target, data, tmp_path / "sqlite")

        # The SQLite server kept running: more sessions, batches of known sessions, a
        # group reopened. A second run copies only that, and the answers agree again.
        await fill(store, data, 3, offset=200)  # after the first 12 sessions
        info = store.session_info(data.sessions[1])
        assert info is not None
        await store.write_browser(
            browser(info, 9, events=[{"type": 3, "data": {}, "timestamp": 1}]), 10
        )
        await store.annotate_session(
            data.sessions[1], Identify(now_ms(), "renamed@example.com", None), []
        )
        groups = {
            g["type"]: g["id"]
            for g in store.list_error_groups(ErrorGroupQuery(project_id=data.project))["groups"]
        }
        assert await store.set_error_group_state(groups["ValueError"], "open")
        again = migrate.run(
            f"sqlite://{tmp_path / 'sqlite'}", target, SETTINGS, chunk_rows=50, out=io.StringIO()
        )
        assert again["spans"].written == 3 * 3 * 3 + 1
        assert again["sessions"].written == 3 + 1
        assert again["batches"].written == 3 * 3 + 1
        # ValueError reopened by hand; KeyError reopened by SQLite when a new error came
        assert again["group_states"].written == 2
        compare(store, target, data, tmp_path / "sqlite")

        # Nothing new: nothing written.
        idle = migrate.run(f"sqlite://{tmp_path / 'sqlite'}", target, SETTINGS, out=io.StringIO())
        assert {t: c.written for t, c in idle.items() if c.written} == {}
    finally:
        store.close()


class Stop(Exception):
    pass


def stop_at(table: str, chunk: int) -> migrate.Hook:
    """Stop a run after ``chunk`` inserts into ``table`` have landed, before the checkpoint
    of the last one is written: the worst moment to be interrupted."""
    seen = [0]

    def hook(name: str, rows: int) -> None:
        if name == table:
            seen[0] += 1
            if seen[0] == chunk:
                raise Stop(table)

    return hook


async def test_an_interrupted_run_continues_without_duplicates(tmp_path: Path) -> None:
    store, data = await source(tmp_path, 6)
    target = f"chdb://{tmp_path / 'chdb'}"
    src = f"sqlite://{tmp_path / 'sqlite'}"
    try:
        await resolve_and_ignore(store, data)
        for table, chunk in (
            ("sessions", 1),
            ("replay_chunks", 2),
            ("console", 2),
            ("spans", 3),
            ("logs", 2),
            ("errors", 1),
            ("group_states", 1),
        ):
            with pytest.raises(Stop):
                migrate.run(
                    src,
                    target,
                    SETTINGS,
                    chunk_rows=4,
                    out=io.StringIO(),
                    hook=stop_at(table, chunk),
                )
        migrate.run(src, target, SETTINGS, chunk_rows=4, out=io.StringIO())
        chdb = ClickhouseStore(target)
        chdb.open()
        try:
            assert table_counts(chdb) == sqlite_counts(tmp_path / "sqlite")
        finally:
            chdb.close()
        compare(store, target, data, tmp_path / "sqlite")
    finally:
        store.close()


def test_the_sqlite_schema_it_reads_is_the_current_one() -> None:
    assert max(number for number, _name, _step in _migrations()) == migrate.SQLITE_SCHEMA


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "backlight_server", "migrate", *args],
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_refusals_are_one_line(tmp_path: Path) -> None:
    bad_from = _cli("--from", "postgres://x/y", "--to", f"chdb://{tmp_path}/c")
    assert bad_from.returncode == 1
    assert (
        bad_from.stderr
        == "backlight migrate: --from must be sqlite:///DIR (a data dir), not 'postgres://x/y'\n"
    )
    bad_to = _cli("--from", f"sqlite://{tmp_path}", "--to", "sqlite:///elsewhere")
    assert bad_to.returncode == 1 and bad_to.stderr.startswith(
        "backlight migrate: --to must be chdb:///DIR"
    )
    missing = _cli("--from", f"sqlite://{tmp_path}/none", "--to", f"chdb://{tmp_path}/c")
    assert (
        missing.stderr
        == f"backlight migrate: no Backlight database at {tmp_path}/none/backlight.db\n"
    )
    (tmp_path / "data").mkdir(mode=0o700)
    sqlite_store = make("sqlite", tmp_path / "data")
    sqlite_store.open()
    sqlite_store.close()
    unreachable = _cli(
        "--from", f"sqlite://{tmp_path}/data", "--to", "clickhouse://u:secret@127.0.0.1:9/db"
    )
    assert unreachable.returncode == 1
    assert unreachable.stderr.startswith(
        "backlight migrate: cannot use the store clickhouse://u:***@127.0.0.1:9/db: cannot connect"
    )
    assert len(unreachable.stderr.splitlines()) == 1 and "secret" not in unreachable.stderr


def test_the_command_copies_and_reports(tmp_path: Path) -> None:
    (tmp_path / "data").mkdir(mode=0o700)
    store = make("sqlite", tmp_path / "data")
    store.open()
    pid = store.default_project()
    store.close()
    done = _cli("--from", f"sqlite://{tmp_path}/data", "--to", f"chdb://{tmp_path}/c")
    assert done.returncode == 0, done.stderr
    lines = done.stderr.splitlines()
    assert lines[0].startswith("projects ") and "1/1 rows" in lines[0]
    assert lines[-1].startswith("backlight migrate: done, 1 rows written")
    chdb = ClickhouseStore(f"chdb://{tmp_path}/c")
    chdb.open()
    try:
        assert [p["id"] for p in chdb.list_projects()] == [pid]
    finally:
        chdb.close()
