"""Flask under gunicorn (``--preload``: init runs before the fork) or werkzeug."""

import logging
import os

from flask import Flask, request

import backlight
from backlight.integrations.wsgi import BacklightMiddleware

backlight.init(
    "test-project",
    backend_url=os.environ["BACKLIGHT_TEST_URL"],
    service_name=os.environ.get("BACKLIGHT_TEST_SERVICE", "flask-app"),
    export_interval=0.2,
)
app = Flask(__name__)
app.wsgi_app = BacklightMiddleware(app.wsgi_app)  # type: ignore[method-assign]
log = logging.getLogger("app")


@app.get("/items/<int:item_id>")
def item(item_id: int) -> dict[str, int]:
    log.info("item %d", item_id)
    return {"id": item_id}


@app.get("/boom")
def boom() -> str:
    raise RuntimeError("flask under gunicorn failed")


@app.get("/b/work")
def work() -> dict[str, str]:
    """Service B of the service-to-service test: logs, reports an error, answers."""
    log.warning("service b working for %s", request.headers.get("x-highlight-request"))
    try:
        raise ValueError("service b could not finish")
    except ValueError as exc:
        backlight.consume_error(exc)
    return {"b": "done"}
