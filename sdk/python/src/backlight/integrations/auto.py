"""Integrations ``backlight.init`` enables by itself: when their library is imported, before
or after ``init``, and without importing it otherwise (``import celery.signals`` alone
costs about 0.2 s, too much for a process that never uses it)."""

from __future__ import annotations

import importlib
import sys
import threading
from collections.abc import Sequence
from types import ModuleType
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # importlib.abc costs ``import backlight`` about 13 ms: duck types instead
    from importlib.abc import Loader
    from importlib.machinery import ModuleSpec

from backlight._debug import internal_error

# library module -> the integration module whose ``enable()`` hooks it
AUTOMATIC = {"celery": "backlight.integrations.celery"}

_lock = threading.Lock()
_waiting: dict[str, str] = {}


def enable_imported() -> None:
    """Enable each automatic integration now if its library is imported, else on its import."""
    for library, integration in AUTOMATIC.items():
        if library in sys.modules:
            _enable(integration)
            continue
        with _lock:
            _waiting[library] = integration
            if not any(isinstance(f, _Watcher) for f in sys.meta_path):
                sys.meta_path.insert(0, _Watcher())


def _enable(integration: str) -> None:
    try:
        importlib.import_module(integration).enable()
    except Exception:
        internal_error(f"enable {integration}")


class _Watcher:
    """Finds nothing itself: wraps the loader of a watched library to run its hook after."""

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> ModuleSpec | None:
        if fullname not in _waiting:
            return None
        for finder in sys.meta_path:
            if finder is self:
                continue
            find = getattr(finder, "find_spec", None)
            spec: ModuleSpec | None = find(fullname, path, target) if find is not None else None
            if spec is not None:
                break
        else:
            return None
        if spec.loader is None or not hasattr(spec.loader, "exec_module"):
            return None
        spec.loader = _ThenEnable(spec.loader, fullname)  # type: ignore[assignment]
        return spec


class _ThenEnable:
    def __init__(self, inner: Loader, library: str) -> None:
        self.inner = inner
        self.library = library

    def create_module(self, spec: ModuleSpec) -> ModuleType | None:
        return self.inner.create_module(spec)

    def exec_module(self, module: ModuleType) -> None:
        # the module keeps its own loader, as if we had never been there
        module.__loader__ = self.inner
        if module.__spec__ is not None:
            module.__spec__.loader = self.inner
        self.inner.exec_module(module)
        with _lock:
            integration = _waiting.pop(self.library, None)
            if not _waiting:
                sys.meta_path[:] = [f for f in sys.meta_path if not isinstance(f, _Watcher)]
        if integration is not None:
            _enable(integration)
