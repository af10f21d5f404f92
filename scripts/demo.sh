#!/usr/bin/env bash
# Installs what is needed, then starts Backlight with the demo: Redis, `backlight serve`,
# the demo services (api, inventory, worker, partner, thirdparty) and the store page.
# It prints the UI address, the token and the demo page address. Flags:
#   --drive   drive a short scripted browser session so the UI has data at once
#   --exit    with --drive: stop once the session is recorded
#   --no-redis  use the in-process queue instead of Redis streams
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
bash scripts/setup.sh
exec .venv/bin/python -m demo "$@"
