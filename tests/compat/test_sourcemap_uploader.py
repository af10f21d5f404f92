"""highlight's real ``@highlight-run/sourcemap-uploader`` (npm, pinned in package.json)
uploads a built folder to a real ``backlight serve``, with only its backend URL changed
(``--backendUrl <backlight>/private``) and a Backlight upload key as its API key.

The folder is a small TypeScript app bundled and minified by esbuild with source maps.
The files must land in the store under the release (``--appVersion``) and the names
``~/<basePath><file>``, byte for byte, and a frontend error of that release must then read
symbolicated (the fixture app of ``server/tests/blsmapp.py``).
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import blsmapp
import httpx
import pytest
from blsmsend import assert_original_api, assert_original_page, group_of, throw_and_ingest

from backlight_server.testing import BacklightProcess

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
NODE = shutil.which("node")
UPLOADER = HERE / "node_modules/@highlight-run/sourcemap-uploader/dist/index.js"
ESBUILD = ROOT / "server/ui/node_modules/.bin/esbuild"

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        NODE is None or not UPLOADER.exists() or not ESBUILD.exists(),
        reason="needs Node and the npm packages (scripts/setup.sh)",
    ),
]

APP = """
export function parse(input: string): number {
  const value = Number(input);
  if (Number.isNaN(value)) {
    throw new Error(`not a number: ${input}`);
  }
  return value;
}

function checkout(items: string[]): number {
  return items.map(parse).reduce((a, b) => a + b, 0);
}

(window as any).checkout = checkout;
"""


@pytest.fixture(scope="module")
def backlight(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BacklightProcess]:
    with BacklightProcess(tmp_path_factory.mktemp("sourcemap-compat")) as server:
        yield server


def build(folder: Path) -> Path:
    (folder / "src").mkdir()
    (folder / "src/app.ts").write_text(APP)
    out = folder / "dist/assets"
    subprocess.run(
        [
            str(ESBUILD),
            "src/app.ts",
            "--bundle",
            "--minify",
            "--sourcemap",
            f"--outfile={out / 'app.js'}",
        ],
        cwd=folder,
        check=True,
        capture_output=True,
    )
    return folder / "dist"


def upload_key(server: BacklightProcess) -> str:
    r = httpx.post(
        f"{server.url}/api/v1/projects/{server.project}/upload-keys",
        headers={"Authorization": f"Bearer {server.token}"},
    )
    assert r.status_code == 201, r.text
    return str(r.json()["key"])


def run_uploader(folder: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(NODE), str(UPLOADER), "upload", *args],
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=120,
    )


def stored(server: BacklightProcess, release: str) -> dict[str, str]:
    r = httpx.get(
        f"{server.url}/api/v1/projects/{server.project}/artifacts",
        params={"release": release},
        headers={"Authorization": f"Bearer {server.token}"},
    )
    return {f["url"]: f["sha256"] for f in r.json()["files"]}


def test_highlight_uploader_uploads_to_backlight(
    backlight: BacklightProcess, tmp_path: Path
) -> None:
    dist = build(tmp_path)
    key = upload_key(backlight)
    backend = f"{backlight.url}/private"
    done = run_uploader(
        tmp_path,
        "--apiKey",
        key,
        "--appVersion",
        "1.4.2",
        "--path",
        "dist",
        "--backendUrl",
        backend,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Uploaded" in done.stdout
    sha = {
        p.relative_to(dist).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in dist.rglob("*")
        if p.is_file()
    }
    assert set(sha) == {"assets/app.js", "assets/app.js.map"}
    assert stored(backlight, "1.4.2") == {f"~/{name}": h for name, h in sha.items()}

    # with a base path, under another release; run twice: the same files, stored once
    for _ in range(2):
        done = run_uploader(
            tmp_path,
            "--apiKey",
            key,
            "--appVersion",
            "1.4.3",
            "--path",
            "dist/assets",
            "--basePath",
            "static/js/",
            "--backendUrl",
            backend,
        )
        assert done.returncode == 0, done.stdout + done.stderr
    assert stored(backlight, "1.4.3") == {
        "~/static/js/app.js": sha["assets/app.js"],
        "~/static/js/app.js.map": sha["assets/app.js.map"],
    }


def test_highlight_uploader_with_a_wrong_key_is_refused(
    backlight: BacklightProcess, tmp_path: Path
) -> None:
    build(tmp_path)
    done = run_uploader(
        tmp_path,
        "--apiKey",
        "blup_wrong",
        "--appVersion",
        "1",
        "--path",
        "dist",
        "--backendUrl",
        f"{backlight.url}/private",
    )
    assert done.returncode != 0 and "invalid api key" in done.stdout + done.stderr
    assert stored(backlight, "1") == {}


def test_a_stack_is_symbolicated_with_maps_from_highlights_uploader(
    backlight: BacklightProcess, tmp_path: Path
) -> None:
    """The maps highlight's uploader stores are the ones symbolication finds: the fixture
    app (nested functions, a library frame) throws, the uploader uploads its build with
    ``--basePath static/``, and the error from ``https://shop.example.com/static/js/app.js``
    reads with its original ``.ts`` frames and source lines, on the API and the group page."""
    app = blsmapp.build(tmp_path)
    done = run_uploader(
        tmp_path,
        "--apiKey",
        upload_key(backlight),
        "--appVersion",
        "3.2.1",
        "--path",
        "dist",
        "--basePath",
        "static/",
        "--backendUrl",
        f"{backlight.url}/private",
    )
    assert done.returncode == 0, done.stdout + done.stderr
    url = "https://shop.example.com/static/js/app.js"
    gid = group_of(backlight, throw_and_ingest(backlight, app, "3.2.1", url))
    assert_original_api(backlight, gid, url)
    assert_original_page(backlight, gid, url)
