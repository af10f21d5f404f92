"""Framework middleware and client hooks. Each module imports only what it integrates."""

from __future__ import annotations

import importlib
from types import ModuleType


def require(module: str, integration: str, extra: str) -> ModuleType:
    """Import ``module`` or fail with a message saying how to install it."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise ImportError(
            f"backlight.integrations.{integration} needs {module!r}, which is not installed. "
            f"Install it with: pip install 'backlight[{extra}]'"
        ) from exc
