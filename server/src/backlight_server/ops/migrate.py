"""``backlight migrate --from sqlite:///DIR --to chdb:///DIR2|clickhouse://…``: copy a
SQLite install's data into a ClickHouse store, while the SQLite server keeps running.

SQLite is read directly (read-only, in WAL mode a live server may keep writing), a chunk
of rows at a time in key order; rows go in through the ClickHouse store's writer, each
chunk with a deduplication token (``migrate/<table>/<first key>/<digest>``).

A re-run continues where the last one stopped and writes nothing twice:
- append-only tables (network, console, track events, spans, logs, errors) are read by
  SQLite row id after a checkpoint kept in the target (``migrate_checkpoints``: it goes
  with the data, so an emptied target starts over). The first chunk of every run is
  compared with the target first, so rows that landed before an interruption, but after
  the last checkpoint, are not written again;
- tables whose rows change, or arrive out of key order, in a live install (projects,
  sessions, batches, replay chunks, group states) are compared with the target on every
  run: only what is missing or changed is written (a session as the difference of its
  counters, folded with the rows already there).

Alerts (``copy_alert_rules``, ``copy_alert_outbox``, ``alert_deliveries`` by row id,
``set_alert_cursors``): the rules are copied (changed ones replaced, ones deleted in SQLite
since an earlier run deleted); the outbox is copied with every row's state, so messages
sent stay sent (their keys and the rules' cooldowns go with them) and messages still due
are sent by the ClickHouse servers; the delivery log goes along. Each project's alert
cursor is set past the errors the SQLite server had already evaluated (their
``received_ms`` is stamped before it); errors it had not evaluated yet are stamped with
the time of the copy, after the cursor, so the ClickHouse servers evaluate them. So a
migrated store sends no old alert again, and misses none.

So the way to move: run it while the SQLite server serves, stop that server, run it again
(it copies what arrived meanwhile), then start the servers on ClickHouse.
"""

from __future__ import annotations

import argparse
import hashlib
import logging
import sqlite3
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO
from urllib.parse import unquote, urlsplit

import orjson

from backlight_server.errors import StorageUnavailable
from backlight_server.ops.progress import Progress
from backlight_server.settings import Settings, env_name, settings_from_env
from backlight_server.store.clickhouse import ClickhouseStore, writes
from backlight_server.store.clickhouse import alerts as ch_alerts
from backlight_server.store.clickhouse.schema import Layout
from backlight_server.store.clickhouse.writes import NO_TUPLE, encode
from backlight_server.store.factory import check_url, make_store
from backlight_server.store.ids import group_id

SQLITE_SCHEMA = 16  # the SQLite schema version this reads (store/sqlite/migrations)
# Not copied: source maps (9), projects' fetch settings (10), aliases of error groups
# merged by source maps (11).
CHUNK_ROWS = 5000
REPLAY_CHUNK_ROWS = 200  # replay chunks are large: fewer a chunk
# (table, converted row count) after each chunk is inserted and before its checkpoint:
# the tests interrupt a run here.
Hook = Callable[[str, int], None]
DbRow = tuple[Any, ...]
# The settings that shape the target's tables: pass the ones the servers run with.
SETTINGS = ("clickhouse_cluster", "retention_days", "replay_retention_days")


class MigrateError(Exception):
    """A refusal: one line for the operator."""


@dataclass
class Copied:
    scanned: int = 0
    written: int = 0


# --- the source --------------------------------------------------------------------------


class Source:
    """A SQLite data dir's database, opened read-only."""

    def __init__(self, url: str) -> None:
        parts = urlsplit(url)
        if parts.scheme != "sqlite" or not parts.path:
            raise MigrateError(f"--from must be sqlite:///DIR (a data dir), not {url!r}")
        folder = Path(unquote(parts.path))
        self.path = (folder / "backlight.db").resolve()
        if not self.path.is_file():
            raise MigrateError(f"no Backlight database at {self.path}")
        try:
            self.conn = sqlite3.connect(f"{self.path.as_uri()}?mode=ro", uri=True)
            self.conn.execute("PRAGMA query_only = 1")
            version = int(self.conn.execute("PRAGMA user_version").fetchone()[0])
        except sqlite3.Error as exc:
            raise MigrateError(f"cannot read {self.path}: {exc}") from exc
        if version < SQLITE_SCHEMA:
            raise MigrateError(
                f"{self.path} is at schema version {version}: start this version of "
                "`backlight serve` on it once to upgrade it, then migrate"
            )
        if version > SQLITE_SCHEMA:
            raise MigrateError(
                f"{self.path} is at schema version {version}, newer than this Backlight "
                f"reads ({SQLITE_SCHEMA}): upgrade Backlight"
            )

    def rows(self, sql: str, params: tuple[Any, ...] = ()) -> list[DbRow]:
        return self.conn.execute(sql, params).fetchall()

    def count(self, sql: str, params: tuple[Any, ...] = ()) -> int:
        return int(self.conn.execute(sql, params).fetchone()[0])

    def close(self) -> None:
        self.conn.close()


# --- the target --------------------------------------------------------------------------


def _checkpoint_table(lay: Layout) -> str:
    return (
        f"CREATE TABLE IF NOT EXISTS migrate_checkpoints{lay.on()} "
        "(source String, name String, done Int64, at_ms Float64) "
        f"ENGINE = {lay.engine('ReplacingMergeTree', 'at_ms')} ORDER BY (source, name)"
    )


# Columns of the target tables whose rows are not ingest's (``writes.COLUMNS``).
ALERT_RULE_COLUMNS = ("id", "project_id", "body", "updated_ms", "deleted")
COLUMNS_OF: dict[str, tuple[str, ...]] = {
    "alert_rules": ALERT_RULE_COLUMNS,
    "alert_outbox": ch_alerts.OUTBOX,
    "alert_deliveries": ("id", *ch_alerts.DELIVERY),
    "alert_cursors": ("project_id", "position", "version"),
}


@dataclass
class Target:
    clickhouse: ClickhouseStore  # the engine itself: its transport and writer
    source: str  # the SQLite file this copies from
    hook: Hook | None = None
    done: dict[str, int] = field(default_factory=dict)
    started_ms: float = field(default_factory=lambda: time.time() * 1000)
    # each project's alert cursor in the source: the last errors.id it evaluated
    evaluated: dict[str, int] = field(default_factory=dict)

    def prepare(self, lay: Layout) -> None:
        tx = self.clickhouse.tx
        tx.command(_checkpoint_table(lay))
        others = [r[0] for r in tx.query("SELECT DISTINCT source FROM migrate_checkpoints")]
        others = [s for s in others if s != self.source]
        if others:
            raise MigrateError(
                f"this store already holds data migrated from {others[0]}; row ids of two "
                "SQLite installs collide: migrate each into a store of its own"
            )
        for name, done in tx.query(
            "SELECT name, max(done) FROM migrate_checkpoints WHERE source = {s:String} "
            "GROUP BY name",
            {"s": self.source},
        ):
            self.done[name] = int(done)

    def query(self, sql: str, params: dict[str, Any]) -> list[list[Any]]:
        return self.clickhouse.tx.query(sql, params)

    def insert(self, table: str, rows: list[list[Any]], key: str, context: bytes = b"") -> None:
        """Insert one chunk. The token names the chunk and its content (and what it was
        compared with), so the same chunk sent twice is stored once, and a different one
        that starts at the same key is not taken for it."""
        if not rows:
            return
        digest = hashlib.blake2b(context + encode(rows), digest_size=12).hexdigest()
        columns = COLUMNS_OF.get(table) or writes.WITH_ID.get(table)
        self.clickhouse.writer.insert(table, rows, f"migrate/{table}/{key}/{digest}", columns)
        if self.hook is not None:
            self.hook(table, len(rows))

    def checkpoint(self, table: str, done: int) -> None:
        self.clickhouse.tx.command(
            "INSERT INTO migrate_checkpoints (source, name, done, at_ms) "
            "VALUES ({s:String}, {n:String}, {d:Int64}, {t:Float64})",
            {"s": self.source, "n": table, "d": done, "t": time.time() * 1000},
        )
        self.done[table] = done


# --- append-only tables: by row id after a checkpoint -----------------------------------

# Each select's first column is the SQLite row id; the rest are the ClickHouse columns.
APPENDED: dict[str, str] = {
    "network": "SELECT n.id, n.id, coalesce(s.project_id, ''), n.session_id, n.request_id, "
    "n.type, n.method, n.url, n.status, n.start_ms, n.end_ms, n.error, n.detail "
    "FROM network AS n LEFT JOIN sessions AS s ON s.secure_id = n.session_id "
    "WHERE n.id > ? ORDER BY n.id LIMIT ?",
    "console": "SELECT id, session_id, ts_ms, level, message, args FROM console "
    "WHERE id > ? ORDER BY id LIMIT ?",
    "track_events": "SELECT id, session_id, ts_ms, event, properties FROM track_events "
    "WHERE id > ? ORDER BY id LIMIT ?",
    "spans": "SELECT id, project_id, trace_id, span_id, parent_span_id, name, kind, start_ns, "
    "end_ns, status_code, status_message, service, environment, session_id, request_id, "
    "attributes, events FROM spans WHERE id > ? ORDER BY id LIMIT ?",
    "logs": "SELECT id, id, project_id, ts_ns, trace_id, span_id, severity_number, level, body, "
    "service, environment, session_id, request_id, attributes FROM logs "
    "WHERE id > ? ORDER BY id LIMIT ?",
    # group_id is derived from the group's fingerprint; received_ms is the error's time
    "errors": "SELECT e.id, e.id, e.group_id, e.project_id, g.fingerprint, e.ts_ms, e.ts_ms, "
    "e.source, e.type, e.message, e.stack, e.raw_stack, e.session_id, e.request_id, "
    "e.trace_id, e.span_id, e.service, e.environment, e.url, e.attributes "
    "FROM errors AS e LEFT JOIN error_groups AS g ON g.id = e.group_id "
    "WHERE e.id > ? ORDER BY e.id LIMIT ?",
    "alert_deliveries": "SELECT id, id, at_ms, rule_id, channel, kind, key, events, ok, status, "
    "error, attempt FROM alert_deliveries WHERE id > ? ORDER BY id LIMIT ?",
}
# Tables whose ClickHouse rows keep the SQLite id: landed rows are found by id.
KEEP_ID = {"network", "logs", "errors", "alert_deliveries"}
# The others: by a signature of columns (with their index in the row), looked up by a key.
SIGNATURE: dict[str, tuple[str, tuple[str, ...], tuple[int, ...]]] = {
    "console": ("session_id", ("session_id", "ts_ms", "level", "message"), (0, 1, 2, 3)),
    "track_events": ("session_id", ("session_id", "ts_ms", "event"), (0, 1, 2)),
    "spans": ("trace_id", ("trace_id", "span_id", "start_ns", "end_ns", "name"), (1, 2, 6, 7, 4)),
}


def _convert(table: str, row: DbRow) -> list[Any]:
    out = list(row[1:])
    if table == "errors":
        project, fp = out[2], out[3]
        out[3] = fp if fp is not None else f"sqlite-group:{out[1]}"
        out[1] = group_id(project, out[3])
    return out


def _landed(src: Source, tgt: Target, table: str, rows: list[list[Any]], done: int) -> set[int]:
    """Indices of ``rows`` (read after checkpoint ``done``) already in the target: the chunk
    a run was writing when it stopped may have landed, in whole or in part."""
    if table in KEEP_ID:
        ids = [r[0] for r in rows]
        have = {
            r[0]
            for r in tgt.query(
                f"SELECT id FROM {table} WHERE id IN {{ids:Array(UInt64)}}", {"ids": ids}
            )
        }
        return {i for i, r in enumerate(rows) if r[0] in have}
    key, cols, idx = SIGNATURE[table]
    keys = sorted({r[idx[0]] for r in rows if r[idx[0]] is not None})
    there = Counter(
        tuple(r)
        for r in tgt.query(
            f"SELECT {', '.join(cols)} FROM {table} WHERE {key} IN {{k:Array(String)}}", {"k": keys}
        )
    )
    # Rows of earlier chunks with the same signature are there by right.
    there.subtract(
        tuple(r)
        for r in src.rows(
            f"SELECT {', '.join(cols)} FROM {table} "
            f"WHERE {key} IN (SELECT value FROM json_each(?)) AND id <= ?",
            (orjson.dumps(keys).decode(), done),
        )
    )
    found: set[int] = set()
    for i, r in enumerate(rows):
        sig = tuple(r[j] for j in idx)
        if there[sig] > 0:
            there[sig] -= 1
            found.add(i)
    return found


def stamp_received(tgt: Target, rows: list[list[Any]]) -> None:
    """An error's ``received_ms`` (the ClickHouse alert cursor's order): before the cursor
    ``set_alert_cursors`` sets if the SQLite server's evaluator had read it, else the time
    of the copy (after that cursor: the ClickHouse servers evaluate it)."""
    before = tgt.started_ms - ch_alerts.OVERLAP_MS - 1
    now = time.time() * 1000
    for r in rows:  # id, group_id, project_id, fingerprint, ts_ms, received_ms, …
        if r[0] <= tgt.evaluated.get(r[2], 1 << 62):
            r[5] = min(r[4], before)
        else:
            r[5] = max(now, tgt.started_ms)


def copy_appended(src: Source, tgt: Target, table: str, chunk: int, out: TextIO) -> Copied:
    done = tgt.done.get(table, 0)
    bar = Progress(table, src.count(f"SELECT count(*) FROM {table} WHERE id > ?", (done,)), out)
    first = True
    while True:
        batch = src.rows(APPENDED[table], (done, chunk))
        if not batch:
            break
        rows = [_convert(table, r) for r in batch]
        if table == "errors":
            stamp_received(tgt, rows)
        if first:
            skip = _landed(src, tgt, table, rows, done)
            rows = [r for i, r in enumerate(rows) if i not in skip]
            first = False
        tgt.insert(table, rows, str(batch[0][0]))
        done = int(batch[-1][0])
        tgt.checkpoint(table, done)
        bar.advance(len(batch), len(rows))
    bar.finish()
    return Copied(bar.done, bar.written)


# --- tables compared with the target on every run ----------------------------------------


def copy_projects(src: Source, tgt: Target, chunk: int, out: TextIO) -> Copied:
    rows = src.rows("SELECT id, name, created_ms FROM projects ORDER BY id")
    bar = Progress("projects", len(rows), out)
    have = {r[0] for r in tgt.query("SELECT DISTINCT id FROM projects", {})}
    missing = [list(r) for r in rows if r[0] not in have]
    tgt.insert("projects", missing, "all")
    bar.advance(len(rows), len(missing))
    bar.finish()
    return Copied(bar.done, bar.written)


_SESSION = (
    "SELECT secure_id, project_id, started_ms, last_ms, url, last_url, user_agent, sdk_version, "
    "environment, service, app_version, identifier, user_metadata, pages, event_count, "
    "network_count, fe_error_count, dropped_events, dropped_other FROM sessions "
    "WHERE secure_id > ? ORDER BY secure_id LIMIT ?"
)
_SESSION_HELD = (
    "SELECT secure_id, min(started_ms), max(last_ms), max(last_url), max(identifier), "
    "max(user_metadata), sum(pages), sum(event_count), sum(network_count), "
    "sum(fe_error_count), sum(dropped_events), sum(dropped_other), any(url), any(user_agent), "
    "any(sdk_version), any(environment), any(service), any(app_version) FROM sessions "
    "WHERE secure_id IN {ids:Array(String)} GROUP BY secure_id"
)


def session_delta(row: DbRow, held: list[Any] | None) -> list[Any] | None:
    """The ``sessions`` row that, folded with the rows ``held`` in the target (see
    ``reads._FOLD``), gives the SQLite session ``row``; None if they agree already."""
    sid, pid, started, last, url, last_url, ua, sdk, env, svc, appv, ident, meta = row[:13]
    counts = list(row[13:])
    if held is None:

        def fresh(value: str | None) -> list[Any]:
            return [last, value] if value else NO_TUPLE

        return [
            *(pid, sid, started, last, url, fresh(last_url), ua, sdk, env, svc, appv),
            *(fresh(ident), fresh(meta), *counts),
        ]

    def newer(value: str | None, have: list[Any]) -> list[Any]:
        # a tuple that wins ``max`` over the one held, if the value changed
        return [max(last, have[0] + 1), value] if value and value != have[1] else NO_TUPLE

    tuples = [newer(v, h) for v, h in zip((last_url, ident, meta), held[3:6], strict=True)]
    deltas = [int(a) - int(b) for a, b in zip(counts, held[6:12], strict=True)]
    # ``any`` keeps a value once one is there: send only what the target lacks
    anys = (url, ua, sdk, env, svc, appv)
    fill = [v if h is None else None for v, h in zip(anys, held[12:18], strict=True)]
    if (
        started >= held[1]
        and last <= held[2]
        and all(t is NO_TUPLE for t in tuples)
        and not any(deltas)
        and all(v is None for v in fill)
    ):
        return None
    return [
        *(pid, sid, started, last, fill[0], tuples[0], *fill[1:]),
        *(tuples[1], tuples[2], *deltas),
    ]


def copy_sessions(src: Source, tgt: Target, chunk: int, out: TextIO) -> Copied:
    bar = Progress("sessions", src.count("SELECT count(*) FROM sessions"), out)
    after = ""
    while True:
        batch = src.rows(_SESSION, (after, chunk))
        if not batch:
            break
        held_rows = tgt.query(_SESSION_HELD, {"ids": [r[0] for r in batch]})
        held = {r[0]: r for r in held_rows}
        rows = [d for d in (session_delta(r, held.get(r[0])) for r in batch) if d is not None]
        tgt.insert("sessions", rows, str(batch[0][0]), orjson.dumps(held_rows))
        after = batch[-1][0]
        bar.advance(len(batch), len(rows))
    bar.finish()
    return Copied(bar.done, bar.written)


def _by_session_seq(src: Source, table: str, columns: str, chunk: int) -> Iterator[list[DbRow]]:
    after: tuple[str, int] = ("", -(1 << 62))
    while True:
        batch = src.rows(
            f"SELECT {columns} FROM {table} WHERE (session_id, seq) > (?, ?) "
            "ORDER BY session_id, seq LIMIT ?",
            (*after, chunk),
        )
        if not batch:
            return
        yield batch
        after = (batch[-1][0], batch[-1][1])


def _held_keys(tgt: Target, table: str, batch: list[DbRow]) -> set[tuple[str, int]]:
    sids = sorted({r[0] for r in batch})
    return {
        (r[0], int(r[1]))
        for r in tgt.query(
            f"SELECT session_id, seq FROM {table} WHERE session_id IN {{s:Array(String)}}",
            {"s": sids},
        )
    }


def copy_batches(src: Source, tgt: Target, chunk: int, out: TextIO) -> Copied:
    bar = Progress("batches", src.count("SELECT count(*) FROM batches"), out)
    for batch in _by_session_seq(src, "batches", "session_id, seq, received_ms", chunk):
        held = _held_keys(tgt, "batches", batch)
        rows = [list(r) for r in batch if (r[0], r[1]) not in held]
        tgt.insert("batches", rows, f"{batch[0][0]}/{batch[0][1]}")
        bar.advance(len(batch), len(rows))
    bar.finish()
    return Copied(bar.done, bar.written)


def _replay_text(data: bytes) -> str | None:
    """SQLite keeps a batch's rrweb events as zlib-compressed JSON; ClickHouse the text."""
    import zlib

    try:
        return zlib.decompress(data).decode()
    except (zlib.error, UnicodeDecodeError):
        return None


def copy_replay(src: Source, tgt: Target, chunk: int, out: TextIO) -> Copied:
    bar = Progress("replay_chunks", src.count("SELECT count(*) FROM replay_chunks"), out)
    chunk = min(chunk, REPLAY_CHUNK_ROWS)
    for keys in _by_session_seq(src, "replay_chunks", "session_id, seq", chunk):
        held = _held_keys(tgt, "replay_chunks", keys)
        rows: list[list[Any]] = []
        if any((k[0], k[1]) not in held for k in keys):
            for sid, seq, first_ms, last_ms, n, data in src.rows(
                "SELECT session_id, seq, first_ms, last_ms, n_events, data FROM replay_chunks "
                "WHERE (session_id, seq) >= (?, ?) AND (session_id, seq) <= (?, ?) "
                "ORDER BY session_id, seq",
                (*keys[0], *keys[-1]),
            ):
                text = _replay_text(data) if (sid, seq) not in held else None
                if text is not None:
                    rows.append([sid, seq, first_ms, last_ms, n, text])
        tgt.insert("replay_chunks", rows, f"{keys[0][0]}/{keys[0][1]}")
        bar.advance(len(keys), len(rows))
    bar.finish()
    return Copied(bar.done, bar.written)


def copy_group_states(src: Source, tgt: Target, chunk: int, out: TextIO) -> Copied:
    """A ``group_states`` row for each group whose state differs from the target's ("open"
    when it holds none), newer than the group's last error, so a resolved group stays
    resolved."""
    bar = Progress("group_states", src.count("SELECT count(*) FROM error_groups"), out)
    after = 0
    while True:
        batch = src.rows(
            "SELECT id, project_id, fingerprint, state, last_ms FROM error_groups "
            "WHERE id > ? ORDER BY id LIMIT ?",
            (after, chunk),
        )
        if not batch:
            break
        gids = {r[0]: group_id(r[1], r[2]) for r in batch}
        held = {
            int(r[0]): (r[1], float(r[2]))
            for r in tgt.query(
                "SELECT group_id, argMax(state, updated_ms), max(updated_ms) FROM group_states "
                "WHERE group_id IN {ids:Array(UInt64)} GROUP BY group_id",
                {"ids": sorted(gids.values())},
            )
        }
        now = time.time() * 1000
        rows = []
        for sqlite_id, project, _fp, state, last_ms in batch:
            gid = gids[sqlite_id]
            have, updated = held.get(gid, ("open", 0.0))
            if state != have:
                rows.append([project, gid, state, max(now, last_ms + 1, updated + 1)])
        tgt.insert("group_states", rows, str(batch[0][0]), orjson.dumps(sorted(held.items())))
        after = batch[-1][0]
        bar.advance(len(batch), len(rows))
    bar.finish()
    return Copied(bar.done, bar.written)


# --- alerts --------------------------------------------------------------------------------

RULE_MARK = "alert_rule/"  # a checkpoint per rule copied: its deletion in SQLite follows
FINAL_STATES = ("delivered", "failed")


def copy_alert_rules(src: Source, tgt: Target, chunk: int, out: TextIO) -> Copied:
    """Rules missing or different in the target are written; rules this source gave the
    target before and has deleted since are deleted there (others' rules are left alone)."""
    rows = src.rows("SELECT id, project_id, body, updated_ms FROM alert_rules ORDER BY id")
    bar = Progress("alert_rules", len(rows), out)
    held = {
        str(r[0]): (str(r[1]), str(r[2]), float(r[3]), int(r[4]))
        for r in tgt.query(
            "SELECT id, argMax(project_id, updated_ms), argMax(body, updated_ms), "
            "max(updated_ms), argMax(deleted, updated_ms) FROM alert_rules GROUP BY id",
            {},
        )
    }
    write: list[list[Any]] = []
    for rid, pid, body, updated in rows:
        have = held.get(rid)
        if have is not None and have[:2] == (pid, body) and not have[3]:
            continue
        write.append([rid, pid, body, max(float(updated), have[2] + 1 if have else 0.0), 0])
    ids = {str(r[0]) for r in rows}
    marked = {n.removeprefix(RULE_MARK) for n in tgt.done if n.startswith(RULE_MARK)}
    now = time.time() * 1000
    for rid in sorted(marked - ids):
        have = held.get(rid)
        if have is not None and not have[3]:
            write.append([rid, have[0], "", max(now, have[2] + 1), 1])
    tgt.insert("alert_rules", write, "all", orjson.dumps(sorted(held.items())))
    for rid in sorted(ids - marked):
        tgt.checkpoint(RULE_MARK + rid, 1)
    bar.advance(len(rows), len(write))
    bar.finish()
    return Copied(bar.done, bar.written)


_OUTBOX = (
    "SELECT key, rule_id, project_id, channel, slot_ms, event, state, attempts, next_ms, "
    "last_error, created_ms FROM alert_outbox WHERE key > ? ORDER BY key LIMIT ?"
)


def copy_alert_outbox(src: Source, tgt: Target, chunk: int, out: TextIO) -> Copied:
    """Every outbox row with its state: sent and given-up keys stay so (no message again;
    the rules' cooldowns see them), pending ones are sent by the ClickHouse servers, one
    cut off while sending is marked failed there as here. A key whose state differs is
    written again with a later version, unless the target's is final and the source's
    is not (a ClickHouse server went further)."""
    bar = Progress("alert_outbox", src.count("SELECT count(*) FROM alert_outbox"), out)
    after = ""
    while True:
        batch = src.rows(_OUTBOX, (after, chunk))
        if not batch:
            break
        held = {
            str(k): (str(s), int(a), float(n), str(e))
            for k, s, a, n, e in tgt.query(
                "SELECT key, state, attempts, next_ms, last_error FROM alert_outbox FINAL "
                "WHERE key IN {k:Array(String)}",
                {"k": [r[0] for r in batch]},
            )
        }
        version = ch_alerts.version()
        rows: list[list[Any]] = []
        for r in batch:
            have = held.get(r[0])
            if have == (r[6], int(r[7]), float(r[8]), r[9]):
                continue
            if have is not None and have[0] in FINAL_STATES and r[6] not in FINAL_STATES:
                continue
            rows.append([*r, version])
        tgt.insert("alert_outbox", rows, batch[0][0], orjson.dumps(sorted(held.items())))
        after = batch[-1][0]
        bar.advance(len(batch), len(rows))
    bar.finish()
    return Copied(bar.done, bar.written)


def set_alert_cursors(src: Source, tgt: Target, chunk: int, out: TextIO) -> Copied:
    """Each project the SQLite evaluator follows gets a ClickHouse cursor at this run's
    start (or the target's own, if later): errors it had evaluated are before it, the
    others after (``stamp_received``). An error an earlier run copied before the SQLite
    evaluator read it, which it never read since, keeps the cursor at its time."""
    bar = Progress("alert_cursors", len(tgt.evaluated), out)
    held = {
        str(p): float(v)
        for p, v in tgt.query(
            "SELECT project_id, argMax(position, version) FROM alert_cursors GROUP BY project_id",
            {},
        )
        if _is_number(v)
    }
    top = src.count("SELECT coalesce(max(id), 0) FROM errors")  # ids of this source only
    rows = []
    for project, last in sorted(tgt.evaluated.items()):
        position = max(tgt.started_ms, held.get(project, 0.0))
        late = tgt.query(
            "SELECT min(received_ms) FROM errors WHERE project_id = {p:String} "
            "AND id > {i:UInt64} AND id <= {top:UInt64} AND received_ms < {at:Float64} "
            "HAVING count() > 0",
            {"p": project, "i": last, "top": top, "at": position},
        )
        if late:
            position = float(late[0][0])
        if held.get(project) != position:
            rows.append([project, repr(position), ch_alerts.version()])
    tgt.insert("alert_cursors", rows, "all", orjson.dumps(sorted(held.items())))
    bar.advance(len(tgt.evaluated), len(rows))
    bar.finish()
    return Copied(bar.done, bar.written)


def _is_number(text: Any) -> bool:
    try:
        float(text)
    except (TypeError, ValueError):
        return False
    return True


# --- the command ---------------------------------------------------------------------------

Copier = Callable[[Source, Target, int, TextIO], Copied]
KEYED: dict[str, Copier] = {
    "projects": copy_projects,
    "sessions": copy_sessions,
    "batches": copy_batches,
    "replay_chunks": copy_replay,
}
ALERTS: dict[str, Copier] = {
    "alert_rules": copy_alert_rules,
    "alert_outbox": copy_alert_outbox,
    "alert_cursors": set_alert_cursors,  # last: after the errors it places them around
}
TABLES = [*KEYED, *APPENDED, "group_states", *ALERTS]


def run(
    source: str,
    target: str,
    settings: Settings,
    *,
    chunk_rows: int = CHUNK_ROWS,
    out: TextIO = sys.stderr,
    hook: Hook | None = None,
) -> dict[str, Copied]:
    """Copy ``source`` (sqlite:///DIR) into ``target`` (chdb:///DIR, clickhouse://…)."""
    from backlight_server.cli import redact_url

    if urlsplit(target).scheme not in ("chdb", "clickhouse", "clickhouses"):
        raise MigrateError(
            f"--to must be chdb:///DIR or clickhouse://[user:pass@]host:8123/db, "
            f"not {redact_url(target)!r}"
        )
    try:
        check_url(target)
    except ValueError as exc:
        raise MigrateError(str(exc)) from None
    src = Source(source)
    try:
        store = make_store(settings, target)
        assert isinstance(store, ClickhouseStore)
        try:
            store.open()
        except StorageUnavailable as exc:
            raise MigrateError(f"cannot use the store {redact_url(target)}: {exc.reason}") from None
        try:
            tgt = Target(store, str(src.path), hook)
            tgt.prepare(Layout(cluster=settings.clickhouse_cluster))
            tgt.evaluated = {
                str(p): int(v) if str(v).isdigit() else 0
                for p, v in src.rows("SELECT project_id, position FROM alert_cursors")
            }
            copied: dict[str, Copied] = {}
            for table in TABLES:
                if table in KEYED:
                    copied[table] = KEYED[table](src, tgt, chunk_rows, out)
                elif table in APPENDED:
                    copied[table] = copy_appended(src, tgt, table, chunk_rows, out)
                elif table in ALERTS:
                    copied[table] = ALERTS[table](src, tgt, chunk_rows, out)
                else:
                    copied[table] = copy_group_states(src, tgt, chunk_rows, out)
            return copied
        finally:
            store.close()
    finally:
        src.close()


def add_parser(sub: Any) -> None:
    p = sub.add_parser(
        "migrate",
        help="Copy a SQLite data dir into a ClickHouse store (resumable).",
        description="Copy a SQLite install's data into a ClickHouse store. Safe to run "
        "while the SQLite server serves, and again after an interruption or to copy what "
        "arrived since: nothing is written twice. See docs/scaling.md.",
    )
    p.add_argument("--from", dest="source", required=True, help="sqlite:///DIR (a data dir)")
    p.add_argument(
        "--to", dest="target", required=True, help="chdb:///DIR or clickhouse://host:8123/db"
    )
    p.add_argument("--chunk-rows", type=int, default=CHUNK_ROWS, help="rows read at a time")
    for name in SETTINGS:
        kind = str if name == "clickhouse_cluster" else int
        p.add_argument(
            "--" + name.replace("_", "-"),
            dest=name,
            type=kind,
            default=None,
            help=f"as for `backlight serve` (the target's tables take it) [env {env_name(name)}]",
        )


def command(args: argparse.Namespace) -> int:
    # a refusal is our one line; the client library's own log of it would be a second
    logging.getLogger("clickhouse_connect").setLevel(logging.CRITICAL)
    settings = settings_from_env({name: getattr(args, name) for name in SETTINGS})
    if args.chunk_rows < 1:
        print("backlight migrate: --chunk-rows must be at least 1", file=sys.stderr)
        return 2
    started = time.monotonic()
    try:
        copied = run(args.source, args.target, settings, chunk_rows=args.chunk_rows)
    except MigrateError as exc:
        print(f"backlight migrate: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("\nbacklight migrate: interrupted; run it again to continue", file=sys.stderr)
        return 130
    rows = sum(c.written for c in copied.values())
    print(
        f"backlight migrate: done, {rows:,} rows written in {time.monotonic() - started:.1f} s",
        file=sys.stderr,
    )
    return 0
