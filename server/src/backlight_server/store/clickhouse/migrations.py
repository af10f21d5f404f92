"""Versioned migrations of the ClickHouse schema (``schema.VERSIONS``)."""

from __future__ import annotations

import time

from backlight_server.errors import StorageUnavailable
from backlight_server.store.clickhouse.schema import (
    VERSIONS,
    Layout,
    ttl_statements,
    versions_table,
)
from backlight_server.store.clickhouse.transport import NO_LIMIT, Transport


def current(tx: Transport) -> int:
    rows = tx.query("SELECT max(version) FROM schema_versions", settings=NO_LIMIT)
    return int(rows[0][0]) if rows and rows[0][0] is not None else 0


def migrate(tx: Transport, layout: Layout) -> int:
    """Apply the versions this store lacks; return the version it is at. Statements are
    idempotent (``IF NOT EXISTS``), so instances migrating at once do no harm."""
    tx.command(versions_table(layout))
    have = current(tx)
    if have > len(VERSIONS):
        raise StorageUnavailable(
            f"the ClickHouse schema is at version {have}, newer than this server "
            f"knows ({len(VERSIONS)}): upgrade Backlight"
        )
    for number, version in enumerate(VERSIONS[have:], start=have + 1):
        for statement in version(layout):
            tx.command(statement)
        tx.command(
            "INSERT INTO schema_versions (version, applied_ms) VALUES ({v:UInt32}, {t:Float64})",
            {"v": number, "t": time.time() * 1000},
        )
    for statement in ttl_statements(layout):
        try:
            tx.command(statement, settings={"materialize_ttl_after_modify": 0})
        except Exception as exc:  # REMOVE TTL on a table without one
            if "NOT_FOUND" not in str(exc) and "BAD_ARGUMENTS" not in str(exc):
                raise
    return len(VERSIONS)
