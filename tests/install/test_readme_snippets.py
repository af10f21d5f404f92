"""The README's snippets, run as a newcomer would run them.

Every fenced block of README.md is covered, or this module fails:

- each ``python`` block starts with ``# FILE — INSTALL, then: COMMAND``; it is written to
  FILE with the project id and server URL of a real ``backlight serve`` put in for the
  placeholders, run with COMMAND on a loopback port, and sent requests carrying
  ``x-highlight-request`` as the browser SDK sends it; its span, log and error must arrive
  linked to that session and request;
- the ``html`` block (the browser snippet) runs in Chromium on a page of its own, and its
  session must arrive;
- every command of a ``bash`` block (README.md and docs/install.md) is checked without
  being run: the scripts and their flags, the paths and extras given to pip, the
  ``backlight`` flags (by the CLI's own parser), the files and ports named to Docker.

Also: the links of README.md and docs/install.md resolve, and no doc points at
``../shared``.
"""

from __future__ import annotations

import os
import re
import secrets
import shlex
import string
import subprocess
import sys
import threading
import tomllib
from collections.abc import Iterator
from dataclasses import fields
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import sync_playwright

from backlight_server.cli import build_parser
from backlight_server.settings import Settings, env_name
from backlight_server.testing import (
    CHROMIUM,
    CHROMIUM_ARGS,
    BacklightProcess,
    free_port,
    wait_for,
)

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
INSTALL = ROOT / "docs" / "install.md"
FENCE = re.compile(r"^```(\w*)\n(.*?)^```", re.M | re.S)
# first line of a Python snippet: the file, how to install, how to run
HEAD = re.compile(r"^# (?P<file>[\w.]+) — (?P<install>.+), then: (?P<run>.+)$")
# what the snippets say in place of the real values
PROJECT_PLACEHOLDER = '"<project id>"'
SERVER_PLACEHOLDER = "http://localhost:8082"
# the README's Python snippets, by file name; each is run by test_python_snippet
SNIPPETS = {"main.py": "FastAPI", "app.py": "Flask"}
IDCHARS = string.ascii_letters + string.digits


def blocks(path: Path) -> list[tuple[str, str]]:
    return [(m.group(1), m.group(2)) for m in FENCE.finditer(path.read_text())]


def python_snippet(name: str) -> str:
    found = [code for lang, code in blocks(README) if lang == "python" and _file(code) == name]
    assert len(found) == 1, f"README has {len(found)} python snippets for {name}"
    return found[0]


def _file(code: str) -> str:
    head = HEAD.match(code.splitlines()[0])
    return head["file"] if head else ""


def test_every_readme_snippet_is_covered() -> None:
    kinds = [lang for lang, _ in blocks(README)]
    assert set(kinds) <= {"bash", "html", "python"}, f"no check for README blocks {kinds}"
    assert kinds.count("html") == 1, "test_browser_snippet runs exactly one html block"
    names = []
    for lang, code in blocks(README):
        if lang == "python":
            assert HEAD.match(code.splitlines()[0]), (
                "a README python snippet must start with '# FILE — INSTALL, then: COMMAND': "
                + code.splitlines()[0]
            )
            names.append(_file(code))
    assert sorted(names) == sorted(SNIPPETS), (
        f"README python snippets {names}; this module runs {sorted(SNIPPETS)}: "
        "add a runner for a new one"
    )


# --- python snippets ----------------------------------------------------------------------


@pytest.fixture
def snippet_app(
    request: pytest.FixtureRequest, backlight_server: BacklightProcess, tmp_path: Path
) -> Iterator[tuple[str, str]]:
    """The snippet named by the test's parameter, running; yields (its URL, its file)."""
    name: str = request.param
    code = python_snippet(name)
    head = HEAD.match(code.splitlines()[0])
    assert head is not None
    check_commands(head["install"], "README " + name)
    assert PROJECT_PLACEHOLDER in code and SERVER_PLACEHOLDER in code, name
    code = code.replace(PROJECT_PLACEHOLDER, f'"{backlight_server.project}"')
    (tmp_path / name).write_text(code.replace(SERVER_PLACEHOLDER, backlight_server.url))
    argv = shlex.split(head["run"])
    assert argv[0] in ("uvicorn", "flask"), f"no runner for {argv[0]!r} in {name}"
    assert argv[-2:] == ["--port", "8000"], head["run"]
    port = free_port()
    log = (tmp_path / "app.log").open("wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", *argv[:-1], str(port)],
        cwd=tmp_path,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    log.close()
    url = f"http://127.0.0.1:{port}"

    def up() -> bool:
        assert proc.poll() is None, (tmp_path / "app.log").read_text()
        try:
            return httpx.get(url + "/", timeout=2).status_code == 404
        except httpx.TransportError:
            return False

    try:
        wait_for(up, f"{name} to serve", 60)
        yield url, name
    finally:
        proc.terminate()
        proc.wait(timeout=20)


@pytest.mark.parametrize("snippet_app", sorted(SNIPPETS), indirect=True)
def test_python_snippet(snippet_app: tuple[str, str], backlight_server: BacklightProcess) -> None:
    url, name = snippet_app
    sid = "".join(secrets.choice(IDCHARS) for _ in range(28))
    ok, fail = secrets.token_hex(16), secrets.token_hex(16)
    r = httpx.get(url + "/orders/7", headers={"x-highlight-request": f"{sid}/{ok}"})
    assert r.status_code == 200 and r.json() == {"order_id": 7}, r.text
    r = httpx.get(url + "/orders/0", headers={"x-highlight-request": f"{sid}/{fail}"})
    assert r.status_code == 500, r.text

    def view(rid: str, key: str) -> dict[str, Any] | None:
        got = backlight_server.api(f"/api/v1/requests/{rid}")
        return got if got[key] and got["spans"] else None

    seen = wait_for(lambda: view(ok, "logs"), f"{name}'s span and log of /orders/7")
    assert seen["services"] == ["api"], seen["services"]
    assert [log["body"] for log in seen["logs"]] == ["order 7 looked up"], seen["logs"]
    assert not seen["errors"], seen["errors"]
    failed = wait_for(lambda: view(fail, "errors"), f"{name}'s error of /orders/0")
    assert [e["message"] for e in failed["errors"]] == ["no order 0"], failed["errors"]
    assert {e["type"] for e in failed["errors"]} == {"ValueError"}
    for rid, got in ((ok, seen), (fail, failed)):
        for record in [*got["logs"], *got["errors"]]:
            assert (record["session_id"], record["request_id"]) == (sid, rid), record


# --- the browser snippet ------------------------------------------------------------------


def test_browser_snippet(backlight_server: BacklightProcess) -> None:
    (snippet,) = [code for lang, code in blocks(README) if lang == "html"]
    assert PROJECT_PLACEHOLDER in snippet and SERVER_PLACEHOLDER in snippet
    snippet = snippet.replace(PROJECT_PLACEHOLDER, f'"{backlight_server.project}"')
    snippet = snippet.replace(SERVER_PLACEHOLDER, backlight_server.url)
    page_html = f"<!doctype html><html><head>{snippet}</head><body><h1>Shop</h1></body></html>"
    body = page_html.encode()

    class Page(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("content-type", "text/html")
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            pass

    # a page served from loopback (Chromium keeps other pages from loopback addresses)
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Page)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    page_url = f"http://localhost:{httpd.server_address[1]}/"
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page()
            page.goto(page_url)
            sid = wait_for(lambda: page.evaluate("() => window.H && H.getSessionId()"), "H.init")
            page.click("h1")

            def arrived() -> dict[str, Any] | None:
                r = httpx.get(
                    f"{backlight_server.url}/api/v1/sessions/{sid}",
                    headers={"Authorization": f"Bearer {backlight_server.token}"},
                )
                return r.json() if r.status_code == 200 else None

            session = wait_for(arrived, "the snippet's session")
        finally:
            browser.close()
            httpd.shutdown()
    assert session["session"]["project_id"] == backlight_server.project, session
    assert session["session"]["url"] == page_url, session


# --- shell commands -----------------------------------------------------------------------


def test_readme_and_install_commands() -> None:
    count = 0
    for path in (README, INSTALL):
        for lang, code in blocks(path):
            if lang == "bash":
                count += check_commands(code, path.name)
    assert count >= 15, count  # the checker saw the commands


def check_commands(text: str, where: str) -> int:
    """Checks every command of ``text`` (lines, ``\\``-continued, ``&&``-joined); how many."""
    count = 0
    for line in text.replace("\\\n", " ").splitlines():
        words = shlex.split(line, comments=True)
        while words:
            cut = words.index("&&") if "&&" in words else len(words)
            check_command(words[:cut], f"{where}: {line.strip()}")
            count += 1
            words = words[cut + 1 :]
    return count


def check_command(argv: list[str], where: str) -> None:
    tool = argv[0]
    checks = {
        "bash": _check_script,
        "pip": _check_pip,
        "pipx": _check_pip,
        "backlight": _check_backlight,
        ".venv/bin/backlight": _check_backlight,
        "docker": _check_docker,
        "python3": _check_venv,
        ".": _check_venv,
    }
    assert tool in checks, f"no check for the command {tool!r} ({where}): add one"
    checks[tool](argv, where)


def _check_script(argv: list[str], where: str) -> None:
    script = ROOT / argv[1]
    assert script.is_file(), where
    text = script.read_text()
    for flag in argv[2:]:
        assert flag.startswith("--") and flag in text, f"{flag} unknown to {argv[1]} ({where})"


def _check_venv(argv: list[str], where: str) -> None:
    # python3 -m venv DIR && . DIR/bin/activate
    assert argv[1:3] == ["-m", "venv"] or argv[1].endswith("/bin/activate"), where


def _pyproject(folder: Path) -> dict[str, Any]:
    project: dict[str, Any] = tomllib.loads((folder / "pyproject.toml").read_text())["project"]
    return project


def _lock() -> dict[str, str]:
    pins = {}
    for line in (ROOT / "requirements" / "dev.lock").read_text().splitlines():
        if "==" in line and not line.startswith("#"):
            name, version = line.split("==")
            pins[name.lower().replace("_", "-")] = version.strip()
    return pins


def _check_requirement(arg: str, where: str) -> None:
    """A path with extras, a wheel built from one, or a package pinned in dev.lock."""
    path, _, extras = arg.partition("[")
    folder = ROOT / path
    if path.startswith("./") and folder.is_dir():
        project = _pyproject(folder)
        wanted = set(filter(None, extras.rstrip("]").split(",")))
        known = set(project.get("optional-dependencies", {}))
        assert wanted <= known, f"extras {wanted - known} not declared in {path} ({where})"
    elif path.endswith(".whl"):
        project = _pyproject(ROOT / "server")
        name = project["name"].replace("-", "_")
        assert Path(path).name == f"{name}-{project['version']}-py3-none-any.whl", where
    else:
        name, _, version = arg.partition("==")
        pins = _lock()
        assert name.lower() in pins, f"{name} is not in requirements/dev.lock ({where})"
        assert version in ("", pins[name.lower()]), f"{arg}: dev.lock has {pins[name]} ({where})"


def _check_pip(argv: list[str], where: str) -> None:
    verb, args = argv[1], argv[2:]
    assert verb in ("install", "wheel", "inject"), where
    if verb == "inject":  # pipx inject DIST REQUIREMENT...: the extras' pins of that dist
        assert args[0] == _pyproject(ROOT / "server")["name"], where
        extras = _pyproject(ROOT / "server")["optional-dependencies"]
        for req in args[1:]:
            assert any(req in pins for pins in extras.values()), f"{req} ({where})"
        return
    takes_value = {"-w", "-r", "-c", "-d"}
    i = 0
    while i < len(args):
        if args[i] in takes_value:
            if args[i] in ("-r", "-c"):
                assert (ROOT / args[i + 1]).is_file(), where
            i += 2
            continue
        if not args[i].startswith("-"):
            _check_requirement(args[i], where)
        i += 1


def _check_backlight(argv: list[str], where: str) -> None:
    try:
        build_parser().parse_args(argv[1:])
    except SystemExit as exc:
        raise AssertionError(f"backlight refuses {argv[1:]} ({where})") from exc


def _check_docker(argv: list[str], where: str) -> None:
    verb = argv[1]
    text = (ROOT / "Dockerfile").read_text()
    if verb == "build":
        assert argv[-1] == "." and (ROOT / "Dockerfile").is_file(), where
        assert "-t" in argv, where
    elif verb == "run":
        options = {"--name", "-p", "-e", "-v"}
        i = 2
        while argv[i].startswith("-"):
            if argv[i] in options:
                _check_run_option(argv[i], argv[i + 1], text, where)
                i += 2
            else:
                assert argv[i] in ("-d", "--rm"), f"{argv[i]} ({where})"
                i += 1
        rest = argv[i + 1 :]
        if rest:
            _check_backlight(["backlight", *rest], where)
    elif verb == "compose":
        assert argv[2] == "-f" and (ROOT / argv[3]).is_file(), where
        assert argv[4] in ("up", "logs", "build", "down"), where
    else:
        assert verb in ("logs", "exec"), f"docker {verb} ({where})"


def _check_run_option(option: str, value: str, dockerfile: str, where: str) -> None:
    if option == "-p":  # [host:]hostport:port, the port one the image exposes
        exposed = re.search(r"^EXPOSE (.+)$", dockerfile, re.M)
        assert exposed and value.rsplit(":", 1)[1] in exposed.group(1).split(), where
        assert value.startswith("127.0.0.1:"), f"publish on loopback in examples ({where})"
    elif option == "-v":
        assert value.endswith(":/data") and 'VOLUME ["/data"]' in dockerfile, where
    elif option == "-e":
        names = {env_name(f.name) for f in fields(Settings)}
        assert value.split("=")[0] in names, f"{value} is no setting ({where})"


# --- links --------------------------------------------------------------------------------

LINK = re.compile(r"\]\(([^)\s]+)\)")


def _anchors(path: Path) -> set[str]:
    """GitHub's heading anchors: lower case, punctuation dropped, spaces to hyphens."""
    found = set()
    for heading in re.findall(r"^#+ (.+)$", path.read_text(), re.M):
        slug = re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")
        found.add(slug)
    return found


def test_links_resolve_and_none_points_at_shared() -> None:
    """README.md's and docs/install.md's links: files in the repository, headings that exist."""
    for doc in (README, INSTALL):
        for target in LINK.findall(FENCE.sub("", doc.read_text())):
            if target.startswith(("http://", "https://")):
                continue
            path, _, anchor = target.partition("#")
            dest = (doc.parent / path).resolve() if path else doc
            assert dest.exists(), f"{doc.name}: {target}"
            assert ROOT in dest.parents, f"{doc.name} points outside the repository: {target}"
            if anchor:
                assert anchor in _anchors(dest), f"{doc.name}: no heading for #{anchor} in {path}"
    for doc in [README, *sorted((ROOT / "docs").glob("*.md"))]:
        assert "../shared" not in doc.read_text(), doc.name
