"""Hello-world FastAPI and Flask apps, instrumented per ``BENCH_VARIANT``.

Run by the benchmark inside each variant's venv:
``uvicorn sdk_bench_apps:fastapi_app`` / ``gunicorn sdk_bench_apps:flask_app``.
Variants: bare, backlight, highlight (highlight-io), sentry (sentry-sdk, traces at 100 %).
FastAPI with Backlight: the app wrapped, as the README says, or with ``add_middleware``
(BENCH_FORM=add_middleware), FastAPI's telemetry settings left at their defaults.
Every SDK exports to the sink on 127.0.0.1 named by ``BENCH_SINK`` (and ``BENCH_GRPC_SINK``).
"""

from __future__ import annotations

import inspect
import os
from typing import Any

VARIANT = os.environ.get("BENCH_VARIANT", "bare")
FRAMEWORK = os.environ.get("BENCH_FRAMEWORK", "fastapi")
SINK = os.environ.get("BENCH_SINK", "http://127.0.0.1:9")
GRPC_SINK = os.environ.get("BENCH_GRPC_SINK", "http://127.0.0.1:9")
FORM = os.environ.get("BENCH_FORM", "wrapped")  # how Backlight's ASGI middleware is added


def _init_sdk() -> None:
    if VARIANT == "backlight":
        import backlight

        backlight.init("bench", backend_url=SINK, service_name=f"bench-{FRAMEWORK}")
    elif VARIANT == "sentry":
        import sentry_sdk  # type: ignore[import-not-found, unused-ignore]

        port = SINK.rsplit(":", 1)[1]
        sentry_sdk.init(dsn=f"http://public@127.0.0.1:{port}/1", traces_sample_rate=1.0)
    elif VARIANT == "highlight":
        import highlight_io  # type: ignore[import-not-found, unused-ignore]

        integrations: list[Any] = []
        if FRAMEWORK == "flask":
            from highlight_io.integrations.flask import (  # type: ignore[import-not-found, unused-ignore]
                FlaskIntegration,
            )

            integrations.append(FlaskIntegration())
        highlight_io.H(
            "bench",
            integrations=integrations,
            otlp_endpoint=GRPC_SINK,
            service_name=f"bench-{FRAMEWORK}",
        )


def _export_stats() -> dict[str, Any]:
    """Spans exported and dropped so far (the benchmark asks at its end), and the CPU
    seconds of the export thread (asked before every burst)."""
    import time

    from backlight._state import state

    assert state.client is not None
    worker = state.client.worker
    thread = worker._thread
    assert thread is not None and thread.ident is not None
    export_cpu = time.clock_gettime(time.pthread_getcpuclockid(thread.ident))
    return {"exported": worker.stats.exported, "dropped": worker.dropped(), "cpu": export_cpu}


def _make_fastapi() -> Any:
    from fastapi import FastAPI

    options: dict[str, Any] = {}
    if VARIANT != "backlight" and "telemetry" in inspect.signature(FastAPI).parameters:
        # FastAPI's native OpenTelemetry spans switch on whenever an SDK tracer provider
        # is global. The peers run without them, as in every earlier round; Backlight runs
        # with FastAPI's defaults, as its users do (its middleware gives one server span
        # per request either way: see docs/python-sdk.md).
        options["telemetry"] = {"tracing": False, "logs": False, "metrics": False}
    app = FastAPI(**options)

    @app.get("/")
    async def hello() -> dict[str, str]:
        return {"hello": "world"}

    if VARIANT == "backlight":
        from backlight.integrations.asgi import BacklightMiddleware

        app.get("/_backlight")(_export_stats)
        if FORM == "add_middleware":  # inside FastAPI's telemetry: its span is the one
            app.add_middleware(BacklightMiddleware)
            return app
        return BacklightMiddleware(app)  # as the README says
    elif VARIANT == "highlight":
        from highlight_io.integrations.fastapi import (  # type: ignore[import-not-found, unused-ignore]
            FastAPIMiddleware,
        )

        app.add_middleware(FastAPIMiddleware)
    return app


def _make_flask() -> Any:
    from flask import Flask

    app = Flask(__name__)

    @app.get("/")
    def hello() -> dict[str, str]:
        return {"hello": "world"}

    if VARIANT == "backlight":
        from backlight.integrations.wsgi import BacklightMiddleware

        app.wsgi_app = BacklightMiddleware(app.wsgi_app)  # type: ignore[method-assign]
        app.get("/_backlight")(_export_stats)
    return app


_init_sdk()
fastapi_app = _make_fastapi() if FRAMEWORK.startswith("fastapi") else None
flask_app = _make_flask() if FRAMEWORK == "flask" else None
