"""Django settings with a LOGGING "root" section, calling ``backlight.init`` as the docs say."""

from __future__ import annotations

import os

import backlight

if os.environ.get("LOGGING_HOST_BACKEND", "-") != "-":
    backlight.init(
        "test-project", backend_url=os.environ["LOGGING_HOST_BACKEND"], export_interval=0.05
    )

SECRET_KEY = "logging-host"
INSTALLED_APPS: list[str] = []
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": "WARNING"},
}
