"""Source-map artifacts and upload keys in ClickHouse (schema version 4, ``version_4``).

Nothing is updated in place: an artifact's name (project, release, url) or an upload key
changes by a new row with a higher version (``ReplacingMergeTree``), and reads take the
latest (``FINAL``); a deleted one is a row marked ``deleted``. Bytes live in
``artifact_blobs``, one row per project and content hash (ZSTD), inserted with a
deduplication token, so servers sharing the store see the same maps and the same bytes
uploaded twice are stored once. A blob no live artifact refers to is deleted (lightweight
delete) when the name holding it is replaced or its release deleted.

Files are UTF-8 text (``sourcemaps/inspect.py`` refuses other bytes): inserts travel as
JSON text, and a JSON string holds text.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from backlight_server.store.base import Artifact, Row
from backlight_server.store.clickhouse.transport import NO_LIMIT, Transport

if TYPE_CHECKING:  # schema.py imports this module to register version_4
    from backlight_server.store.clickhouse.schema import Layout

DEDUP = "non_replicated_deduplication_window = 10000"  # as schema.DEDUP

ARTIFACT = (
    "project_id",
    "release",
    "url",
    "kind",
    "sha256",
    "size",
    "debug_id",
    "ref",
    "uploaded_ms",
    "deleted",
    "version",
)
BLOB = ("project_id", "sha256", "size", "data", "created_ms")
KEY = ("key_hash", "id", "project_id", "masked", "created_ms", "deleted", "version")
_SELECT = (
    "SELECT project_id, release, url, kind, sha256, size, debug_id, ref, uploaded_ms "
    "FROM artifacts FINAL WHERE deleted = 0"
)


def version_4(lay: Layout) -> list[str]:
    """Source maps (issue 21): artifacts by name, their bytes by hash, upload keys."""
    on = lay.on()
    replacing = lay.engine("ReplacingMergeTree", "version")
    return [
        f"""CREATE TABLE IF NOT EXISTS artifacts{on} (
            project_id String, release String, url String, kind LowCardinality(String),
            sha256 String, size UInt64, debug_id Nullable(String), ref Nullable(String),
            uploaded_ms Float64, deleted UInt8, version UInt64,
            INDEX debug_bf debug_id TYPE bloom_filter(0.01) GRANULARITY 1
        ) ENGINE = {replacing} ORDER BY (project_id, release, url)""",
        f"""CREATE TABLE IF NOT EXISTS artifact_blobs{on} (
            project_id String, sha256 String, size UInt64,
            data String CODEC(ZSTD(3)), created_ms Float64
        ) ENGINE = {lay.engine("ReplacingMergeTree")} ORDER BY (project_id, sha256)
        SETTINGS {DEDUP}""",
        f"""CREATE TABLE IF NOT EXISTS upload_keys{on} (
            key_hash String, id String, project_id String, masked String,
            created_ms Float64, deleted UInt8, version UInt64
        ) ENGINE = {replacing} ORDER BY key_hash""",
    ]


def _artifact(r: list[Any]) -> Artifact:
    return Artifact(
        str(r[0]),
        str(r[1]),
        str(r[2]),
        str(r[3]),
        str(r[4]),
        int(r[5]),
        None if r[6] is None else str(r[6]),
        None if r[7] is None else str(r[7]),
        float(r[8]),
    )


def current(tx: Transport, project_id: str, release: str, url: str) -> Artifact | None:
    rows = tx.query(
        _SELECT + " AND project_id = {p:String} AND release = {r:String} AND url = {u:String}",
        {"p": project_id, "r": release, "u": url},
        NO_LIMIT,
    )
    return _artifact(rows[0]) if rows else None


def has_blob(tx: Transport, project_id: str, sha256: str) -> bool:
    return bool(
        tx.query(
            "SELECT 1 FROM artifact_blobs WHERE project_id = {p:String} AND sha256 = {s:String} "
            "LIMIT 1",
            {"p": project_id, "s": sha256},
            NO_LIMIT,
        )
    )


def _with_data(tx: Transport, art: Artifact | None) -> tuple[Artifact, bytes] | None:
    if art is None:
        return None
    rows = tx.query(
        "SELECT data FROM artifact_blobs WHERE project_id = {p:String} AND sha256 = {s:String} "
        "LIMIT 1",
        {"p": art.project_id, "s": art.sha256},
    )
    return (art, str(rows[0][0]).encode()) if rows else None


def get(tx: Transport, project_id: str, release: str, url: str) -> tuple[Artifact, bytes] | None:
    return _with_data(tx, current(tx, project_id, release, url))


def find(tx: Transport, project_id: str, debug_id: str, kind: str) -> tuple[Artifact, bytes] | None:
    rows = tx.query(
        _SELECT + " AND project_id = {p:String} AND debug_id = {d:String} AND kind = {k:String} "
        "ORDER BY uploaded_ms DESC LIMIT 1",
        {"p": project_id, "d": debug_id, "k": kind},
    )
    return _with_data(tx, _artifact(rows[0]) if rows else None)


def listing(tx: Transport, project_id: str, release: str | None, limit: int) -> list[Artifact]:
    where = " AND project_id = {p:String}" + (
        "" if release is None else " AND release = {r:String}"
    )
    rows = tx.query(
        _SELECT + where + " ORDER BY release, url LIMIT {n:UInt32}",
        {"p": project_id, "r": release or "", "n": limit},
    )
    return [_artifact(r) for r in rows]


def usage(tx: Transport, project_id: str, release: str) -> tuple[int, int]:
    files = tx.query(
        "SELECT count() FROM artifacts FINAL WHERE deleted = 0 AND project_id = {p:String} "
        "AND release = {r:String}",
        {"p": project_id, "r": release},
        NO_LIMIT,
    )
    total = tx.query(
        "SELECT sum(size) FROM artifact_blobs FINAL WHERE project_id = {p:String}",
        {"p": project_id},
        NO_LIMIT,
    )
    return int(files[0][0]), int(total[0][0] or 0)


def drop_unreferenced(tx: Transport, project_id: str, hashes: list[str]) -> None:
    """Blobs of these hashes that no live artifact of the project refers to."""
    if hashes:
        tx.command(
            "DELETE FROM artifact_blobs WHERE project_id = {p:String} AND sha256 IN "
            "{h:Array(String)} AND sha256 NOT IN (SELECT sha256 FROM artifacts FINAL "
            "WHERE deleted = 0 AND project_id = {p:String})",
            {"p": project_id, "h": hashes},
            NO_LIMIT,
        )


def old_releases(tx: Transport, cutoff_ms: float) -> list[tuple[str, str]]:
    rows = tx.query(
        "SELECT project_id, release FROM artifacts FINAL WHERE deleted = 0 "
        "GROUP BY project_id, release HAVING max(uploaded_ms) < {c:Float64}",
        {"c": cutoff_ms},
        NO_LIMIT,
    )
    return [(str(p), str(r)) for p, r in rows]


def keys(tx: Transport, project_id: str | None, key_hash: str | None = None) -> list[Row]:
    where, params = ("key_hash = {h:String}", {"h": key_hash or ""})
    if project_id is not None:
        where, params = "project_id = {p:String}", {"p": project_id}
    rows = tx.query(
        "SELECT id, project_id, key_hash, masked, created_ms FROM upload_keys FINAL "
        f"WHERE deleted = 0 AND {where} ORDER BY created_ms, id",
        params,
        NO_LIMIT,
    )
    names = ("id", "project_id", "key_hash", "masked", "created_ms")
    return [dict(zip(names, r, strict=True)) for r in rows]
