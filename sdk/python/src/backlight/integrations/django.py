"""Django middleware: add ``"backlight.integrations.django.BacklightMiddleware"`` first
in ``MIDDLEWARE``. Works under WSGI and ASGI (sync and async views)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Iterator
from typing import Any, cast

from backlight.integrations import require

_django = require("django", "django", "django")

from asgiref.sync import iscoroutinefunction, markcoroutinefunction  # noqa: E402

from backlight._debug import internal_error  # noqa: E402
from backlight._state import state  # noqa: E402
from backlight.activation import Activation  # noqa: E402
from backlight.integrations.http import begin_request, finish_request  # noqa: E402
from backlight.navigation import (  # noqa: E402
    joined,
    server_timing,
    traceparent_meta,
    wants_timing,
)
from backlight.request_span import RequestSpan  # noqa: E402

_ACT = "_backlight_activation"
_ERROR = "_backlight_error"


class BacklightMiddleware:
    sync_capable = True
    async_capable = True

    def __init__(self, get_response: Callable[[Any], Any]) -> None:
        self.get_response = get_response
        self.is_async = iscoroutinefunction(get_response)
        if self.is_async:
            markcoroutinefunction(self)

    def __call__(self, request: Any) -> Any:
        if self.is_async:
            return self.__acall__(request)
        if state.client is None:
            return self.get_response(request)
        act = _start(request)
        try:
            response = self.get_response(request)
        except BaseException as exc:
            _finish(request, act, None, exc)
            raise
        return _respond(request, act, response)

    async def __acall__(self, request: Any) -> Any:
        get_response: Callable[[Any], Awaitable[Any]] = self.get_response
        if state.client is None:
            return await get_response(request)
        act = _start(request)
        try:
            response = await get_response(request)
        except BaseException as exc:
            _finish(request, act, None, exc)
            raise
        return _respond(request, act, response)

    def process_exception(self, request: Any, exception: Exception) -> None:
        """Django turns view exceptions into 500 responses; note the exception first."""
        setattr(request, _ERROR, exception)


def _start(request: Any) -> Activation | None:
    try:
        meta = request.META
        begun = begin_request(
            request.method or "GET",
            request.path_info,
            meta.get("HTTP_X_HIGHLIGHT_REQUEST"),
            meta.get("HTTP_TRACEPARENT"),
            meta.get("HTTP_BAGGAGE"),
            meta.get("HTTP_COOKIE"),
        )
        act = None if begun is None else Activation(*begun)
        setattr(request, _ACT, act)
        return act
    except Exception:
        internal_error("django middleware start")
        return None


def _respond(request: Any, act: Activation | None, response: Any) -> Any:
    """End the span now, or when a streaming response is closed."""
    if act is None:
        return response
    _add_server_timing(act, response)
    if getattr(response, "streaming", False) and hasattr(response, "_resource_closers"):
        # The body is produced later, by the server: end the span when it runs out or on
        # close(), whichever comes first (a WSGI server may never call close(); see
        # backlight.integrations.wsgi), or when the body is dropped unfinished.
        response._resource_closers.append(lambda: _finish(request, act, response, None))
        if not getattr(response, "is_async", False) and not hasattr(response, "file_to_stream"):
            try:
                response.streaming_content = _ending(
                    response.streaming_content, request, act, response
                )
            except Exception:
                internal_error("django streaming response")
        act.detach()
        return response
    _finish(request, act, response, None)
    return response


def _add_server_timing(act: Activation, response: Any) -> None:
    """``Server-Timing: traceparent;desc=...`` on an HTML response (backlight.navigation)."""
    try:
        status = getattr(response, "status_code", 0) or 0
        if wants_timing(status, response.get("Content-Type"), response.get("Cache-Control")):
            ours = server_timing(cast(RequestSpan, act.span))
            response["Server-Timing"] = joined(response.get("Server-Timing"), ours)
    except Exception:
        internal_error("django server-timing")


def traceparent(request: Any) -> dict[str, Any]:
    """A context processor (``TEMPLATES[...]["OPTIONS"]["context_processors"]``):
    ``{{ backlight_traceparent }}`` renders ``<meta name="traceparent" ...>`` for the
    request (``backlight.navigation.traceparent_meta``), for pages behind a proxy that
    strips ``Server-Timing``."""
    return {"backlight_traceparent": traceparent_meta()}


def _ending(
    content: Iterable[bytes], request: Any, act: Activation, response: Any
) -> Iterator[bytes]:
    """The streamed body; the span ends when it runs out, fails, or is dropped."""
    try:
        yield from content
    except Exception as exc:
        _finish(request, act, response, exc)
        raise
    finally:
        _finish(request, act, response, None)  # a second end does nothing


def _finish(
    request: Any, act: Activation | None, response: Any, error: BaseException | None
) -> None:
    if act is None or act.span.end_time:  # ended already (a streamed body's second end)
        return
    try:
        status = getattr(response, "status_code", 0) or 0
        error = error or getattr(request, _ERROR, None)
        match = getattr(request, "resolver_match", None)
        route = getattr(match, "route", None)  # "" for the root: a route all the same
        finish_request(act, status, f"/{route}" if isinstance(route, str) else None, error)
    except Exception:
        internal_error("django middleware finish")
