"""Backlight Python SDK: link backend errors, logs and traces to browser sessions.

import backlight
backlight.init("my-project", backend_url="http://localhost:8082")
"""

from backlight._debug import set_debug_mode
from backlight._version import __version__
from backlight.api import (
    consume,
    consume_error,
    inject,
    message_headers,
    record_exception,
    trace,
)
from backlight.headers import parse_headers
from backlight.navigation import traceparent_meta
from backlight.setup import flush, init, shutdown
from backlight.types import RequestContext

__all__ = [
    "RequestContext",
    "__version__",
    "consume",
    "consume_error",
    "flush",
    "init",
    "inject",
    "message_headers",
    "parse_headers",
    "record_exception",
    "set_debug_mode",
    "shutdown",
    "trace",
    "traceparent_meta",
]
