"""Terminal colour codes in log bodies: werkzeug's request log, sent by the real OpenTelemetry
SDK to a real ``backlight serve``, is stored without them (so full-text search finds its
words) and shown without them; a body an older server stored raw is shown without them."""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator

import httpx
import pytest
from flask import Flask
from werkzeug.serving import make_server

from backlight_server.pipeline.ansi import strip
from backlight_server.testing import BacklightProcess
from bltest import OtelService, wait_for

ESC = "\x1b"


@pytest.mark.parametrize(
    ("raw", "shown"),
    [
        ("\x1b[1m\x1b[35mGET /boom HTTP/1.1\x1b[0m", "GET /boom HTTP/1.1"),  # werkzeug, 5xx
        ("\x1b[33mGET /nope HTTP/1.1\x1b[0m", "GET /nope HTTP/1.1"),  # werkzeug, 404
        ("\x1b[38;5;196mred\x1b[39m \x1b[48;2;0;0;0mtruecolor\x1b[49m", "red truecolor"),
        ("\x1b]8;;https://x.test/\x1b\\a link\x1b]8;;\x1b\\", "a link"),  # OSC 8 hyperlink
        ("\x1b]0;window title\x07text", "text"),
        ("\x1b(B\x1b[mreset", "reset"),  # tput sgr0
        ("progress\x1b[2K\x1b[1Gdone", "progressdone"),  # erase line, cursor to column 1
        ("\x9b31mC1 form\x9b0m", "C1 form"),
        ("cut at the cap \x1b[38;5;19", "cut at the cap "),
        ("no escapes: [31m stays, so do [brackets]", "no escapes: [31m stays, so do [brackets]"),
        ("", ""),
    ],
)
def test_strip(raw: str, shown: str) -> None:
    assert strip(raw) == shown


@pytest.fixture
def werkzeug_app(
    otel_service: Callable[..., OtelService], backlight_server: BacklightProcess
) -> Iterator[tuple[str, OtelService]]:
    """A Flask app on werkzeug's own server, its ``werkzeug`` logger exporting over OTLP."""
    app = Flask("colours")

    @app.get("/boom")
    def boom() -> str:
        raise RuntimeError("boom")

    svc = otel_service(backlight_server.url, "werkzeug-colours", backlight_server.project)
    werkzeug_log = logging.getLogger("werkzeug")
    handlers = svc.logger.handlers
    for handler in handlers:
        werkzeug_log.addHandler(handler)
    level = werkzeug_log.level
    werkzeug_log.setLevel(logging.INFO)
    server = make_server("127.0.0.1", 0, app)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}", svc
    finally:
        server.shutdown()
        for handler in handlers:
            werkzeug_log.removeHandler(handler)
        werkzeug_log.setLevel(level)


def test_werkzeug_request_log_is_stored_and_shown_without_colours(
    backlight_server: BacklightProcess, werkzeug_app: tuple[str, OtelService]
) -> None:
    server = backlight_server
    url, svc = werkzeug_app
    marker = f"colourcheck{int(time.time() * 1000)}"
    assert httpx.get(f"{url}/boom?{marker}").status_code == 500
    assert httpx.get(f"{url}/nope?{marker}").status_code == 404
    svc.flush()

    def request_logs() -> list[dict[str, object]] | None:
        found = server.api("/api/v1/logs", q=marker, limit=10)["logs"]
        return found if len(found) == 2 else None

    logs = wait_for(request_logs)
    bodies = sorted(str(lg["body"]) for lg in logs)
    assert all(ESC not in b for b in bodies)
    assert '"GET /boom?' in bodies[0] and '" 500 -' in bodies[0]
    # the words werkzeug coloured are words of the index: "GET" next to a colour code was
    # the token "35mget" before, and "404" was "33m404"... (FTS5 splits at ESC and "[")
    by_search = server.api("/api/v1/logs", q=f"GET {marker}", limit=10)["logs"]
    assert len(by_search) == 2

    page = httpx.get(
        f"{server.url}/logs",
        params={"q": marker},
        headers={"Authorization": f"Bearer {server.token}"},
    )
    assert page.status_code == 200 and f"GET /boom?{marker} HTTP/1.1" in page.text
    assert ESC not in page.text and "[35m" not in page.text


@pytest.mark.sqlite_only
def test_a_body_stored_raw_by_an_older_server_is_shown_without_colours(
    backlight_server: BacklightProcess,
) -> None:
    server = backlight_server
    marker = f"rawcolour{int(time.time() * 1000)}"
    body = f"\x1b[31mWARNING: {marker} development server\x1b[0m"
    conn = sqlite3.connect(server.data_dir / "backlight.db", timeout=30)
    with conn:
        log_id = conn.execute(
            "INSERT INTO logs (project_id, ts_ns, severity_number, level, body, service) "
            "VALUES (?, ?, 13, 'warn', ?, 'old') RETURNING id",
            (server.project, time.time_ns(), body),
        ).fetchone()[0]
        conn.execute("INSERT INTO logs_fts (rowid, body) VALUES (?, ?)", (log_id, body))
    conn.close()
    page = httpx.get(
        f"{server.url}/logs",
        params={"q": marker},
        headers={"Authorization": f"Bearer {server.token}"},
    )
    assert page.status_code == 200
    assert f"WARNING: {marker} development server" in page.text
    assert ESC not in page.text and "[31m" not in page.text
