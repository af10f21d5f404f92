"""The SDK's functions for app code: errors, manual spans, propagation, queues."""

from __future__ import annotations

import functools
import inspect
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from types import TracebackType
from typing import Any, Literal, TypeVar, cast, overload

from opentelemetry import propagate
from opentelemetry import trace as otel_trace
from opentelemetry.trace import SpanKind, StatusCode

from backlight import activation
from backlight._context import current_link, without_link
from backlight._debug import debug, guarded, internal_error
from backlight.headers import HEADER, parse_headers
from backlight.span import LeanSpan
from backlight.types import Attributes, RequestContext

F = TypeVar("F", bound=Callable[..., Any])
_HEX32 = frozenset("0123456789abcdef")


def _explicit_link(secure_session_id: str | None, request_id: str | None) -> RequestContext | None:
    if not secure_session_id:
        return None
    return RequestContext(secure_session_id, request_id or "")


def _trace_id_of(request_id: str | None) -> int:
    """The request id as a trace id when it is one (the browser SDK makes them equal)."""
    if request_id and len(request_id) == 32 and set(request_id) <= _HEX32:
        return int(request_id, 16)
    return 0


@guarded()
def consume_error(
    error: BaseException,
    secure_session_id: str | None = None,
    request_id: str | None = None,
    *,
    attributes: Attributes | None = None,
) -> None:
    """Record ``error`` linked to a session and request; works outside any request too.

    Without ids, the current request's link (middleware, ``consume``, ``trace``) is used.
    """
    link = _explicit_link(secure_session_id, request_id)
    act = activation.start(
        "backlight.error",
        SpanKind.INTERNAL,
        link,
        attributes=dict(attributes or {}),
        trace_id=_trace_id_of(request_id),
    )
    if act is None:
        return
    if link is not None and not link.request_id:
        act.span.attributes[activation.REQUEST_ATTR] = f"{act.span.trace_id:032x}"
    debug("backlight: consume_error %r linked to %s", error, current_link())
    act.span.record_exception(error, escaped=False)
    act.span.set_status(StatusCode.ERROR, f"{type(error).__name__}: {error}")
    act.finish()


@guarded()
def record_exception(error: BaseException, attributes: Attributes | None = None) -> None:
    """Record ``error`` on the current span (or as a linked error when there is none)."""
    span = otel_trace.get_current_span()
    if span.is_recording():
        span.record_exception(error, attributes=dict(attributes or {}))
        span.set_status(StatusCode.ERROR, f"{type(error).__name__}: {error}")
    else:
        consume_error(error, attributes=attributes)


@guarded(default={})
def inject(headers: dict[str, str]) -> dict[str, str]:
    """Add ``traceparent``, ``baggage`` and ``x-highlight-request`` to ``headers``."""
    propagate.inject(headers)
    link = current_link()
    if link is not None:
        headers[HEADER] = link.header_value
    return headers


@overload
def message_headers(*, as_dict: Literal[False] = False) -> list[tuple[str, bytes]]: ...
@overload
def message_headers(*, as_dict: Literal[True]) -> dict[str, str]: ...


def message_headers(*, as_dict: bool = False) -> list[tuple[str, bytes]] | dict[str, str]:
    """The current link and trace context as message headers for a queue producer.

    A list of ``(str, bytes)`` pairs (confluent-kafka, aiokafka, kafka-python), or with
    ``as_dict=True`` a ``dict`` of strings (AMQP, Redis streams, Celery).
    """
    headers = inject({})
    if as_dict:
        return headers
    return [(k, v.encode("utf-8")) for k, v in headers.items()]


def _carrier(headers: Any) -> dict[str, str]:
    """Message headers of any common shape as a lower-case ``str`` dict."""
    if headers is None:
        return {}
    pairs = headers.items() if hasattr(headers, "items") else headers
    carrier: dict[str, str] = {}
    for key, value in pairs:
        k = key.decode("latin-1") if isinstance(key, bytes) else str(key)
        if isinstance(value, bytes):
            value = value.decode("utf-8", "replace")
        if isinstance(value, str):
            carrier[k.lower()] = value
    return carrier


@contextmanager
def consume(headers: Any, name: str = "consume") -> Iterator[RequestContext | None]:
    """Restore the producer's link and trace in a queue consumer.

    Logs and errors inside the block link to the original session and request;
    an exception escaping the block is recorded and re-raised unchanged.
    """
    act = None
    link = None
    try:
        carrier = _carrier(headers)
        link = parse_headers(carrier)
        parent = propagate.extract(carrier)
        if link is None:
            parent = without_link(parent)
        debug("backlight: consume with headers %r -> %s", sorted(carrier), link)
        act = activation.start(name, SpanKind.CONSUMER, link, parent)
    except Exception:
        internal_error("consume")
    try:
        yield link
    except BaseException as exc:
        if act is not None:
            act.finish(exc)
            act = None
        raise
    finally:
        if act is not None:
            act.finish()


class trace:
    """A span for a unit of work: ``with backlight.trace("job"):`` or ``@backlight.trace()``.

    With ``secure_session_id`` (and ``request_id``) the work is linked to that session;
    otherwise it inherits the current request's link. Exceptions are recorded and re-raised.
    """

    def __init__(
        self,
        name: str | Callable[..., Any] | None = None,
        secure_session_id: str | None = None,
        request_id: str | None = None,
        attributes: Attributes | None = None,
    ) -> None:
        self._func: Callable[..., Any] | None = None
        if callable(name):
            self._func, name = name, None
        self.name = name
        self.secure_session_id = secure_session_id
        self.request_id = request_id
        self.attributes = attributes
        self._stack: list[activation.Activation | None] = []
        if self._func is not None:
            functools.update_wrapper(self, self._func)

    def _copy(self, name: str) -> trace:
        return trace(name, self.secure_session_id, self.request_id, self.attributes)

    def __enter__(self) -> LeanSpan | None:
        link = _explicit_link(self.secure_session_id, self.request_id)
        act = activation.start(
            self.name or "trace",
            SpanKind.INTERNAL,
            link,
            attributes=dict(self.attributes or {}),
            trace_id=_trace_id_of(self.request_id),
        )
        if act is not None and link is not None and not link.request_id:
            act.span.attributes[activation.REQUEST_ATTR] = f"{act.span.trace_id:032x}"
        self._stack.append(act)
        return act.span if act is not None else None

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        act = self._stack.pop() if self._stack else None
        if act is not None:
            act.finish(exc)

    async def __aenter__(self) -> LeanSpan | None:
        return self.__enter__()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.__exit__(exc_type, exc, tb)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if self._func is not None:  # used bare: @backlight.trace
            return self._wrap(self._func)(*args, **kwargs)
        return self._wrap(args[0])

    def _wrap(self, func: F) -> F:
        name = self.name or func.__qualname__
        if inspect.iscoroutinefunction(func):

            @functools.wraps(func)
            async def run_async(*args: Any, **kwargs: Any) -> Any:
                with self._copy(name):
                    return await cast(Callable[..., Awaitable[Any]], func)(*args, **kwargs)

            return cast(F, run_async)

        @functools.wraps(func)
        def run(*args: Any, **kwargs: Any) -> Any:
            with self._copy(name):
                return func(*args, **kwargs)

        return cast(F, run)
