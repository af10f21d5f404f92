"""The shop in Flask: the WSGI middleware links each request, ``Server-Timing`` carries
its traceparent to the page (see ``tests/navigation/apps/__init__.py``)."""

from __future__ import annotations

import logging

from flask import Flask, redirect, request
from werkzeug.wrappers import Response

import backlight
from backlight.integrations.wsgi import BacklightMiddleware

from . import CHECKOUT_LOG, ORDERS_LOG, CheckoutFailed, page, settings

logging.basicConfig(level=logging.INFO)
log = logging.getLogger("shop")
backlight.init(settings()[1], backend_url=settings()[0], service_name="flask-shop")

app = Flask(__name__)
app.wsgi_app = BacklightMiddleware(app.wsgi_app)  # type: ignore[method-assign]


@app.get("/")
def home() -> str:
    return page("Shop")


@app.get("/orders")
def orders() -> str:
    log.info(ORDERS_LOG)
    failed = "<p id='failed'>Checkout failed</p>" if request.args.get("failed") else ""
    return page("Orders", body=failed)


@app.post("/checkout")
def checkout() -> Response:
    log.info(CHECKOUT_LOG)
    try:
        raise CheckoutFailed(f"card declined for sku {request.form.get('sku')}")
    except CheckoutFailed as exc:
        log.exception("checkout failed")
        backlight.record_exception(exc)
    return redirect("/orders?failed=1", code=303)
