"""Logging capture survives the app's own logging configuration, and changes nothing the
app's handlers print (a real process each time, with and without Backlight)."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest
from sdk_capture import PROJECT, Receiver

import backlight

APPS = Path(__file__).resolve().parent.parent / "apps"
SRC = Path(backlight.__file__).resolve().parent.parent


def run_host(scenario: str, url: str) -> tuple[bytes, bytes]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(APPS), str(SRC)])}
    env.pop("LOGGING_HOST_BACKEND", None)
    done = subprocess.run(
        [sys.executable, str(APPS / "logging_host.py"), scenario, url],
        cwd=APPS,
        env=env,
        capture_output=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr.decode()
    return done.stdout, done.stderr


@pytest.mark.parametrize(
    "scenario", ["dictConfig", "django", "celery", "basicConfig_force", "basicConfig"]
)
def test_capture_survives_logging_configuration_and_output_is_unchanged(
    receiver: Receiver, scenario: str
) -> None:
    without = run_host(scenario, "-")
    with_backlight = run_host(scenario, receiver.url)
    assert with_backlight == without  # byte for byte, stdout and stderr
    assert b"WARNING app.views warning line" in without[0] + without[1]  # the console works
    assert b"info line" not in without[0] + without[1]  # the app's level: WARNING
    receiver.wait_for(lambda r: len(r.logs_from("app.views")) >= 3, flush=False)
    bodies = [log.body for log in receiver.logs_from("app.views")]
    assert bodies == ["info line 1", "warning line", "failed"]  # the SDK's level: INFO
    failed = receiver.logs_from("app.views")[2]
    assert failed.attributes["exception.message"] == "boom"
    assert [log.body for log in receiver.logs_from("app.quiet")] == ["not propagated"]


def test_init_again_repairs_capture_that_was_removed(receiver: Receiver) -> None:
    from backlight.integrations import logging_capture

    kwargs = {"backend_url": receiver.url, "export_interval": 0.05}
    backlight.init(PROJECT, **kwargs)  # type: ignore[arg-type]
    try:
        logging.Logger.callHandlers = logging_capture._orig_call  # type: ignore[method-assign,assignment]
        assert not logging_capture.installed()
        backlight.init(PROJECT, **kwargs)  # type: ignore[arg-type]
        assert logging_capture.installed()
        logging.getLogger("app.repaired").warning("after repair")
        receiver.wait_for(lambda r: bool(r.logs_from("app.repaired")))
    finally:
        backlight.shutdown()
    assert not logging_capture.installed()


def test_init_again_keeps_a_wrapper_another_library_put_over_the_capture(
    receiver: Receiver,
) -> None:
    """As Sentry's logging integration wraps ``Logger.callHandlers`` after ``init``."""
    from backlight.integrations import logging_capture

    kwargs = {"backend_url": receiver.url, "export_interval": 0.05}
    backlight.init(PROJECT, **kwargs)  # type: ignore[arg-type]
    ours = logging.Logger.callHandlers
    calls: list[str] = []

    def theirs(self: logging.Logger, record: logging.LogRecord) -> None:
        calls.append(record.getMessage())
        ours(self, record)

    logging.Logger.callHandlers = theirs  # type: ignore[method-assign]
    try:
        backlight.init(PROJECT, **kwargs)  # type: ignore[arg-type]
        assert logging.Logger.callHandlers is theirs  # not wrapped again: no loop
        assert logging_capture.installed()
        logging.getLogger("app.wrapped").warning("once")
        receiver.wait_for(lambda r: bool(r.logs_from("app.wrapped")))
        assert calls == ["once"]
        assert [log.body for log in receiver.logs_from("app.wrapped")] == ["once"]
    finally:
        backlight.shutdown()
        logging.Logger.callHandlers = ours  # type: ignore[method-assign]
        logging_capture.uninstall()
    assert not logging_capture.installed()
