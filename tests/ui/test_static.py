"""The UI's static assets from a real ``backlight serve``: pages link content-hashed file
names, which are served precompressed (brotli, gzip) with ``Vary: Accept-Encoding`` and a
year of immutable caching; the bytes decode to the built file."""

from __future__ import annotations

import gzip
import json
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from backlight_server.testing import BacklightProcess

ASSET = re.compile(r'(?:href|src)="(/ui-static/([^"?]+))"')
HASHED = re.compile(r"^[a-z]+-[A-Z0-9]{8}\.(?:js|css)$")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, ui_assets: Path) -> Iterator[BacklightProcess]:
    with BacklightProcess(tmp_path_factory.mktemp("backlight-static")) as running:
        yield running


def _get(server: BacklightProcess, path: str, encoding: str | None) -> tuple[httpx.Response, bytes]:
    """The response and its body exactly as sent (not decoded)."""
    headers = {"Authorization": f"Bearer {server.token}", "Accept": "text/html"}
    if encoding is not None:
        headers["Accept-Encoding"] = encoding
    with httpx.Client(base_url=server.url, timeout=30) as client:
        request = client.build_request("GET", path, headers=headers)
        response = client.send(request, stream=True)
        try:
            return response, b"".join(response.iter_raw())
        finally:
            response.close()


def _unbrotli(data: bytes) -> bytes:
    """Brotli decoded by Node's zlib (Python's standard library has no brotli)."""
    script = (
        "const z=require('zlib');const c=[];process.stdin.on('data',d=>c.push(d));"
        "process.stdin.on('end',()=>process.stdout.write(z.brotliDecompressSync(Buffer.concat(c))))"
    )
    return subprocess.run(
        ["node", "-e", script], input=data, capture_output=True, check=True
    ).stdout


def _page_assets(server: BacklightProcess) -> dict[str, str]:
    names: dict[str, str] = {}
    for path in ("/login", "/sessions", "/alerts"):
        response, body = _get(server, path, "identity")
        assert response.status_code == 200, path
        html = body.decode()
        for url, name in ASSET.findall(html):
            names[name] = url
    return names


def test_pages_link_content_hashed_names_from_the_build_manifest(
    server: BacklightProcess, ui_assets: Path
) -> None:
    manifest = json.loads((ui_assets / "manifest.json").read_text())
    linked = _page_assets(server)
    assert set(linked) == {manifest["app.css"], manifest["app.js"], manifest["alerts.js"]}
    for name in linked:
        assert HASHED.match(name), name
        assert "?" not in linked[name]


@pytest.mark.parametrize(
    ("accept", "coding"),
    [
        ("gzip, deflate, br, zstd", "br"),
        ("br", "br"),
        ("gzip, deflate", "gzip"),
        ("br;q=0, gzip", "gzip"),
        ("*", "br"),
        ("identity", None),
        ("", None),
    ],
)
def test_assets_are_served_compressed_with_immutable_caching(
    server: BacklightProcess, ui_assets: Path, accept: str, coding: str | None
) -> None:
    linked = _page_assets(server)
    assert len(linked) == 3
    for name, url in linked.items():
        built = (ui_assets / name).read_bytes()
        response, raw = _get(server, url, accept)
        assert response.status_code == 200, (url, raw[:200])
        assert response.headers["cache-control"] == "public, max-age=31536000, immutable"
        assert response.headers["vary"] == "Accept-Encoding"
        kind = "text/css" if name.endswith(".css") else "text/javascript"
        assert response.headers["content-type"].startswith(kind)
        assert response.headers.get("content-encoding") == coding, (name, accept)
        assert int(response.headers["content-length"]) == len(raw)
        if coding == "br":
            assert len(raw) < len(built) * 0.6
            assert _unbrotli(raw) == built
        elif coding == "gzip":
            assert len(raw) < len(built) * 0.6
            assert gzip.decompress(raw) == built
        else:
            assert raw == built


def test_source_maps_head_and_unknown_names(server: BacklightProcess, ui_assets: Path) -> None:
    manifest = json.loads((ui_assets / "manifest.json").read_text())
    with httpx.Client(base_url=server.url, timeout=30) as client:
        js = manifest["session.js"]
        head = client.head(f"/ui-static/{js}", headers={"Accept-Encoding": "gzip"})
        assert head.status_code == 200
        assert head.headers["content-encoding"] == "gzip"
        assert int(head.headers["content-length"]) == (ui_assets / f"{js}.gz").stat().st_size
        smap = client.get(f"/ui-static/{js}.map", headers={"Accept-Encoding": "gzip"})
        assert smap.status_code == 200 and smap.headers["content-encoding"] == "gzip"
        assert json.loads(smap.content)["version"] == 3
        for bad in (
            "/ui-static/app.js",  # the logical name is no URL: pages link the hashed one
            f"/ui-static/{js}.gz",  # the precompressed files are chosen, not asked for
            "/ui-static/manifest.json",
            "/ui-static/..%2F..%2Fassets.py",
            "/ui-static/NOPE-ABCDEFGH.js",
        ):
            answer = client.get(bad)
            assert answer.status_code == 404, bad
            assert answer.json()["error"] == "not_found", bad
