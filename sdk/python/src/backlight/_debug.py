"""Debug mode and the guard that keeps SDK errors away from the host app."""

from __future__ import annotations

import logging
from collections.abc import Callable
from functools import wraps
from typing import Any, ParamSpec, TypeVar

P = ParamSpec("P")
R = TypeVar("R")

# Records the SDK writes about itself carry this attribute, so the log handler never
# exports them (that would loop) even when the debug logger propagates to the root.
INTERNAL = "backlight_internal"
_EXTRA = {INTERNAL: True}


class _Debug:
    logger: logging.Logger | None = None


state = _Debug()


def set_debug_mode(logger: logging.Logger | None) -> None:
    """Send verbose logs of the SDK's own behaviour to ``logger`` (``None`` turns them off).

    Logged: headers parsed, spans and logs queued and exported, drops, export failures.
    """
    state.logger = logger


def debug(msg: str, *args: Any) -> None:
    """Log ``msg`` to the debug logger, if debug mode is on."""
    logger = state.logger
    if logger is not None:
        logger.debug(msg, *args, extra=_EXTRA)


def internal_error(where: str) -> None:
    """Report an SDK error that was swallowed (only in debug mode)."""
    logger = state.logger
    if logger is not None:
        logger.warning("backlight: internal error in %s", where, exc_info=True, extra=_EXTRA)


def guarded(default: Any = None) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """Decorate an SDK function so its errors are swallowed and ``default`` returned."""

    def decorate(func: Callable[P, R]) -> Callable[P, R]:
        @wraps(func)
        def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
            try:
                return func(*args, **kwargs)
            except Exception:
                internal_error(func.__qualname__)
                return default  # type: ignore[no-any-return]

        return wrapper

    return decorate
