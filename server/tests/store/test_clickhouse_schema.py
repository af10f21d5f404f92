"""The ClickHouse DDL for a cluster (``--clickhouse-cluster``): no cluster can run here,
so the statements are checked by the real engine's parser (``formatQuery``), and their
engines and TTLs are checked by name. The single-node DDL runs in every chdb test."""

from __future__ import annotations

from pathlib import Path

from backlight_server.store.clickhouse.schema import VERSIONS, Layout, ttl_statements
from backlight_server.store.clickhouse.transport import ChdbTransport

CLUSTER = Layout(cluster="backlight", ttl_days=30, replay_ttl_days=7)


def test_cluster_ddl_parses_and_replicates(tmp_path: Path) -> None:
    statements = [s for version in VERSIONS for s in version(CLUSTER)] + ttl_statements(CLUSTER)
    tx = ChdbTransport(tmp_path / "chdb", 10_000)
    try:
        for statement in statements:
            [[formatted]] = tx.query("SELECT formatQuery({q:String})", {"q": statement})
            assert "ON CLUSTER backlight" in formatted, statement
    finally:
        tx.close()
    tables = [s for s in statements if s.lstrip().startswith("CREATE TABLE")]
    assert tables and all("ENGINE = Replicated" in " ".join(s.split()) for s in tables)
    assert any("INTERVAL 7 DAY" in s for s in ttl_statements(CLUSTER))  # replays: shorter
    assert any("INTERVAL 30 DAY" in s for s in ttl_statements(CLUSTER))


def test_keeping_all_data_removes_the_ttl() -> None:
    assert all(s.endswith("REMOVE TTL") for s in ttl_statements(Layout(ttl_days=0)))
