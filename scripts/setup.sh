#!/usr/bin/env bash
# Installs everything Backlight needs for development, the demo and the tests.
# Idempotent: each step is skipped when its inputs have not changed since it last ran.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
STAMPS="$ROOT/.setup-stamps"
mkdir -p "$STAMPS"
PY="${PYTHON:-python3}"

log() { printf '[setup] %s\n' "$*" >&2; }
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }
# fresh NAME FILES...: true when the hash of FILES differs from the one stored for NAME.
fresh() {
  local name="$1"; shift
  local want; want="$(cat "$@" 2>/dev/null | sha256sum | cut -d' ' -f1)"
  [ "$(cat "$STAMPS/$name" 2>/dev/null)" != "$want" ] && echo "$want" > "$STAMPS/$name.next"
}
done_step() { mv "$STAMPS/$1.next" "$STAMPS/$1"; }

# 1. System packages: Chromium for browser tests, Redis for the demo's queue, wrk for the
#    benchmarks, gcc for the SDK's compiled encoder.
missing=()
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
command -v redis-server >/dev/null 2>&1 || missing+=(redis-server)
# RabbitMQ, for the Celery-over-AMQP test (the test starts its own node on loopback ports)
[ -x /usr/lib/rabbitmq/bin/rabbitmq-server ] || missing+=(rabbitmq-server)
command -v wrk >/dev/null 2>&1 || missing+=(wrk)
# A C compiler and the Python headers, for the SDK's optional span encoder (_speedups.c).
command -v gcc >/dev/null 2>&1 || missing+=(gcc)
"$PY" -c 'import os, sys, sysconfig; sys.exit(not os.path.exists(os.path.join(sysconfig.get_paths()["include"], "Python.h")))' \
  || missing+=(python3-dev)
if [ "${#missing[@]}" -gt 0 ]; then
  log "installing Debian packages: ${missing[*]}"
  as_root apt-get update -qq
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq "${missing[@]}" >/dev/null
fi

# 2. Python virtualenv with the pinned lock, then our two distributions (editable).
if [ ! -x .venv/bin/python ]; then
  log "creating .venv"
  "$PY" -m venv .venv
fi
if fresh python requirements/dev.lock server/pyproject.toml sdk/python/pyproject.toml \
     sdk/python/setup.py sdk/python/src/backlight/export/_speedups.c; then
  log "installing Python packages"
  .venv/bin/python -m pip install -q --disable-pip-version-check -r requirements/dev.lock
  .venv/bin/python -m pip install -q --disable-pip-version-check --no-deps -e server -e sdk/python
  done_step python
fi

# 2b. The wheels of requirements/server.lock (the container image's install), kept in
#     .cache/wheelhouse, with the Python SDK's two other runtime packages (pinned as in
#     dev.lock): tests/install/test_container.py and test_wheels.py install offline from it.
if fresh wheelhouse requirements/server.lock requirements/dev.lock || [ ! -d .cache/wheelhouse ]; then
  log "downloading the server's locked wheels into .cache/wheelhouse"
  .venv/bin/python -m pip download -q --disable-pip-version-check --no-deps \
    -d .cache/wheelhouse -r requirements/server.lock \
    $(grep -E '^opentelemetry-(sdk|semantic-conventions)==' requirements/dev.lock)
  [ -f "$STAMPS/wheelhouse.next" ] && done_step wheelhouse
fi

# 3. Browser SDK and UI assets: npm ci from the committed lock, then an esbuild build.
if [ -f sdk/browser/package-lock.json ]; then
  if fresh npm sdk/browser/package-lock.json || [ ! -d sdk/browser/node_modules ]; then
    log "installing npm packages"
    (cd sdk/browser && npm ci --no-audit --no-fund --loglevel=error)
    [ -f "$STAMPS/npm.next" ] && done_step npm
  fi
  if fresh build $(find sdk/browser/src sdk/browser/package.json sdk/browser/build.mjs -type f 2>/dev/null | sort) \
     || [ ! -f sdk/browser/dist/backlight.js ]; then
    log "building the browser SDK"
    (cd sdk/browser && npm run --silent build)
    [ -f "$STAMPS/build.next" ] && done_step build
  fi
fi
# 4. Web UI assets (server/ui): npm ci from the committed lock, then an esbuild build into
#    server/src/backlight_server/ui/static/build (not committed).
if [ -f server/ui/package-lock.json ]; then
  if fresh ui-npm server/ui/package-lock.json || [ ! -d server/ui/node_modules ]; then
    log "installing UI npm packages"
    (cd server/ui && npm ci --no-audit --no-fund --loglevel=error)
    [ -f "$STAMPS/ui-npm.next" ] && done_step ui-npm
  fi
  if fresh ui-build $(find server/ui/src server/ui/package.json server/ui/build.mjs -type f 2>/dev/null | sort) \
     || [ ! -d server/src/backlight_server/ui/static/build ]; then
    log "building the UI assets"
    (cd server/ui && npm run --silent build)
    [ -f "$STAMPS/ui-build.next" ] && done_step ui-build
  fi
fi
# 5. Compatibility tests: highlight-io (Python) in its own venv (it pins OpenTelemetry 1.28),
#    and the real highlight.run npm package.
if [ ! -x .venv-compat/bin/python ]; then
  "$PY" -m venv .venv-compat
fi
if fresh compat requirements/compat.lock; then
  log "installing the compatibility-test venv (.venv-compat)"
  .venv-compat/bin/python -m pip install -q --disable-pip-version-check -r requirements/compat.lock
  done_step compat
fi
if fresh compat-npm tests/compat/package-lock.json || [ ! -d tests/compat/node_modules ]; then
  log "installing highlight.run for the compatibility tests"
  (cd tests/compat && npm ci --no-audit --no-fund --loglevel=error)
  [ -f "$STAMPS/compat-npm.next" ] && done_step compat-npm
fi
# The npm consumer test's apps (tests/install/npm_consumers: Vite, esbuild), from their locks.
for app in vite esbuild; do
  dir="tests/install/npm_consumers/$app"
  if fresh "consumer-$app" "$dir/package-lock.json" || [ ! -d "$dir/node_modules" ]; then
    log "installing the npm consumer app $app"
    (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error)
    [ -f "$STAMPS/consumer-$app.next" ] && done_step "consumer-$app"
  fi
done
# 6. The Python SDK's test matrix (requirements/sdk-matrix): one venv per line, with that
#    Python (pyenv's, or Debian's), from requirements/sdk-otel-RELEASE.lock, then the SDK
#    editable (its compiled encoder built for that Python). Run by scripts/sdk-matrix.sh.
while read -r py otel; do
  case "$py" in ''|'#'*) continue ;; esac
  venv=".venv-sdk-$py-otel-$otel"
  if [ ! -x "$venv/bin/python" ]; then
    interp="$(ls -d "$(pyenv root 2>/dev/null || echo "$HOME/.pyenv")/versions/$py".*/bin/"python$py" \
      "/usr/bin/python$py" 2>/dev/null | sort -V | tail -n 1 || true)"
    if [ -z "$interp" ]; then
      log "no Python $py here (pyenv install $py): scripts/sdk-matrix.sh will report $venv missing"
      continue
    fi
    log "creating $venv ($interp)"
    "$interp" -m venv "$venv"
    rm -f "$STAMPS/sdk-$py-$otel"
  fi
  if fresh "sdk-$py-$otel" "requirements/sdk-otel-$otel.lock" sdk/python/pyproject.toml \
       sdk/python/setup.py sdk/python/src/backlight/export/_speedups.c; then
    log "installing the SDK test venv $venv"
    "$venv/bin/python" -m pip install -q --disable-pip-version-check -r "requirements/sdk-otel-$otel.lock"
    "$venv/bin/python" -m pip install -q --disable-pip-version-check --no-deps --no-build-isolation \
      -e sdk/python
    done_step "sdk-$py-$otel"
  fi
done < requirements/sdk-matrix
log "ready"
