"""Celery: tasks carry the request link from producer to worker, with no code in the tasks.

``backlight.init`` enables it when Celery is imported (before or after ``init``); or call
``backlight.integrations.celery.enable()``. Four signal receivers:

- ``before_task_publish``: the message headers get ``x-highlight-request``, ``traceparent``
  and ``baggage`` of the current context (``delay``, ``apply_async``, retries, the next
  task of a chain, group and chord members: a task published inside a task carries the
  link of the request that started the first one);
- ``task_prerun`` / ``task_postrun``: a consumer span per task, named after the task,
  linked to the producing request; logs and errors inside the task inherit the link;
- ``task_failure``: the exception is recorded on that span: one error instance. Celery
  logs it next ("Task … raised unexpected", with the traceback) inside the same span, so
  that log is linked too, in the same trace, and the server counts an exception recorded
  as a span event and logged in the same trace once (``store/sqlite/writes.py``).
"""

from __future__ import annotations

import threading
from typing import Any

from backlight.integrations import require

require("celery", "celery", "celery")

from celery import signals  # type: ignore[import-untyped]  # noqa: E402
from opentelemetry import propagate  # noqa: E402
from opentelemetry.context import Context  # noqa: E402
from opentelemetry.trace import SpanKind  # noqa: E402

from backlight import activation  # noqa: E402
from backlight._context import without_link  # noqa: E402
from backlight._debug import debug, guarded  # noqa: E402
from backlight.api import _carrier, inject  # noqa: E402
from backlight.headers import parse_headers  # noqa: E402
from backlight.names import BAGGAGE_HEADER, HEADER, TRACEPARENT_HEADER  # noqa: E402

# The headers the SDK writes and reads (W3C trace context, baggage, the link).
CARRIED = (HEADER, TRACEPARENT_HEADER, "tracestate", BAGGAGE_HEADER)

_lock = threading.Lock()
_enabled = False
# Running tasks' activations by task id (prerun and postrun run in the same thread).
_running: dict[str, activation.Activation] = {}


def enable() -> None:
    """Connect the signal receivers (idempotent)."""
    global _enabled
    with _lock:
        if _enabled:
            return
        _enabled = True
        # weak=False: the receivers are module functions, kept for the process's life
        signals.before_task_publish.connect(_before_publish, weak=False)
        signals.task_prerun.connect(_prerun, weak=False)
        signals.task_postrun.connect(_postrun, weak=False)
        signals.task_failure.connect(_failure, weak=False)
        signals.worker_process_shutdown.connect(_flush, weak=False)
    debug("backlight: Celery integration enabled")


def disable() -> None:
    """Disconnect the receivers (tests, or an app that links by hand)."""
    global _enabled
    with _lock:
        if not _enabled:
            return
        _enabled = False
        signals.before_task_publish.disconnect(_before_publish)
        signals.task_prerun.disconnect(_prerun)
        signals.task_postrun.disconnect(_postrun)
        signals.task_failure.disconnect(_failure)
        signals.worker_process_shutdown.disconnect(_flush)


@guarded()
def _before_publish(headers: dict[str, Any] | None = None, **_: Any) -> None:
    if headers is None:  # task protocol 1 (Celery 3): no message headers to carry it in
        return
    headers.update(inject({}))


def _request_headers(request: Any) -> dict[str, str]:
    """The carried headers of a task's request (Celery makes each message header an
    attribute of ``task.request``)."""
    values = vars(request) if hasattr(request, "__dict__") else {}
    return _carrier((k, values[k]) for k in CARRIED if k in values)


@guarded()
def _prerun(task_id: str | None = None, task: Any = None, **_: Any) -> None:
    if task_id is None or task is None:
        return
    carrier = _request_headers(getattr(task, "request", None))
    link = parse_headers(carrier)
    parent: Context | None = None  # run eagerly, or sent without headers: the caller's
    if carrier:
        parent = propagate.extract(carrier)
        if link is None:
            parent = without_link(parent)
    name = str(getattr(task, "name", None) or "celery.task")
    act = activation.start(
        name,
        SpanKind.CONSUMER,
        link,
        parent,
        attributes={"messaging.system": "celery", "messaging.message.id": task_id},
    )
    if act is not None:
        debug("backlight: task %s %s linked to %s", name, task_id, link)
        _running[task_id] = act


@guarded()
def _failure(task_id: str | None = None, exception: BaseException | None = None, **_: Any) -> None:
    act = _running.get(task_id or "")
    if act is None or exception is None:
        return
    activation.fail(act.span, exception)


@guarded()
def _postrun(task_id: str | None = None, state: str | None = None, **_: Any) -> None:
    act = _running.pop(task_id or "", None)
    if act is None:
        return
    if state:
        act.span.attributes["celery.state"] = state
    act.finish()


@guarded()
def _flush(**_: Any) -> None:
    """A prefork child is about to exit: export what it queued."""
    from backlight.setup import flush

    flush(5.0)
