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
echo "== pytest"
mkdir -p artifacts
pytest "$@"
