#!/usr/bin/env bash
# Installs what is needed, then starts Backlight on http://127.0.0.1:8082 with its data in
# .demo-data/. (The demo store app joins this command with the demo issue.)
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
bash scripts/setup.sh
exec .venv/bin/backlight serve --data-dir "${BACKLIGHT_DATA_DIR:-$ROOT/.demo-data}" "$@"
