#!/usr/bin/env bash
# Installs what is needed, then runs the whole test suite: lint, types, browser SDK unit
# tests, and pytest (server, Python SDK, end-to-end in Chromium).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
bash scripts/setup.sh
export PATH="$ROOT/.venv/bin:$PATH"
echo "== ruff"; ruff check .
echo "== format"; ruff format --check .
echo "== mypy"; mypy
# the tests, strict too; one run per test root (each has its own conftest and helpers)
echo "== mypy (tests)"
MYPYPATH=server/tests mypy --config-file pyproject.toml --strict server/tests
MYPYPATH=server/tests mypy --config-file pyproject.toml --strict tests conftest.py
MYPYPATH=sdk/python/tests mypy --config-file pyproject.toml --strict sdk/python/tests
echo "== UI typecheck"; (cd server/ui && npm run --silent typecheck)
if [ -f sdk/browser/package.json ]; then
  echo "== browser SDK unit tests"; (cd sdk/browser && npm test --silent)
fi
mkdir -p artifacts
# The Python SDK's suite on the other Pythons and OpenTelemetry releases (scripts/sdk-matrix.sh):
# in the background at low priority, since it mostly waits; BACKLIGHT_SDK_MATRIX=0 skips it.
matrix=""
if [ "${BACKLIGHT_SDK_MATRIX:-1}" != 0 ]; then
  bash scripts/sdk-matrix.sh > artifacts/sdk-matrix.txt 2>&1 &
  matrix=$!
fi
echo "== pytest"
# Two workers (pytest-xdist), each taking a whole test file at a time, so that a file's
# module fixtures (a server, a browser) start once; BACKLIGHT_TEST_WORKERS=0 runs in one process.
workers=(-n "${BACKLIGHT_TEST_WORKERS:-2}" --dist loadfile)
[ "${BACKLIGHT_TEST_WORKERS:-2}" = 0 ] && workers=(-p no:xdist)
set +e
pytest "${workers[@]}" "$@" 2>&1 | tee artifacts/pytest.txt
status=${PIPESTATUS[0]}
matrix_status=0
if [ -n "$matrix" ]; then
  wait "$matrix"; matrix_status=$?
  echo "== Python SDK matrix (logs in artifacts/sdk-matrix/)"
  cat artifacts/sdk-matrix.txt
  echo "== pytest (the main run's closing line again)"
  tail -n 1 artifacts/pytest.txt
fi
set -e
[ "$status" = 0 ] || exit "$status"
exit "$matrix_status"
