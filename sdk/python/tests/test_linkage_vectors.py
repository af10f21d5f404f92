"""The SDK against docs/linkage-vectors.json: headers.py, both span encoders (the compiled
``_speedups`` and the Python one it mirrors), and whole requests through the ASGI and WSGI
middlewares with whichever encoder is in use; and again with BACKLIGHT_NO_EXTENSIONS=1."""

from __future__ import annotations

import ast
import asyncio
import gc
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from linkage_vectors import VECTORS, as_bytes, cases, ids_of, link_of
from opentelemetry.proto.trace.v1.trace_pb2 import ScopeSpans, Span
from sdk_capture import Receiver

import backlight
from backlight import RequestContext, names, parse_headers
from backlight.export import scope
from backlight.headers import (
    MAX_RAW_VALUE,
    MAX_TOKEN,
    MAX_TRACEPARENT,
    PLAIN_VALUE,
    canonical_ids,
    from_baggage,
    match_value,
    parse_traceparent,
    parse_value,
)
from backlight.integrations.asgi import BacklightMiddleware as AsgiMiddleware
from backlight.integrations.wsgi import BacklightMiddleware as WsgiMiddleware
from backlight.request_span import RequestSpan

SESSION = VECTORS["ids"]["valid"][0]["id"]
NO_EXTENSIONS = bool(os.environ.get("BACKLIGHT_NO_EXTENSIONS"))
OWS = " \t"


def short(value: object) -> str:
    """A value for a failure message: the long vectors would drown the rest."""
    text = repr(value)
    return text if len(text) <= 80 else f"{text[:60]}...({len(text)} chars)"


def context(link: tuple[str, str] | None) -> RequestContext | None:
    return None if link is None else RequestContext(*link)


def test_names_and_limits_are_the_contract() -> None:
    ours = {
        "header": names.HEADER,
        "traceparent_header": names.TRACEPARENT_HEADER,
        "baggage_header": names.BAGGAGE_HEADER,
        "baggage_key": names.BAGGAGE_KEY,
        "project_header": names.PROJECT_HEADER,
        "project_attribute": names.PROJECT_ATTR,
        "session_attribute": names.SESSION_ATTR,
        "request_attribute": names.REQUEST_ATTR,
    }
    assert ours == VECTORS["names"]
    limits = {"id": MAX_TOKEN, "header": MAX_RAW_VALUE, "traceparent": MAX_TRACEPARENT}
    assert limits == {k: VECTORS["limits"][k] for k in limits}


# Spelled out elsewhere for now (files under other work), tied to names.py by this test.
ELSEWHERE = {
    ("integrations/asgi.py", b"x-highlight-request"),  # compared per header: bytes constants
    ("integrations/asgi.py", b"traceparent"),
    ("integrations/asgi.py", b"baggage"),
    ("integrations/asgi.py", b"server-timing"),
    ("export/wire.py", "highlight.trace_id"),
}


def test_names_are_spelled_in_names_py_only() -> None:
    package = Path(backlight.__file__).parent
    spelled = {getattr(names, n) for n in dir(names) if n.isupper()}
    found = set()
    for path in package.rglob("*.py"):
        if path.name == "names.py":
            continue
        # the collector paused: CPython 3.11's parse can raise "AST constructor recursion
        # depth mismatch" when a collection runs finalizers while it builds the tree
        gc.disable()
        try:
            tree = ast.parse(path.read_text("utf-8"))
        finally:
            gc.enable()
        for node in ast.walk(tree):
            if isinstance(node, ast.Constant) and isinstance(node.value, str | bytes):
                text = node.value.decode() if isinstance(node.value, bytes) else node.value
                if text in spelled:
                    found.add((path.relative_to(package).as_posix(), node.value))
    assert found == ELSEWHERE


def _placed(ident: str) -> list[tuple[str, tuple[str, str]]]:
    """Header values holding ``ident`` as the session and as the request, with the link
    each gives if ``ident`` is valid. A position where the header's own trimming of white
    space would hide the id's edge is left out."""
    out = []
    if ident[:1] not in OWS or not ident:
        out.append((f"{ident}/r", (ident, "r")))
    if ident[-1:] not in OWS or not ident:
        out.append((f"{SESSION}/{ident}", (SESSION, ident)))
    return out


@pytest.mark.parametrize("case", cases(VECTORS["ids"]["valid"]))
def test_valid_ids(case: dict[str, Any]) -> None:
    ident = case["id"]
    assert PLAIN_VALUE.fullmatch(f"{ident}/{ident}")
    for value, link in _placed(ident):
        assert parse_value(value) == RequestContext(*link)
        assert parse_value(as_bytes(value)) == RequestContext(*link)


@pytest.mark.parametrize("case", cases(VECTORS["ids"]["invalid"]))
def test_invalid_ids(case: dict[str, Any]) -> None:
    ident = case["id"]
    assert not PLAIN_VALUE.fullmatch(f"{ident}/r")
    assert not PLAIN_VALUE.fullmatch(f"r/{ident}")
    placed = _placed(ident)
    assert placed
    for value, _ in placed:
        assert parse_value(value) is None
        assert parse_value(as_bytes(value)) is None


@pytest.mark.parametrize("case", cases(VECTORS["headers"]))
def test_header_vectors(case: dict[str, Any]) -> None:
    value, want = case["value"], context(link_of(case))
    raw = as_bytes(value)
    assert parse_value(value) == want
    assert parse_value(raw) == want
    assert (match_value(raw) is not None) == (want is not None)
    if value == value.strip(OWS):
        assert (PLAIN_VALUE.fullmatch(value) is not None) == (want is not None)
    assert parse_headers({names.HEADER: value}) == want
    assert parse_headers([(names.HEADER.encode(), raw)]) == want


@pytest.mark.parametrize("case", cases(VECTORS["baggage"]))
def test_baggage_vectors(case: dict[str, Any]) -> None:
    value, want = case["value"], context(link_of(case))
    assert from_baggage(value) == want
    assert from_baggage(as_bytes(value)) == want
    assert parse_headers({names.BAGGAGE_HEADER: value}) == want


@pytest.mark.parametrize("case", cases(VECTORS["traceparent"]))
def test_traceparent_vectors(case: dict[str, Any]) -> None:
    value, want = case["value"], ids_of(case)
    assert parse_traceparent(value) == want
    assert parse_traceparent(as_bytes(value)) == want
    fast = canonical_ids(as_bytes(value))  # the fast path: the canonical form only
    if fast is not None:
        assert (int(fast[0], 16), int(fast[1], 16)) == want


# ---- both span encoders --------------------------------------------------------------

Encode = Callable[[list[Any]], tuple[bytes, list[Any]]]


def _encoders() -> list[Any]:
    from backlight.export import _speedups  # built by the set-up: missing fails here

    return [
        pytest.param(_speedups.our_spans, id="compiled"),
        pytest.param(scope.our_spans_python, id="python"),
    ]


def _encoded(encode: Encode, raw_link: object, raw_parent: object) -> tuple[Span, RequestSpan]:
    span = RequestSpan(
        "GET",
        lambda s: None,
        {"http.request.method": "GET", "url.path": "/x", "http.response.status_code": 200},
        raw_link,  # type: ignore[arg-type]
        raw_parent,  # type: ignore[arg-type]
    )
    span.trace_id, span.span_id, span.start_time = 0xABC, 0xDEF, 1_000_000
    own_trace = span.trace_id
    span.end(2_000_000)
    framed, others = encode([span])
    assert others == []
    span.trace_id = own_trace  # the Python encoder resolves the parent in place
    return ScopeSpans.FromString(framed).spans[0], span


def _link_attributes(span: Span) -> tuple[str, str] | None:
    attributes = {kv.key: kv.value.string_value for kv in span.attributes}
    session, request = attributes.get(names.SESSION_ATTR), attributes.get(names.REQUEST_ATTR)
    assert (session is None) == (request is None), attributes
    return None if session is None or request is None else (session, request)


@pytest.mark.parametrize("encode", _encoders())
def test_both_encoders_link_by_the_header_vectors(encode: Encode) -> None:
    wrong: list[tuple[object, ...]] = []
    for case in VECTORS["headers"]:
        for raw in (as_bytes(case["value"]), case["value"]):  # ASGI bytes, WSGI str
            encoded, _ = _encoded(encode, raw, None)
            if _link_attributes(encoded) != link_of(case):
                wrong.append((case["why"], short(raw), _link_attributes(encoded)))
    for case in VECTORS["ids"]["valid"] + VECTORS["ids"]["invalid"]:
        valid = case in VECTORS["ids"]["valid"]
        for value, link in _placed(case["id"]):
            encoded, _ = _encoded(encode, as_bytes(value), None)
            if _link_attributes(encoded) != (link if valid else None):
                wrong.append((case["why"], short(value), _link_attributes(encoded)))
    assert not wrong, "\n".join(map(str, wrong))


@pytest.mark.parametrize("encode", _encoders())
def test_both_encoders_continue_the_traceparent_vectors(encode: Encode) -> None:
    wrong: list[tuple[object, ...]] = []
    for case in VECTORS["traceparent"]:
        want = ids_of(case)
        for raw in (as_bytes(case["value"]), case["value"]):
            encoded, span = _encoded(encode, None, raw)
            got = (
                int.from_bytes(encoded.trace_id, "big"),
                int.from_bytes(encoded.parent_span_id, "big"),
            )
            if got != (want or (span.trace_id, 0)):
                wrong.append((case["why"], short(raw), got))
    assert not wrong, "\n".join(map(str, wrong))


# ---- whole requests through the middlewares ------------------------------------------


def _asgi_request(app: Any, path: str, headers: list[tuple[bytes, bytes]]) -> None:
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": b"",
        "headers": headers,
        "server": ("127.0.0.1", 80),
        "client": ("127.0.0.1", 5000),
    }

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        return None

    asyncio.run(app(scope, receive, send))


def _wsgi_request(app: Any, path: str, headers: list[tuple[bytes, bytes]]) -> None:
    environ: dict[str, Any] = {
        "REQUEST_METHOD": "GET",
        "PATH_INFO": path,
        "SCRIPT_NAME": "",
        "QUERY_STRING": "",
        "SERVER_NAME": "x",
        "SERVER_PORT": "80",
        "wsgi.url_scheme": "http",
    }
    for name, value in headers:  # PEP 3333: header values are latin-1 decoded str
        environ["HTTP_" + name.decode().upper().replace("-", "_")] = value.decode("latin-1")
    body = app(environ, lambda status, headers, exc_info=None: lambda data: None)
    list(body)
    getattr(body, "close", lambda: None)()


def test_vectors_through_the_middlewares(sdk: Receiver) -> None:
    """Each case is one request; the app asks the SDK for the headers it would send on
    (its link and trace), and the exported server span carries the link."""
    if NO_EXTENSIONS:
        assert scope.our_spans is scope.our_spans_python
    else:
        from backlight.export import _speedups

        assert scope.our_spans is _speedups.our_spans
    seen: dict[str, dict[str, str]] = {}

    async def asgi_app(scope_: Any, receive: Any, send: Any) -> None:
        if "/asks/" in scope_["path"]:
            seen[scope_["path"]] = backlight.message_headers(as_dict=True)
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})

    def wsgi_app(environ: Any, start_response: Any) -> list[bytes]:
        if "/asks/" in environ["PATH_INFO"]:
            seen[environ["PATH_INFO"]] = backlight.message_headers(as_dict=True)
        start_response("200 OK", [])
        return [b"ok"]

    asgi, wsgi = AsgiMiddleware(asgi_app), WsgiMiddleware(wsgi_app)
    expected: dict[str, tuple[tuple[str, str] | None, tuple[int, int] | None, str]] = {}
    requests: list[
        tuple[str, list[tuple[bytes, bytes]], tuple[str, str] | None, tuple[int, int] | None, str]
    ] = []
    for n, case in enumerate(VECTORS["headers"]):
        requests.append(
            (
                f"h{n}",
                [(b"x-highlight-request", as_bytes(case["value"]))],
                link_of(case),
                None,
                case["why"],
            )
        )
    for n, case in enumerate(VECTORS["baggage"]):
        requests.append(
            (f"b{n}", [(b"baggage", as_bytes(case["value"]))], link_of(case), None, case["why"])
        )
    for n, case in enumerate(VECTORS["traceparent"]):
        requests.append(
            (f"t{n}", [(b"traceparent", as_bytes(case["value"]))], None, ids_of(case), case["why"])
        )
    for name, headers, link, ids, why in requests:
        for kind, run, app in (("asgi", _asgi_request, asgi), ("wsgi", _wsgi_request, wsgi)):
            # an app that asks for the link parses the headers at once; one that does not
            # leaves them raw for the export thread's encoder (the compiled fast path)
            for asks in ("asks", "quiet"):
                path = f"/{kind}/{asks}/{name}"
                expected[path] = (link, ids, why)
                run(app, path, headers)
    sdk.wait_for(
        lambda r: (
            len({s.attributes.get("url.path") for s in r.spans} & expected.keys()) == len(expected)
        )
    )
    wrong: list[tuple[object, ...]] = []
    for span in sdk.spans:
        at = span.attributes.get("url.path")
        if at not in expected:
            continue
        link, ids, why = expected[at]
        if span.link != (link or (None, None)):
            wrong.append((at, why, span.link))
        if ids is not None and (int(span.trace_id, 16), int(span.parent_span_id, 16)) != ids:
            wrong.append((at, why, span.trace_id, span.parent_span_id))
        sent = seen.get(at)
        if sent is None:
            continue
        if sent.get(names.HEADER) != (link and "/".join(link)):
            wrong.append((at, why, short(sent.get(names.HEADER))))
        if ids is not None and sent["traceparent"].split("-")[1] != f"{ids[0]:032x}":
            wrong.append((at, why, short(sent.get("traceparent"))))
        if ids is None and span.parent_span_id:
            wrong.append((at, why, "a parent from an invalid traceparent", span.parent_span_id))
    assert not wrong, "\n".join(map(str, wrong))


def test_vectors_through_consume(sdk: Receiver) -> None:
    """A queue consumer's link (``backlight.consume``) from message headers as Kafka gives
    them (pairs of str and bytes), and the headers it would send on."""
    wrong: list[tuple[object, ...]] = []
    sections = [(names.HEADER, VECTORS["headers"]), (names.BAGGAGE_HEADER, VECTORS["baggage"])]
    for header, section in sections:
        for case in section:
            with backlight.consume([(header, as_bytes(case["value"]))]) as link:
                sent = backlight.message_headers(as_dict=True).get(names.HEADER)
            want = link_of(case)
            if link != context(want) or sent != (want and "/".join(want)):
                wrong.append((header, case["why"], link, short(sent)))
    assert not wrong, "\n".join(map(str, wrong))


@pytest.mark.skipif(NO_EXTENSIONS, reason="this is the run without extensions")
def test_the_vectors_hold_without_extensions() -> None:
    """The middleware test again in a process where BACKLIGHT_NO_EXTENSIONS=1, so the
    Python encoder is the one in use."""
    env = {**os.environ, "BACKLIGHT_NO_EXTENSIONS": "1"}
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "-W",
            "error",
            # the SDK's own conftest only (the repository's needs the server)
            "--confcutdir",
            str(Path(__file__).resolve().parents[1]),
            f"{Path(__file__)}::test_vectors_through_the_middlewares",
        ],
        env=env,
        cwd=Path(__file__).resolve().parents[3],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert out.returncode == 0, out.stdout[-4000:] + out.stderr[-2000:]
    assert "1 passed" in out.stdout
