"""What every route needs: settings, the store, metrics. Lives on ``app.state.backlight``."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from starlette.requests import HTTPConnection

from backlight_server.ops.metrics import Metrics
from backlight_server.settings import Settings
from backlight_server.store.base import Store


@dataclass
class AppState:
    settings: Settings
    store: Store
    metrics: Metrics
    auth_token: str
    default_project: str
    # project id -> (monotonic expiry, ``store.counts(project)``): the setup page's cache
    counts_cache: dict[str, tuple[float, dict[str, Any]]] = field(default_factory=dict)


def get_state(conn: HTTPConnection) -> AppState:
    state: AppState = conn.app.state.backlight
    return state
