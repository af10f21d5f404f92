"""Apps in real server processes (uvicorn, gunicorn --preload) exporting to the receiver.

The SDK runs in the server process; the test only sends requests and reads what the
capture receiver got. gunicorn's ``--preload`` runs ``backlight.init`` in the master
before it forks: the workers must export all the same (fork safety).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from sdk_capture import REQUEST, SESSION, Receiver, fastapi_telemetry, free_port, wait_http

import backlight

APPS = Path(__file__).parents[1] / "apps"
BIN = Path(sys.executable).parent
LINK = {"x-highlight-request": f"{SESSION}/{REQUEST}"}


@contextmanager
def serve(command: list[str], receiver: Receiver, port: int, **env: str) -> Iterator[str]:
    # the apps import the same backlight as this process (a checkout's, not an installed one)
    path = os.pathsep.join([str(APPS), str(Path(backlight.__file__).parents[1])])
    environment = {**os.environ, "BACKLIGHT_TEST_URL": receiver.url, "PYTHONPATH": path}
    environment.update(env)
    proc = subprocess.Popen(
        command, cwd=APPS, env=environment, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_http(base + "/items/0")
        yield base
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        if proc.stderr is not None:
            proc.stderr.close()


def uvicorn(module: str, port: int) -> list[str]:
    return [str(BIN / "uvicorn"), f"{module}:app", "--port", str(port), "--no-access-log"]


def gunicorn(target: str, port: int) -> list[str]:
    return [
        str(BIN / "gunicorn"),
        "--preload",
        "--workers",
        "2",
        "--bind",
        f"127.0.0.1:{port}",
        target,
    ]


SERVERS = [
    pytest.param("fastapi-app", uvicorn, "fastapi_app", "/items/{item_id}", id="fastapi-uvicorn"),
    pytest.param(
        "starlette-app", uvicorn, "starlette_app", "/items/{item_id}", id="starlette-uvicorn"
    ),
    pytest.param(
        "flask-app", gunicorn, "flask_app:app", "/items/<int:item_id>", id="flask-gunicorn"
    ),
    pytest.param(
        "django-app",
        gunicorn,
        "django_app:application",
        "/items/<int:item_id>",
        id="django-gunicorn",
    ),
]


@pytest.mark.parametrize(("service", "server", "target", "route"), SERVERS)
def test_real_server_process_exports_linked_spans_logs_and_errors(
    receiver: Receiver, service: str, server: object, target: str, route: str
) -> None:
    port = free_port()
    with serve(server(target, port), receiver, port) as base:  # type: ignore[operator]
        for n in range(1, 5):
            ok = httpx.get(f"{base}/items/{n}", headers=LINK, timeout=10)
            assert ok.status_code == 200
        failed = httpx.get(f"{base}/boom", headers=LINK, timeout=10)
        assert failed.status_code == 500

        def arrived(r: Receiver) -> bool:
            # every signal the asserts below read: the SDK in the server process posts spans
            # and logs separately, so spans alone may be in before the logs
            named = [s for s in r.spans if s.name == f"GET {route}" and s.link[0]]
            logs = [x for x in r.logs_from("app") if x.body != "item 0"]
            boom = [s for s in r.spans if s.name.startswith("GET /boom")]
            with r.lock:
                error_logs = [x for x in r.logs if "exception.type" in x.attributes]
            return (
                len(named) == 4
                and len(logs) >= 4
                and bool(boom)
                and (
                    boom[0].exception() is not None
                    or any(x.link == (SESSION, REQUEST) for x in error_logs)
                )
            )

        # longer than the SDK's whole retry window (3 attempts of 10 s, plus backoff): under
        # load one export can time out and be sent again
        receiver.wait_for(arrived, timeout=60)
    spans = [s for s in receiver.spans if s.name == f"GET {route}"]
    assert {s.resource["service.name"] for s in spans} == {service}
    assert [s.link for s in spans].count((SESSION, REQUEST)) == 4  # plus the readiness probe
    logs = [x for x in receiver.logs_from("app") if x.body != "item 0"]
    assert len(logs) == 4
    assert all(x.link == (SESSION, REQUEST) for x in logs)
    boom = next(s for s in receiver.spans if s.name.startswith("GET /boom"))
    assert boom.status_code == 2
    assert boom.link == (SESSION, REQUEST)
    with receiver.lock:
        error_logs = [x for x in receiver.logs if "exception.type" in x.attributes]
    recorded = boom.exception() is not None or any(x.link == (SESSION, REQUEST) for x in error_logs)
    assert recorded, "the unhandled exception reached the receiver as a linked error"


def test_service_to_service_httpx_fastapi_calls_flask(sdk: Receiver) -> None:
    """A (FastAPI, here) calls B (Flask under gunicorn) with httpx: B links to A's pair."""
    import asyncio

    from fastapi import FastAPI

    from backlight.integrations.asgi import BacklightMiddleware
    from backlight.integrations.httpx import async_event_hooks

    port = free_port()
    with serve(
        gunicorn("flask_app:app", port), sdk, port, BACKLIGHT_TEST_SERVICE="service-b"
    ) as base_b:
        app_a = FastAPI(telemetry={"tracing": False, "logs": False})
        app_a.add_middleware(BacklightMiddleware)

        @app_a.get("/a")
        async def call_b() -> dict[str, str]:
            async with httpx.AsyncClient(event_hooks=async_event_hooks()) as client:
                response = await client.get(f"{base_b}/b/work", timeout=10)
            return response.json()  # type: ignore[no-any-return]

        async def run() -> httpx.Response:
            transport = httpx.ASGITransport(app=app_a)
            async with httpx.AsyncClient(transport=transport, base_url="http://a") as client:
                return await client.get("/a", headers=LINK)

        assert asyncio.run(run()).json() == {"b": "done"}
        sdk.wait_for(
            lambda r: (
                bool(r.spans_named("GET /b/work"))
                and bool(r.errors())
                and bool(r.spans_named("GET /a"))
                and any(str(x.body).startswith("service b") for x in r.logs_from("app"))
            ),
            timeout=30,
        )
    span_a = sdk.spans_named("GET /a")[0]
    span_b = sdk.spans_named("GET /b/work")[0]
    assert span_b.resource["service.name"] == "service-b"
    assert span_b.link == (SESSION, REQUEST)
    assert span_b.trace_id == span_a.trace_id
    assert span_b.parent_span_id == span_a.span_id
    error_b = sdk.errors()[0]
    assert error_b.resource["service.name"] == "service-b"
    assert error_b.link == (SESSION, REQUEST)
    log_b = next(x for x in sdk.logs_from("app") if str(x.body).startswith("service b"))
    assert log_b.resource["service.name"] == "service-b"
    assert log_b.link == (SESSION, REQUEST)
    assert log_b.body == f"service b working for {SESSION}/{REQUEST}"


@pytest.mark.skipif(not fastapi_telemetry(), reason="this FastAPI has no native telemetry")
@pytest.mark.parametrize("form", ["wrapped", "add_middleware"])
def test_fastapi_with_its_default_telemetry_exports_one_server_span_per_request(
    receiver: Receiver, form: str
) -> None:
    """FastAPI's native telemetry switches itself on once ``backlight.init`` has set a
    tracer provider. Under uvicorn, with FastAPI's defaults untouched, each request still
    has exactly one server span, linked, continuing the browser's trace; an unhandled
    exception is one linked error."""
    port = free_port()
    requests = [f"{n:032x}" for n in range(0xA1, 0xA7)]
    command = uvicorn("fastapi_defaults_app", port)
    with serve(command, receiver, port, BACKLIGHT_TEST_FORM=form) as base:
        for n, request in enumerate(requests[:-1]):
            headers = {
                "x-highlight-request": f"{SESSION}/{request}",
                "traceparent": f"00-{request}-{n + 1:016x}-01",
            }
            assert httpx.get(f"{base}/items/{n}", headers=headers, timeout=10).status_code == 200
        failing = {"x-highlight-request": f"{SESSION}/{requests[-1]}"}
        assert httpx.get(f"{base}/boom", headers=failing, timeout=10).status_code == 500

        # a last, unlinked request: the server's SDK exports in order (spans, then logs), so
        # once this one's log is in, every span and log of the requests before it is too
        assert httpx.get(f"{base}/items/99", timeout=10).status_code == 200

        def arrived(r: Receiver) -> bool:
            return {s.link[1] for s in r.spans if s.kind == 2} >= set(requests) and any(
                x.body == "item 99" for x in r.logs_from("app")
            )

        receiver.wait_for(arrived, timeout=30)
    with receiver.lock:
        servers = [s for s in receiver.spans if s.kind == 2 and s.link[0] == SESSION]
        error_logs = [x for x in receiver.logs if "exception.type" in x.attributes]
    assert sorted(s.link[1] for s in servers) == sorted(requests)  # one each
    for n, span in enumerate(sorted(servers, key=lambda s: s.link[1])[:-1]):
        assert span.name == "GET /items/{item_id}"
        assert (span.trace_id, span.parent_span_id) == (requests[n], f"{n + 1:016x}")
    boom = next(s for s in servers if s.link[1] == requests[-1])
    assert boom.name == "GET /boom" and boom.status_code == 2
    errors: list[object] = [boom.exception()] if boom.exception() is not None else []
    errors += [x for x in error_logs if x.link == (SESSION, requests[-1])]
    assert len(errors) == 1, errors
    if form == "wrapped":  # Backlight's lean span; FastAPI's telemetry stepped aside
        assert {s.scope for s in servers} == {"backlight"}
        assert not [s for s in receiver.spans if s.scope == "fastapi"]
    else:  # FastAPI's span came first: Backlight linked it and made none of its own
        assert {s.scope for s in servers} == {"fastapi"}
