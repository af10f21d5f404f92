"""Stdlib ``logging`` capture that the app's own logging configuration cannot remove.

Instead of a handler on the root logger (which ``dictConfig``, Django's ``LOGGING``,
Celery's root-logger takeover and ``basicConfig(force=True)`` all throw away, and whose
presence makes a later ``basicConfig()`` do nothing), the SDK wraps two methods of
``logging.Logger`` itself:

- ``callHandlers``: every record a logger hands to its handlers is also queued for
  export (``backlight.log_handler.capture``), then the app's handlers run exactly as
  before. Propagation and ``lastResort`` are untouched.
- ``isEnabledFor`` and ``handle``: a record below the app's level but at or above the
  SDK's ``log_level`` is still made when the app's level comes from the root logger
  alone (no logger on the way sets one). Such a record goes to the SDK only; the app's
  filters and handlers never see it. The root logger's level is never changed.

Nothing here raises into the app; ``install`` is idempotent and repairs a wrapper that
something else removed.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

from backlight.log_handler import capture

_OFF = 1 << 30
_level = _OFF
"""The lowest level captured; ``_OFF`` when capture is off."""

_Call = Callable[[logging.Logger, logging.LogRecord], None]
_Enabled = Callable[[logging.Logger, int], bool]
_orig_call: _Call = logging.Logger.callHandlers
_orig_handle: _Call = logging.Logger.handle
_orig_enabled: _Enabled = logging.Logger.isEnabledFor
_local = threading.local()
"""``pending``: (logger, level) that ``isEnabledFor`` let through for the SDK only."""


def _call_handlers(self: logging.Logger, record: logging.LogRecord) -> None:
    if record.levelno >= _level:
        capture(record)
    _orig_call(self, record)


def _is_enabled_for(self: logging.Logger, level: int) -> bool:
    if self.disabled:
        return False
    try:
        enabled: bool = self._cache[level]  # type: ignore[attr-defined]  # as the original
    except KeyError:
        enabled = _orig_enabled(self, level)
    if enabled:
        return True
    if level < _level or self.manager.disable >= level:
        return False
    logger: Any = self
    while logger.parent is not None:  # the app's level must come from the root alone
        if logger.level:
            return False
        logger = logger.parent
    _local.pending = (self, level)
    return True


def _handle(self: logging.Logger, record: logging.LogRecord) -> None:
    pending = getattr(_local, "pending", None)
    if pending is not None:
        _local.pending = None
        if pending[0] is self and pending[1] == record.levelno:
            capture(record)  # made for the SDK only: not the app's filters' or handlers'
            return
    _orig_handle(self, record)


def _set(name: str, method: Any) -> None:
    setattr(logging.Logger, name, method)


def _reaches(fn: Any, target: Any, depth: int = 0) -> bool:
    """Whether ``fn`` is ``target`` or wraps it (a closure cell or ``__wrapped__``), as a
    library that patched ``logging.Logger`` after ``init`` (Sentry's logging integration
    wraps ``callHandlers``) wraps ours: wrapping that again would loop."""
    if fn is target:
        return True
    if depth > 4:
        return False
    inner = getattr(fn, "__wrapped__", None)
    if inner is not None and _reaches(inner, target, depth + 1):
        return True
    for cell in getattr(fn, "__closure__", None) or ():
        try:
            value = cell.cell_contents
        except ValueError:  # an empty cell
            continue
        if callable(value) and _reaches(value, target, depth + 1):
            return True
    return False


def install(level: int) -> None:
    """Capture records at ``level`` and above; wrap what is not wrapped (any more)."""
    global _level, _orig_call, _orig_handle, _orig_enabled
    with _install_lock:
        cls = logging.Logger
        if not _reaches(cls.callHandlers, _call_handlers):
            _orig_call = cls.callHandlers
            _set("callHandlers", _call_handlers)
        if not _reaches(cls.handle, _handle):
            _orig_handle = cls.handle
            _set("handle", _handle)
        if not _reaches(cls.isEnabledFor, _is_enabled_for):
            _orig_enabled = cls.isEnabledFor
            _set("isEnabledFor", _is_enabled_for)
        _level = level


def uninstall() -> None:
    """Stop capturing and put back the methods we wrapped (those still ours; one that
    another library wrapped since stays, and passes records through)."""
    global _level
    with _install_lock:
        _level = _OFF
        _local.pending = None
        cls = logging.Logger
        if cls.callHandlers is _call_handlers:
            _set("callHandlers", _orig_call)
        if cls.handle is _handle:
            _set("handle", _orig_handle)
        if cls.isEnabledFor is _is_enabled_for:
            _set("isEnabledFor", _orig_enabled)


def installed() -> bool:
    cls = logging.Logger
    return (
        _level != _OFF
        and _reaches(cls.callHandlers, _call_handlers)
        and _reaches(cls.handle, _handle)
        and _reaches(cls.isEnabledFor, _is_enabled_for)
    )


_install_lock = threading.Lock()
