"""The Django middleware, in-process through django.test.Client (WSGI) and AsyncClient."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from sdk_capture import REQUEST, SESSION, Receiver

sys.path.insert(0, str(Path(__file__).parents[1] / "apps"))
import django_app
from django.test import AsyncClient, Client

LINK = {"HTTP_X_HIGHLIGHT_REQUEST": f"{SESSION}/{REQUEST}"}


def test_django_request_is_linked_and_named_by_route(sdk: Receiver) -> None:
    response = Client().get("/items/4", **LINK)
    assert response.json() == {"id": 4}
    sdk.wait_for(lambda r: bool(r.spans) and bool(r.logs_from("app")))
    span = sdk.spans[0]
    assert span.name == "GET /items/<int:item_id>"
    assert span.link == (SESSION, REQUEST)
    assert span.attributes["http.response.status_code"] == 200
    assert sdk.logs_from("app")[0].link == (SESSION, REQUEST)
    assert sdk.logs_from("app")[0].span_id == span.span_id


def test_django_root_is_named_by_its_route_and_no_match_by_the_method(sdk: Receiver) -> None:
    """The root's route is "" (a match all the same, as Flask's "/"); a 404 has none."""
    assert Client().get("/", **LINK).status_code == 200
    assert Client().get("/nowhere", **LINK).status_code == 404
    sdk.wait_for(lambda r: len(r.spans) == 2)
    names = {s.attributes["url.path"]: (s.name, s.attributes.get("http.route")) for s in sdk.spans}
    assert names == {"/": ("GET /", "/"), "/nowhere": ("GET", None)}


def test_django_view_exception_is_recorded(sdk: Receiver) -> None:
    client = Client(raise_request_exception=False)
    response = client.get("/boom", **LINK)
    assert response.status_code == 500
    sdk.wait_for(lambda r: bool(r.errors()))
    span = sdk.errors()[0]
    assert span.name == "GET /boom"
    assert span.link == (SESSION, REQUEST)
    assert span.status_code == 2
    assert span.exception()["exception.message"] == "django view failed"  # type: ignore[index]


def test_django_exception_reraised_unchanged_when_django_propagates(sdk: Receiver) -> None:
    with pytest.raises(django_app.Boom, match="django view failed"):
        Client(raise_request_exception=True).get("/boom", **LINK)


def test_django_streaming_response_ends_on_close(sdk: Receiver) -> None:
    response = Client().get("/stream", **LINK)
    assert b"".join(response.streaming_content) == b"one two"
    response.close()
    sdk.wait_for(lambda r: bool(r.spans))
    assert sdk.spans[0].name == "GET /stream"
    assert sdk.spans[0].link == (SESSION, REQUEST)


def test_django_streaming_span_ends_when_the_body_runs_out_without_close(
    sdk: Receiver,
) -> None:
    """Under a WSGI server that never calls ``close()`` (werkzeug after a client reset)."""
    from django.core.wsgi import get_wsgi_application

    environ = {
        "REQUEST_METHOD": "GET",
        "PATH_INFO": "/stream",
        "SERVER_NAME": "testserver",
        "SERVER_PORT": "80",
        "wsgi.url_scheme": "http",
        "wsgi.input": __import__("io").BytesIO(),
        "HTTP_X_HIGHLIGHT_REQUEST": f"{SESSION}/{REQUEST}",
    }
    body = get_wsgi_application()(environ, lambda *args: None)
    assert b"".join(body) == b"one two"  # and no close()
    sdk.wait_for(lambda r: bool(r.spans))
    assert sdk.spans[0].name == "GET /stream"
    assert sdk.spans[0].link == (SESSION, REQUEST)
    body.close()
    assert __import__("backlight").flush()
    assert len(sdk.spans) == 1


async def test_django_async_view(sdk: Receiver) -> None:
    import asyncio

    headers = {"x-highlight-request": f"{SESSION}/{REQUEST}"}
    response = await AsyncClient().get("/async/9", headers=headers)
    assert response.json() == {"id": 9}
    await asyncio.to_thread(sdk.wait_for, lambda r: bool(r.spans) and bool(r.logs_from("app")))
    assert sdk.spans[0].name == "GET /async/<int:item_id>"
    assert sdk.spans[0].link == (SESSION, REQUEST)
    assert sdk.logs_from("app")[0].link == (SESSION, REQUEST)
