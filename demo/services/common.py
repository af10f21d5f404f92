"""Settings every demo service reads from its environment."""

from __future__ import annotations

import logging
import os

import backlight

PROJECT = os.environ.get("DEMO_PROJECT", "")
BACKLIGHT_URL = os.environ.get("DEMO_BACKLIGHT_URL", "http://127.0.0.1:8082")
PAGE_ORIGIN = os.environ.get("DEMO_PAGE_ORIGIN", "http://localhost:8090")
INVENTORY_URL = os.environ.get("DEMO_INVENTORY_URL", "http://127.0.0.1:8092")
QUEUE_URL = os.environ.get("DEMO_QUEUE", "local")
CORS_HEADERS = ["content-type", "x-highlight-request", "traceparent", "baggage"]


def start(service: str) -> logging.Logger:
    """Initialise the Backlight SDK for ``service`` and return its logger."""
    logging.basicConfig(level=logging.INFO, format=f"{service}: %(levelname)s %(message)s")
    backlight.init(PROJECT, backend_url=BACKLIGHT_URL, service_name=service, environment="demo")
    return logging.getLogger(f"demo.{service}")


def port(name: str, default: int) -> int:
    return int(os.environ.get(f"DEMO_{name.upper()}_PORT", default))
