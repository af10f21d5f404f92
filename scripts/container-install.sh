#!/usr/bin/env bash
# The Python stage of the container image (Dockerfile): installs the server into PREFIX/venv
# from requirements/server.lock, with the UI assets and the browser SDK that the Node stage
# built. tests/install/test_container.py runs it the same way in a fresh folder.
#
# Usage (from the build folder: the repository root, or the image's /build):
#   bash scripts/container-install.sh PREFIX
# Expects server/ with the built UI in server/src/backlight_server/ui/static/build and the
# browser SDK in server/src/backlight_server/sdk_assets (backlight.js, backlight.esm.js):
# where an sdist of the server carries them, so the wheel's build takes them as built
# (server/build_hooks.py) instead of running npm, which this stage does not have.
# pip reads its options from the environment as usual (PIP_INDEX_URL, PIP_NO_INDEX, ...).
set -euo pipefail
# only the venv's own packages (a test runner's PYTHONPATH would shadow them)
unset PYTHONPATH
prefix="${1:?usage: container-install.sh PREFIX}"
pkg=server/src/backlight_server
fail() { echo "container-install: $*" >&2; exit 1; }
[ -f requirements/server.lock ] || fail "requirements/server.lock missing (run from the build folder)"
[ -f "$pkg/ui/static/build/manifest.json" ] \
  || fail "$pkg/ui/static/build/manifest.json missing: build the UI first (npm ci && npm run build in server/ui)"
for f in backlight.js backlight.esm.js; do
  [ -f "$pkg/sdk_assets/$f" ] || fail "$pkg/sdk_assets/$f missing: build the browser SDK first (npm ci && npm run build in sdk/browser)"
done
# no source maps in the image (the UI build writes them beside each file, compressed too)
find "$pkg/ui/static/build" -name '*.map*' -delete
# a build folder from elsewhere would leak old files into the wheel; the npm sources go, as
# in an sdist (their build is done)
rm -rf server/build server/ui

# a venv without pip: this pip installs into it (--python), and the image runs no pip
python3 -m venv --without-pip "$prefix/venv"
py="$prefix/venv/bin/python"
pip=(python3 -m pip --python "$py")
"${pip[@]}" install --quiet --no-deps -r requirements/server.lock
"${pip[@]}" install --quiet --no-deps --no-build-isolation ./server
rm -rf server/build
# The browser SDK served at /sdk/backlight.js: packaged by the wheel's build (sdk_assets);
# a server whose build does not package it reads static/sdk (its app.sdk_dir), copied in here.
site="$("$py" -c 'import backlight_server, pathlib; print(pathlib.Path(backlight_server.__file__).parent)')"
if [ ! -f "$site/sdk_assets/backlight.js" ]; then
  mkdir -p "$site/static/sdk"
  cp "$pkg/sdk_assets/backlight.js" "$pkg/sdk_assets/backlight.esm.js" "$site/static/sdk/"
fi
[ -f "$site/ui/static/build/manifest.json" ] || fail "the installed server has no UI assets ($site/ui/static/build)"
"${pip[@]}" check
"$prefix/venv/bin/backlight" --version
