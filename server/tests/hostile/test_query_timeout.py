"""A read that runs past ``query_timeout_ms`` answers 503 ``query_timeout`` (JSON, with
Retry-After), on the API and on UI pages, instead of a 500."""

from __future__ import annotations

from pathlib import Path

import httpx

from backlight_server.testing import BacklightProcess
from bltest import AUTH, batch, network_entry, request_id, session_id


def test_query_past_the_time_limit_is_a_503(tmp_path: Path) -> None:
    with BacklightProcess(tmp_path, args=["--query-timeout-ms", "0"]) as server:
        _check(server)


def _check(server: BacklightProcess) -> None:
    sid = session_id()
    entries = [network_entry(request_id()) for _ in range(3000)]
    r = httpx.post(
        server.url + "/ingest/v1/batch",
        timeout=60,
        json=batch(server.project, sid, 0, network=entries),
    )
    assert r.status_code == 200, r.text
    for path in (f"/api/v1/sessions/{sid}", f"/sessions/{sid}"):
        r = httpx.get(server.url + path, headers=AUTH, timeout=60)
        assert r.status_code == 503, (path, r.status_code, r.text[:300])
        assert r.json()["error"] == "query_timeout"
        assert "query_timeout_ms (0 ms)" in r.json()["detail"]
        assert r.headers["retry-after"] == "5"
    assert httpx.get(server.url + "/healthz").status_code == 200
