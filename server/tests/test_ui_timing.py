"""Every UI page says what it cost in ``Server-Timing``: ``page`` (wall clock, queries and
rendering) and ``cpu`` (the CPU time of the thread that ran it: what the machine's load does
not inflate; bench/ui_pages.py reports both)."""

from __future__ import annotations

import re

import httpx

from bltest import AUTH

TIMING = re.compile(r"page;dur=(\d+\.\d\d), cpu;dur=(\d+\.\d\d)\Z")


async def test_pages_send_their_wall_and_cpu_time(client: httpx.AsyncClient) -> None:
    for path in ("/sessions", "/logs?q=anything", "/traces?service=api", "/errors", "/setup"):
        r = await client.get(path, headers=AUTH)
        assert r.status_code == 200, (path, r.status_code)
        found = TIMING.match(r.headers["server-timing"])
        assert found, (path, r.headers["server-timing"])
        wall, cpu = float(found[1]), float(found[2])
        assert cpu >= 0 and wall > 0, path
