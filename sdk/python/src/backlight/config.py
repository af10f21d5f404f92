"""The SDK's settings, declared once as data."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from backlight.names import PROJECT_ATTR


@dataclass(frozen=True)
class Config:
    project_id: str
    backend_url: str = "http://localhost:8082"
    service_name: str = "unknown_service"
    service_version: str = ""
    environment: str = "production"
    debug: bool = False
    capture_logging: bool = True
    log_level: int = logging.INFO
    max_queue_size: int = 4096
    """Spans (and, separately, logs) waiting for export; more are dropped and counted."""
    batch_size: int = 512
    """Records per export request; a full batch is sent at once."""
    export_interval: float = 1.0
    """Seconds between exports when batches are not full."""
    export_timeout: float = 10.0
    """Seconds one export request may take."""

    def resource_attributes(self) -> dict[str, str]:
        from backlight._version import __version__

        attributes = {
            PROJECT_ATTR: self.project_id,
            "service.name": self.service_name,
            "deployment.environment": self.environment,
            "telemetry.sdk.name": "backlight",
            "telemetry.sdk.language": "python",
            "telemetry.sdk.version": __version__,
        }
        if self.service_version:
            attributes["service.version"] = self.service_version
        return attributes
