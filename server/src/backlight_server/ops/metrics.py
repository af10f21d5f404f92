"""Prometheus metrics of one server: ingest counts, rejections, queue depth, write latency,
and whether the store can write."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

if TYPE_CHECKING:
    from backlight_server.pipeline.otlp import Conversion
    from backlight_server.store.base import Health


class _QueueCollector(Collector):
    def __init__(self, depth: Callable[[], int], health: Callable[[], Health] | None) -> None:
        self._depth = depth
        self._health = health

    def collect(self) -> list[GaugeMetricFamily]:
        found = [
            GaugeMetricFamily(
                "backlight_write_queue_depth",
                "Write jobs waiting for the writer thread.",
                value=self._depth(),
            )
        ]
        if self._health is not None:
            found.append(
                GaugeMetricFamily(
                    "backlight_storage_writable",
                    "1 while the last write (or probe write) succeeded; 0 while the disk is "
                    "full, read-only or failing.",
                    value=1 if self._health().ok else 0,
                )
            )
        return found


class Metrics:
    def __init__(
        self, queue_depth: Callable[[], int], health: Callable[[], Health] | None = None
    ) -> None:
        self.registry = CollectorRegistry()
        self.ingested = Counter(
            "backlight_ingested_records",
            "Records committed, by kind.",
            ["kind"],
            registry=self.registry,
        )
        self.rejected = Counter(
            "backlight_rejected_requests",
            "Ingest requests or records refused, by reason.",
            ["reason"],
            registry=self.registry,
        )
        self.write_latency = Histogram(
            "backlight_write_commit_seconds",
            "Time of one group commit in the writer thread.",
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5),
            registry=self.registry,
        )
        self.up = Gauge("backlight_up", "1 while the server runs.", registry=self.registry)
        self.up.set(1)
        self.registry.register(_QueueCollector(queue_depth, health))

    def count_conversion(self, conv: Conversion) -> None:
        """Count what one OTLP request delivered and what it had refused."""
        batch = conv.batch
        self.ingested.labels("span").inc(len(batch.spans))
        self.ingested.labels("log").inc(len(batch.logs))
        self.ingested.labels("backend_error").inc(len(batch.errors))
        if conv.rejected:
            self.rejected.labels("otlp_partial").inc(conv.rejected)

    def render(self) -> bytes:
        return generate_latest(self.registry)
