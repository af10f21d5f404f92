"""Full-page navigations (docs/linkage.md, "The session cookie" and "Navigation timing"):
the ASGI, WSGI and Django middlewares link a request that carries only the browser SDK's
session cookie, with the request's own trace id as its request id, and hand HTML responses
their ``traceparent`` in ``Server-Timing``; ``traceparent_meta`` renders the same as a tag.
The cookie and request cases are those of docs/linkage-vectors.json."""

from __future__ import annotations

import asyncio
import re
import sys
import time
from collections.abc import Iterator, MutableMapping
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote

import pytest
from linkage_vectors import VECTORS, as_bytes, cases
from sdk_capture import PROJECT, Receiver, SpanView, start_receiver

import backlight
from backlight import names
from backlight.headers import MAX_COOKIE, cookie_session
from backlight.integrations.asgi import BacklightMiddleware as AsgiMiddleware
from backlight.integrations.wsgi import BacklightMiddleware as WsgiMiddleware

sys.path.insert(0, str(Path(__file__).parents[1] / "apps"))
import django_app
from django.test import Client

COOKIE = VECTORS["cookie"]
NAVIGATION = VECTORS["navigation"]
FRAMEWORKS = ["asgi", "wsgi", "django"]
HTML = "text/html; charset=utf-8"
log = django_app.log  # the logger the Django views use: "app"


@pytest.fixture(scope="module")
def sdk() -> Iterator[Receiver]:
    """One receiver and one SDK for the module (each test's requests have their own
    paths), instead of the suite's per-test ones: an SDK shutdown takes about a second."""
    rec, server = start_receiver()
    backlight.init(PROJECT, backend_url=rec.url, service_name="svc", export_interval=0.05)
    yield rec
    backlight.shutdown()
    server.shutdown()
    server.server_close()


def test_names_and_limit_are_the_contract() -> None:
    assert COOKIE["names"] == {
        "session_cookie": names.SESSION_COOKIE,
        "highlight_cookie": names.HIGHLIGHT_COOKIE,
    }
    assert COOKIE["limit"] == MAX_COOKIE
    assert NAVIGATION["names"] == {
        "server_timing_header": names.SERVER_TIMING_HEADER,
        "traceparent_metric": names.TRACEPARENT_METRIC,
        "time_metric": names.TIME_METRIC,
        "meta_name": names.TRACEPARENT_METRIC,
        "meta_time_attribute": names.META_TIME_ATTRIBUTE,
    }


@pytest.mark.parametrize("case", cases(COOKIE["values"]))
def test_cookie_vectors(case: dict[str, Any]) -> None:
    assert cookie_session(case["value"]) == case["session"]
    assert cookie_session(as_bytes(case["value"])) == case["session"]


# ---- one request through each middleware --------------------------------------------


class Response:
    def __init__(self, status: int, headers: list[tuple[str, str]], body: bytes) -> None:
        self.status, self.headers, self.body = status, headers, body

    def header(self, name: str) -> str | None:
        found = [v for k, v in self.headers if k.lower() == name]
        assert len(found) <= 1, self.headers
        return found[0] if found else None


def _app_response(path: str, query: str) -> tuple[int, list[tuple[str, str]], bytes]:
    """What the plain ASGI and WSGI apps answer: as the Django view ``page`` does."""
    log.info("page %s", path)
    if "kind=json" in query:
        return 200, [("Content-Type", "application/json")], b"{}"
    if path.startswith("/meta"):
        return 200, [("Content-Type", HTML)], str(backlight.traceparent_meta()).encode()
    headers = [("Content-Type", HTML)]
    if "timed=1" in query:
        headers.append(("Server-Timing", "db;dur=53"))
    if query.startswith("cache="):
        headers.append(("Cache-Control", unquote(query[6:])))
    return (304 if "kind=304" in query else 200), headers, b"<p>page</p>"


async def _asgi_app(scope: Any, receive: Any, send: Any) -> None:
    status, headers, body = _app_response(scope["path"], scope["query_string"].decode())
    raw = [(k.lower().encode(), v.encode()) for k, v in headers]
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": body})


def _wsgi_app(environ: Any, start_response: Any) -> list[bytes]:
    status, headers, body = _app_response(environ["PATH_INFO"], environ["QUERY_STRING"])
    start_response(f"{status} X", headers)
    return [body]


ASGI, WSGI = AsgiMiddleware(_asgi_app), WsgiMiddleware(_wsgi_app)


def request(kind: str, path: str, headers: dict[str, str], query: str = "") -> Response:
    """One GET through the ``kind`` middleware, with ``headers`` as the browser sent them."""
    if kind == "asgi":
        sent: list[dict[str, Any]] = []
        scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": "GET",
            "scheme": "http",
            "path": path,
            "raw_path": path.encode(),
            "root_path": "",
            "query_string": query.encode(),
            "headers": [(k.encode(), as_bytes(v)) for k, v in headers.items()],
            "server": ("127.0.0.1", 80),
            "client": ("127.0.0.1", 5000),
        }

        async def receive() -> dict[str, Any]:
            return {"type": "http.request", "body": b"", "more_body": False}

        async def send(message: MutableMapping[str, Any]) -> None:
            sent.append(dict(message))

        asyncio.run(ASGI(scope, receive, send))
        start = sent[0]
        pairs = [(k.decode(), v.decode("latin-1")) for k, v in start["headers"]]
        return Response(start["status"], pairs, b"".join(m.get("body", b"") for m in sent[1:]))
    environ = {
        f"HTTP_{k.upper().replace('-', '_')}": as_bytes(v).decode("latin-1")
        for k, v in headers.items()
    }
    if kind == "wsgi":
        got: list[Any] = []
        environ.update(
            {
                "REQUEST_METHOD": "GET",
                "PATH_INFO": path,
                "SCRIPT_NAME": "",
                "QUERY_STRING": query,
                "SERVER_NAME": "x",
                "SERVER_PORT": "80",
                "wsgi.url_scheme": "http",
            }
        )

        def start_response(status: str, hs: Any, exc_info: Any = None) -> Any:
            got.append((status, hs))
            return lambda data: None

        body = WSGI(environ, start_response)
        data = b"".join(body)
        getattr(body, "close", lambda: None)()
        return Response(int(got[0][0].split()[0]), list(got[0][1]), data)
    url = path if path.startswith("/meta") else f"/page{path}" + (f"?{query}" if query else "")
    response = Client().get(url, **environ)
    return Response(response.status_code, list(response.items()), response.content)


def _spans_at(sdk: Receiver, paths: set[str]) -> dict[str, SpanView]:
    sdk.wait_for(lambda r: paths <= {s.attributes.get("url.path") for s in r.spans})
    return {s.attributes["url.path"]: s for s in sdk.spans if s.attributes.get("url.path") in paths}


def _path(kind: str, name: str) -> str:
    """The request's path; Django's views sit under /page/."""
    return f"/{kind}-{name}"


@pytest.mark.parametrize("kind", FRAMEWORKS)
def test_request_vectors(sdk: Receiver, kind: str) -> None:
    """Each ``cookie.requests`` case as a page load: the server span and the view's log
    carry the link the case names; a cookie's request id is the span's own trace id."""
    sent: dict[str, dict[str, Any]] = {}
    for n, case in enumerate(COOKIE["requests"]):
        path = _path(kind, f"r{n}")
        sent[path if kind != "django" else f"/page{path}"] = case
        request(kind, path, case["headers"])
    spans = _spans_at(sdk, set(sent))
    ids = {span.span_id for span in spans.values()}
    sdk.wait_for(lambda r: ids <= {g.span_id for g in r.logs_from("app")})
    wrong: list[tuple[Any, ...]] = []
    for at, case in sent.items():
        span = spans[at]
        link = case["link"]
        want: tuple[Any, Any] = (None, None)
        if link is not None:
            want = (link[0], link[1] or span.trace_id)
        if span.link != want:
            wrong.append((at, case["why"], span.link))
        logs = [g for g in sdk.logs_from("app") if g.span_id == span.span_id]
        if len(logs) != 1 or logs[0].link != want:
            wrong.append((at, case["why"], "log", [g.link for g in logs]))
    assert not wrong, "\n".join(map(str, wrong))


def _run_asgi(app: Any, path: str, headers: list[tuple[bytes, bytes]]) -> None:
    scope = {"type": "http", "method": "GET", "path": path, "root_path": "", "query_string": b""}
    scope["headers"] = headers

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: MutableMapping[str, Any]) -> None:
        return None

    asyncio.run(app(scope, receive, send))


@pytest.mark.parametrize("kind", ["asgi", "wsgi"])
def test_cookie_link_when_the_app_never_asks(sdk: Receiver, kind: str) -> None:
    """A view that logs nothing leaves the link to the export thread's encoder."""
    session = COOKIE["values"][0]["session"]
    path = _path(kind, "quiet")
    cookie = f"{names.SESSION_COOKIE}={session}"
    if kind == "asgi":
        _run_asgi(AsgiMiddleware(_quiet_asgi), path, [(b"cookie", cookie.encode())])
    else:
        environ = {"REQUEST_METHOD": "GET", "PATH_INFO": path, "QUERY_STRING": ""}
        environ["HTTP_COOKIE"] = cookie
        list(WsgiMiddleware(_quiet_wsgi)(environ, lambda *a: lambda data: None))
    span = _spans_at(sdk, {path})[path]
    assert span.link == (session, span.trace_id)


async def _quiet_asgi(scope: Any, receive: Any, send: Any) -> None:
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b""})


def _quiet_wsgi(environ: Any, start_response: Any) -> list[bytes]:
    start_response("200 OK", [])
    return [b""]


def test_asgi_joins_split_cookie_fields(sdk: Receiver) -> None:
    """HTTP/2 may send the Cookie header as several fields; they are one list."""
    session = COOKIE["values"][0]["session"]
    path = _path("asgi", "split")
    cookie = f"{names.SESSION_COOKIE}={session}".encode()
    _run_asgi(ASGI, path, [(b"cookie", b"a=1"), (b"cookie", cookie)])
    span = _spans_at(sdk, {path})[path]
    assert span.link == (session, span.trace_id)


# ---- Server-Timing and the meta tag --------------------------------------------------

_METRIC = re.compile(r'\s*([^;,\s]+)((?:\s*;\s*[^;,=\s]+\s*=\s*(?:"[^"]*"|[^;,\s]*))*)\s*')


def metrics(value: str) -> list[tuple[str, str | None]]:
    """(name, desc) of each metric of a Server-Timing value (enough of its grammar here)."""
    out = []
    for part in value.split(","):
        match = _METRIC.fullmatch(part)
        assert match, value
        desc = None
        for param in match[2].split(";")[1:]:
            key, _, raw = param.partition("=")
            if key.strip() == "desc":
                desc = raw.strip().strip('"')
        out.append((match[1], desc))
    return out


def _check_timing(span: SpanView, value: str | None) -> list[tuple[str, str | None]]:
    assert value is not None
    found = metrics(value)
    traceparent = dict(found)[names.TRACEPARENT_METRIC]
    assert traceparent == f"00-{span.trace_id}-{span.span_id}-01"
    ms = int(dict(found)[names.TIME_METRIC] or "")
    assert abs(ms - time.time() * 1000) < 60_000
    return found


@pytest.mark.parametrize("kind", FRAMEWORKS)
def test_server_timing_on_html_only(sdk: Receiver, kind: str) -> None:
    html = request(kind, _path(kind, "html"), {})
    json_ = request(kind, _path(kind, "json"), {}, "kind=json")
    timed = request(kind, _path(kind, "timed"), {}, "timed=1")
    not_modified = request(kind, _path(kind, "cached"), {}, "kind=304")
    prefix = "/page" if kind == "django" else ""
    spans = _spans_at(
        sdk, {f"{prefix}{_path(kind, n)}" for n in ("html", "json", "timed", "cached")}
    )
    _check_timing(spans[f"{prefix}{_path(kind, 'html')}"], html.header("server-timing"))
    assert json_.header("server-timing") is None
    found = _check_timing(spans[f"{prefix}{_path(kind, 'timed')}"], timed.header("server-timing"))
    assert [n for n, _ in found] == ["db", names.TRACEPARENT_METRIC, names.TIME_METRIC]
    assert not_modified.status == 304
    _check_timing(spans[f"{prefix}{_path(kind, 'cached')}"], not_modified.header("server-timing"))


CACHE_CONTROL = [
    ("private, max-age=600", True),
    ("no-cache", True),
    ("max-age=0, must-revalidate", True),
    ("no-store, max-age=600", True),
    ("public, max-age=60", False),
    ("max-age=60", False),
    ("s-maxage=30", False),
]


@pytest.mark.parametrize("kind", FRAMEWORKS)
def test_no_server_timing_where_a_shared_cache_may_keep_the_page(sdk: Receiver, kind: str) -> None:
    """A CDN could serve the page, with this request's traceparent, to other visitors."""
    got = {
        value: request(kind, _path(kind, f"cc{n}"), {}, f"cache={quote(value)}").header(
            "server-timing"
        )
        for n, (value, _) in enumerate(CACHE_CONTROL)
    }
    assert {v: t is not None for v, t in got.items()} == dict(CACHE_CONTROL)


@pytest.mark.parametrize("kind", FRAMEWORKS)
def test_meta_tag_renders_the_request_traceparent(sdk: Receiver, kind: str) -> None:
    at = f"/meta-{kind}"
    page = request(kind, at, {})
    span = _spans_at(sdk, {at})[at]
    tag = re.search(rb'<meta name="traceparent" content="([^"]+)" data-time="(\d+)">', page.body)
    assert tag, page.body
    assert tag[1].decode() == f"00-{span.trace_id}-{span.span_id}-01"
    assert abs(int(tag[2]) - time.time() * 1000) < 60_000
    assert b"&lt;" not in page.body  # Django's template inserted it unescaped


def test_meta_tag_in_jinja_and_outside_a_request(sdk: Receiver) -> None:
    import jinja2

    env = jinja2.Environment(autoescape=True)
    env.globals["traceparent_meta"] = backlight.traceparent_meta
    assert env.from_string("{{ traceparent_meta() }}").render() == ""
    assert backlight.traceparent_meta() == ""
    with backlight.trace("job") as span:
        rendered = env.from_string("{{ traceparent_meta() }}").render()
    assert span is not None
    ids = span.get_span_context()
    assert f'content="00-{ids.trace_id:032x}-{ids.span_id:016x}-01"' in rendered
    assert rendered.startswith('<meta name="traceparent"')
