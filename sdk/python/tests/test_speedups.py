"""The compiled span encoder gives exactly the bytes of the Python one it mirrors."""

from __future__ import annotations

import itertools
import os
import random
import subprocess
import sys
from typing import Any

import pytest
from opentelemetry.proto.trace.v1.trace_pb2 import ScopeSpans
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.trace import StatusCode

from backlight.export import request, scope
from backlight.request_span import RequestSpan
from backlight.span import SpanRecord

# Built by the project's set-up (pip builds it wherever there is a C compiler): a missing
# extension fails here instead of quietly testing the Python path twice.
from backlight.export import _speedups  # isort: skip

SESSION = b"Ab3dEf7hIj0lMn4pQr8tUv2xYz6a"


class _Route:
    path_format = "/items/{id}"


def _copies(
    count: int,
    highlight: object,
    traceparent: object,
    route: object,
    status: int | None,
    span_id: int | None = None,
) -> list[RequestSpan]:
    """``count`` identical ended request spans."""
    trace_id, span_id = random.getrandbits(128) or 1, span_id or random.getrandbits(64) or 1
    start = random.getrandbits(62)
    spans = []
    for _ in range(count):
        attributes: dict[str, Any] = {"http.request.method": "GET", "url.path": "/items/7"}
        if status is not None:
            attributes["http.response.status_code"] = status
        span = RequestSpan("GET", lambda s: None, attributes, highlight, traceparent)  # type: ignore[arg-type]
        span.route, span.mount = route, "/api" if route is not None else ""
        span.trace_id, span.span_id, span.start_time = trace_id, span_id, start
        span.end(start + 1000)
        spans.append(span)
    return spans


def _both(batches: list[list[Any]]) -> tuple[tuple[bytes, list[Any]], tuple[bytes, list[Any]]]:
    """The same batch (made twice) through C and through Python."""
    return _speedups.our_spans(batches[0]), scope.our_spans_python(batches[1])


def test_the_extension_is_the_encoder_in_use() -> None:
    assert scope.our_spans is _speedups.our_spans


def test_without_extensions_the_python_encoder_is_used() -> None:
    code = "from backlight.export import scope; print(scope.our_spans is scope.our_spans_python)"
    env = {**os.environ, "BACKLIGHT_NO_EXTENSIONS": "1"}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert out.stdout.strip() == "True", out.stderr


def test_every_header_route_status_and_app_write_gives_the_same_bytes() -> None:
    canonical = f"00-{random.getrandbits(128) | 1:032x}-{random.getrandbits(64) | 1:016x}-01"
    longest = b"s" * 128 + b"/" + b"r" * 128
    links = [
        SESSION + b"/req-1", b" s.2/r:2\t", b"\ts/r ", "str-s/str-r", " str-s/r:2\n", "s/r/x",
        b"s/" + b"r" * 129, b"s" * 129 + b"/r", longest, longest.decode(), b"no-slash",
        b"/r", b"s/", b"a/" + b"x" * 300, "\u00e9/r", b"s/r\r\n", b"s /r", None, 7,
    ]  # fmt: skip
    parents = [
        canonical.encode(), canonical, f" {canonical}-x", canonical.upper().encode(),
        canonical.upper(), canonical[:-1] + "\u00e9", canonical[:-2] + "\u0100\u0100",
        f"00-{0:032x}-{1:016x}-01".encode(), f"00-{1:032x}-{0:016x}-01".encode(),
        b"01" + canonical.encode()[2:], canonical.encode()[:-1] + b"g", b"00-zz-11-01",
        bytearray(canonical.encode()), None,
    ]  # fmt: skip
    routes = [None, "/items/{id}", _Route(), 42]
    touches = ["none", "asked", "attribute", "event", "status"]
    cases = itertools.product(links, parents, routes, [None, 200, 503], touches)
    checked = 0
    for highlight, traceparent, route, status, touch in cases:
        twins = _copies(2, highlight, traceparent, route, status)
        for span in twins:
            span.end_time = 0  # writable again, for the app's writes below
            if touch == "asked":  # something in the request parsed the headers already
                span.request_link()
                span.get_span_context()
            elif touch == "attribute":
                span.set_attribute("app.key", 3)
            elif touch == "event":
                span.add_event("note", {"n": 1}, timestamp=5)
            elif touch == "status":
                span.set_status(StatusCode.ERROR, "bad")
            span.end_time = span.start_time + 1000
        c, python = _both([[twins[0]], [twins[1]]])
        assert c == python, (highlight, traceparent, route, status, touch)
        assert ScopeSpans.FromString(c[0]).spans[0].name.startswith("GET")
        checked += 1
    assert checked == len(links) * len(parents) * len(routes) * 3 * len(touches)


def test_random_headers_give_the_same_bytes() -> None:
    rng = random.Random(20261125)
    canonical = bytearray(f"00-{rng.getrandbits(128):032x}-{rng.getrandbits(64):016x}-01".encode())
    link = bytearray(SESSION + b"/" + b"0123456789abcdef" * 2)
    alphabet = b"0af-/ \t.:_gzAZ\x00\x80\xff"
    for _ in range(3000):
        parent, value = bytearray(canonical), bytearray(link)
        for target in (parent, value):
            for _ in range(rng.randrange(3)):  # flip, insert or cut a byte
                at = rng.randrange(len(target))
                action = rng.randrange(3)
                if action == 0:
                    target[at] = rng.choice(alphabet)
                elif action == 1:
                    target.insert(at, rng.choice(alphabet))
                else:
                    del target[at]
        record = SpanRecord("x", 1, 2, 0, 0, 5, 6, {"k": "v"}, None, 0, None)
        twins = _copies(2, bytes(value), bytes(parent), None, 200)
        c, python = _both([[twins[0], record], [twins[1], record]])
        assert c[0] == python[0], (bytes(value), bytes(parent))


def test_a_mixed_batch_keeps_its_order_and_hands_back_other_spans() -> None:
    provider = TracerProvider()
    with provider.get_tracer("app").start_as_current_span("own") as sdk_span:
        pass
    record = SpanRecord("job", 1, 2, 3, 0, 5, 6, {"n": 1}, None, 2, "why")
    requests = _copies(4, SESSION + b"/r-1", None, "/a", 200)
    c, python = _both([[r, record, sdk_span, r2] for r, r2 in (requests[:2], requests[2:])])
    assert c == python
    assert c[1] == [sdk_span]
    names = [span.name for span in ScopeSpans.FromString(c[0]).spans]
    assert names == ["GET /a", "job", "GET /a"]
    assert _speedups.our_spans([]) == (b"", [])
    assert _speedups.our_spans((record,)) == scope.our_spans_python([record])


def test_errors_are_raised_not_crashed_on() -> None:
    too_big = _copies(1, SESSION + b"/r", f"00-{1:032x}-{1:016x}-01".encode(), None, 200, 1 << 64)
    with pytest.raises(OverflowError):
        _speedups.our_spans(too_big)
    with pytest.raises(TypeError):
        _speedups.our_spans(None)  # type: ignore[arg-type]
    broken = _copies(1, SESSION + b"/r", None, None, 200)[0]
    broken.attributes = None  # type: ignore[assignment]
    with pytest.raises(AttributeError):  # the Python path's own error, passed on
        _speedups.our_spans([broken])


def test_no_references_leak() -> None:
    value = SESSION + b"/" + b"leak-check"
    spans = _copies(64, value, f"00-{5:032x}-{6:016x}-01".encode(), _Route(), 200)
    spans += _copies(64, "str-s/str-r", "not a traceparent", None, 503)
    _speedups.our_spans(spans)  # fill the caches
    before = [sys.getrefcount(x) for x in (spans[0], value, spans[0].attributes)]
    encoded = request._paths["/items/7"]
    cached = sys.getrefcount(encoded)
    for _ in range(200):
        _speedups.our_spans(spans)
    assert [sys.getrefcount(x) for x in (spans[0], value, spans[0].attributes)] == before
    assert sys.getrefcount(encoded) == cached


def _same(make: Any) -> None:
    """``make()`` twice: C and Python give the same bytes, or the same exception."""
    results: list[object] = []
    for encode, batch in ((_speedups.our_spans, make()), (scope.our_spans_python, make())):
        try:
            results.append(encode(batch))
        except Exception as exc:  # compared below
            results.append(type(exc))
    assert results[0] == results[1]


def test_endpoint_path_and_link_variants_give_the_same_bytes() -> None:
    padded = b" " * 2 + b"s" * 128 + b"/" + b"r" * 128 + b"\t" * 2  # 261 bytes: the limit
    for method, mount, path, link in itertools.product(
        ["GET", "POST"],
        ["", "/api", "/v2"],
        ["/items/7", None, b"/bytes", 7],
        [padded, padded + b" ", SESSION + b"/r-2"],
    ):
        twins = _copies(2, link, None, "/items/{id}", 200)
        for span in twins:
            span.name, span.mount = method, mount
            span.attributes["http.request.method"] = method
            if path is None:
                del span.attributes["url.path"]
            else:
                span.attributes["url.path"] = path
        c, python = _both([[twins[0]], [twins[1]]])
        assert c == python, (method, mount, path, link)


def test_a_route_object_freed_and_made_again_is_not_taken_for_the_old_one() -> None:
    class Route:
        def __init__(self, path: str) -> None:
            self.path_format = path

    for path in ["/a/{x}", "/b/{y}", "/c/{z}", "/a/{x}"]:
        route = Route(path)  # often at the address of the one just freed
        twins = _copies(2, SESSION + b"/r", None, route, 200)
        c, python = _both([[twins[0]], [twins[1]]])
        assert c == python
        assert ScopeSpans.FromString(c[0]).spans[0].name == f"GET /api{path}"
        del route, twins


def test_ids_and_times_python_would_take_otherwise_go_to_python() -> None:
    class Index:
        def __init__(self, value: int) -> None:
            self.value = value

        def __index__(self) -> int:
            return self.value

    parent = f"00-{9:032x}-{9:016x}-01".encode()
    for field, value in itertools.product(
        ["start_time", "end_time", "span_id"], [Index(12345), -1, 1 << 64, 1.5, "7"]
    ):

        def make(field: str = field, value: object = value) -> list[Any]:
            span = _copies(1, SESSION + b"/r", parent, None, 200, span_id=77)[0]
            span.trace_id, span.start_time, span.end_time = 3, 1000, 2000
            setattr(span, field, value)
            return [span]

        _same(make)


def test_a_batch_larger_than_the_first_buffer() -> None:
    twins = [_copies(2, SESSION + b"/r-" + b"x" * 100, None, "/big", 200) for _ in range(600)]
    c, python = _both([[a for a, _ in twins], [b for _, b in twins]])
    assert len(c[0]) > 1 << 17
    assert c == python


def test_no_memory_leaks_over_many_batches() -> None:
    import gc
    import tracemalloc

    route = _Route()
    spans = _copies(64, SESSION + b"/m", f"00-{5:032x}-{6:016x}-01".encode(), route, 200)
    spans += _copies(64, b" s-2/m\t", None, "/m", 200)
    for i, span in enumerate(spans[65:128]):
        span.raw_link = b"s-%d/req-%d" % (i, i)  # a session each: each a cache miss below
    spans += _copies(64, "str-s/str-r", "not a traceparent", None, 503)
    spans += _copies(64, b"bad value", None, None, 200)
    watched = [route, spans[0].raw_parent, spans[0].raw_link, spans[64].raw_link, spans[0]]
    _speedups.our_spans(spans)  # warm the caches
    watched += [v[1] for v in request._endpoints.values()] + [request._paths["/items/7"]]
    counts = [sys.getrefcount(x) for x in watched]
    tracemalloc.start()
    gc.collect()
    before = tracemalloc.get_traced_memory()[0]
    for i in range(300):
        if i % 2:
            request._sessions.clear()  # the miss path too: sessions looked up and built
        _speedups.our_spans(spans)
    request._sessions.clear()
    gc.collect()
    grown = tracemalloc.get_traced_memory()[0] - before
    tracemalloc.stop()
    assert grown < 64 * 1024, grown  # 300 batches of 256 spans: a leak per span shows
    assert [sys.getrefcount(x) for x in watched] == counts


def test_a_build_that_does_not_fit_this_module_is_not_used(monkeypatch: Any) -> None:
    monkeypatch.setattr(request, "_REQUEST_PREFIX", [b""])  # configure() refuses it
    assert scope.load_speedups() is None
    monkeypatch.undo()
    assert scope.load_speedups() is _speedups  # configured again as the module left it
    twins = _copies(2, SESSION + b"/r", None, "/x", 200)
    c, python = _both([[twins[0]], [twins[1]]])
    assert c == python
