"""``backlight.init``, ``flush`` and ``shutdown``: wiring the SDK into OpenTelemetry."""

from __future__ import annotations

import atexit
import gc
import logging
import threading
from typing import Any

from opentelemetry import _logs, propagate, trace
from opentelemetry.baggage.propagation import W3CBaggagePropagator
from opentelemetry.propagators.composite import CompositePropagator
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from backlight._debug import debug as debug_log
from backlight._debug import internal_error, set_debug_mode
from backlight._state import state
from backlight.client import Client
from backlight.config import Config
from backlight.integrations import logging_capture
from backlight.integrations.auto import enable_imported
from backlight.processors import BacklightLogProcessor, BacklightSpanProcessor
from backlight.propagator import HighlightRequestPropagator

_lock = threading.Lock()
_span_processor = BacklightSpanProcessor()
_log_processor = BacklightLogProcessor()
_otel_installed = False


def init(
    project_id: str,
    *,
    backend_url: str = "http://localhost:8082",
    service_name: str = "unknown_service",
    service_version: str = "",
    environment: str = "production",
    debug: bool = False,
    capture_logging: bool = True,
    log_level: int = logging.INFO,
    **options: Any,
) -> Client:
    """Start the SDK: traces and logs go over OTLP/HTTP (gzip) to ``backend_url``.

    Idempotent: calling it again with the same settings returns the running client;
    with different settings it flushes the old pipeline and starts a new one.
    ``options`` are the tuning fields of ``backlight.config.Config``.
    """
    if not project_id or not isinstance(project_id, str):
        raise ValueError("backlight.init needs a project_id (a non-empty string)")
    config = Config(
        project_id=project_id,
        backend_url=backend_url,
        service_name=service_name,
        service_version=service_version,
        environment=environment,
        debug=debug,
        capture_logging=capture_logging,
        log_level=log_level,
        **options,
    )
    with _lock:
        old = state.client
        if old is not None and old.config == config:
            _install_logging(config)  # repairs what the app's logging set-up removed
            return old
        if debug:
            set_debug_mode(_debug_logger())
        client = Client(config)
        state.client = client
        if old is not None:
            debug_log("backlight: init with new settings; replacing the running client")
            _stop(old)
        _install_otel(config)
        _install_logging(config)
        enable_imported()  # Celery: now if imported, else when it is
        debug_log("backlight: initialised for project %s, exporting to %s", project_id, backend_url)
        return client


def flush(timeout: float = 5.0) -> bool:
    """Export everything queued so far; False if ``timeout`` seconds were not enough."""
    client = state.client
    if client is None:
        return True
    try:
        return client.flush(timeout)
    except Exception:
        internal_error("flush")
        return False


def shutdown(timeout: float = 5.0) -> None:
    """Flush, stop the export thread and stop capturing logging."""
    with _lock:
        client, state.client = state.client, None
        logging_capture.uninstall()
        if client is not None:
            _end_abandoned()
            _stop(client, timeout)


def _stop(client: Client, timeout: float = 5.0) -> None:
    try:
        client.shutdown(timeout)
    except Exception:
        internal_error("shutdown")


def _install_otel(config: Config) -> None:
    """Once per process: propagators, and our processors on the SDK providers."""
    global _otel_installed
    if _otel_installed:
        return
    _otel_installed = True
    propagate.set_global_textmap(
        CompositePropagator(
            [
                TraceContextTextMapPropagator(),
                W3CBaggagePropagator(),
                HighlightRequestPropagator(),
            ]
        )
    )
    resource = Resource.create(config.resource_attributes())
    tracer_provider = trace.get_tracer_provider()
    if isinstance(tracer_provider, TracerProvider):  # the app set up the SDK already
        tracer_provider.add_span_processor(_span_processor)
    else:
        tracer_provider = TracerProvider(resource=resource, shutdown_on_exit=False)
        tracer_provider.add_span_processor(_span_processor)
        trace.set_tracer_provider(tracer_provider)
    logger_provider = _logs.get_logger_provider()
    if isinstance(logger_provider, LoggerProvider):
        logger_provider.add_log_record_processor(_log_processor)
    else:
        logger_provider = LoggerProvider(resource=resource, shutdown_on_exit=False)
        logger_provider.add_log_record_processor(_log_processor)
        _logs.set_logger_provider(logger_provider)
    atexit.register(_at_exit)


def _install_logging(config: Config) -> None:
    """Capture stdlib logging (see ``backlight.integrations.logging_capture``): no handler
    is added and no level changed, so the app's own logging prints what it did before."""
    if config.capture_logging:
        logging_capture.install(config.log_level)
    else:
        logging_capture.uninstall()


def _debug_logger() -> logging.Logger:
    logger = logging.getLogger("backlight")
    if not logger.handlers:
        logger.addHandler(logging.StreamHandler())
    logger.setLevel(logging.DEBUG)
    return logger


def _at_exit() -> None:
    client = state.client
    if client is not None:
        _end_abandoned()
        _stop(client, 5.0)


def _end_abandoned() -> None:
    """Collect garbage, so that request spans whose responses a server dropped without
    closing them (in a reference cycle) end now and are exported with the rest."""
    try:
        gc.collect()
    except Exception:
        internal_error("collect abandoned spans")
