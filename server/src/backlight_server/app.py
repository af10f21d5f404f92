"""Builds the ASGI app: ingest, query API, login, UI placeholder, SDK file, operations."""

from __future__ import annotations

import logging
import os
import secrets
import socket
import threading
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

from backlight_server import __version__
from backlight_server.alerts import file as alerts_file
from backlight_server.alerts.events import base_url
from backlight_server.alerts.service import AlertService
from backlight_server.api import openapi
from backlight_server.api.routes import router as api_router
from backlight_server.api.sourcemap_fetch import router as sourcemap_fetch_router
from backlight_server.api.sourcemaps import router as sourcemaps_router
from backlight_server.api.traces import router as traces_router
from backlight_server.errors import ClientError, StorageUnavailable
from backlight_server.guard import ErrorGuard
from backlight_server.ingest import browser, otlp_http
from backlight_server.ingest.cors import IngestCORS
from backlight_server.ingest.highlight import graphql_api
from backlight_server.ingest.otlp_grpc import check_grpc_port, start_grpc
from backlight_server.ingest.responses import error_response, json_response
from backlight_server.ops import routes as ops_routes
from backlight_server.ops.metrics import Metrics
from backlight_server.settings import Settings
from backlight_server.sourcemaps import highlight as highlight_uploads
from backlight_server.state import AppState
from backlight_server.store.base import NOT_OPEN, Store
from backlight_server.store.factory import make_store
from backlight_server.store.sqlite.datadir import read_or_create_secret
from backlight_server.store.sqlite.health import unavailable
from backlight_server.symbolicate import fetch
from backlight_server.ui import assets, notfound
from backlight_server.ui import routes as ui_routes
from backlight_server.web import sdkfiles
from backlight_server.web.middleware import BrowserGuard

log = logging.getLogger("backlight")
PURGE_INTERVAL_S = 3600.0


def load_token(settings: Settings) -> str:
    """The configured token, else the one kept in the data dir (made on first start).

    Raises ``StorageUnavailable`` if the token file cannot be read or written.
    """
    if settings.auth_token:
        return settings.auth_token
    path = settings.data_dir / "auth_token"
    try:
        return read_or_create_secret(path, lambda: secrets.token_urlsafe(24))
    except OSError as exc:
        err = unavailable(exc, where=str(path))
        if err is None:
            raise
        raise err from exc


def report_missing_assets(sdk_folder: Path) -> None:
    """One log line naming every built file the server lacks (those URLs answer 404): the
    UI's (``ui/static/build``) and the browser SDK's (``web/sdkfiles.py``)."""
    gone = [*assets.missing(), *sdkfiles.missing(sdk_folder)]
    if gone:
        log.warning(
            "built assets missing, these URLs answer 404: %s. A wheel carries them; in a "
            "checkout, scripts/setup.sh builds them",
            "; ".join(gone),
        )


class Purger:
    """Deletes data older than the retention period, hourly, on a daemon thread: on one
    server of those sharing the store (the holder of the ``retention`` lease)."""

    def __init__(
        self, store: Store, days: int, artifact_days: int = 0, first_delay_s: float = 60.0
    ) -> None:
        self._store, self._days, self._artifact_days = store, days, artifact_days
        self._first_delay = first_delay_s
        self.holder = f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="backlight-purge", daemon=True)

    def start(self) -> None:
        if self._days > 0 or self._artifact_days > 0:
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()

    def _run(self) -> None:
        delay = self._first_delay
        while not self._stop.wait(delay):
            delay = PURGE_INTERVAL_S
            try:
                if not self._store.lease("retention", self.holder, PURGE_INTERVAL_S * 1.5):
                    continue
                if self._days > 0:
                    cutoff = time.time() * 1000 - self._days * 86_400_000
                    log.info("retention purge removed %d rows", self._store.purge_before(cutoff))
                if self._artifact_days > 0:  # source maps: by their release's newest upload
                    cutoff = time.time() * 1000 - self._artifact_days * 86_400_000
                    log.info("removed %d source-map files", self._store.purge_artifacts(cutoff))
            except StorageUnavailable as exc:  # disk full, say: tried again in an hour
                log.warning("retention purge skipped, the store cannot write: %s", exc.reason)
            except Exception:
                if self._store.health().reason == NOT_OPEN:
                    return  # closed without a shutdown (tests that build the app alone)
                log.exception("retention purge failed")


def sync_alerts_file(loaded: alerts_file.AlertsFile, store: Store, project: str) -> None:
    """The rules of ``--alerts-file`` into the store (``AlertsFileError`` refuses)."""
    done = alerts_file.sync(store, loaded, project)
    log.info(
        "alerts file %s: %d rules (%d added, %d changed, %d removed)",
        loaded.path,
        len(loaded.rules),
        done.added,
        done.changed,
        done.removed,
    )


def create_app(settings: Settings) -> FastAPI:
    # a bad alerts file refuses before the store is touched
    loaded = alerts_file.load(settings.alerts_file, os.environ) if settings.alerts_file else None
    if settings.otlp_grpc_port:  # a taken gRPC port refuses before the store is touched
        check_grpc_port(settings.host, settings.otlp_grpc_port)
    store = make_store(settings)
    store.open()  # refuses (StorageUnavailable) a data dir it cannot write
    try:
        token, project = load_token(settings), store.default_project()
        if loaded is not None:
            sync_alerts_file(loaded, store, project)
    except BaseException:
        store.close()
        raise
    fetch.install(store, fetch.Fetcher.of(settings))  # reads of this store may fetch maps
    metrics = Metrics(store.queue_depth, store.health)
    store.observe_writes(metrics.write_latency.observe)
    state = AppState(
        settings=settings, store=store, metrics=metrics, auth_token=token, default_project=project
    )
    purger = Purger(store, settings.retention_days, settings.sourcemap_retention_days)
    purger.start()
    alerts = AlertService(
        store,
        base_url(settings.public_url, settings.host, settings.port),
        settings.alert_interval_s,
    )
    alerts.start()
    try:
        grpc_server = (
            start_grpc(state, settings.host, settings.otlp_grpc_port)
            if settings.otlp_grpc_port
            else None
        )
    except BaseException:  # the port was taken after check_grpc_port
        purger.stop()
        alerts.stop()
        store.close()
        raise

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        yield
        purger.stop()
        alerts.stop()
        if grpc_server is not None:
            grpc_server.stop(grace=5).wait()
        store.close()

    app = FastAPI(
        title="Backlight",
        version=__version__,
        lifespan=lifespan,
        openapi_url="/api/openapi.json",
        docs_url="/api/docs",
        redoc_url=None,
        swagger_ui_oauth2_redirect_url=None,
    )
    app.state.backlight = state
    ingest = [*browser.routes, *otlp_http.routes, *graphql_api.routes, *highlight_uploads.routes]
    for route in [*ingest, *ops_routes.routes, *ui_routes.routes]:
        app.router.routes.append(route)
    app.include_router(api_router)
    app.include_router(sourcemaps_router)
    app.include_router(sourcemap_fetch_router)
    app.include_router(traces_router)
    openapi.install(app)
    sdk_folder = sdkfiles.find(settings.sdk_dir)
    app.router.routes.extend(sdkfiles.routes(sdk_folder))
    report_missing_assets(sdk_folder)
    app.add_middleware(ErrorGuard)
    app.add_middleware(IngestCORS)
    app.add_middleware(BrowserGuard, settings=settings)  # outermost: runs first
    _error_handlers(app)
    return app


def _error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ClientError)
    async def client_error(_: Request, exc: ClientError) -> Response:
        return error_response(exc)

    @app.exception_handler(RequestValidationError)
    async def invalid(_: Request, exc: RequestValidationError) -> Response:
        where = "; ".join(
            f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()[:5]
        )
        return json_response({"error": "invalid_parameter", "detail": where}, 400)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        if exc.status_code == 404 and notfound.wants_page(request):
            return notfound.page(request)
        codes = {401: "unauthorized", 404: "not_found", 405: "method_not_allowed"}
        return json_response(
            {"error": codes.get(exc.status_code, "http_error"), "detail": str(exc.detail)},
            exc.status_code,
            dict(exc.headers or {}),
        )
