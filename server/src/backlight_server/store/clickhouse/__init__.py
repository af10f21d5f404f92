"""The ClickHouse store (``chdb://`` embedded, ``clickhouse://`` a server)."""

from backlight_server.store.clickhouse.store import ClickhouseStore

__all__ = ["ClickhouseStore"]
