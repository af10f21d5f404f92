"""The embedded SQLite store: one writer thread, read-only connections per thread."""

from backlight_server.store.sqlite.store import SqliteStore

__all__ = ["SqliteStore"]
