"""Build steps of ``backlight-server`` beyond pyproject.toml: the web UI's assets and the
browser SDK, built by npm and put inside the package (setup.py installs these commands).

- ``build_py`` (every wheel: ``pip install ./server``, ``pip wheel``, ``python -m build``,
  ``pipx install``): empties ``build/lib`` and any ``build/bdist.*`` first, so nothing a
  former build left there reaches the wheel; then, from a checkout, runs ``npm ci`` (only
  where ``node_modules`` is missing) and ``npm run build`` in ``server/ui`` and
  ``sdk/browser``, and copies into the package ``ui/static/build/`` (``manifest.json`` and
  the files it names, with their ``.gz`` and ``.br``; no source maps) and ``sdk_assets/``
  (``backlight.js``, ``backlight.esm.js``).
- ``sdist``: carries those built files, not the npm sources (``sdk/browser`` lies outside
  ``server/``, where an sdist cannot reach), so a wheel built from the sdist needs no Node.
- Editable installs (``pip install -e``) build nothing: the server reads the checkout's
  builds, which ``scripts/setup.sh`` makes.

Without npm the build stops with one line saying so.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from setuptools.command.build_py import build_py
from setuptools.command.sdist import sdist
from setuptools.errors import SetupError

SERVER = Path(__file__).resolve().parent
PACKAGE = SERVER / "src" / "backlight_server"
UI_BUILD = PACKAGE / "ui" / "static" / "build"  # where server/ui/build.mjs writes
PACKAGED_SDK = PACKAGE / "sdk_assets"  # in an unpacked sdist: the SDK, built
UI_SOURCES = SERVER / "ui"  # a checkout's; an sdist has none
SDK_SOURCES = SERVER.parent / "sdk" / "browser"
SDK_FILES = ("backlight.js", "backlight.esm.js")
# what build.mjs names: name-HASH.ext (ui/assets.py serves exactly these)
HASHED = re.compile(r"^[A-Za-z0-9_]+-[A-Z0-9]{8}\.(?:js|css)$")
NPM_MISSING = (
    "npm is not on PATH: building backlight-server bundles its web UI and browser SDK "
    "with npm (Node.js 20); install them, or build the wheel from the sdist, which "
    "carries both built"
)


def _npm(args: list[str], cwd: Path) -> None:
    npm = shutil.which("npm")
    if npm is None:
        raise SetupError(NPM_MISSING)
    try:
        subprocess.run([npm, *args], cwd=cwd, check=True)
    except subprocess.CalledProcessError as exc:
        raise SetupError(
            f"`npm {' '.join(args)}` in {cwd} failed (exit status {exc.returncode})"
        ) from None


def _build(sources: Path) -> None:
    if not (sources / "node_modules").is_dir():
        _npm(["ci", "--no-audit", "--no-fund", "--loglevel=error"], sources)
    _npm(["run", "--silent", "build"], sources)


def build_assets() -> tuple[Path, Path]:
    """The UI build folder and the SDK folder: built now from a checkout, or as an sdist
    carries them."""
    if not (UI_SOURCES / "package.json").is_file():  # an unpacked sdist
        for need in (UI_BUILD / "manifest.json", *(PACKAGED_SDK / f for f in SDK_FILES)):
            if not need.is_file():
                raise SetupError(f"no {need}: this sdist was made without its built assets")
        return UI_BUILD, PACKAGED_SDK
    if not (SDK_SOURCES / "package.json").is_file():
        raise SetupError(f"no {SDK_SOURCES}: build from a whole checkout, or from the sdist")
    if shutil.which("npm") is None:  # before anything starts
        raise SetupError(NPM_MISSING)
    with ThreadPoolExecutor(2) as pool:  # npm ci mostly unpacks: the two overlap well
        for done in [pool.submit(_build, d) for d in (UI_SOURCES, SDK_SOURCES)]:
            done.result()
    return UI_BUILD, SDK_SOURCES / "dist"


def asset_files(ui_build: Path) -> list[str]:
    """The UI files to package: the manifest and what it names, precompressed too; never a
    source map, never a file a former build left beside them."""
    try:
        names = json.loads((ui_build / "manifest.json").read_text("utf-8"))
    except (OSError, ValueError) as exc:
        raise SetupError(f"{ui_build / 'manifest.json'}: {exc}") from None
    files = ["manifest.json"]
    for name in sorted(set(names.values())):
        if not (isinstance(name, str) and HASHED.match(name)):
            raise SetupError(f"{ui_build / 'manifest.json'} names {name!r}")
        if not (ui_build / name).is_file():
            raise SetupError(f"{ui_build / name} is missing (named by manifest.json)")
        files += [f for f in (name, name + ".gz", name + ".br") if (ui_build / f).is_file()]
    return files


def copy_assets(ui_build: Path, sdk: Path, package: Path) -> None:
    """The built files into ``package`` (a ``backlight_server`` folder being packaged)."""
    ui_out, sdk_out = package / "ui" / "static" / "build", package / "sdk_assets"
    for folder in (ui_out, sdk_out):
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
    for name in asset_files(ui_build):
        shutil.copyfile(ui_build / name, ui_out / name)
    for name in SDK_FILES:
        if not (sdk / name).is_file():
            raise SetupError(f"{sdk / name} is missing after the browser SDK's build")
        shutil.copyfile(sdk / name, sdk_out / name)


class BuildPy(build_py):
    """``build_py``, then the built assets into the package (not for editable installs)."""

    def run(self) -> None:
        if self.editable_mode:
            super().run()
            return
        base = Path(getattr(self.get_finalized_command("build"), "build_base", "build"))
        for stale in (Path(self.build_lib), *base.glob("bdist.*")):
            shutil.rmtree(stale, ignore_errors=True)
        super().run()
        copy_assets(*build_assets(), Path(self.build_lib) / "backlight_server")


class Sdist(sdist):
    """``sdist``, with the built assets in the release tree (and no npm sources)."""

    def make_release_tree(self, base_dir: str, files: list[str]) -> None:
        super().make_release_tree(base_dir, files)
        copy_assets(*build_assets(), Path(base_dir) / "src" / "backlight_server")


cmdclass = {"build_py": BuildPy, "sdist": Sdist}
