"""The store a server runs on, made from its settings. The one place that names an engine."""

from __future__ import annotations

from backlight_server.settings import Settings
from backlight_server.store.base import Store
from backlight_server.store.sqlite import SqliteStore


def make_store(settings: Settings) -> Store:
    """A ``Store`` for ``settings`` (not yet opened). Today: SQLite in the data dir."""
    return SqliteStore(
        settings.db_path,
        synchronous=settings.sqlite_synchronous,
        queue_max_jobs=settings.queue_max_jobs,
        queue_max_bytes=settings.queue_max_bytes,
        query_timeout_ms=settings.query_timeout_ms,
    )
