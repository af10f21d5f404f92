"""Jinja2 environment, template filters, asset URLs (ui/assets.py), the login guard of pages."""

from __future__ import annotations

import functools
import math
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from jinja2 import Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from backlight_server.api.auth import token_ok
from backlight_server.pipeline import ansi, jsontext
from backlight_server.store.shapes import epoch_ms
from backlight_server.ui import assets, stacks

HERE = Path(__file__).parent
Page = Callable[[Request], Response]


def _whole_ms(ms: object) -> int | None:
    """A showable time in whole milliseconds, cut as a JS ``Date`` cuts it: the text, the
    ``datetime`` attribute and ``data-ms`` of one time are made from this one number."""
    value = epoch_ms(ms)
    return None if value is None else math.trunc(value)


def _utc(value: int | None) -> datetime | None:
    if value is None:
        return None
    try:
        return datetime.fromtimestamp(value / 1000, UTC)
    except (OverflowError, OSError, ValueError):
        return None


def fmt_ms(ms: object, precise: bool = False) -> str:
    """Epoch ms → ``2026-11-24 10:03:07`` (UTC; ``.123`` when precise). A stored value that
    is no showable time renders as ``–``, never an error."""
    value = _whole_ms(ms)
    when = _utc(value)
    if value is None or when is None:
        return "–"
    text = when.strftime("%Y-%m-%d %H:%M:%S")
    return f"{text}.{value % 1000:03d}" if precise else text


def fmt_time(ms: object, precise: bool = False) -> Markup:
    """A time on a page: ``<time>`` with the absolute UTC time as its text and title, so the
    page reads right without JS. app.ts (``format.ts: showTime``, this filter's twin) turns
    the text into a relative time ("3 min ago"; precise times, such as log lines, stay
    absolute, in local time with milliseconds) and puts the local absolute time and the time
    zone in the title. Anything that is no showable time renders as ``–``."""
    value = _whole_ms(ms)
    when = _utc(value)
    if value is None or when is None:
        return Markup("–")
    # every part is made here from numbers (digits, "-", ":", ".", "T", "Z"): nothing to escape
    text = when.strftime("%Y-%m-%d %H:%M:%S")
    millis = value % 1000
    if precise:
        text = f"{text}.{millis:03d}"
    iso = f"{when.strftime('%Y-%m-%dT%H:%M:%S')}.{millis:03d}Z"
    flag = " data-precise" if precise else ""
    return Markup(
        f'<time datetime="{iso}" data-ms="{value}"{flag} title="{text} UTC">{text} UTC</time>'
    )


def fmt_duration(ms: object) -> str:
    if (
        not isinstance(ms, int | float)
        or isinstance(ms, bool)
        or not math.isfinite(ms)
        or (abs(ms) > 1e15)
    ):
        return "–"
    if ms < 1000:
        return f"{ms:.0f} ms"
    seconds = ms / 1000
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, sec = divmod(int(seconds), 60)
    if minutes < 60:
        return f"{minutes}m {sec:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h {minutes:02d}m"


def fmt_offset(ms: object) -> str:
    """Milliseconds into a session → ``m:ss``."""
    if not isinstance(ms, int | float) or isinstance(ms, bool) or not math.isfinite(ms):
        return "–"
    total = max(int(ms // 1000), 0)
    return f"{total // 60}:{total % 60:02d}"


def json_script(data: Any) -> Markup:
    """JSON safe inside ``<script type="application/json">``."""
    text = jsontext.dumps(data).decode()
    return Markup(text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026"))


def plain(text: object) -> str:
    """A log body as shown: terminal colour codes out (stored bodies of servers before
    issue 17 may hold them; ingest strips them now), any stored value as text."""
    return ansi.strip(text if isinstance(text, str) else "" if text is None else str(text))


def query(request: Request, **changes: Any) -> str:
    """The current query string with ``changes`` applied (None removes a key)."""
    params = dict(request.query_params)
    for key, value in changes.items():
        if value is None:
            params.pop(key, None)
        else:
            params[key] = str(value)
    return "?" + urlencode(params) if params else "?"


env = Environment(
    loader=FileSystemLoader(HERE / "templates"),
    autoescape=select_autoescape(default=True, default_for_string=True),
    trim_blocks=True,
    lstrip_blocks=True,
)
env.filters.update(
    ms=fmt_ms,
    time=fmt_time,
    duration=fmt_duration,
    offset=fmt_offset,
    json_script=json_script,
    plain=plain,
)
env.globals.update(asset=assets.url, stack_frames=stacks.present)


def render(request: Request, template: str, status: int = 200, **context: Any) -> HTMLResponse:
    context.setdefault("nav", "")
    html = env.get_template(template).render(
        request=request,
        query=functools.partial(query, request),
        now_ms=time.time() * 1000,
        **context,
    )
    return HTMLResponse(html, status_code=status)


def login_url(request: Request) -> str:
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return "/login?" + urlencode({"next": target})


def page(handler: Page) -> Page:
    """A UI page: without the token cookie (or bearer token) it redirects to /login.

    The time spent in the handler (queries + rendering) is sent as ``Server-Timing``:
    ``page`` (wall clock) and ``cpu`` (the CPU time of the thread that ran it, which the
    machine's load does not inflate).
    """

    @functools.wraps(handler)
    def guarded(request: Request) -> Response:
        if not token_ok(request):
            return RedirectResponse(login_url(request), status_code=303)
        started, cpu = time.perf_counter(), time.thread_time()
        response = handler(request)
        wall_ms = (time.perf_counter() - started) * 1000
        cpu_ms = (time.thread_time() - cpu) * 1000
        response.headers["Server-Timing"] = f"page;dur={wall_ms:.2f}, cpu;dur={cpu_ms:.2f}"
        return response

    return guarded


def not_found(request: Request, what: str, path: str = "") -> HTMLResponse:
    return render(request, "not_found.html", status=404, what=what, path=path)
