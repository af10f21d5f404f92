# Backlight's container image (docs/install.md#docker). Build from the repository root:
#   docker build -t backlight .
# Three stages: the UI assets and the browser SDK built with Node; the server installed
# into a venv from requirements/server.lock on a slim Python; the venv alone in the image.

# 1. UI assets (server/ui → backlight_server/ui/static/build) and the browser SDK (sdk/browser/dist).
FROM node:20-bookworm-slim AS assets
WORKDIR /src
# dependencies first (a layer kept while only sources change); no install scripts, so a
# package's own build step cannot run before its sources are here
COPY sdk/browser/package.json sdk/browser/package-lock.json sdk/browser/
COPY server/ui/package.json server/ui/package-lock.json server/ui/
RUN npm ci --prefix sdk/browser --ignore-scripts --no-audit --no-fund \
 && npm ci --prefix server/ui --ignore-scripts --no-audit --no-fund
COPY sdk/browser/ sdk/browser/
COPY server/ui/ server/ui/
RUN npm run --prefix sdk/browser build && npm run --prefix server/ui build

# 2. The server and its locked dependencies in /opt/backlight/venv (scripts/container-install.sh,
#    which tests/packaging/test_container.py runs the same way in a fresh venv).
FROM python:3.11-slim-bookworm AS install
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /build
COPY requirements/server.lock requirements/
COPY scripts/container-install.sh scripts/
COPY server/ server/
# the Node stage's builds, where an sdist of the server carries them (server/build_hooks.py)
COPY --from=assets /src/server/src/backlight_server/ui/static/build/ server/src/backlight_server/ui/static/build/
COPY --from=assets /src/sdk/browser/dist/backlight.js /src/sdk/browser/dist/backlight.esm.js server/src/backlight_server/sdk_assets/
RUN bash scripts/container-install.sh /opt/backlight

# 3. The image: the venv, a non-root user, the data dir as a volume.
FROM python:3.11-slim-bookworm
RUN groupadd --system --gid 10001 backlight \
 && useradd --system --no-log-init --uid 10001 --gid 10001 --home-dir /data --shell /usr/sbin/nologin backlight \
 && mkdir /data && chown 10001:10001 /data && chmod 700 /data
COPY --from=install /opt/backlight /opt/backlight
# Inside the container the server listens on every interface (BACKLIGHT_HOST); publish the
# ports on the host as narrowly as you need (-p 127.0.0.1:8082:8082). The access token is
# still required: generated on the first start into /data/auth_token and printed in the
# log, or given as BACKLIGHT_AUTH_TOKEN.
ENV PATH=/opt/backlight/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    BACKLIGHT_HOST=0.0.0.0 \
    BACKLIGHT_DATA_DIR=/data
USER 10001:10001
WORKDIR /data
VOLUME ["/data"]
# 8082: UI, API, ingest (browser and OTLP/HTTP), /sdk/backlight.js; 4317: OTLP/gRPC
EXPOSE 8082 4317
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
  CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:' + os.environ.get('BACKLIGHT_PORT', '8082') + '/healthz', timeout=4)"]
ENTRYPOINT ["backlight"]
CMD ["serve"]
