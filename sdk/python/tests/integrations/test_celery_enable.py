"""``backlight.init`` enables the Celery integration without importing Celery: at once when
Celery is imported already, else when the app imports it. Fresh interpreters, since
whether Celery is imported is the point."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

import backlight

pytest.importorskip("celery")

PRELUDE = """
import sys
import backlight
def enabled():
    mod = sys.modules.get("backlight.integrations.celery")
    return bool(mod and mod._enabled)
"""
INIT = 'backlight.init("p", backend_url="http://127.0.0.1:9", export_interval=60)\n'
CHECK_SIGNALS = """
from celery import signals
from backlight.integrations import celery as integration
assert any(r is integration._prerun for _, r in signals.task_prerun.receivers)
"""


def run(code: str) -> str:
    env = {**os.environ, "PYTHONPATH": str(Path(backlight.__file__).parents[1])}
    result = subprocess.run(
        [sys.executable, "-c", PRELUDE + code], env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_init_neither_imports_celery_nor_enables_it_when_unused() -> None:
    out = run(INIT + "print('celery' in sys.modules, enabled())\n")
    assert out.split() == ["False", "False"]


def test_celery_imported_after_init_is_hooked_on_import() -> None:
    code = INIT + "import celery\nprint(enabled())\n" + CHECK_SIGNALS
    code += "print(any(type(f).__name__ == '_Watcher' for f in sys.meta_path))\n"
    code += "print(type(celery.__spec__.loader).__name__)\n"  # its own loader, not ours
    out = run(code).split()
    assert out == ["True", "False", "SourceFileLoader"]


def test_celery_imported_before_init_is_hooked_by_init() -> None:
    out = run("import celery\nprint(enabled())\n" + INIT + "print(enabled())\n" + CHECK_SIGNALS)
    assert out.split() == ["False", "True"]


def test_producer_headers_carry_the_current_link() -> None:
    code = (
        INIT
        + """
from celery import Celery
from backlight.integrations import celery as integration
seen = {}
app = Celery("t", broker="memory://")
@app.task(name="t.job")
def job():
    pass
from celery import signals
@signals.before_task_publish.connect(weak=False)
def grab(headers=None, **_):
    seen.update(headers or {})
with backlight.trace("request", secure_session_id="S" * 28, request_id="a" * 32):
    job.delay()
print(seen["x-highlight-request"], seen["traceparent"].split("-")[1])
"""
    )
    out = run(code).split()
    assert out == ["S" * 28 + "/" + "a" * 32, "a" * 32]


def test_an_eager_task_runs_in_a_consumer_span_with_the_callers_link() -> None:
    code = (
        INIT
        + """
from celery import Celery
from opentelemetry import trace
from backlight._context import current_link
app = Celery("t", broker="memory://")
app.conf.task_always_eager = True
@app.task(name="t.eager")
def job():
    span = trace.get_current_span()
    print(span.name, span.kind.name, current_link().header_value)
with backlight.trace("request", secure_session_id="S" * 28, request_id="a" * 32):
    job.delay()
"""
    )
    assert run(code).split() == ["t.eager", "CONSUMER", "S" * 28 + "/" + "a" * 32]
