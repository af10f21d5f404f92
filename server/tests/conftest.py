"""Server test fixtures: the app in-process, and real OpenTelemetry SDK clients."""

from __future__ import annotations

import logging
import secrets
import warnings
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from opentelemetry.exporter.otlp.proto.http import Compression
from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk._logs import LoggerProvider, LoggingHandler
from opentelemetry.sdk._logs.export import BatchLogRecordProcessor
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor

from backlight_server.app import create_app
from backlight_server.settings import Settings
from backlight_server.testing import test_store_url
from bltest import TOKEN, OtelService


@pytest.fixture
def app(tmp_path: Path) -> Iterator[FastAPI]:
    data = tmp_path / "data"
    application = create_app(
        Settings(
            data_dir=data,
            store=test_store_url(data),
            auth_token=TOKEN,
            retention_days=0,
            otlp_grpc_port=0,
        )
    )
    yield application
    application.state.backlight.store.close()


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://backlight") as c:
        yield c


@pytest.fixture
def project(app: FastAPI) -> str:
    return str(app.state.backlight.default_project)


@pytest.fixture
def otel_service() -> Iterator[Callable[..., OtelService]]:
    made: list[OtelService] = []

    def make(
        base_url: str, service: str, project: str | None, headers: dict[str, str] | None = None
    ) -> OtelService:
        attrs: dict[str, str] = {"service.name": service, "deployment.environment": "test"}
        if project:
            attrs["highlight.project_id"] = project
        resource = Resource.create(attrs)
        tp = TracerProvider(resource=resource)
        tp.add_span_processor(
            BatchSpanProcessor(
                OTLPSpanExporter(
                    endpoint=base_url + "/v1/traces", compression=Compression.Gzip, headers=headers
                )
            )
        )
        lp = LoggerProvider(resource=resource)
        lp.add_log_record_processor(
            BatchLogRecordProcessor(
                OTLPLogExporter(
                    endpoint=base_url + "/v1/logs", compression=Compression.Gzip, headers=headers
                )
            )
        )
        logger = logging.getLogger(f"test.{service}.{secrets.token_hex(4)}")
        logger.propagate = False
        logger.setLevel(logging.DEBUG)
        with warnings.catch_warnings():  # deprecated in favour of a contrib package
            warnings.simplefilter("ignore", DeprecationWarning)
            logger.addHandler(LoggingHandler(level=logging.DEBUG, logger_provider=lp))
        svc = OtelService(tp, lp, logger)
        made.append(svc)
        return svc

    yield make
    for svc in made:
        svc.shutdown()
