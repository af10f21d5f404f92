"""Groups stored by an older server are fingerprinted again when a new one starts
(migration 3, ``store/sqlite/regroup.py``): the groups the old rule split by runtime or
library version merge, keep their instances, counts and state, and new instances join them.
Each group ends with the id its new fingerprint derives (``rekey.py``, which migration 5
also runs for databases past migration 3).

The old database is made as the old server made it: migrations 1 and 2 applied by their
SQL files, then group and instance rows as its writer wrote them (old fingerprints, frames
with the old in-app flags: Node's core modules and CDN paths counted as the app's)."""

from __future__ import annotations

import json
import secrets
import sqlite3
import time
from collections.abc import Callable
from importlib import resources
from pathlib import Path
from typing import Any

import orjson
import pytest

from backlight_server.pipeline import stack
from backlight_server.pipeline.fingerprint import fingerprint
from backlight_server.store.ids import group_id
from backlight_server.store.sqlite import migrations, regroup
from backlight_server.store.sqlite.migrations import _split, migrate
from backlight_server.testing import BacklightProcess
from bltest import OtelService, wait_for

STACKS = Path(__file__).parent / "stacks"
PROJECT = "proj1234"
NOW = time.time() * 1000
PY_APP = (
    'Traceback (most recent call last):\n  File "/srv/app/views.py", line 10, in checkout\n'
    "    charge(order)\nValueError: declined\n"
)
NODE = {
    v: json.loads((STACKS / "node" / f"node-v{v}.json").read_text()) for v in ("20.20.2", "26.13.1")
}
CHROME = json.loads((STACKS / "browser" / "chrome-156.json").read_text())


pytestmark = pytest.mark.sqlite_only  # builds SQLite files of older versions


def old_database(path: Path) -> None:
    """Schema version 2, as every server before issue 17 left it, with one project."""
    conn = sqlite3.connect(path, isolation_level=None)
    folder = resources.files("backlight_server.store.sqlite") / "migrations"
    for name in ("0001_initial.sql", "0002_fts_bulk_index.sql"):
        for statement in _split((folder / name).read_text("utf-8")):
            conn.execute(statement)
    conn.execute("PRAGMA user_version=2")
    conn.execute("INSERT INTO projects VALUES (?, 'default', ?)", (PROJECT, NOW - 1e6))
    conn.close()


def old_frames(raw: str) -> list[dict[str, Any]]:
    """Frames as the old server stored them: ``node:events``, ``…/tinylib@1.0.0/…`` and
    every other frame outside site-packages and node_modules counted as the app's."""
    frames = [f.as_dict() for f in stack.parse(raw)]
    for f in frames:
        f["in_app"] = not ("site-packages" in f["file"] or "<anonymous>" in f["file"])
    return frames


class OldServer:
    def __init__(self, path: Path) -> None:
        self.conn = sqlite3.connect(path, isolation_level=None)

    def group(
        self,
        fp: str,
        etype: str,
        message: str,
        source: str,
        raw: str,
        state: str,
        times: list[float],
    ) -> int:
        frames = orjson.dumps(old_frames(raw)).decode()
        group_id = int(
            self.conn.execute(
                "INSERT INTO error_groups (project_id, fingerprint, type, message, source, stack, "
                "first_ms, last_ms, count, state) VALUES (?,?,?,?,?,?,?,?,?,?) RETURNING id",
                (
                    PROJECT,
                    fp,
                    etype,
                    message,
                    source,
                    frames,
                    min(times),
                    max(times),
                    len(times),
                    state,
                ),
            ).fetchone()[0]
        )
        for ts in times:
            self.conn.execute(
                "INSERT INTO errors (group_id, project_id, ts_ms, source, type, message, stack, "
                "raw_stack, trace_id) VALUES (?,?,?,?,?,?,?,?,?)",
                (group_id, PROJECT, ts, source, etype, message, frames, raw, secrets.token_hex(16)),
            )
        return group_id


def test_groups_split_by_an_old_server_merge_and_keep_their_history(
    tmp_path: Path, otel_service: Callable[..., OtelService]
) -> None:
    data = tmp_path / "data"
    data.mkdir(mode=0o700)
    old_database(data / "backlight.db")
    old = OldServer(data / "backlight.db")
    emitter = [NODE[v]["emitter"] for v in NODE]
    refused = [NODE[v]["refused"] for v in NODE]
    msg = "card declined for order 42"
    ids = {
        "emitter20": old.group(
            "old-e20", "Error", msg, "span", emitter[0], "resolved", [NOW - 9000, NOW - 8000]
        ),
        "emitter26": old.group("old-e26", "Error", msg, "span", emitter[1], "open", [NOW - 100]),
        "refused20": old.group(
            "old-r20", "Error", "connect", "log", refused[0], "ignored", [NOW - 5000]
        ),
        "refused26": old.group(
            "old-r26", "Error", "connect", "log", refused[1], "ignored", [NOW - 4000]
        ),
        "browser1": old.group(
            "old-b1",
            "SyntaxError",
            "JSON",
            "frontend",
            CHROME["1.0.0"]["timer"],
            "open",
            [NOW - 3000],
        ),
        "browser2": old.group(
            "old-b2",
            "SyntaxError",
            "JSON",
            "frontend",
            CHROME["1.1.0"]["timer"],
            "resolved",
            [NOW - 2000],
        ),
    }
    # A group the new rule leaves alone keeps its fingerprint...
    app_fp = fingerprint("ValueError", "declined", stack.parse(PY_APP))
    ids["app"] = old.group(app_fp, "ValueError", "declined", "span", PY_APP, "open", [NOW])
    # ...and one whose old fingerprint is what another group's becomes: no UNIQUE clash.
    emitter_fp = fingerprint("Error", msg, stack.parse(emitter[0]))
    ids["clash"] = old.group(emitter_fp, "TypeError", "x", "span", PY_APP, "open", [NOW - 1])
    # A group whose instances retention already deleted is fingerprinted from its own row.
    ids["orphan"] = old.group(
        "old-orphan", "Error", "connect", "log", refused[0], "ignored", [NOW - 7000]
    )
    old.conn.execute("DELETE FROM errors WHERE group_id = ?", (ids["orphan"],))
    old.conn.close()

    with BacklightProcess(data) as server:
        assert server.project == PROJECT
        groups = server.api("/api/v1/error-groups", limit=100)["groups"]
        # every group, merged or not, has the id its new fingerprint derives (issue 19)
        assert all(g["id"] == group_id(PROJECT, g["fingerprint"]) for g in groups)
        assert not set(ids.values()) & {g["id"] for g in groups}
        found = {(g["type"], g["message"]): g for g in groups}
        assert sorted(found) == sorted(
            [
                ("Error", msg),
                ("Error", "connect"),
                ("SyntaxError", "JSON"),
                ("ValueError", "declined"),
                ("TypeError", "x"),
            ]
        )
        merged = found[("Error", msg)]
        assert merged["fingerprint"] == emitter_fp
        assert (merged["count"], merged["state"]) == (3, "open")
        assert (merged["first_ms"], merged["last_ms"]) == (NOW - 9000, NOW - 100)
        assert [f["in_app"] for f in merged["stack"][:4]] == [True, True, False, True]
        refused_group = found[("Error", "connect")]
        assert (refused_group["count"], refused_group["state"]) == (3, "ignored")
        browser = found[("SyntaxError", "JSON")]
        assert (browser["count"], browser["state"]) == (2, "open")
        assert found[("ValueError", "declined")]["count"] == 1
        assert found[("ValueError", "declined")]["id"] == group_id(PROJECT, app_fp)
        assert found[("TypeError", "x")]["count"] == 1
        merged_id = merged["id"]
        detail = server.api(f"/api/v1/error-groups/{merged_id}", limit=10)
        assert len(detail["instances"]) == 3

        # the same error from either Node version now counts in the merged group
        svc = otel_service(server.url, "node-after-upgrade", server.project)
        with svc.tracer.start_as_current_span("job") as span:
            span.add_event(
                "exception",
                {
                    "exception.type": "Error",
                    "exception.message": msg,
                    "exception.stacktrace": emitter[1],
                },
            )
        svc.flush()
        wait_for(lambda: server.api(f"/api/v1/error-groups/{merged_id}")["group"]["count"] == 4)
        assert len(server.api("/api/v1/error-groups", limit=100)["groups"]) == 5

    conn = sqlite3.connect(data / "backlight.db")
    assert conn.execute("PRAGMA user_version").fetchone()[0] >= 3
    fps = [r[0] for r in conn.execute("SELECT fingerprint FROM error_groups")]
    assert app_fp in fps and not any(fp.startswith(("old-", "regroup:")) for fp in fps)
    conn.close()


def test_migrating_a_fresh_database_is_a_no_op(tmp_path: Path) -> None:
    conn = sqlite3.connect(tmp_path / "new.db", isolation_level=None)
    version = migrate(conn)
    assert version >= 3 and conn.execute("SELECT count(*) FROM error_groups").fetchone()[0] == 0
    assert migrate(conn) == version
    conn.close()


def test_two_steps_with_one_number_refuse_to_start(monkeypatch: pytest.MonkeyPatch) -> None:
    """Two branches that each add a step 3 must not merge into a server that skips one."""
    monkeypatch.setitem(migrations.PYTHON_STEPS, 2, ("0002_from_another_branch", regroup.apply))
    conn = sqlite3.connect(":memory:", isolation_level=None)
    with pytest.raises(RuntimeError, match=r"0002_from_another_branch, 0002_fts_bulk_index\.sql"):
        migrate(conn)
    conn.close()
