"""Helpers for server tests: payload builders, OTel SDK service handles, polling."""

from __future__ import annotations

import ast
import gc
import logging
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk.trace import TracerProvider

from backlight_server.testing import wait_for

__all__ = ["wait_for"]

TOKEN = "test-token"
NOW_MS = time.time() * 1000  # a timestamp inside the accepted window (at most 365 days old)
AUTH = {"Authorization": f"Bearer {TOKEN}"}


def session_id() -> str:
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
    return "".join(secrets.choice(alphabet) for _ in range(28))


def request_id() -> str:
    return secrets.token_hex(16)


@dataclass
class OtelService:
    """A service instrumented with the real OpenTelemetry SDK, exporting OTLP/HTTP."""

    tracer_provider: TracerProvider
    logger_provider: LoggerProvider
    logger: logging.Logger

    @property
    def tracer(self) -> Any:
        return self.tracer_provider.get_tracer("backlight-tests")

    def flush(self) -> None:
        assert self.tracer_provider.force_flush(10_000)
        assert self.logger_provider.force_flush(10_000)

    def shutdown(self) -> None:
        self.tracer_provider.shutdown()
        self.logger_provider.shutdown()


def session_start(project: str, sid: str, **extra: Any) -> dict[str, Any]:
    return {
        "v": 1,
        "project_id": project,
        "session_secure_id": sid,
        "started_at": time.time() * 1000,
        "url": "http://app.test/cart",
        "user_agent": "pytest",
        "sdk_version": "0.1.0",
        "environment": "test",
        "service": "storefront",
        **extra,
    }


def batch(project: str, sid: str, seq: int, **lists: Any) -> dict[str, Any]:
    return {"v": 1, "project_id": project, "session_secure_id": sid, "seq": seq, **lists}


def network_entry(
    rid: str | None, url: str = "http://api.test/checkout", status: int = 500
) -> dict[str, Any]:
    now = time.time() * 1000
    return {
        "request_id": rid,
        "type": "fetch",
        "method": "POST",
        "url": url,
        "status": status,
        "start": now - 50,
        "end": now,
        "error": None,
        "request_headers": {"content-type": "application/json"},
        "request_body": '{"sku": 1}',
        "response_body": '{"error": "boom"}',
    }


def rrweb_events(n: int = 3) -> list[dict[str, Any]]:
    now = time.time() * 1000
    events: list[dict[str, Any]] = [
        {
            "type": 4,
            "data": {"href": "http://app.test/", "width": 800, "height": 600},
            "timestamp": now,
        }
    ]
    events += [
        {"type": 3, "data": {"source": 2, "type": 2, "id": i}, "timestamp": now + i}
        for i in range(1, n)
    ]
    return events


T = TypeVar("T")


def in_thread(fn: Callable[[], T], timeout: float = 300.0) -> T:
    """Run ``fn`` on a thread of its own and return its result (or raise its exception).

    Playwright's sync API refuses to start on a thread where another sync Playwright
    (another suite's session-wide browser) is running, so browser work goes here.
    """
    box: dict[str, Any] = {}

    def run() -> None:
        try:
            box["value"] = fn()
        except BaseException as exc:  # re-raised on the caller's thread
            box["error"] = exc

    worker = threading.Thread(target=run, name="playwright", daemon=True)
    worker.start()
    worker.join(timeout)
    if worker.is_alive():
        raise TimeoutError(f"browser work did not finish within {timeout}s")
    if "error" in box:
        raise box["error"]
    return box["value"]  # type: ignore[no-any-return]


def parse_source(text: str) -> ast.Module:
    """``ast.parse`` with the garbage collector paused. CPython 3.11's parse counts its own
    recursion depth while it builds the tree; a collection that runs finalizers in between
    (weakref callbacks, ``__del__`` of the stores and clients earlier tests left behind)
    can make it raise ``SystemError: AST constructor recursion depth mismatch`` at random."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        return ast.parse(text)
    finally:
        if enabled:
            gc.enable()
