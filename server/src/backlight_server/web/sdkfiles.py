"""The browser SDK's files at ``/sdk/`` (``backlight.js``, the IIFE that sets ``window.H``,
and ``backlight.esm.js``).

Where they come from, first match: the ``sdk_dir`` setting (``BACKLIGHT_SDK_DIR``); the
copy packaged with the server (``backlight_server/sdk_assets/``, put there by the wheel's
build, ``server/build_hooks.py``); a checkout's ``sdk/browser/dist`` (an editable install,
built by ``scripts/setup.sh``). A folder that is not there answers 404 under ``/sdk/``
(Starlette's ``StaticFiles`` would answer 500), and the app reports it at start-up.
"""

from __future__ import annotations

from pathlib import Path

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

PACKAGE = Path(__file__).resolve().parents[1]  # backlight_server/
PACKAGED = PACKAGE / "sdk_assets"
# server/src/backlight_server → the checkout's sdk/browser (nothing there once installed)
CHECKOUT = PACKAGE.parents[2] / "sdk" / "browser"
FILES = ("backlight.js", "backlight.esm.js")
PREFIX = "/sdk"


def find(configured: str = "") -> Path:
    """The folder ``/sdk/`` serves (it may not exist: ``missing`` says so)."""
    if configured:
        return Path(configured).expanduser()
    if (PACKAGED / FILES[0]).is_file():
        return PACKAGED
    if (CHECKOUT / "package.json").is_file():
        return CHECKOUT / "dist"
    return PACKAGED


def missing(folder: Path) -> list[str]:
    """What of the SDK's files is not in ``folder``, one phrase per URL."""
    return [
        f"{PREFIX}/{name} (no {folder / name})" for name in FILES if not (folder / name).is_file()
    ]


def routes(folder: Path) -> list[BaseRoute]:
    """``/sdk/`` served from ``folder`` (``ETag``, ``304``, ``HEAD``), or 404 throughout."""
    if folder.is_dir():
        return [Mount(PREFIX, StaticFiles(directory=folder, check_dir=False), name="sdk")]

    async def absent(request: Request) -> Response:
        raise HTTPException(404, f"the browser SDK is not installed here (no folder {folder})")

    return [Route(PREFIX + "/{name:path}", absent, methods=["GET", "HEAD"])]
