"""What every route needs: settings, the store, metrics. Lives on ``app.state.backlight``."""

from __future__ import annotations

from dataclasses import dataclass

from starlette.requests import HTTPConnection

from backlight_server.ops.metrics import Metrics
from backlight_server.settings import Settings
from backlight_server.store.sqlite import SqliteStore


@dataclass
class AppState:
    settings: Settings
    store: SqliteStore
    metrics: Metrics
    auth_token: str
    default_project: str


def get_state(conn: HTTPConnection) -> AppState:
    state: AppState = conn.app.state.backlight
    return state
