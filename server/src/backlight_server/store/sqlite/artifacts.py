"""Source-map artifacts and upload keys in SQLite (migration 0009).

Writes run on the writer thread (functions taking the writable connection), so the
check of what a name holds and the write are one transaction. Bytes live in
``artifact_blobs`` once per project and hash; a blob no artifact refers to any more is
deleted in the transaction that dropped its last reference.
"""

from __future__ import annotations

import sqlite3
import time

from backlight_server.store.base import Artifact, Row

_COLUMNS = "project_id, release, url, kind, sha256, size, debug_id, ref, uploaded_ms"


def _artifact(row: tuple[object, ...]) -> Artifact:
    pid, release, url, kind, sha, size, debug_id, ref, at = row
    return Artifact(
        str(pid),
        str(release),
        str(url),
        str(kind),
        str(sha),
        int(size),  # type: ignore[call-overload]
        None if debug_id is None else str(debug_id),
        None if ref is None else str(ref),
        float(at),  # type: ignore[arg-type]
    )


def _drop_unreferenced(conn: sqlite3.Connection, project_id: str, hashes: set[str]) -> None:
    for sha in hashes:
        conn.execute(
            "DELETE FROM artifact_blobs WHERE project_id = ? AND sha256 = ? AND NOT EXISTS "
            "(SELECT 1 FROM artifacts WHERE project_id = ? AND sha256 = ?)",
            (project_id, sha, project_id, sha),
        )


def put(conn: sqlite3.Connection, a: Artifact, data: bytes) -> str:
    old = conn.execute(
        "SELECT sha256 FROM artifacts WHERE project_id = ? AND release = ? AND url = ?",
        (a.project_id, a.release, a.url),
    ).fetchone()
    if old is not None and old[0] == a.sha256:
        return "unchanged"
    now = time.time() * 1000
    conn.execute(
        "INSERT OR IGNORE INTO artifact_blobs (project_id, sha256, size, data, created_ms) "
        "VALUES (?, ?, ?, ?, ?)",
        (a.project_id, a.sha256, len(data), data, now),
    )
    conn.execute(
        f"INSERT OR REPLACE INTO artifacts ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (a.project_id, a.release, a.url, a.kind, a.sha256, len(data), a.debug_id, a.ref, now),
    )
    if old is None:
        return "stored"
    _drop_unreferenced(conn, a.project_id, {str(old[0])})
    return "replaced"


def _with_data(
    conn: sqlite3.Connection, row: tuple[object, ...] | None
) -> tuple[Artifact, bytes] | None:
    if row is None:
        return None
    art = _artifact(row)
    blob = conn.execute(
        "SELECT data FROM artifact_blobs WHERE project_id = ? AND sha256 = ?",
        (art.project_id, art.sha256),
    ).fetchone()
    return None if blob is None else (art, bytes(blob[0]))


def get(
    conn: sqlite3.Connection, project_id: str, release: str, url: str
) -> tuple[Artifact, bytes] | None:
    row = conn.execute(
        f"SELECT {_COLUMNS} FROM artifacts WHERE project_id = ? AND release = ? AND url = ?",
        (project_id, release, url),
    ).fetchone()
    return _with_data(conn, row)


def find(
    conn: sqlite3.Connection, project_id: str, debug_id: str, kind: str
) -> tuple[Artifact, bytes] | None:
    row = conn.execute(
        f"SELECT {_COLUMNS} FROM artifacts WHERE project_id = ? AND debug_id = ? AND kind = ? "
        "ORDER BY uploaded_ms DESC LIMIT 1",
        (project_id, debug_id, kind),
    ).fetchone()
    return _with_data(conn, row)


def listing(
    conn: sqlite3.Connection, project_id: str, release: str | None, limit: int
) -> list[Artifact]:
    if release is None:
        cur = conn.execute(
            f"SELECT {_COLUMNS} FROM artifacts WHERE project_id = ? ORDER BY release, url LIMIT ?",
            (project_id, limit),
        )
    else:
        cur = conn.execute(
            f"SELECT {_COLUMNS} FROM artifacts WHERE project_id = ? AND release = ? "
            "ORDER BY url LIMIT ?",
            (project_id, release, limit),
        )
    return [_artifact(r) for r in cur.fetchall()]


def usage(conn: sqlite3.Connection, project_id: str, release: str) -> tuple[int, int]:
    files = conn.execute(
        "SELECT count(*) FROM artifacts WHERE project_id = ? AND release = ?",
        (project_id, release),
    ).fetchone()[0]
    total = conn.execute(
        "SELECT coalesce(sum(size), 0) FROM artifact_blobs WHERE project_id = ?", (project_id,)
    ).fetchone()[0]
    return int(files), int(total)


def delete_release(conn: sqlite3.Connection, project_id: str, release: str) -> int:
    hashes = {
        str(r[0])
        for r in conn.execute(
            "SELECT sha256 FROM artifacts WHERE project_id = ? AND release = ?",
            (project_id, release),
        )
    }
    n = conn.execute(
        "DELETE FROM artifacts WHERE project_id = ? AND release = ?", (project_id, release)
    ).rowcount
    _drop_unreferenced(conn, project_id, hashes)
    return int(n)


def purge(conn: sqlite3.Connection, cutoff_ms: float) -> int:
    old = conn.execute(
        "SELECT project_id, release FROM artifacts GROUP BY project_id, release "
        "HAVING max(uploaded_ms) < ?",
        (cutoff_ms,),
    ).fetchall()
    return sum(delete_release(conn, str(p), str(r)) for p, r in old)


def create_key(
    conn: sqlite3.Connection, project_id: str, key_id: str, key_hash: str, masked: str
) -> None:
    conn.execute(
        "INSERT INTO upload_keys (key_hash, id, project_id, masked, created_ms) "
        "VALUES (?, ?, ?, ?, ?)",
        (key_hash, key_id, project_id, masked, time.time() * 1000),
    )


_KEY = "SELECT id, project_id, key_hash, masked, created_ms FROM upload_keys"


def _key_rows(cur: sqlite3.Cursor) -> list[Row]:
    names = [d[0] for d in cur.description]
    return [dict(zip(names, r, strict=True)) for r in cur.fetchall()]


def keys(conn: sqlite3.Connection, project_id: str) -> list[Row]:
    return _key_rows(
        conn.execute(_KEY + " WHERE project_id = ? ORDER BY created_ms, id", (project_id,))
    )


def key(conn: sqlite3.Connection, key_hash: str) -> Row | None:
    found = _key_rows(conn.execute(_KEY + " WHERE key_hash = ?", (key_hash,)))
    return found[0] if found else None


def delete_key(conn: sqlite3.Connection, project_id: str, key_id: str) -> bool:
    return (
        conn.execute(
            "DELETE FROM upload_keys WHERE project_id = ? AND id = ?", (project_id, key_id)
        ).rowcount
        > 0
    )
