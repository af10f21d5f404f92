"""A process that configures logging the way real apps do, with or without Backlight.

``python logging_host.py SCENARIO BACKEND_URL|-``: with a URL, ``backlight.init`` runs
first (as the docs say: at start-up, in Django's settings module); then the scenario's
logging set-up, then the same log calls. What the app's own handlers print must not
depend on whether Backlight is there.
"""

from __future__ import annotations

import importlib
import logging
import logging.config
import os
import sys

import backlight

FORMAT = "%(levelname)s %(name)s %(message)s"


def init(url: str) -> None:
    if url != "-":
        backlight.init("test-project", backend_url=url, export_interval=0.05)


def dict_config() -> None:
    logging.config.dictConfig(
        {
            "version": 1,
            "disable_existing_loggers": False,
            "formatters": {"plain": {"format": FORMAT}},
            "handlers": {
                "console": {
                    "class": "logging.StreamHandler",
                    "formatter": "plain",
                    "stream": "ext://sys.stdout",
                }
            },
            "root": {"level": "WARNING", "handlers": ["console"]},
        }
    )


def django_logging() -> None:
    # settings (logging_django_settings.py) call backlight.init, then Django applies
    # LOGGING with its "root" section through dictConfig
    import django

    os.environ["DJANGO_SETTINGS_MODULE"] = "logging_django_settings"
    django.setup()


def celery_takeover() -> None:
    """Celery's worker start-up with ``worker_hijack_root_logger=True`` (the default).

    Celery is driven itself when installed; otherwise its steps are replayed as
    ``celery/app/log.py`` (``Logging.setup_logging_subsystem`` and ``_configure_logger``)
    does them: empty the root logger's handlers, add a stream handler, set the level.
    """
    try:
        celery = importlib.import_module("celery")  # typed or not, installed or not
    except ImportError:
        root = logging.getLogger()
        root.handlers = []
        logging.getLogger("celery").handlers = []
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter(FORMAT))
        root.addHandler(handler)
        root.setLevel(logging.WARNING)
        return
    app = celery.Celery("host", set_as_current=False)
    app.log.setup_logging_subsystem(loglevel=logging.WARNING, format=FORMAT, colorize=False)


def basic_config_force() -> None:
    logging.basicConfig(force=True, level=logging.WARNING, format=FORMAT)


def basic_config() -> None:
    logging.basicConfig(format=FORMAT)  # after init: must still set up the console


SCENARIOS = {
    "dictConfig": dict_config,
    "django": django_logging,
    "celery": celery_takeover,
    "basicConfig_force": basic_config_force,
    "basicConfig": basic_config,
}


def main() -> None:
    scenario, url = sys.argv[1], sys.argv[2]
    os.environ["LOGGING_HOST_BACKEND"] = url
    if scenario != "django":
        init(url)
    SCENARIOS[scenario]()
    log = logging.getLogger("app.views")
    log.debug("debug line")
    log.info("info line %d", 1)
    log.warning("warning line")
    try:
        raise ValueError("boom")
    except ValueError:
        log.exception("failed")
    logging.getLogger("app.quiet").propagate = False
    logging.getLogger("app.quiet").error("not propagated")
    if url != "-":
        assert backlight.flush(10.0)


if __name__ == "__main__":
    main()
