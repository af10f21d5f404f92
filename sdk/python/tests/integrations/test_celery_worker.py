"""Issue 18's acceptance: a Django shop enqueues Celery tasks; a real worker on a real Redis
broker runs them; a real ``backlight serve`` links it all to the browser's session/request.

The shop's checkout (gunicorn, Backlight middleware) enqueues a task that logs and fails,
a task that retries once, a chain of three and a group of two. No task has Backlight code:
``backlight.init`` enables the Celery integration. Each worker configuration gets its own
session and request: Celery's defaults (the prefork pool, the root logger taken over),
the prefork pool keeping the root logger, and the solo pool; and the prefork pool over
RabbitMQ (a node of its own on loopback ports; skipped without Debian's rabbitmq-server).
"""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from sdk_capture import free_port, wait_http

import backlight

testing = pytest.importorskip("backlight_server.testing")
pytest.importorskip("celery")
REDIS = shutil.which("redis-server")
# Debian's rabbitmq-server, without the wrapper that switches to the rabbitmq user
RABBITMQ = "/usr/lib/rabbitmq/bin/rabbitmq-server"
pytestmark = pytest.mark.skipif(REDIS is None, reason="needs Debian's redis-server")

APPS = Path(__file__).parents[1] / "apps"
TASKS = {"shop.charge": 1, "shop.flaky": 2, "shop.step": 5}  # flaky: the run and its retry


@dataclass
class Scenario:
    name: str
    session: str
    request: str
    server: Any
    worker_log: Path


@contextmanager
def process(command: list[str], env: dict[str, str], log: Path) -> Iterator[None]:
    with log.open("wb") as out:
        proc = subprocess.Popen(command, cwd=APPS, env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        yield
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@contextmanager
def rabbitmq(tmp: Path) -> Iterator[str]:
    """A RabbitMQ node of its own: loopback ports, data and Erlang cookie in ``tmp``."""
    port, dist, epmd = free_port(), free_port(), free_port()
    (tmp / "plugins").write_text("")
    env = {
        **os.environ,
        "HOME": str(tmp),
        "RABBITMQ_NODENAME": f"backlight-test-{port}@localhost",
        "RABBITMQ_NODE_IP_ADDRESS": "127.0.0.1",
        "RABBITMQ_NODE_PORT": str(port),
        "RABBITMQ_DIST_PORT": str(dist),
        "ERL_EPMD_PORT": str(epmd),
        "ERL_EPMD_ADDRESS": "127.0.0.1",
        "RABBITMQ_MNESIA_BASE": str(tmp / "mnesia"),
        "RABBITMQ_LOG_BASE": str(tmp / "log"),
        "RABBITMQ_LOGS": "-",
        "RABBITMQ_ENABLED_PLUGINS_FILE": str(tmp / "plugins"),
        "RABBITMQ_CONFIG_FILE": str(tmp / "rabbitmq"),
        "RABBITMQ_ADVANCED_CONFIG_FILE": str(tmp / "advanced.config"),
        "RABBITMQ_CONF_ENV_FILE": str(tmp / "rabbitmq-env.conf"),
    }
    try:
        with process([RABBITMQ], env, tmp / "rabbitmq.log"):
            testing.wait_for(lambda: _accepts(port), f"RabbitMQ ({tmp / 'rabbitmq.log'})", 60)
            yield f"amqp://guest:guest@127.0.0.1:{port}//"
    finally:  # Erlang started a port mapper daemon for the node: stop it too
        epmd_bin = shutil.which("epmd") or "/usr/lib/erlang/bin/epmd"
        subprocess.run([epmd_bin, "-kill"], env=env, capture_output=True, timeout=20)


def _accepts(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
        return True
    except OSError:
        return False


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    with testing.BacklightProcess(Path(tmp_path_factory.mktemp("serve"))) as process:
        yield process


@contextmanager
def shop(server: Any, broker: str, tmp: Path) -> Iterator[dict[str, str]]:
    """The shop under gunicorn; yields the worker's environment (with ``SHOP_URL``)."""
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(APPS), str(Path(backlight.__file__).parents[1])]),
        "BACKLIGHT_TEST_URL": server.url,
        "BACKLIGHT_TEST_PROJECT": server.project,
        "BACKLIGHT_TEST_BROKER": broker,
    }
    web = free_port()
    bind = ["--bind", f"127.0.0.1:{web}", "--workers", "1"]
    gunicorn = [str(Path(sys.executable).parent / "gunicorn"), *bind, "celery_shop:application"]
    with process(gunicorn, {**env, "BACKLIGHT_TEST_SERVICE": "shop-web"}, tmp / "web.log"):
        wait_http(f"http://127.0.0.1:{web}/ready")
        yield {**env, "SHOP_URL": f"http://127.0.0.1:{web}"}


@pytest.fixture(scope="module")
def stack(
    server: Any, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Any, dict[str, str], Path]]:
    """Redis, ``backlight serve`` and the shop; the worker's environment."""
    tmp = Path(tmp_path_factory.mktemp("celery"))
    port = free_port()
    assert REDIS is not None
    redis = [REDIS, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
    with (
        process(redis, {}, tmp / "redis.log"),
        shop(server, f"redis://127.0.0.1:{port}/0", tmp) as env,
    ):
        yield server, env, tmp


def _browser_session(server: Any, session: str, request: str) -> None:
    now = time.time() * 1000
    start = {
        "v": 1,
        "project_id": server.project,
        "session_secure_id": session,
        "started_at": now,
        "url": "http://shop.test/cart",
        "user_agent": "pytest",
        "sdk_version": "0.1.0",
        "environment": "test",
        "service": "storefront",
    }
    entry = {"request_id": request, "type": "fetch", "method": "GET", "status": 200}
    entry |= {"url": "http://shop.test/checkout", "start": now - 50, "end": now, "error": None}
    batch = {"v": 1, "project_id": server.project, "session_secure_id": session, "seq": 0}
    for path, body in (("session", start), ("batch", {**batch, "network": [entry]})):
        r = httpx.post(f"{server.url}/ingest/v1/{path}", json=body, timeout=10)
        assert r.status_code == 200, r.text


WORKERS = {
    "defaults": ([], {}),
    "prefork-root-logger-kept": ([], {"BACKLIGHT_TEST_KEEP_ROOT_LOGGER": "1"}),
    "solo-root-logger-kept": (["--pool", "solo"], {"BACKLIGHT_TEST_KEEP_ROOT_LOGGER": "1"}),
}


@contextmanager
def checkout(
    server: Any, env: dict[str, str], tmp: Path, name: str, args: list[str], extra: dict[str, str]
) -> Iterator[Scenario]:
    """A browser session, a worker, and the session's checkout request enqueuing the tasks."""
    session = secrets.token_urlsafe(21)[:28]
    request_id = secrets.token_hex(16)
    _browser_session(server, session, request_id)
    log = tmp / f"worker-{name}.log"
    worker = [sys.executable, "-m", "celery", "-A", "celery_shop", "worker", *args]
    worker += ["--hostname", f"{name}@%h", "--loglevel", "INFO"]
    with process(worker, {**env, **extra, "BACKLIGHT_TEST_SERVICE": "shop-worker"}, log):
        headers = {
            "x-highlight-request": f"{session}/{request_id}",
            "traceparent": f"00-{request_id}-00f067aa0ba902b7-01",
        }
        page = httpx.get(env["SHOP_URL"] + "/checkout", headers=headers, timeout=10)
        assert page.status_code == 200 and "queued" in page.text
        yield Scenario(name, session, request_id, server, log)


@pytest.fixture(scope="module", params=list(WORKERS))
def scenario(
    request: pytest.FixtureRequest, stack: tuple[Any, dict[str, str], Path]
) -> Iterator[Scenario]:
    """One worker configuration on Redis."""
    args, extra = WORKERS[request.param]
    with checkout(*stack, request.param, args, extra) as s:
        yield s


def flat(spans: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for span in spans:
        out.append(span)
        out.extend(flat(span.get("children") or []))
    return out


def _task_spans(view: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    by_name: dict[str, list[dict[str, Any]]] = {}
    for span in flat(view["spans"]):
        by_name.setdefault(span["name"], []).append(span)
    return by_name


def _all_tasks_ran(s: Scenario) -> dict[str, Any] | None:
    view: dict[str, Any] = s.server.api(f"/api/v1/requests/{s.request}")
    spans = _task_spans(view)
    done = all(len(spans.get(name, [])) == n for name, n in TASKS.items())
    return view if done and view["errors"] else None


def test_tasks_spans_and_one_error_link_to_the_request_and_session(scenario: Scenario) -> None:
    assert_tasks_linked(scenario)


def assert_tasks_linked(s: Scenario) -> None:
    view = testing.wait_for(lambda: _all_tasks_ran(s), f"the tasks' spans ({s.worker_log})", 60)
    spans = _task_spans(view)
    django = [x for x in flat(view["spans"]) if x["name"] == "GET /checkout"]
    assert len(django) == 1, [(x["name"], x["service"]) for x in flat(view["spans"])]
    assert len(django) == 1 and django[0]["service"] == "shop-web"
    for name in TASKS:
        for span in spans[name]:
            assert (span["session_id"], span["request_id"]) == (s.session, s.request), span
            assert span["service"] == "shop-worker" and span["kind"] == 5  # CONSUMER
    # the first task of each enqueue continues the request's trace, under the Django span
    assert spans["shop.charge"][0]["trace_id"] == s.request
    assert spans["shop.charge"][0]["parent_span_id"] == django[0]["span_id"]
    charge = spans["shop.charge"][0]
    assert charge["status_code"] == 2 and "card declined" in charge["status_message"]
    states = sorted(x["attributes"].get("celery.state") for x in spans["shop.flaky"])
    assert states == ["RETRY", "SUCCESS"]
    # one error instance: the span's exception; Celery's own error log of it is no second one
    assert [e["type"] for e in view["errors"]] == ["celery_shop.CardDeclined"]
    error = view["errors"][0]
    assert (error["session_id"], error["request_id"]) == (s.session, s.request)
    session = s.server.api(f"/api/v1/sessions/{s.session}")
    backend = next(n["backend"] for n in session["network"] if n["request_id"] == s.request)
    assert backend["errors"] == 1
    assert backend["spans"] == 1 + sum(TASKS.values())


def test_task_logs_link_to_the_request_and_no_second_error(scenario: Scenario) -> None:
    # with Celery's defaults too: its root-logger takeover no longer removes the capture
    assert_logs_linked(scenario)


def assert_logs_linked(s: Scenario) -> None:
    testing.wait_for(lambda: _all_tasks_ran(s), f"the tasks' spans ({s.worker_log})", 60)

    expected = {"charging order 7", "step 1", "step 2", "step 3", "step 10", "step 20"}
    expected.add("flaky done after 1 retry")

    def logged() -> dict[str, Any] | None:
        # every log the asserts read: the worker's two processes each post spans, then logs
        view: dict[str, Any] = s.server.api(f"/api/v1/requests/{s.request}")
        bodies = {x["body"] for x in view["logs"]}
        unexpected = [b for b in bodies if "raised unexpected" in b]
        return view if expected <= bodies and unexpected else None

    view = testing.wait_for(logged, "the tasks' logs and Celery's error log", 30)
    worker_logs = [x for x in view["logs"] if x["service"] == "shop-worker"]
    for log in worker_logs:
        assert (log["session_id"], log["request_id"]) == (s.session, s.request), log
    assert expected <= {x["body"] for x in worker_logs}
    assert [e["type"] for e in view["errors"]] == ["celery_shop.CardDeclined"]


@pytest.mark.skipif(not os.access(RABBITMQ, os.X_OK), reason="needs Debian's rabbitmq-server")
def test_tasks_link_over_rabbitmq(server: Any, tmp_path: Path) -> None:
    """The same over AMQP (RabbitMQ's headers table), prefork pool, root logger kept."""
    with rabbitmq(tmp_path) as broker, shop(server, broker, tmp_path) as env:
        keep = {"BACKLIGHT_TEST_KEEP_ROOT_LOGGER": "1"}
        with checkout(server, env, tmp_path, "rabbitmq", [], keep) as s:
            assert_tasks_linked(s)
            assert_logs_linked(s)
