"""The running SDK: one per process, built by ``backlight.init``."""

from __future__ import annotations

from typing import Any

from backlight.config import Config
from backlight.export import encode
from backlight.export.transport import Transport
from backlight.export.worker import Worker
from backlight.names import PROJECT_HEADER
from backlight.records import LogItem


class Client:
    """Owns the export pipeline. ``put_span`` / ``put_log`` are the hot-path entry points."""

    def __init__(self, config: Config) -> None:
        self.config = config
        resource = encode.resource(config.resource_attributes())
        self.transport = Transport(
            config.backend_url,
            {PROJECT_HEADER: config.project_id},
            timeout=config.export_timeout,
        )
        self.worker = Worker(self.transport.send, config.export_interval, self.transport.forget)

        def encode_spans(batch: list[Any]) -> bytes:
            return encode.encode_traces(resource, batch)

        def encode_logs(batch: list[LogItem]) -> bytes:
            return encode.encode_logs(resource, batch)

        spans = self.worker.add_signal(
            "spans", "/v1/traces", encode_spans, config.max_queue_size, config.batch_size
        )
        logs = self.worker.add_signal(
            "logs", "/v1/logs", encode_logs, config.max_queue_size, config.batch_size
        )
        self.put_span = spans.buffer.put
        self.put_log = logs.buffer.put
        self.worker.start()

    def flush(self, timeout: float = 5.0) -> bool:
        return self.worker.flush(timeout)

    def shutdown(self, timeout: float = 5.0) -> None:
        self.worker.stop(timeout)
        self.transport.close()
