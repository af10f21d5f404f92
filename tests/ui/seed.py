"""Data for the UI tests, sent through the PUBLIC ingest endpoints only: the browser
protocol (with a real rrweb full snapshot the replayer can rebuild) and OTLP/HTTP from the
real OpenTelemetry SDK, with explicit times so that backend errors fall inside the replay."""

from __future__ import annotations

import logging
import secrets
import time
import warnings
from dataclasses import dataclass
from typing import Any

import httpx
from opentelemetry import trace
from opentelemetry.exporter.otlp.proto.http import Compression
from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk._logs import LoggerProvider, LoggingHandler
from opentelemetry.sdk._logs.export import BatchLogRecordProcessor
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.trace import NonRecordingSpan, SpanContext, TraceFlags

from backlight_server.testing import BacklightProcess
from bltest import OtelService, request_id, session_id, wait_for

MS = 1_000_000  # ns per ms
BIG_N, BIG_AT = 1500, 1200  # over the page's inline-summary limit (ui/sessions.py)


@dataclass
class Seed:
    server: BacklightProcess
    sid: str  # the session with a replay, network, console and errors
    sid_empty: str  # a session without replay
    sid_big: str  # a session with BIG_N network requests
    r_big: str  # its request BIG_AT, which has a backend error
    r_ok: str  # GET /api/products: spans + an info log
    r_fail: str  # POST /api/checkout: backend ValueError in two services
    t0: float  # epoch ms of the first rrweb event
    error_ms: float  # when the backend error was recorded
    log_word: str  # a word only the checkout log contains
    backend_group: int
    frontend_group: int


def _el(node_id: int, tag: str, children: list[dict[str, Any]], **attrs: str) -> dict[str, Any]:
    return {"type": 2, "tagName": tag, "attributes": attrs, "childNodes": children, "id": node_id}


def _text(node_id: int, text: str) -> dict[str, Any]:
    return {"type": 3, "textContent": text, "id": node_id}


def rrweb_page(t0: float, duration_ms: float) -> list[dict[str, Any]]:
    """Meta + full snapshot of a small shop page, clicks, a text change and a long idle gap."""
    css = (
        "body{font-family:sans-serif;margin:0;background:#fafafa}header{background:#234;"
        "color:#fff;padding:16px 24px;font-size:22px}main{padding:24px}"
        "button{font-size:18px;padding:10px 22px;background:#2b8a3e;color:#fff;border:0;"
        "border-radius:6px}.item{background:#fff;border:1px solid #ddd;padding:12px;"
        "margin-bottom:12px;border-radius:6px}"
    )
    doc = {
        "type": 0,
        "id": 1,
        "childNodes": [
            {"type": 1, "name": "html", "publicId": "", "systemId": "", "id": 2},
            _el(
                3,
                "html",
                [
                    _el(4, "head", [_el(5, "style", [], _cssText=css)]),
                    _el(
                        6,
                        "body",
                        [
                            _el(7, "header", [_text(8, "Demo shop")]),
                            _el(
                                9,
                                "main",
                                [
                                    _el(
                                        10,
                                        "div",
                                        [_text(11, "Blue mug — 12 €")],
                                        **{"class": "item"},
                                    ),
                                    _el(
                                        12,
                                        "div",
                                        [_text(13, "Red teapot — 30 €")],
                                        **{"class": "item"},
                                    ),
                                    _el(14, "button", [_text(15, "Buy now")], id="buy"),
                                    _el(16, "p", [_text(17, "")], id="status"),
                                ],
                            ),
                        ],
                    ),
                ],
            ),
        ],
    }
    events: list[dict[str, Any]] = [
        {
            "type": 4,
            "data": {"href": "http://shop.test/cart", "width": 1024, "height": 640},
            "timestamp": t0,
        },
        {
            "type": 2,
            "data": {"node": doc, "initialOffset": {"left": 0, "top": 0}},
            "timestamp": t0 + 5,
        },
    ]
    for i in range(1, 20):  # the pointer wanders over the page for 19 s
        events.append(
            {
                "type": 3,
                "timestamp": t0 + i * 1000,
                "data": {
                    "source": 1,
                    "positions": [
                        {"x": 100 + i * 20, "y": 120 + (i % 5) * 30, "id": 9, "timeOffset": 0}
                    ],
                },
            }
        )
    events.append(
        {
            "type": 3,
            "timestamp": t0 + 19_900,
            "data": {"source": 2, "type": 2, "id": 14, "x": 120, "y": 260},
        }
    )
    events.append(
        {
            "type": 3,
            "timestamp": t0 + 20_200,
            "data": {
                "source": 0,
                "texts": [{"id": 17, "value": "Checkout failed: please retry"}],
                "attributes": [],
                "removes": [],
                "adds": [],
            },
        }
    )
    # idle until the end (skip inactivity has something to skip), then one last move
    events.append(
        {
            "type": 3,
            "timestamp": t0 + duration_ms,
            "data": {"source": 1, "positions": [{"x": 300, "y": 300, "id": 9, "timeOffset": 0}]},
        }
    )
    return events


def _network(
    rid: str | None, method: str, url: str, status: int, start: float, end: float, **extra: Any
) -> dict[str, Any]:
    return {
        "request_id": rid,
        "type": "fetch",
        "method": method,
        "url": url,
        "status": status,
        "start": start,
        "end": end,
        "error": None,
        "request_headers": {
            "content-type": "application/json",
            "x-highlight-request": f"…/{rid}" if rid else "none",
        },
        "response_headers": {"content-type": "application/json"},
        **extra,
    }


def _otel(server: BacklightProcess, service: str) -> OtelService:
    resource = Resource.create(
        {
            "service.name": service,
            "deployment.environment": "test",
            "highlight.project_id": server.project,
        }
    )
    tp = TracerProvider(resource=resource)
    tp.add_span_processor(
        BatchSpanProcessor(
            OTLPSpanExporter(endpoint=server.url + "/v1/traces", compression=Compression.Gzip)
        )
    )
    lp = LoggerProvider(resource=resource)
    lp.add_log_record_processor(
        BatchLogRecordProcessor(
            OTLPLogExporter(endpoint=server.url + "/v1/logs", compression=Compression.Gzip)
        )
    )
    logger = logging.getLogger(f"ui-test.{service}.{secrets.token_hex(4)}")
    logger.propagate = False
    logger.setLevel(logging.DEBUG)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        logger.addHandler(LoggingHandler(level=logging.DEBUG, logger_provider=lp))
    return OtelService(tp, lp, logger)


def _reserve_stock(order: str) -> None:
    raise ValueError(f"out of stock for order {order}")


def _plain_error(svc: OtelService, rid: str, at_ms: float) -> None:
    """A plain OpenTelemetry service whose trace id is the request id: no Backlight code."""
    parent = NonRecordingSpan(
        SpanContext(int(rid, 16), 0xABCDEF12, is_remote=True, trace_flags=TraceFlags(1))
    )
    span = svc.tracer.start_span(
        "GET /api/price", context=trace.set_span_in_context(parent), start_time=int(at_ms * MS)
    )
    try:
        raise LookupError("no price for sku 77")
    except LookupError as exc:
        span.record_exception(exc, timestamp=int((at_ms + 5) * MS))
    span.end(end_time=int((at_ms + 9) * MS))


def _backend(
    api: OtelService, inventory: OtelService, sid: str, r_ok: str, r_fail: str, t0: float, word: str
) -> None:
    link_ok = {"highlight.session_id": sid, "highlight.trace_id": r_ok}
    link = {"highlight.session_id": sid, "highlight.trace_id": r_fail}
    start_ns = int((t0 + 2_030) * MS)
    span = api.tracer.start_span("GET /api/products", attributes=link_ok, start_time=start_ns)
    with trace.use_span(span, end_on_exit=False):
        api.logger.info("listed 2 products", extra=link_ok)
    span.end(end_time=start_ns + 40 * MS)

    # checkout: api (linked by attributes) calls inventory (plain OTel, trace id = r_fail)
    start_ns = int((t0 + 20_010) * MS)
    root = api.tracer.start_span("POST /api/checkout", attributes=link, start_time=start_ns)
    with trace.use_span(root, end_on_exit=False):
        api.logger.warning("checkout %s: inventory said no", word, extra=link)
    parent = NonRecordingSpan(
        SpanContext(int(r_fail, 16), 0x1234567890ABCDEF, is_remote=True, trace_flags=TraceFlags(1))
    )
    child = inventory.tracer.start_span(
        "reserve_stock", context=trace.set_span_in_context(parent), start_time=start_ns + 15 * MS
    )
    try:
        _reserve_stock(r_fail[:6])
    except ValueError as exc:
        child.record_exception(exc, timestamp=start_ns + 60 * MS)
        child.set_status(trace.Status(trace.StatusCode.ERROR))
    child.end(end_time=start_ns + 70 * MS)
    root.set_status(trace.Status(trace.StatusCode.ERROR))
    root.end(end_time=start_ns + 100 * MS)


def seed(server: BacklightProcess) -> Seed:
    project = server.project
    sid, sid_empty = session_id(), session_id()
    r_ok, r_fail = request_id(), request_id()
    t0 = time.time() * 1000 - 120_000
    word = "quokka" + secrets.token_hex(3)
    start = {
        "v": 1,
        "project_id": project,
        "session_secure_id": sid,
        "started_at": t0,
        "url": "http://shop.test/cart",
        "user_agent": "Mozilla/5.0 (UI test)",
        "sdk_version": "0.1.0",
        "environment": "test",
        "service": "shop",
    }
    _post(server, "/ingest/v1/session", start)
    _post(
        server,
        "/ingest/v1/batch",
        {
            "v": 1,
            "project_id": project,
            "session_secure_id": sid,
            "seq": 0,
            "events": rrweb_page(t0, 60_000),
            "network": [
                _network(
                    r_ok,
                    "GET",
                    "http://api.shop.test/api/products",
                    200,
                    t0 + 2_000,
                    t0 + 2_090,
                    response_body='[{"sku": 1}, {"sku": 2}]',
                    timing={"ttfb": 60.0, "download": 4.0},
                ),
                _network(
                    r_fail,
                    "POST",
                    "http://api.shop.test/api/checkout",
                    500,
                    t0 + 20_000,
                    t0 + 20_120,
                    request_body='{"sku": 1, "password": "[REDACTED]"}',
                    response_body='{"error": "out of stock"}',
                ),
                _network(
                    None,
                    "GET",
                    "https://cdn.thirdparty.test/pixel.gif",
                    200,
                    t0 + 25_000,
                    t0 + 25_030,
                ),
            ],
            "console": [
                {"ts": t0 + 1_000, "level": "info", "message": "app started"},
                {"ts": t0 + 20_150, "level": "error", "message": "checkout failed: 500"},
            ],
            "errors": [
                {
                    "ts": t0 + 20_160,
                    "type": "TypeError",
                    "message": "order is undefined",
                    "source": "onerror",
                    "url": "http://shop.test/cart",
                    "raw_stack": "TypeError: order is undefined\n"
                    "    at showReceipt (http://shop.test/app.js:41:13)\n"
                    "    at http://shop.test/node_modules/vendor.js:2:99",
                }
            ],
            "identify": {"ts": t0 + 500, "identifier": "ada@example.com", "metadata": {}},
        },
    )
    _post(
        server,
        "/ingest/v1/session",
        {**start, "session_secure_id": sid_empty, "started_at": t0 + 1000},
    )
    _post(
        server,
        "/ingest/v1/batch",
        {
            "v": 1,
            "project_id": project,
            "session_secure_id": sid_empty,
            "seq": 0,
            "console": [{"ts": t0 + 1500, "level": "log", "message": "hello"}],
        },
    )

    sid_big, big_ids = session_id(), [request_id() for _ in range(BIG_N)]
    _post(
        server,
        "/ingest/v1/batch",
        {
            "v": 1,
            "project_id": project,
            "session_secure_id": sid_big,
            "seq": 0,
            "network": [
                _network(
                    r,
                    "GET",
                    f"http://api.shop.test/api/items/{i}",
                    200,
                    t0 + i * 40,
                    t0 + i * 40 + 20,
                )
                for i, r in enumerate(big_ids)
            ],
        },
    )

    api, inventory = _otel(server, "api"), _otel(server, "inventory")
    try:
        _backend(api, inventory, sid, r_ok, r_fail, t0, word)
        _plain_error(inventory, big_ids[BIG_AT], t0 + BIG_AT * 40 + 2)
        api.flush()
        inventory.flush()
    finally:
        api.shutdown()
        inventory.shutdown()
    view = wait_for(
        lambda: (lambda v: v if v["errors"] and v["logs"] else None)(
            server.api(f"/api/v1/requests/{r_fail}")
        )
    )
    groups = server.api("/api/v1/error-groups")["groups"]
    by_type = {g["type"]: g["id"] for g in groups}
    wait_for(lambda: server.api(f"/api/v1/requests/{big_ids[BIG_AT]}")["errors"])
    return Seed(
        server=server,
        sid=sid,
        sid_empty=sid_empty,
        sid_big=sid_big,
        r_big=big_ids[BIG_AT],
        r_ok=r_ok,
        r_fail=r_fail,
        t0=t0,
        error_ms=view["errors"][0]["ts_ms"],
        log_word=word,
        backend_group=by_type["ValueError"],
        frontend_group=by_type["TypeError"],
    )


def _post(server: BacklightProcess, path: str, body: dict[str, Any]) -> None:
    r = httpx.post(server.url + path, json=body, timeout=30)
    assert r.status_code == 200, r.text
