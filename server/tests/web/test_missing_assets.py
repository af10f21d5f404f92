"""Issue 23: a server without its built files (no UI build, no browser SDK) says so in one
log line at start-up, and their URLs answer 404 with the JSON error, never 500; where
``/sdk/`` serves from (the setting, the packaged copy, a checkout's build)."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from backlight_server import testing
from backlight_server.app import create_app
from backlight_server.settings import Settings, settings_from_env
from backlight_server.ui import assets
from backlight_server.web import sdkfiles
from bltest import AUTH, TOKEN


def _app(data: Path, **settings: str) -> FastAPI:
    return create_app(
        Settings(
            data_dir=data,
            store=testing.test_store_url(data),
            auth_token=TOKEN,
            retention_days=0,
            otlp_grpc_port=0,
            **settings,  # type: ignore[arg-type]
        )
    )


@pytest.fixture
def bare(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> Iterator[FastAPI]:
    """The app as a wheel built without its assets would run: nothing built anywhere."""
    monkeypatch.setattr(assets, "BUILD_DIR", tmp_path / "no-ui-build")
    with caplog.at_level(logging.WARNING, logger="backlight"):
        app = _app(tmp_path / "data", sdk_dir=str(tmp_path / "no-sdk"))
    yield app
    app.state.backlight.store.close()


@pytest.fixture
async def client(bare: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=bare, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://backlight") as c:
        yield c


async def test_missing_assets_are_reported_in_one_line_and_answer_404(
    bare: FastAPI, client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture, tmp_path: Path
) -> None:
    logged = caplog.get_records("setup")  # the app starts in the fixture
    said = [r for r in logged if "missing" in r.getMessage()]
    assert len(said) == 1, [r.getMessage() for r in logged]
    line = said[0].getMessage()
    assert "\n" not in line and said[0].levelno == logging.WARNING
    for part in (
        f"/ui-static/* (no UI build: no {tmp_path / 'no-ui-build' / 'manifest.json'})",
        f"/sdk/backlight.js (no {tmp_path / 'no-sdk' / 'backlight.js'})",
        f"/sdk/backlight.esm.js (no {tmp_path / 'no-sdk' / 'backlight.esm.js'})",
    ):
        assert part in line, line

    for path in ("/sdk/backlight.js", "/sdk/backlight.esm.js", "/sdk/x/y.js"):
        for method in ("GET", "HEAD"):
            r = await client.request(method, path, headers={"Accept": "text/html"})
            assert r.status_code == 404, (method, path, r.status_code)
        r = await client.get(path)
        assert r.json() == {
            "error": "not_found",
            "detail": f"the browser SDK is not installed here (no folder {tmp_path / 'no-sdk'})",
        }
    for name in ("app.js", "app-ABCDEFGH.js", "session-ABCDEFGH.css"):
        r = await client.get(f"/ui-static/{name}")
        assert r.status_code == 404 and r.json()["error"] == "not_found", name

    # the pages still render, unstyled, linking the plain names (which answer 404)
    r = await client.get("/sessions", headers=AUTH)
    assert r.status_code == 200 and 'src="/ui-static/app.js"' in r.text


async def test_an_sdk_folder_without_the_files_answers_404(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    ui = tmp_path / "ui-build"  # a whole UI build, so the line names the SDK's file alone
    ui.mkdir()
    (ui / "manifest.json").write_text('{"app.js": "app-ABCDEFGH.js"}')
    (ui / "app-ABCDEFGH.js").write_text("")
    monkeypatch.setattr(assets, "BUILD_DIR", ui)
    folder = tmp_path / "sdk"
    folder.mkdir()
    (folder / "backlight.js").write_text("window.H = {};\n")
    with caplog.at_level(logging.WARNING, logger="backlight"):
        app = _app(tmp_path / "data", sdk_dir=str(folder))
    try:
        said = [r.getMessage() for r in caplog.records if "missing" in r.getMessage()]
        assert said == [
            "built assets missing, these URLs answer 404: "
            f"/sdk/backlight.esm.js (no {folder / 'backlight.esm.js'}). A wheel carries "
            "them; in a checkout, scripts/setup.sh builds them"
        ]
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://backlight") as c:
            r = await c.get("/sdk/backlight.js")
            assert r.status_code == 200 and r.text == "window.H = {};\n"
            assert r.headers["etag"]
            again = await c.get("/sdk/backlight.js", headers={"if-none-match": r.headers["etag"]})
            assert again.status_code == 304
            r = await c.get("/sdk/backlight.esm.js")
            assert r.status_code == 404 and r.json()["error"] == "not_found"
    finally:
        app.state.backlight.store.close()


def test_sdk_folder_the_setting_then_the_packaged_copy_then_the_checkout(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    packaged, checkout = tmp_path / "site-packages" / "sdk_assets", tmp_path / "repo"
    monkeypatch.setattr(sdkfiles, "PACKAGED", packaged)
    monkeypatch.setattr(sdkfiles, "CHECKOUT", checkout)
    assert sdkfiles.find() == packaged  # neither: the packaged place, reported missing
    checkout.mkdir()
    (checkout / "package.json").write_text("{}")
    assert sdkfiles.find() == checkout / "dist"  # an editable install
    packaged.mkdir(parents=True)
    (packaged / "backlight.js").write_text("")
    assert sdkfiles.find() == packaged  # an installed wheel
    assert sdkfiles.find(str(tmp_path / "mine")) == tmp_path / "mine"
    env = {"BACKLIGHT_SDK_DIR": str(tmp_path / "env")}
    assert sdkfiles.find(settings_from_env(environ=env).sdk_dir) == tmp_path / "env"


def test_this_checkout_serves_its_own_builds_without_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A checkout with scripts/setup.sh's builds: the UI's and sdk/browser/dist."""
    if assets.missing() or not (sdkfiles.CHECKOUT / "dist" / "backlight.js").is_file():
        pytest.fail("the UI or the browser SDK is not built: run scripts/setup.sh")
    assert sdkfiles.find() in (sdkfiles.CHECKOUT / "dist", sdkfiles.PACKAGED)
    with caplog.at_level(logging.WARNING, logger="backlight"):
        app = _app(tmp_path / "data")
    app.state.backlight.store.close()
    assert not [r for r in caplog.records if "missing" in r.getMessage()]
