"""Recompute the fingerprints of stored error groups after the fingerprint rule changed.

A migration step (see ``migrations.py``), run once inside the migration's write
transaction. Each group is fingerprinted again from its latest instance, exactly as ingest
would fingerprint that instance today (OTLP errors: their raw stack parsed again; browser
errors: their stored frames, classified again); a group without instances uses its own
type, message and frames. Groups that now share a fingerprint are merged into the oldest
one: instances move to it, counts add up, first/last seen widen, and the state is ``open``
if any of them was open, else ``resolved`` if any was, else ``ignored``. The group's own
frames get today's in-app flags; instances keep the frames they were stored with. Last,
every group takes the id its (new) fingerprint derives (``rekey.py``), as ingest gives it.

Cost: one indexed instance lookup and one stack parse per group, one ``UPDATE`` per moved
group; instances are rewritten only by the ``group_id`` of merged or re-keyed groups.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass

import orjson

from backlight_server.pipeline import stack
from backlight_server.pipeline.fingerprint import fingerprint
from backlight_server.pipeline.frames import go_runtime, in_app
from backlight_server.pipeline.model import Frame
from backlight_server.store.sqlite import rekey


@dataclass(slots=True)
class _Group:
    id: int
    project_id: str
    fingerprint: str
    count: int
    first_ms: float
    last_ms: float
    state: str
    stack: str | None


def _json_list(text: object) -> list[object]:
    try:
        value = orjson.loads(text) if isinstance(text, str | bytes) else None
    except orjson.JSONDecodeError:
        return []
    return value if isinstance(value, list) else []


def stored_frames(source: str, frames_json: object, raw_stack: object) -> list[Frame]:
    """The frames ingest would make today for a stored instance (or group)."""
    if source != "frontend" and isinstance(raw_stack, str) and raw_stack:
        return stack.parse(raw_stack)
    frames = stack.frames_from_json(_json_list(frames_json))
    if not frames and isinstance(raw_stack, str) and raw_stack:
        frames = stack.parse(raw_stack)
    for frame in frames:  # frames of a Go stack were stored parsed; classify them again
        if frame.file.endswith(".go") and go_runtime(frame.function):
            frame.in_app = False
    return frames


def reclassified(frames_json: object) -> str | None:
    """A stored frames column with today's in-app flags (None stays None)."""
    if not isinstance(frames_json, str):
        return None
    items = _json_list(frames_json)
    for item in items:
        if isinstance(item, dict) and isinstance(item.get("file"), str):
            file, function = item["file"], item.get("function")
            item["in_app"] = in_app(file) and not (
                file.endswith(".go") and isinstance(function, str) and go_runtime(function)
            )
    return orjson.dumps(items).decode()


_GROUPS = (
    "SELECT id, project_id, fingerprint, count, first_ms, last_ms, state, stack, source, "
    "type, message FROM error_groups ORDER BY id"
)
_LATEST = (
    "SELECT source, type, message, stack, raw_stack FROM errors WHERE group_id = ? "
    "ORDER BY ts_ms DESC LIMIT 1"
)


def _new_fingerprint(
    conn: sqlite3.Connection, group: _Group, source: str, etype: str, message: str
) -> str:
    latest = conn.execute(_LATEST, (group.id,)).fetchone()
    frames_json: object = group.stack
    raw: object = None
    if latest is not None:
        source, etype, message, frames_json, raw = latest
    frames = stored_frames(str(source), frames_json, raw)
    return fingerprint(str(etype), str(message), frames)


def apply(conn: sqlite3.Connection) -> None:
    clusters: dict[tuple[str, str], list[_Group]] = {}
    for row in conn.execute(_GROUPS).fetchall():
        group = _Group(*row[:8])
        key = (group.project_id, _new_fingerprint(conn, group, *row[8:]))
        clusters.setdefault(key, []).append(group)
    # Two passes, so that no group takes a fingerprint another still holds (UNIQUE).
    kept: list[tuple[_Group, str, bool]] = []
    for (_project, new), groups in clusters.items():
        keeper, merged = groups[0], groups[1:]
        for other in merged:
            conn.execute("UPDATE errors SET group_id = ? WHERE group_id = ?", (keeper.id, other.id))
            conn.execute("DELETE FROM error_groups WHERE id = ?", (other.id,))
        if merged:
            keeper.count = sum(g.count for g in groups)
            keeper.first_ms = min(g.first_ms for g in groups)
            keeper.last_ms = max(g.last_ms for g in groups)
            keeper.state = rekey.merged_state([g.state for g in groups])
        if new != keeper.fingerprint:
            conn.execute(
                "UPDATE error_groups SET fingerprint = ? WHERE id = ?",
                (f"regroup:{keeper.id}", keeper.id),
            )
        kept.append((keeper, new, bool(merged)))
    for keeper, new, was_merged in kept:
        frames = reclassified(keeper.stack)
        if new == keeper.fingerprint and frames == keeper.stack and not was_merged:
            continue
        conn.execute(
            "UPDATE error_groups SET fingerprint = ?, count = ?, first_ms = ?, last_ms = ?, "
            "state = ?, stack = ? WHERE id = ?",
            (new, keeper.count, keeper.first_ms, keeper.last_ms, keeper.state, frames, keeper.id),
        )
    rekey.apply(conn)
