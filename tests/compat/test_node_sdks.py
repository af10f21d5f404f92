"""Node backends of a browser session, against a real ``backlight serve``.

Two small Node http APIs (``apps/``) run from the npm packages pinned in ``package.json``:

- ``hl_node.cjs`` uses highlight's Node SDK (@highlight-run/node 3.x) exactly as its docs
  say: ``H.init({projectID, otlpEndpoint})``, then per request ``H.parseHeaders(req.headers)``
  and ``H.log(…, secureSessionId, requestId)`` / ``H.consumeError(err, secureSessionId,
  requestId)``. Its ``otlpEndpoint`` ends with a slash, so it posts to ``//v1/traces`` and
  ``//v1/logs``. The SDK sends the session id but drops the request id and records the
  error in a trace of its own: its error and log must reach the request by time
  (``"match": "time"``). Inside ``H.runWithHeaders(name, req.headers, …)`` (also in its
  docs), its span continues the browser's ``traceparent``, and they link exactly;
- ``otel_node.cjs`` uses plain OpenTelemetry, set up by ``apps/otel_instrumentation.cjs``
  (the recipe in docs/node.md, which must hold that file verbatim): it continues the
  browser's ``traceparent``, so its span, log and exception link to the request exactly.

The test plays the browser: it calls both APIs with the headers our browser SDK sends
(``x-highlight-request``, ``traceparent``), times each call, and posts the session and its
network requests through the browser protocol. Everything stays on loopback.
"""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from backlight_server.testing import BacklightProcess, free_port, wait_for

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
NODE = shutil.which("node")

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(NODE is None, reason="needs Node (scripts/setup.sh)"),
]


@pytest.fixture(scope="module")
def backlight(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BacklightProcess]:
    with BacklightProcess(tmp_path_factory.mktemp("node-compat")) as server:
        yield server


def start_node(
    args: list[str], env: dict[str, str], log: Path
) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [str(NODE), *args],
            cwd=HERE,
            stdout=out,
            stderr=subprocess.STDOUT,
            env={**os.environ, **env, "PORT": str(port)},
        )
    url = f"http://127.0.0.1:{port}"

    def healthy() -> bool:
        if proc.poll() is not None:
            raise AssertionError(f"{args[-1]} exited: {log.read_text()[-2000:]}")
        try:
            return httpx.get(url + "/health", timeout=2).status_code == 200
        except httpx.TransportError:
            return False

    wait_for(healthy, f"{args[-1]} to start", 60)
    return proc, url


@pytest.fixture(scope="module")
def apis(
    backlight: BacklightProcess, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, str]]:
    logs = tmp_path_factory.mktemp("node-apps")
    hl = start_node(
        ["apps/hl_node.cjs"],
        {
            "PROJECT": backlight.project,
            "OTLP": backlight.url + "/",  # a trailing slash: the SDK posts to //v1/traces
        },
        logs / "hl_node.log",
    )
    otel = start_node(
        ["--require", "./apps/otel_instrumentation.cjs", "apps/otel_node.cjs"],
        {
            "BACKLIGHT_URL": backlight.url,
            "BACKLIGHT_PROJECT": backlight.project,
            "SERVICE_NAME": "otel-node",
            "NODE_ENV": "test",
        },
        logs / "otel_node.log",
    )
    yield {"hl": hl[1], "otel": otel[1]}
    for proc, _url in (hl, otel):
        proc.terminate()  # both SDKs flush on SIGTERM
        proc.wait(timeout=20)


def browser_call(url: str, sid: str) -> dict[str, Any]:
    """One fetch as our browser SDK makes it (request id = W3C trace id), as a
    ``network[]`` entry of the browser protocol."""
    rid = secrets.token_hex(16)
    start = time.time() * 1000
    r = httpx.get(
        url,
        timeout=10,
        headers={
            "x-highlight-request": f"{sid}/{rid}",
            "traceparent": f"00-{rid}-{secrets.token_hex(8)}-01",
            "origin": "http://shop.test",
        },
    )
    end = time.time() * 1000
    return {
        "request_id": rid,
        "type": "fetch",
        "method": "GET",
        "url": url,
        "status": r.status_code,
        "start": start,
        "end": end,
        "error": None,
    }


def session_id() -> str:
    return secrets.token_hex(14)  # 28 alphanumerics, as highlight.run and our SDK make


def test_highlight_node_matches_by_time_and_plain_otel_links_exactly(
    backlight: BacklightProcess, apis: dict[str, str]
) -> None:
    sid, project = session_id(), backlight.project
    started = time.time() * 1000
    r = httpx.post(
        backlight.url + "/ingest/v1/session",
        json={
            "v": 1,
            "project_id": project,
            "session_secure_id": sid,
            "started_at": started,
            "url": "http://shop.test/",
            "user_agent": "pytest",
            "sdk_version": "0.1.0",
        },
    )
    assert r.status_code == 200, r.text
    calls = {}
    for name, url in (
        ("hl ok", apis["hl"] + "/ok"),
        ("hl fail", apis["hl"] + "/fail"),
        ("hl wrapped", apis["hl"] + "/fail-wrapped"),
        ("otel fail", apis["otel"] + "/fail"),
    ):
        calls[name] = browser_call(url, sid)  # one after the other: never two in flight
    assert [c["status"] for c in calls.values()] == [200, 500, 500, 500]
    r = httpx.post(
        backlight.url + "/ingest/v1/batch",
        json={
            "v": 1,
            "project_id": project,
            "session_secure_id": sid,
            "seq": 0,
            "network": list(calls.values()),
        },
    )
    assert r.status_code == 200, r.text

    def request(name: str) -> dict[str, Any]:
        return backlight.api(f"/api/v1/requests/{calls[name]['request_id']}")

    def messages(view: dict[str, Any]) -> dict[str, str]:
        return {e["message"]: e["match"] for e in view["errors"]}

    def bodies(view: dict[str, Any]) -> dict[str, str]:
        return {lg["body"]: lg["match"] for lg in view["logs"]}

    # highlight's Node SDK: session id only, so its error and log match by time
    hl = wait_for(
        lambda: (v := request("hl fail"))["errors"] and v["logs"] and v,
        "hl-node's error and log on the request",
        60,
    )
    assert messages(hl) == {"hl node inventory exploded": "time"}
    assert bodies(hl) == {"hl node: stock check failing": "time"}
    assert hl["session_secure_id"] == sid
    assert "hl-node" in hl["services"]
    assert hl["errors"][0]["trace_id"] != calls["hl fail"]["request_id"]  # its own trace
    assert hl["logs"][0]["trace_id"] is None
    ok = request("hl ok")
    assert (ok["errors"], ok["logs"]) == ([], [])
    # … unless the handler runs inside H.runWithHeaders: then they link exactly
    wrapped = wait_for(
        lambda: (v := request("hl wrapped"))["errors"] and v["logs"] and v,
        "hl-node's error and log inside H.runWithHeaders",
        60,
    )
    assert messages(wrapped) == {"hl node wrapped inventory exploded": "exact"}
    assert bodies(wrapped) == {"hl node wrapped: stock check failing": "exact"}
    assert wrapped["trace_ids"] == [calls["hl wrapped"]["request_id"]]

    # plain OpenTelemetry: the server span continues the browser's trace, exact links
    otel = wait_for(
        lambda: (v := request("otel fail"))["errors"] and v["logs"] and v,
        "the OpenTelemetry service's error and log on the request",
        60,
    )
    assert messages(otel) == {"otel node inventory exploded": "exact"}
    assert bodies(otel) == {"otel node: stock check failing": "exact"}
    assert otel["trace_ids"] == [calls["otel fail"]["request_id"]]
    assert otel["services"] == ["otel-node"]
    assert otel["spans"][0]["status_code"] == 2  # ERROR

    # the session's per-request badges count them on the right rows
    session: dict[str, Any] = backlight.api(f"/api/v1/sessions/{sid}")
    backend = {n["request_id"]: n["backend"] for n in session["network"]}
    assert [
        (backend[c["request_id"]]["errors"], backend[c["request_id"]]["logs"])
        for c in calls.values()
    ] == [(0, 0), (1, 1), (1, 1), (1, 1)]

    # the UI's request view marks what matched by time
    with httpx.Client(base_url=backlight.url, follow_redirects=True, timeout=30) as ui:
        assert ui.get("/login", params={"token": backlight.token}).status_code == 200
        hl_page = ui.get(f"/requests/{calls['hl fail']['request_id']}").text
        assert "hl node inventory exploded" in hl_page
        assert hl_page.count("matched by time") == 2
        otel_page = ui.get(f"/requests/{calls['otel fail']['request_id']}").text
        assert "otel node inventory exploded" in otel_page
        assert "matched by time" not in otel_page


def test_docs_hold_the_tested_recipe() -> None:
    recipe = (HERE / "apps" / "otel_instrumentation.cjs").read_text()
    assert recipe.strip() in (ROOT / "docs" / "node.md").read_text()
