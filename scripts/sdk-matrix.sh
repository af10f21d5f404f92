#!/usr/bin/env bash
# The Python SDK's own test suite on the other Pythons and OpenTelemetry releases it
# supports, in the venvs scripts/setup.sh makes (.venv-sdk-PY-otel-OTEL, from
# requirements/sdk-otel-OTEL.lock; the list is requirements/sdk-matrix). .venv covers
# Python 3.11 with the newest OpenTelemetry in the main run.
#
#   bash scripts/sdk-matrix.sh          run every combination at once, print one line each
#
# The combinations run side by side and at low priority: the suite mostly waits on sockets
# and child processes (about a fifth of its wall time is CPU), so scripts/test.sh starts
# this in the background next to the main pytest. Tests that need the server
# (backlight_server) skip here; the main run has them. Logs: artifacts/sdk-matrix/.
set -uo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
OUT="$ROOT/artifacts/sdk-matrix"
mkdir -p "$OUT"
pids=() names=()
while read -r py otel; do
  case "$py" in ''|'#'*) continue ;; esac
  name="py$py-otel-$otel"
  venv=".venv-sdk-$py-otel-$otel"
  if [ ! -x "$venv/bin/python" ]; then
    echo "sdk-matrix: $name: no $venv (run scripts/setup.sh)" > "$OUT/$name.log"
    false & pids+=($!) names+=("$name"); continue
  fi
  # the SDK as installed in that venv (not .venv's sources), its own conftest only
  env -u PYTHONPATH nice -n 10 "$venv/bin/python" -m pytest -q -p no:cacheprovider \
    -c pyproject.toml --rootdir sdk/python --confcutdir sdk/python \
    --basetemp "$OUT/$name.tmp" sdk/python/tests > "$OUT/$name.log" 2>&1 &
  pids+=($!) names+=("$name")
done < requirements/sdk-matrix
status=0
for i in "${!pids[@]}"; do
  if wait "${pids[$i]}"; then result=ok; else result=FAILED; status=1; fi
  echo "sdk-matrix ${names[$i]}: $result: $(tail -n 1 "$OUT/${names[$i]}.log")"
  [ "$result" = ok ] || tail -n 40 "$OUT/${names[$i]}.log"
done
exit "$status"
