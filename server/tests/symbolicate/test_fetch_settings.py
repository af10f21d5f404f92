"""A project's fetch settings through the API (``/api/v1/projects/{id}/sourcemap-fetch``:
typed, refusals naming the field and the limit) and the CLI (``backlight project
sourcemap-fetch``)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import httpx

from bltest import AUTH


async def test_api_get_put_and_refusals(client: httpx.AsyncClient, project: str) -> None:
    path = f"/api/v1/projects/{project}/sourcemap-fetch"
    r = await client.get(path, headers=AUTH)
    assert r.status_code == 200
    assert r.json() == {
        "project_id": project,
        "enabled": False,
        "origins": [],
        "updated_ms": 0.0,
        "recent": [],
    }
    body = {"enabled": True, "origins": ["HTTPS://CDN.Example.com:443", "https://*.example.net"]}
    r = await client.put(path, json=body, headers=AUTH)
    assert r.status_code == 200, r.text
    assert r.json()["origins"] == ["https://cdn.example.com", "https://*.example.net"]
    got = (await client.get(path, headers=AUTH)).json()
    assert got["enabled"] is True and got["origins"] == r.json()["origins"]

    r = await client.put(path, json={"enabled": True, "origins": ["ftp://x.com"]}, headers=AUTH)
    assert r.status_code == 400
    assert r.json()["error"] == "invalid_origin"
    assert r.json()["detail"].startswith("origins[0]: 'ftp://x.com' is not an origin")
    many = [f"https://h{i}.example.com" for i in range(51)]
    r = await client.put(path, json={"enabled": True, "origins": many}, headers=AUTH)
    assert r.status_code == 400
    assert r.json()["error"] == "invalid_parameter"
    assert "body.origins" in r.json()["detail"] and "at most 50" in r.json()["detail"]
    r = await client.put(
        path, json={"enabled": True, "origins": ["https://" + "a" * 300]}, headers=AUTH
    )
    assert r.status_code == 400 and "at most 256 characters" in r.json()["detail"]
    assert (await client.get(path, headers=AUTH)).json()["origins"] == got["origins"]  # unchanged

    r = await client.get("/api/v1/projects/nope/sourcemap-fetch", headers=AUTH)
    assert r.status_code == 404 and r.json()["error"] == "not_found"
    assert (await client.get(path)).status_code == 401  # the access token only

    doc = (await client.get("/api/openapi.json", headers=AUTH)).json()
    put = doc["paths"]["/api/v1/projects/{project_id}/sourcemap-fetch"]["put"]
    schema = put["requestBody"]["content"]["application/json"]["schema"]["$ref"].split("/")[-1]
    origins = doc["components"]["schemas"][schema]["properties"]["origins"]
    assert origins["maxItems"] == 50 and origins["items"]["maxLength"] == 256
    assert set(put["responses"]) >= {"200", "400", "401", "404"}


def test_cli(tmp_path: Path) -> None:
    def backlight(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "backlight_server", *args, "--data-dir", str(tmp_path)],
            capture_output=True,
            text=True,
            timeout=60,
        )

    project = backlight("project", "create", "shop").stdout.strip()
    done = backlight("project", "sourcemap-fetch", "show", "--project", project)
    assert done.returncode == 0 and done.stdout == "fetch: off\n"
    done = backlight(
        "project", "sourcemap-fetch", "set", "--project", project, "--on",
        "--origin", "HTTPS://CDN.example.com/", "--origin", "http://127.0.0.1:8090",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    expected = "fetch: on\norigin: https://cdn.example.com\norigin: http://127.0.0.1:8090\n"
    assert done.stdout == expected
    assert backlight("project", "sourcemap-fetch", "show", "--project", project).stdout == expected
    done = backlight("project", "sourcemap-fetch", "set", "--project", project, "--off")
    assert done.stdout == expected.replace("on", "off", 1)  # the origins are kept
    done = backlight(
        "project", "sourcemap-fetch", "set", "--project", project, "--origin", "ftp://x"
    )
    assert (
        done.returncode == 2 and "--origin: origins[0]: 'ftp://x' is not an origin" in done.stderr
    )
    done = backlight("project", "sourcemap-fetch", "show", "--project", "nope")
    assert done.returncode == 1 and "no project 'nope'" in done.stderr
