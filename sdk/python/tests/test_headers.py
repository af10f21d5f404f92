from __future__ import annotations

from typing import Any

import pytest

from backlight import RequestContext, parse_headers
from backlight.headers import from_baggage, parse_value

SESSION = "Ab3dEf7hIj0lMn4pQr8tUv2xYz6a"
REQUEST = "4bf92f3577b34da6a3ce929d0e0e4736"
VALUE = f"{SESSION}/{REQUEST}"
EXPECTED = RequestContext(SESSION, REQUEST)


MALFORMED = [
    pytest.param("", id="empty"),
    pytest.param("no-slash-at-all", id="no-slash"),
    pytest.param("/", id="only-slash"),
    pytest.param(f"/{REQUEST}", id="empty-session"),
    pytest.param(f"{SESSION}/", id="empty-request"),
    pytest.param(f"{SESSION}/{REQUEST}/extra", id="extra-slash"),
    pytest.param(f"{SESSION}//{REQUEST}", id="double-slash"),
    pytest.param("a" * 10_000 + "/" + "b" * 10, id="10kb-session"),
    pytest.param(f"{SESSION}/" + "b" * 10_240, id="10kb-request"),
    pytest.param("sessión/requést", id="unicode"),
    pytest.param("🙂🙂/🙂", id="emoji"),
    pytest.param(f"{SESSION}\r\nX-Injected: 1/{REQUEST}", id="crlf-in-session"),
    pytest.param(f"{SESSION}/{REQUEST}\r\nX-Injected: 1", id="crlf-in-request"),
    pytest.param(f"{SESSION}/req uest", id="space-inside"),
    pytest.param(f"{SESSION}\x00/{REQUEST}", id="nul-byte"),
    pytest.param(f"{SESSION};drop table/{REQUEST}", id="odd-characters"),
    pytest.param("   ", id="whitespace"),
    pytest.param(b"\xff\xfe/\x80", id="invalid-utf8-bytes"),
    pytest.param(None, id="none"),
    pytest.param(12345, id="not-a-string"),
]


@pytest.mark.parametrize("value", MALFORMED)
def test_malformed_values_mean_no_linkage(value: Any) -> None:
    assert parse_value(value) is None
    assert parse_headers({"x-highlight-request": value}) is None
    assert parse_headers([("x-highlight-request", value)]) is None


def test_highlight_run_request_ids_are_accepted() -> None:
    # highlight.run sends 10 random alphanumerics as the request id.
    assert parse_value(f"{SESSION}/a1B2c3D4e5") == RequestContext(SESSION, "a1B2c3D4e5")


def test_surrounding_whitespace_is_tolerated() -> None:
    assert parse_value(f"  {VALUE} ") == EXPECTED


@pytest.mark.parametrize(
    "headers",
    [
        pytest.param({"x-highlight-request": VALUE}, id="dict"),
        pytest.param({"X-Highlight-Request": VALUE}, id="dict-title-case"),
        pytest.param({"X-HIGHLIGHT-REQUEST": VALUE}, id="dict-upper-case"),
        pytest.param({b"x-highlight-request": VALUE.encode()}, id="dict-bytes"),
        pytest.param([("X-Highlight-Request", VALUE)], id="pairs"),
        pytest.param([(b"x-highlight-request", VALUE.encode())], id="asgi-pairs"),
        pytest.param({"HTTP_X_HIGHLIGHT_REQUEST": VALUE}, id="wsgi-environ"),
        pytest.param(
            {"baggage": f"other=1,x-highlight-request={SESSION}%2F{REQUEST}"}, id="baggage"
        ),
    ],
)
def test_header_shapes(headers: Any) -> None:
    assert parse_headers(headers) == EXPECTED


def test_starlette_headers() -> None:
    from starlette.datastructures import Headers

    headers = Headers(raw=[(b"x-highlight-request", VALUE.encode())])
    assert parse_headers(headers) == EXPECTED


def test_werkzeug_headers() -> None:
    from werkzeug.datastructures import EnvironHeaders, Headers

    assert parse_headers(Headers([("X-Highlight-Request", VALUE)])) == EXPECTED
    environ = {"HTTP_X_HIGHLIGHT_REQUEST": VALUE}
    assert parse_headers(EnvironHeaders(environ)) == EXPECTED


def test_django_headers() -> None:
    from django.http.request import HttpHeaders

    headers = HttpHeaders({"HTTP_X_HIGHLIGHT_REQUEST": VALUE, "CONTENT_TYPE": "text/plain"})
    assert parse_headers(headers) == EXPECTED


@pytest.mark.parametrize(
    "headers", [None, 42, "x-highlight-request", [("only-one",)], object(), {"a": object()}]
)
def test_odd_header_containers_never_raise(headers: Any) -> None:
    assert parse_headers(headers) is None


def test_baggage_fallback_and_malformed_baggage() -> None:
    assert from_baggage(f"x-highlight-request={SESSION}%2F{REQUEST};prop=1") == EXPECTED
    assert from_baggage("x-highlight-request") is None
    assert from_baggage("=,,;") is None
    assert from_baggage("x-highlight-request=" + "a" * 9000) is None


def test_header_value_round_trips() -> None:
    assert parse_value(EXPECTED.header_value) == EXPECTED
