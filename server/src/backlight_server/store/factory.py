"""The store a server runs on, made from its settings. The one place that names an engine."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import unquote, urlsplit

from backlight_server.settings import Settings
from backlight_server.store.base import Store

SCHEMES = ("sqlite", "chdb", "clickhouse", "clickhouses")


def check_url(url: str) -> str:
    """``url`` if its scheme is one we serve, else ``ValueError`` naming the choices."""
    scheme = urlsplit(url).scheme
    if scheme not in SCHEMES:
        raise ValueError(
            f"store: {url!r} is not sqlite:///DIR, chdb:///DIR or clickhouse://host:8123/db"
        )
    if scheme in ("sqlite", "chdb") and not urlsplit(url).path:
        raise ValueError(f"store: {url!r} names no folder (three slashes: {scheme}:///DIR)")
    return url


def make_store(settings: Settings, url: str | None = None) -> Store:
    """A ``Store`` (not yet opened) for ``url``, default the settings' ``store``, else
    SQLite in the data dir."""
    url = url or settings.store
    path = settings.db_path
    if url:
        parts = urlsplit(check_url(url))
        path = Path(unquote(parts.path)) / "backlight.db"
    if not url or parts.scheme == "sqlite":
        from backlight_server.store.sqlite import SqliteStore

        return SqliteStore(
            path,
            synchronous=settings.sqlite_synchronous,
            queue_max_jobs=settings.queue_max_jobs,
            queue_max_bytes=settings.queue_max_bytes,
            query_timeout_ms=settings.query_timeout_ms,
        )
    from backlight_server.store.clickhouse import ClickhouseStore
    from backlight_server.store.clickhouse.schema import Layout

    return ClickhouseStore(
        url,
        layout=Layout(
            cluster=settings.clickhouse_cluster,
            ttl_days=settings.retention_days,
            replay_ttl_days=settings.replay_retention_days,
        ),
        queue_max_jobs=settings.queue_max_jobs,
        queue_max_bytes=settings.queue_max_bytes,
        query_timeout_ms=settings.query_timeout_ms,
    )
