"""Helpers for alert tests: a loopback webhook receiver that checks signatures, and payload
builders for the public ingest endpoints (browser batches, OTLP/JSON traces)."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import orjson

from backlight_server.alerts.rules import Rule
from backlight_server.store.base import Store
from backlight_server.testing import free_port

SECRET = "s3cret-signing-key-for-tests"


def verify(secret: str, headers: dict[str, str], body: bytes) -> bool:
    """The documented check: sha256=HMAC-SHA256(secret, "<timestamp>.<body>")."""
    stamp = headers.get("x-backlight-timestamp", "")
    mac = hmac.new(secret.encode(), stamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(headers.get("x-backlight-signature", ""), "sha256=" + mac)


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes

    @property
    def json(self) -> dict[str, Any]:
        data: dict[str, Any] = orjson.loads(self.body)
        return data


@dataclass
class Receiver:
    """Records every POST; answers each path with the statuses queued for it (then 200)."""

    port: int = field(default_factory=free_port)
    got: list[Received] = field(default_factory=list)
    answers: dict[str, list[tuple[int, dict[str, str]]]] = field(default_factory=dict)
    hang_s: float = 0.0
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def at(self, path: str) -> list[Received]:
        with self.lock:
            return [r for r in self.got if r.path == path]

    @contextmanager
    def running(self) -> Iterator[Receiver]:
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length") or 0))
                headers = {k.lower(): v for k, v in self.headers.items()}
                with owner.lock:
                    owner.got.append(Received(self.path, headers, body))
                    queued = owner.answers.get(self.path) or []
                    status, extra = queued.pop(0) if queued else (200, {})
                if owner.hang_s:
                    threading.Event().wait(owner.hang_s)
                self.send_response(status)
                for k, v in extra.items():
                    self.send_header(k, v)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        server.daemon_threads = True
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            yield self
        finally:
            server.shutdown()
            server.server_close()


def webhook_rule(url: str, trigger: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {
        "name": f"rule {trigger['kind']}",
        "trigger": trigger,
        "channels": [{"kind": "webhook", "url": url, "secret": SECRET}],
        **extra,
    }


def save_webhook_rule(store: Store, url: str, rule_id: str = "r1") -> Rule:
    """A ``new_group`` rule with one webhook channel, saved straight into ``store``."""
    project = store.default_project()
    hook: dict[str, Any] = {"kind": "webhook", "url": url, "secret": "s" * 16}
    body = {"name": "r", "trigger": {"kind": "new_group"}, "channels": [hook]}
    rule = Rule.model_validate({**body, "id": rule_id, "project_id": project})
    store.save_alert_rule(rule_id, project, rule.model_dump_json())
    return rule


def _attrs(values: dict[str, str]) -> list[dict[str, Any]]:
    return [{"key": k, "value": {"stringValue": v}} for k, v in values.items()]


def exception_span(
    sid: str | None, rid: str, at_ms: float, error_type: str = "ValueError", message: str = "x"
) -> dict[str, Any]:
    """A server span of request ``rid`` that raised (an OTLP/JSON span with an exception
    event), linked to session ``sid`` by the highlight attributes."""
    ns = str(int(at_ms * 1_000_000))
    attrs = {"highlight.trace_id": rid, **({"highlight.session_id": sid} if sid else {})}
    return {
        "traceId": rid,
        "spanId": secrets.token_hex(8),
        "name": "POST /checkout",
        "kind": 2,
        "startTimeUnixNano": ns,
        "endTimeUnixNano": ns,
        "status": {"code": 2},
        "attributes": _attrs(attrs),
        "events": [
            {
                "name": "exception",
                "timeUnixNano": ns,
                "attributes": _attrs(
                    {
                        "exception.type": error_type,
                        "exception.message": message,
                        "exception.stacktrace": (
                            "Traceback (most recent call last):\n"
                            '  File "/app/shop.py", line 9, in reserve\n'
                            f"{error_type}: {message}"
                        ),
                    }
                ),
            }
        ],
    }


def traces(project: str, spans: list[dict[str, Any]], service: str = "api") -> dict[str, Any]:
    resource = {"service.name": service, "highlight.project_id": project}
    return {
        "resourceSpans": [
            {"resource": {"attributes": _attrs(resource)}, "scopeSpans": [{"spans": spans}]}
        ]
    }
