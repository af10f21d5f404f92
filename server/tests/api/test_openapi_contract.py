"""schemathesis against ``/api/openapi.json`` of a real server, with the token: no server
errors, and every status code, content type and body the API answers is the one its
OpenAPI document states (issue 16: the documented codes were 422 where 400 is answered)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings

from backlight_server.testing import BacklightProcess
from bltest import AUTH, batch, network_entry, request_id, rrweb_events, session_id, session_start

EXAMPLES = int(os.environ.get("BACKLIGHT_SCHEMATHESIS_EXAMPLES", "25"))


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BacklightProcess]:
    with BacklightProcess(tmp_path_factory.mktemp("contract")) as proc:
        sid = session_id()
        httpx.post(proc.url + "/ingest/v1/session", json=session_start(proc.project, sid))
        httpx.post(
            proc.url + "/ingest/v1/batch",
            json=batch(
                proc.project,
                sid,
                0,
                events=rrweb_events(),
                network=[network_entry(request_id())],
                errors=[
                    {"ts": 1.0e3 * __import__("time").time(), "type": "Error", "message": "seed"}
                ],
            ),
        )
        yield proc


@pytest.fixture(scope="module")
def api_schema(server: BacklightProcess) -> Any:
    document = httpx.get(server.url + "/api/openapi.json", headers=AUTH).json()
    loaded = schemathesis.openapi.from_dict(document)
    loaded.config.update(base_url=server.url)
    return loaded


def test_api_answers_as_documented(api_schema: Any) -> None:
    # schemathesis' own pytest plugin does not run under pytest 9; its strategies do
    operations = [result.ok() for result in api_schema.get_all_operations()]
    assert len(operations) >= 10
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            derandomize=True,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        def check(case: Any) -> None:
            case.call_and_validate(headers=AUTH)

        check()


def test_without_token_every_route_answers_documented_401(server: BacklightProcess) -> None:
    doc = httpx.get(server.url + "/api/openapi.json", headers=AUTH).json()
    for path, operations in doc["paths"].items():
        for method, op in operations.items():
            url = server.url + path.replace("{secure_id}", "x").replace("{group_id}", "1").replace(
                "{request_id}", "r"
            ).replace("{trace_id}", "t")
            r = httpx.request(method.upper(), url)
            assert r.status_code == 401, (method, path, r.status_code)
            assert "401" in op["responses"], (method, path)
            assert r.json()["error"] == "unauthorized"
