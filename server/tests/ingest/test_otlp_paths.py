"""OTLP/HTTP at ``//v1/…``: where an SDK sends when its endpoint ends with a slash.

highlight's Node SDK appends ``/v1/traces`` to ``otlpEndpoint``, so
``otlpEndpoint: "http://host:8082/"`` posts to ``http://host:8082//v1/traces``.
"""

from __future__ import annotations

import secrets
import time

import httpx
import pytest

from bltest import AUTH

BROWSER = {"Origin": "http://app.example", "Sec-Fetch-Site": "cross-site"}


def _resource(project: str) -> dict[str, object]:
    return {
        "attributes": [
            {"key": "service.name", "value": {"stringValue": "slashes"}},
            {"key": "highlight.project_id", "value": {"stringValue": project}},
        ]
    }


@pytest.mark.parametrize("headers", [{}, BROWSER])
async def test_doubled_slash_paths_are_served(
    client: httpx.AsyncClient, project: str, headers: dict[str, str]
) -> None:
    now = time.time_ns()
    trace_id = secrets.token_hex(16)
    spans = {
        "resourceSpans": [
            {
                "resource": _resource(project),
                "scopeSpans": [
                    {
                        "spans": [
                            {
                                "traceId": trace_id,
                                "spanId": secrets.token_hex(8),
                                "name": "GET /",
                                "kind": 2,
                                "startTimeUnixNano": str(now),
                                "endTimeUnixNano": str(now + 1000),
                            }
                        ]
                    }
                ],
            }
        ]
    }
    logs = {
        "resourceLogs": [
            {
                "resource": _resource(project),
                "scopeLogs": [
                    {
                        "logRecords": [
                            {
                                "timeUnixNano": str(now),
                                "severityNumber": 9,
                                "traceId": trace_id,
                                "spanId": secrets.token_hex(8),
                                "body": {"stringValue": "through //v1/logs"},
                            }
                        ]
                    }
                ],
            }
        ]
    }
    for path, body in (("traces", spans), ("logs", logs), ("metrics", {"resourceMetrics": []})):
        r = await client.post(f"http://backlight//v1/{path}", json=body, headers=headers)
        assert r.status_code == 200, r.text
        if headers:
            assert r.headers["access-control-allow-origin"] == BROWSER["Origin"]
    trace = (await client.get(f"/api/v1/traces/{trace_id}", headers=AUTH)).json()
    assert trace["span_count"] == 1
    assert [lg["body"] for lg in trace["logs"]] == ["through //v1/logs"]


async def test_doubled_slash_preflight(client: httpx.AsyncClient) -> None:
    r = await client.options(
        "http://backlight//v1/traces",
        headers={
            **BROWSER,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type",
        },
    )
    assert r.status_code == 204
    assert r.headers["access-control-allow-origin"] == BROWSER["Origin"]
    assert "POST" in r.headers["access-control-allow-methods"]
