"""The WSGI middleware with Flask: in-process, and through a real werkzeug server."""

from __future__ import annotations

import logging
import socket
import struct
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from flask import Flask, Response, stream_with_context
from sdk_capture import REQUEST, SESSION, Receiver
from werkzeug.serving import make_server

from backlight.integrations.wsgi import BacklightMiddleware

LINK = {"x-highlight-request": f"{SESSION}/{REQUEST}"}
log = logging.getLogger("app")


class Boom(Exception):
    pass


def flask_app() -> Flask:
    app = Flask(__name__)
    app.wsgi_app = BacklightMiddleware(app.wsgi_app)  # type: ignore[method-assign]

    @app.get("/users/<int:user_id>")
    def user(user_id: int) -> dict[str, int]:
        log.info("user %d", user_id)
        return {"id": user_id}

    @app.get("/boom")
    def boom() -> str:
        raise Boom("flask handler failed")

    @app.get("/stream")
    def stream() -> Response:
        def chunks() -> Iterator[str]:
            yield "first "
            log.warning("streaming")
            raise Boom("generator broke")

        return Response(stream_with_context(chunks()))

    return app


def test_flask_request_is_linked_and_named_by_rule(sdk: Receiver) -> None:
    response = flask_app().test_client().get("/users/3", headers=LINK)
    assert response.json == {"id": 3}
    response.close()  # a WSGI server closes the iterable: that ends the span
    sdk.wait_for(lambda r: bool(r.spans) and bool(r.logs_from("app")))
    span = sdk.spans[0]
    assert span.name == "GET /users/<int:user_id>"
    assert span.link == (SESSION, REQUEST)
    assert span.attributes["http.response.status_code"] == 200
    record = sdk.logs_from("app")[0]
    assert record.link == (SESSION, REQUEST)
    assert record.span_id == span.span_id


def test_flask_unhandled_exception_becomes_a_linked_error(sdk: Receiver) -> None:
    # Flask turns the exception into a 500 and logs it with logger.exception-style
    # exc_info: the log record is the linked error, the span is marked failed.
    response = flask_app().test_client().get("/boom", headers=LINK)
    assert response.status_code == 500
    response.close()
    sdk.wait_for(lambda r: bool(r.spans) and any("exception.type" in x.attributes for x in r.logs))
    span = sdk.spans[0]
    assert span.status_code == 2
    error_log = next(x for x in sdk.logs if "exception.type" in x.attributes)
    assert error_log.link == (SESSION, REQUEST)
    assert error_log.attributes["exception.message"] == "flask handler failed"
    assert "Boom" in error_log.attributes["exception.type"]
    assert error_log.severity_text == "ERROR"


def test_exception_from_a_wsgi_generator_is_recorded_and_reraised(sdk: Receiver) -> None:
    def app(environ: dict, start_response: object) -> Iterator[bytes]:  # type: ignore[type-arg]
        start_response("200 OK", [("content-type", "text/plain")])  # type: ignore[operator]
        yield b"one "
        log.warning("in generator")
        raise Boom("wsgi generator broke")

    wrapped = BacklightMiddleware(app)
    environ = {
        "REQUEST_METHOD": "GET",
        "PATH_INFO": "/gen",
        "HTTP_X_HIGHLIGHT_REQUEST": f"{SESSION}/{REQUEST}",
    }
    body = wrapped(environ, lambda status, headers, exc_info=None: lambda data: None)
    iterator = iter(body)
    chunks = [next(iterator)]
    with pytest.raises(Boom, match="wsgi generator broke"):
        next(iterator)
    body.close()  # type: ignore[attr-defined]
    assert chunks == [b"one "]
    sdk.wait_for(lambda r: bool(r.errors()) and bool(r.logs_from("app")))
    span = sdk.errors()[0]
    assert span.link == (SESSION, REQUEST)
    assert span.attributes["http.response.status_code"] == 200
    assert span.exception()["exception.message"] == "wsgi generator broke"  # type: ignore[index]
    assert sdk.logs_from("app")[0].link == (SESSION, REQUEST)  # logged while iterating


def test_span_ends_when_the_body_runs_out_and_close_still_closes_it(sdk: Receiver) -> None:
    closed = threading.Event()

    class Body:
        def __iter__(self) -> Iterator[bytes]:
            yield b"a"

        def close(self) -> None:
            closed.set()

    def app(environ: dict, start_response: object) -> Body:  # type: ignore[type-arg]
        start_response("200 OK", [])  # type: ignore[operator]
        return Body()

    wrapped = BacklightMiddleware(app)
    body = wrapped({"REQUEST_METHOD": "GET", "PATH_INFO": "/"}, lambda *a: lambda d: None)
    iterator = iter(body)
    assert next(iterator) == b"a"
    assert __import__("backlight").flush()
    assert not sdk.spans  # still streaming: open
    assert list(iterator) == []
    sdk.wait_for(lambda r: len(r.spans) == 1)  # ran out: ended, without close()
    body.close()  # type: ignore[attr-defined]
    assert closed.is_set()
    assert __import__("backlight").flush()
    assert len(sdk.spans) == 1


def test_a_response_dropped_unclosed_and_unfinished_ends_its_span(sdk: Receiver) -> None:
    def app(environ: dict, start_response: object) -> Iterator[bytes]:  # type: ignore[type-arg]
        start_response("200 OK", [])  # type: ignore[operator]
        __import__("backlight").record_exception(Boom("recorded while streaming"))
        yield b"a"
        yield b"b"

    wrapped = BacklightMiddleware(app)
    body = wrapped({"REQUEST_METHOD": "GET", "PATH_INFO": "/"}, lambda *a: lambda d: None)
    iterator = iter(body)
    assert next(iterator) == b"a"  # the server writes one chunk, then the client is gone
    del body, iterator  # dropped without close(), as a server does after a write fails
    sdk.wait_for(lambda r: len(r.spans) == 1)
    assert sdk.spans[0].exception()["exception.message"] == "recorded while streaming"  # type: ignore[index]


def test_werkzeug_skips_close_after_a_client_reset_and_the_span_is_exported(
    sdk: Receiver,
) -> None:
    """werkzeug's dev server drains the socket after the response and only then calls
    ``close()``; a client that resets the connection meanwhile makes the drain raise
    ``ConnectionResetError``, and ``close()`` is never called."""
    app = Flask(__name__)
    app.wsgi_app = BacklightMiddleware(app.wsgi_app)  # type: ignore[method-assign]

    @app.post("/form")
    def form() -> Response:
        __import__("backlight").record_exception(Boom("recorded before the redirect"))
        return Response("", status=302, headers={"location": "/done"})

    closed: list[bool] = []

    def outermost(environ: dict, start_response: object) -> object:  # type: ignore[type-arg]
        body = app.wsgi_app(environ, start_response)  # type: ignore[arg-type]

        class Closing:
            def __iter__(self) -> Iterator[bytes]:
                return iter(body)

            def close(self) -> None:
                closed.append(True)
                body.close()  # type: ignore[attr-defined]

        return Closing()

    server = make_server("127.0.0.1", 0, outermost)  # type: ignore[arg-type]
    handling = threading.Thread(target=server.handle_request)
    handling.start()
    try:
        client = socket.create_connection(("127.0.0.1", server.server_port))
        client.sendall(
            b"POST /form HTTP/1.1\r\nHost: x\r\nX-Highlight-Request: "
            + f"{SESSION}/{REQUEST}".encode()
            + b"\r\nContent-Type: application/x-www-form-urlencoded\r\n"
            b"Content-Length: 3\r\n\r\na=1"
            # 64 KiB past the body, more than the server's 8 KiB read buffer takes with the
            # request: the drain finds the rest in the socket at once (it waits only 10 ms
            # for data) and then blocks reading until the reset, however late that comes
             + b"x" * 65536
        )
        response = b""
        while b"\r\n\r\n" not in response:
            response += client.recv(65536)
        assert response.split(b" ", 2)[1] == b"302"
        client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        client.close()  # a reset (RST), not a FIN
        handling.join(30)
        assert not handling.is_alive()
    finally:
        server.server_close()
    assert not closed  # the server never called close()
    sdk.wait_for(lambda r: bool(r.errors()))
    span = sdk.errors()[0]
    assert span.name == "POST /form"
    assert span.link == (SESSION, REQUEST)
    assert span.attributes["http.response.status_code"] == 302
    assert span.exception()["exception.message"] == "recorded before the redirect"  # type: ignore[index]


def test_flask_streaming_response_exception_through_werkzeug(sdk: Receiver) -> None:
    server = make_server("127.0.0.1", 0, flask_app(), threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_port}/stream"
        with pytest.raises(httpx.HTTPError):
            httpx.get(url, headers=LINK, timeout=10)
    finally:
        server.shutdown()
    sdk.wait_for(lambda r: bool(r.errors()))
    span = sdk.errors()[0]
    assert span.link == (SESSION, REQUEST)
    assert span.exception()["exception.message"] == "generator broke"  # type: ignore[index]


def test_100_concurrent_threads_through_werkzeug_keep_their_own_link(sdk: Receiver) -> None:
    app = Flask(__name__)
    app.wsgi_app = BacklightMiddleware(app.wsgi_app)  # type: ignore[method-assign]
    barrier = threading.Barrier(10, timeout=60)  # a starved box may be slow to send ten

    @app.get("/work/<int:n>")
    def work(n: int) -> dict[str, int]:
        log.info("start %d", n)
        if n < 10:
            barrier.wait()  # ten requests provably in flight at once
        log.info("end %d", n)
        return {"n": n}

    server = make_server("127.0.0.1", 0, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_port}"

    # one client for every thread (it is thread-safe): a client each costs an SSL context
    client = httpx.Client(timeout=90, limits=httpx.Limits(max_connections=20))

    def call(n: int) -> int:
        headers = {"x-highlight-request": f"session{n:020d}/req{n}"}
        return client.get(f"{base}/work/{n}", headers=headers).status_code

    try:
        with ThreadPoolExecutor(max_workers=20) as pool:
            assert list(pool.map(call, range(100))) == [200] * 100
    finally:
        client.close()
        server.shutdown()
    sdk.wait_for(lambda r: len(r.spans) == 100 and len(r.logs_from("app")) == 200)
    for span in sdk.spans:
        n = int(span.attributes["url.path"].rsplit("/", 1)[1])
        assert span.link == (f"session{n:020d}", f"req{n}")
    spans_by_id = {s.span_id: s for s in sdk.spans}
    for record in sdk.logs_from("app"):
        n = int(record.body.split()[1])
        assert record.link == (f"session{n:020d}", f"req{n}")
        assert spans_by_id[record.span_id].link == record.link
