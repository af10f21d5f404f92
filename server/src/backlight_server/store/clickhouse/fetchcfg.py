"""Per-project source-map fetch settings in ClickHouse (schema version 6, ``version_6``):
a ``ReplacingMergeTree`` row per project, the latest version read with ``FINAL``."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from backlight_server.store.base import FetchConfig
from backlight_server.store.clickhouse.transport import NO_LIMIT, Transport

if TYPE_CHECKING:  # schema.py imports this module to register version_6
    from backlight_server.store.clickhouse.schema import Layout

COLUMNS = ("project_id", "enabled", "origins", "updated_ms", "version")


def version_6(lay: Layout) -> list[str]:
    """The source-map fetch path's settings (issue 21): whether a project's frames may be
    symbolicated with maps fetched from its allowlisted origins."""
    replacing = lay.engine("ReplacingMergeTree", "version")
    return [
        f"""CREATE TABLE IF NOT EXISTS sourcemap_fetch{lay.on()} (
            project_id String, enabled UInt8, origins Array(String),
            updated_ms Float64, version UInt64
        ) ENGINE = {replacing} ORDER BY project_id"""
    ]


def get(tx: Transport, project_id: str) -> FetchConfig:
    rows = tx.query(
        "SELECT enabled, origins, updated_ms FROM sourcemap_fetch FINAL "
        "WHERE project_id = {p:String} LIMIT 1",
        {"p": project_id},
        NO_LIMIT,
    )
    if not rows:
        return FetchConfig(project_id)
    enabled, origins, updated = rows[0]
    kept = tuple(o for o in origins if isinstance(o, str)) if isinstance(origins, list) else ()
    when = float(updated) if isinstance(updated, (int, float)) else 0.0
    return FetchConfig(project_id, enabled == 1, kept, when)


def row(config: FetchConfig, now_ms: float, version: int) -> list[Any]:
    return [config.project_id, int(config.enabled), list(config.origins), now_ms, version]
